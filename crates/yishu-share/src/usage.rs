//! Who used my data (R30): per grant a provider gave, the reads through it — calls, rows,
//! refusals, last use and the calls of each recent day — and, for one person, who read their
//! record (R30, like Estonia's data tracker), both from the read audit.

use crate::audit::subject_digest;
use serde::Serialize;
use std::collections::BTreeMap;
use yishu_meta::share::Grant;
use yishu_meta::{AuditFilter, AuditRecord, Store};
use yishu_types::Error;

/// Reads through one grant since a time.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantUsage {
    pub grant: Grant,
    pub calls: i64,
    pub rows: i64,
    pub refused: i64,
    pub last_at: Option<i64>,
    /// (YYYY-MM-DD, calls), oldest first.
    pub by_day: Vec<(String, i64)>,
}

/// Every read record matching `f`, newest first, page by page.
async fn records(store: &Store, f: &AuditFilter) -> Result<Vec<AuditRecord>, Error> {
    let mut out = Vec::new();
    loop {
        let page = store.list_audit(f, 1000, out.len() as i64).await?;
        let n = page.items.len();
        out.extend(page.items);
        if n < 1000 {
            return Ok(out);
        }
    }
}

/// The day (Beijing time, YYYY-MM-DD) a moment falls on.
pub fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms + 8 * 3_600_000)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The use of each grant since `since` (milliseconds).
pub async fn of_grants(
    store: &Store,
    grants: Vec<Grant>,
    since: i64,
) -> Result<Vec<GrantUsage>, Error> {
    let mut out = Vec::new();
    for g in grants {
        let f = AuditFilter {
            action: Some("share.read".into()),
            object: Some(format!("grant:{}", g.id)),
            from: Some(since),
            ..Default::default()
        };
        let (mut calls, mut rows, mut refused, mut last) = (0, 0, 0, None);
        let mut by_day: BTreeMap<String, i64> = BTreeMap::new();
        for r in records(store, &f).await? {
            if r.action != "share.read" {
                continue;
            }
            if r.outcome != "ok" {
                refused += 1;
                continue;
            }
            calls += 1;
            rows += crate::audit::detail(&r)["rows"].as_i64().unwrap_or(0);
            last = last.max(Some(r.at));
            *by_day.entry(day(r.at)).or_default() += 1;
        }
        out.push(GrantUsage {
            grant: g,
            calls,
            rows,
            refused,
            last_at: last,
            by_day: by_day.into_iter().collect(),
        });
    }
    Ok(out)
}

/// The reads that returned the subject with `key` since `since`: who, department, grant,
/// purpose, when.
pub async fn who_read(store: &Store, key: &str, since: i64) -> Result<Vec<AuditRecord>, Error> {
    let f = AuditFilter {
        action: Some("share.read".into()),
        outcome: Some("ok".into()),
        from: Some(since),
        detail_has: Some(subject_digest(store, key.trim())),
        ..Default::default()
    };
    Ok(records(store, &f)
        .await?
        .into_iter()
        .filter(|r| r.action == "share.read")
        .collect())
}
