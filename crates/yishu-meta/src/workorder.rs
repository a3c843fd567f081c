//! Work orders (整改工单, R16): a failing rule opens one order per resource and rule for the
//! department that owns the data, carrying the evidence; the department acknowledges and marks it
//! fixed; the next batch that passes the rule closes it (verified). Each order has a due date from
//! the rule's severity, and is overdue after it.

use crate::catalog::Actor;
use crate::store::{Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use yishu_types::{Error, ErrorCode, OrgId, Role, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// 待处理
    Open,
    /// 已签收
    Acknowledged,
    /// 已整改 (waiting for the next batch to verify)
    Fixed,
    /// 已关闭 (verified by a passing batch)
    Closed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Acknowledged => "acknowledged",
            OrderStatus::Fixed => "fixed",
            OrderStatus::Closed => "closed",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            OrderStatus::Open => "待处理",
            OrderStatus::Acknowledged => "已签收",
            OrderStatus::Fixed => "已整改待验证",
            OrderStatus::Closed => "已关闭",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "acknowledged" => OrderStatus::Acknowledged,
            "fixed" => OrderStatus::Fixed,
            "closed" => OrderStatus::Closed,
            _ => OrderStatus::Open,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkOrder {
    pub id: i64,
    /// `quality` (a failing rule) or `fusion` (sources disagreeing on an attribute).
    pub kind: String,
    pub resource_id: i64,
    pub rule_id: i64,
    pub org_id: OrgId,
    pub status: OrderStatus,
    pub title: String,
    /// The latest failing check: batch, rule version, counts, sample values.
    #[schema(value_type = Object)]
    pub evidence: Value,
    pub failed: i64,
    pub first_batch: String,
    pub last_batch: String,
    pub due_at: i64,
    pub opened_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    /// Past its due date and not closed.
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OrderEvent {
    pub at: i64,
    pub by_user: Option<UserId>,
    pub action: String,
    pub note: String,
}

/// A failing check, as the quality job reports it.
pub struct Failure<'a> {
    /// `quality` or `fusion`; rule ids are numbered within their kind.
    pub kind: &'a str,
    pub resource_id: i64,
    pub rule_id: i64,
    pub org_id: OrgId,
    pub title: &'a str,
    pub batch_id: &'a str,
    pub failed: i64,
    pub evidence: Value,
    /// Days to fix, from the rule's severity.
    pub sla_days: i64,
}

const COLUMNS: &str = "id, kind, resource_id, rule_id, org_id, status, title, evidence, failed, first_batch, last_batch, due_at, opened_at, updated_at, closed_at";
const DAY: i64 = 86_400_000;

fn from_row(r: &sqlx::any::AnyRow, now: i64) -> Result<WorkOrder, sqlx::Error> {
    let status = OrderStatus::parse(&r.try_get::<String, _>("status")?);
    let due_at: i64 = r.try_get("due_at")?;
    Ok(WorkOrder {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        resource_id: r.try_get("resource_id")?,
        rule_id: r.try_get("rule_id")?,
        org_id: OrgId(r.try_get("org_id")?),
        status,
        title: r.try_get("title")?,
        evidence: serde_json::from_str(&r.try_get::<String, _>("evidence")?).unwrap_or_default(),
        failed: r.try_get("failed")?,
        first_batch: r.try_get("first_batch")?,
        last_batch: r.try_get("last_batch")?,
        due_at,
        opened_at: r.try_get("opened_at")?,
        updated_at: r.try_get("updated_at")?,
        closed_at: r.try_get("closed_at")?,
        overdue: status != OrderStatus::Closed && now > due_at,
    })
}

impl Store {
    async fn open_order(
        &self,
        kind: &str,
        resource_id: i64,
        rule_id: i64,
    ) -> Result<Option<WorkOrder>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM work_orders WHERE kind = $3 AND resource_id = $1 AND rule_id = $2 AND status <> 'closed'"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource_id)
            .bind(rule_id)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("read a work order"))?;
        r.map(|r| from_row(&r, now_ms()))
            .transpose()
            .map_err(db_err("read a work order"))
    }

    async fn order_event(
        &self,
        id: i64,
        by: Option<UserId>,
        action: &str,
        note: &str,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO work_order_events (order_id, at, by_user, action, note) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(now_ms())
        .bind(by.map(|u| u.0))
        .bind(action)
        .bind(note)
        .execute(&self.pool)
        .await
        .map_err(db_err("record a work order event"))?;
        Ok(())
    }

    /// A check failed: opens the order for this resource and rule, or updates the open one with
    /// the new evidence (an order marked fixed that still fails goes back to open).
    pub async fn report_failure(&self, f: &Failure<'_>) -> Result<WorkOrder, Error> {
        let now = now_ms();
        if let Some(o) = self.open_order(f.kind, f.resource_id, f.rule_id).await? {
            let reopen = o.status == OrderStatus::Fixed;
            sqlx::query(
                "UPDATE work_orders SET evidence = $2, failed = $3, last_batch = $4, updated_at = $5, status = $6 WHERE id = $1",
            )
            .bind(o.id)
            .bind(f.evidence.to_string())
            .bind(f.failed)
            .bind(f.batch_id)
            .bind(now)
            .bind(if reopen { "open" } else { o.status.as_str() })
            .execute(&self.pool)
            .await
            .map_err(db_err("update a work order"))?;
            let note = format!("批次 {} 仍有 {} 条问题", f.batch_id, f.failed);
            self.order_event(
                o.id,
                None,
                if reopen { "reopened" } else { "updated" },
                &note,
            )
            .await?;
            return self.work_order(o.id).await;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO work_orders (resource_id, rule_id, org_id, status, title, evidence, failed, first_batch, last_batch, due_at, opened_at, updated_at, kind) VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $7, $8, $9, $9, $10) RETURNING id",
        )
        .bind(f.resource_id)
        .bind(f.rule_id)
        .bind(f.org_id.0)
        .bind(f.title)
        .bind(f.evidence.to_string())
        .bind(f.failed)
        .bind(f.batch_id)
        .bind(now + f.sla_days.max(1) * DAY)
        .bind(now)
        .bind(f.kind)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("open a work order"))?;
        let note = format!("批次 {} 发现 {} 条问题", f.batch_id, f.failed);
        self.order_event(id, None, "opened", &note).await?;
        self.work_order(id).await
    }

    /// A check passed: closes the open order for this resource and rule, if any, as verified.
    pub async fn report_pass(
        &self,
        kind: &str,
        resource_id: i64,
        rule_id: i64,
        batch_id: &str,
    ) -> Result<Option<WorkOrder>, Error> {
        let Some(o) = self.open_order(kind, resource_id, rule_id).await? else {
            return Ok(None);
        };
        let now = now_ms();
        sqlx::query(
            "UPDATE work_orders SET status = 'closed', closed_at = $2, updated_at = $2, last_batch = $3, failed = 0 WHERE id = $1",
        )
        .bind(o.id)
        .bind(now)
        .bind(batch_id)
        .execute(&self.pool)
        .await
        .map_err(db_err("close a work order"))?;
        self.order_event(
            o.id,
            None,
            "verified",
            &format!("批次 {batch_id} 复核通过，自动关闭"),
        )
        .await?;
        self.work_order(o.id).await.map(Some)
    }

    /// The owning department acknowledges an order or marks it fixed, with a note.
    pub async fn advance_order(
        &self,
        id: i64,
        to: OrderStatus,
        note: &str,
        by: &Actor<'_>,
    ) -> Result<WorkOrder, Error> {
        let o = self.work_order(id).await?;
        let own = by.org == o.org_id && by.roles.contains(&Role::ProviderOfficer);
        if !(own || by.roles.contains(&Role::DataManager)) {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "only the department that owns the data (or a data manager) handles its work orders",
            ));
        }
        let allowed = matches!(
            (o.status, to),
            (OrderStatus::Open, OrderStatus::Acknowledged)
                | (OrderStatus::Open, OrderStatus::Fixed)
                | (OrderStatus::Acknowledged, OrderStatus::Fixed)
        );
        if !allowed {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!(
                    "work order {id} is {}; it cannot become {} (closing is done by a passing batch)",
                    o.status.label_zh(),
                    to.label_zh()
                ),
            ));
        }
        sqlx::query("UPDATE work_orders SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(to.as_str())
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(db_err("update a work order"))?;
        self.order_event(id, Some(by.user), to.as_str(), note.trim())
            .await?;
        self.work_order(id).await
    }

    pub async fn work_order(&self, id: i64) -> Result<WorkOrder, Error> {
        let sql = format!("SELECT {COLUMNS} FROM work_orders WHERE id = $1");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("read a work order"))?
            .ok_or_else(|| Error::new(ErrorCode::QualityNotFound, format!("no work order {id}")))?;
        from_row(&r, now_ms()).map_err(db_err("read a work order"))
    }

    /// Work orders, newest first: of one department (None: all), open ones only or all.
    pub async fn work_orders(
        &self,
        org: Option<OrgId>,
        open_only: bool,
    ) -> Result<Vec<WorkOrder>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM work_orders WHERE ($1 < 0 OR org_id = $1) AND ($2 = 0 OR status <> 'closed') ORDER BY opened_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.map_or(-1, |o| o.0))
            .bind(i64::from(open_only))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list work orders"))?;
        let now = now_ms();
        rows.iter()
            .map(|r| from_row(r, now).map_err(db_err("read a work order")))
            .collect()
    }

    pub async fn order_events(&self, id: i64) -> Result<Vec<OrderEvent>, Error> {
        let q = sqlx::query(
            "SELECT at, by_user, action, note FROM work_order_events WHERE order_id = $1 ORDER BY id",
        )
        .bind(id);
        self.all(
            q,
            "list work order events",
            |r| {
                Ok(OrderEvent {
                    at: r.try_get("at")?,
                    by_user: r.try_get::<Option<i64>, _>("by_user")?.map(UserId),
                    action: r.try_get("action")?,
                    note: r.try_get("note")?,
                })
            },
            "read a work order event",
        )
        .await
    }
}
