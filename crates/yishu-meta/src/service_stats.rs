//! Operating data services (R29, R30, R37): what each version served each consumer department
//! each day — calls, refusals, failures, rows and a latency histogram, added to by the serving
//! processes — each API's SLA (availability and p99) and the switches that cut an API off for
//! everybody or for one department.

use crate::store::{Store, db_err, now_ms};
use serde::Serialize;
use sqlx::Row;
use yishu_types::{Error, OrgId, UserId};

/// Upper bounds (ms) of the latency buckets; the last bucket holds everything slower.
pub const BUCKETS_MS: [i64; 12] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
/// Buckets, with the overflow.
pub const NBUCKETS: usize = BUCKETS_MS.len() + 1;

/// Calls counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    /// Every call, answered or not.
    pub calls: i64,
    /// Refused for the caller's sake (4xx: no grant, bad value, rate, cut off).
    pub refused: i64,
    /// Failed on the server's side (5xx: timeout, the lake): what availability counts.
    pub failed: i64,
    pub rows: i64,
    /// Calls per latency bucket ([`BUCKETS_MS`], then slower).
    #[schema(value_type = Vec<i64>)]
    pub hist: [i64; NBUCKETS],
    pub last_at: i64,
}

impl Tally {
    /// Counts one call of `ms` milliseconds.
    pub fn observe(&mut self, outcome: Outcome, rows: i64, ms: f64, at: i64) {
        self.calls += 1;
        match outcome {
            Outcome::Ok => self.rows += rows,
            Outcome::Refused => self.refused += 1,
            Outcome::Failed => self.failed += 1,
        }
        let b = BUCKETS_MS
            .iter()
            .position(|&u| ms <= u as f64)
            .unwrap_or(BUCKETS_MS.len());
        self.hist[b] += 1;
        self.last_at = self.last_at.max(at);
    }

    pub fn add(&mut self, o: &Tally) {
        self.calls += o.calls;
        self.refused += o.refused;
        self.failed += o.failed;
        self.rows += o.rows;
        for (a, b) in self.hist.iter_mut().zip(o.hist) {
            *a += b;
        }
        self.last_at = self.last_at.max(o.last_at);
    }

    /// The latency under which a share `q` of the calls fell, as its bucket's upper bound (ms;
    /// the overflow bucket reads as twice the last bound). `None` without calls.
    pub fn percentile_ms(&self, q: f64) -> Option<i64> {
        let n: i64 = self.hist.iter().sum();
        if n == 0 {
            return None;
        }
        let want = ((n as f64) * q).ceil().max(1.0) as i64;
        let mut seen = 0;
        for (i, c) in self.hist.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Some(
                    BUCKETS_MS
                        .get(i)
                        .copied()
                        .unwrap_or(2 * BUCKETS_MS[BUCKETS_MS.len() - 1]),
                );
            }
        }
        None
    }

    /// Percent of calls not failed by the server (100 without calls).
    pub fn availability(&self) -> f64 {
        if self.calls == 0 {
            100.0
        } else {
            100.0 * (self.calls - self.failed) as f64 / self.calls as f64
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Refused,
    Failed,
}

/// One version's calls by one department on one day (Beijing time).
#[derive(Debug, Clone, Serialize)]
pub struct DayStat {
    pub service: String,
    pub version: i64,
    pub org_id: OrgId,
    /// YYYY-MM-DD.
    pub day: String,
    pub tally: Tally,
}

/// An API's service level.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sla {
    /// Percent of calls answered without a server failure, e.g. 99.9.
    pub availability: f64,
    pub p99_ms: i64,
    pub set_by: UserId,
    pub set_at: i64,
}

/// An API cut off, for everybody (`org_id` None) or one department.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CutOff {
    pub service: String,
    pub org_id: Option<OrgId>,
    pub reason: String,
    pub cut_by: UserId,
    pub cut_at: i64,
}

fn hist_columns() -> String {
    (0..NBUCKETS)
        .map(|i| format!("b{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn stat_from_row(r: &sqlx::any::AnyRow) -> Result<DayStat, sqlx::Error> {
    let mut hist = [0i64; NBUCKETS];
    for (i, h) in hist.iter_mut().enumerate() {
        *h = r.try_get(format!("b{i}").as_str())?;
    }
    Ok(DayStat {
        service: r.try_get("service")?,
        version: r.try_get("version")?,
        org_id: OrgId(r.try_get("org_id")?),
        day: r.try_get("day")?,
        tally: Tally {
            calls: r.try_get("calls")?,
            refused: r.try_get("refused")?,
            failed: r.try_get("failed")?,
            rows: r.try_get("rows_out")?,
            hist,
            last_at: r.try_get("last_at")?,
        },
    })
}

fn cutoff_from_row(r: &sqlx::any::AnyRow) -> Result<CutOff, sqlx::Error> {
    let org: i64 = r.try_get("org_id")?;
    Ok(CutOff {
        service: r.try_get("service")?,
        org_id: (org != 0).then_some(OrgId(org)),
        reason: r.try_get("reason")?,
        cut_by: UserId(r.try_get("cut_by")?),
        cut_at: r.try_get("cut_at")?,
    })
}

impl Store {
    /// Adds counted calls to the days they fell on (one transaction).
    pub async fn add_service_stats(&self, stats: &[DayStat]) -> Result<(), Error> {
        if stats.is_empty() {
            return Ok(());
        }
        let cols = hist_columns();
        let marks: String = (0..NBUCKETS)
            .map(|i| format!("${}", 9 + i))
            .collect::<Vec<_>>()
            .join(", ");
        let adds: String = (0..NBUCKETS)
            .map(|i| format!("b{i} = service_stats.b{i} + excluded.b{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO service_stats (service, version, org_id, day, calls, refused, failed, rows_out, {cols}, last_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {marks}, ${}) \
             ON CONFLICT (service, version, org_id, day) DO UPDATE SET \
             calls = service_stats.calls + excluded.calls, refused = service_stats.refused + excluded.refused, \
             failed = service_stats.failed + excluded.failed, rows_out = service_stats.rows_out + excluded.rows_out, \
             {adds}, last_at = CASE WHEN excluded.last_at > service_stats.last_at THEN excluded.last_at ELSE service_stats.last_at END",
            9 + NBUCKETS
        );
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("count service calls"))?;
        for s in stats {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&s.service)
                .bind(s.version)
                .bind(s.org_id.0)
                .bind(&s.day)
                .bind(s.tally.calls)
                .bind(s.tally.refused)
                .bind(s.tally.failed)
                .bind(s.tally.rows);
            for h in s.tally.hist {
                q = q.bind(h);
            }
            q.bind(s.tally.last_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err("count service calls"))?;
        }
        tx.commit().await.map_err(db_err("count service calls"))
    }

    /// Every version's counts of service `name` on days from `since_day` (YYYY-MM-DD) on.
    pub async fn service_stats(&self, name: &str, since_day: &str) -> Result<Vec<DayStat>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT service, version, org_id, day, calls, refused, failed, rows_out, {}, last_at \
             FROM service_stats WHERE service = $1 AND day >= $2 ORDER BY day, org_id, version",
            hist_columns()
        )))
        .bind(name)
        .bind(since_day);
        self.all(
            q,
            "read service counts",
            stat_from_row,
            "read service counts",
        )
        .await
    }

    /// Sets API `name`'s SLA.
    pub async fn set_service_sla(
        &self,
        name: &str,
        availability: f64,
        p99_ms: i64,
        by: UserId,
    ) -> Result<Sla, Error> {
        if !(50.0..=100.0).contains(&availability) {
            return Err(Error::field(
                "availability",
                "a percentage between 50 and 100, e.g. 99.9",
            ));
        }
        if !(1..=600_000).contains(&p99_ms) {
            return Err(Error::field("p99_ms", "between 1 and 600000 ms"));
        }
        sqlx::query(
            "INSERT INTO service_slas (service, availability, p99_ms, set_by, set_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (service) DO UPDATE SET availability = excluded.availability, p99_ms = excluded.p99_ms, \
             set_by = excluded.set_by, set_at = excluded.set_at",
        )
        .bind(name)
        .bind(availability)
        .bind(p99_ms)
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("set a service's SLA"))?;
        self.service_sla(name)
            .await?
            .ok_or_else(|| Error::new(yishu_types::ErrorCode::StoreError, "the SLA was not kept"))
    }

    pub async fn service_sla(&self, name: &str) -> Result<Option<Sla>, Error> {
        let q = sqlx::query(
            "SELECT availability, p99_ms, set_by, set_at FROM service_slas WHERE service = $1",
        )
        .bind(name);
        self.one(
            q,
            "read a service's SLA",
            |r| {
                Ok(Sla {
                    availability: r.try_get("availability")?,
                    p99_ms: r.try_get("p99_ms")?,
                    set_by: UserId(r.try_get("set_by")?),
                    set_at: r.try_get("set_at")?,
                })
            },
            "read a service's SLA",
        )
        .await
    }

    /// Cuts API `name` off for department `org` (everybody when `None`).
    pub async fn cut_off_service(
        &self,
        name: &str,
        org: Option<OrgId>,
        reason: &str,
        by: UserId,
    ) -> Result<CutOff, Error> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(Error::field(
                "reason",
                "say why the service is cut off (1 to 500 characters)",
            ));
        }
        sqlx::query(
            "INSERT INTO service_cutoffs (service, org_id, reason, cut_by, cut_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (service, org_id) DO UPDATE SET reason = excluded.reason, cut_by = excluded.cut_by, cut_at = excluded.cut_at",
        )
        .bind(name)
        .bind(org.map_or(0, |o| o.0))
        .bind(reason)
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("cut a service off"))?;
        Ok(CutOff {
            service: name.to_string(),
            org_id: org,
            reason: reason.to_string(),
            cut_by: by,
            cut_at: now_ms(),
        })
    }

    /// Lifts a cut-off; whether there was one.
    pub async fn restore_service(&self, name: &str, org: Option<OrgId>) -> Result<bool, Error> {
        let done = sqlx::query("DELETE FROM service_cutoffs WHERE service = $1 AND org_id = $2")
            .bind(name)
            .bind(org.map_or(0, |o| o.0))
            .execute(&self.pool)
            .await
            .map_err(db_err("restore a service"))?;
        Ok(done.rows_affected() > 0)
    }

    /// API `name`'s cut-offs.
    pub async fn service_cutoffs(&self, name: &str) -> Result<Vec<CutOff>, Error> {
        let q = sqlx::query(
            "SELECT service, org_id, reason, cut_by, cut_at FROM service_cutoffs WHERE service = $1 ORDER BY org_id",
        )
        .bind(name);
        self.all(q, "read cut-offs", cutoff_from_row, "read a cut-off")
            .await
    }

    /// The cut-off that stops department `org` calling API `name` (its own or everybody's).
    pub async fn service_cut_for(&self, name: &str, org: OrgId) -> Result<Option<CutOff>, Error> {
        let q = sqlx::query(
            "SELECT service, org_id, reason, cut_by, cut_at FROM service_cutoffs \
             WHERE service = $1 AND (org_id = 0 OR org_id = $2) ORDER BY org_id LIMIT 1",
        )
        .bind(name)
        .bind(org.0);
        self.one(q, "read cut-offs", cutoff_from_row, "read a cut-off")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_availability_come_from_the_counts() {
        let mut t = Tally::default();
        for i in 0..98 {
            t.observe(Outcome::Ok, 1, 3.0 + (i % 2) as f64, 10);
        }
        t.observe(Outcome::Refused, 0, 0.5, 11);
        t.observe(Outcome::Failed, 0, 400.0, 12);
        assert_eq!(t.calls, 100);
        assert_eq!(t.rows, 98);
        assert_eq!(t.percentile_ms(0.5), Some(5));
        assert_eq!(t.percentile_ms(0.99), Some(5));
        assert_eq!(t.percentile_ms(1.0), Some(500));
        assert!((t.availability() - 99.0).abs() < 1e-9);
        assert_eq!(t.last_at, 12);
        let mut u = t.clone();
        u.add(&t);
        assert_eq!(u.calls, 200);
        assert_eq!(Tally::default().percentile_ms(0.99), None);
    }
}
