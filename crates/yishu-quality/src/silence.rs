//! Providers that go silent (时效性, R9/R15): timeliness judged only when a batch arrives never
//! notices a department that stops sending. The scheduler checks every published resource against
//! its update cycle plus grace ([`UpdateCycle::max_age_ms`]); one past it opens a work order to its
//! department, which the next batch closes.

use serde_json::json;
use std::collections::HashSet;
use yishu_meta::Store;
use yishu_meta::catalog::UpdateCycle;
use yishu_meta::workorder::Failure;
use yishu_types::Error;

/// The work-order kind of a silent provider.
pub const KIND: &str = "timeliness";
/// Days a department has to send data once its order is open.
const SLA_DAYS: i64 = 3;
const DAY: i64 = 86_400_000;

/// What one pass of the check did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub resources: usize,
    pub opened: usize,
    pub closed: usize,
}

/// Checks every published resource with a regular cycle at `now` (milliseconds; the scheduler's
/// clock). A resource never fed is judged from its publication.
pub async fn check(store: &Store, now: i64) -> Result<Checked, Error> {
    let open: HashSet<i64> = store
        .work_orders(None, true)
        .await?
        .into_iter()
        .filter(|o| o.kind == KIND)
        .map(|o| o.resource_id)
        .collect();
    let mut done = Checked::default();
    for f in store.freshness().await? {
        let (Some(max_age), Some(since)) =
            (f.update_cycle.max_age_ms(), f.newest_at.or(f.published_at))
        else {
            continue;
        };
        done.resources += 1;
        let due = since + max_age;
        let batch = f.newest_batch.as_deref().unwrap_or("");
        if now > due && !open.contains(&f.resource_id) {
            let title = format!(
                "{}（{}）超过更新周期（{}）未报送数据",
                f.name,
                f.code,
                f.update_cycle.label_zh()
            );
            store
                .report_failure(&Failure {
                    kind: KIND,
                    resource_id: f.resource_id,
                    rule_id: 0,
                    org_id: f.org_id,
                    title: &title,
                    batch_id: batch,
                    failed: 1,
                    evidence: json!({
                        "update_cycle": f.update_cycle.as_str(),
                        "last_batch": f.newest_batch,
                        "last_at": since,
                        "due_at": due,
                        "days_late": days_late(now, due),
                    }),
                    sla_days: SLA_DAYS,
                })
                .await?;
            done.opened += 1;
        } else if now <= due && open.contains(&f.resource_id) {
            store.report_pass(KIND, f.resource_id, 0, batch).await?;
            done.closed += 1;
        }
    }
    Ok(done)
}

/// Whole days past the deadline, at least 1 once it has passed.
fn days_late(now: i64, due: i64) -> i64 {
    ((now - due) / DAY).max(1)
}

/// A batch was checked: if it arrived within the resource's cycle (a new delivery, not an old
/// batch checked again), the resource's silence order, if any, is closed by it.
pub async fn delivered(
    store: &Store,
    cycle: UpdateCycle,
    batch: &yishu_meta::batch::Batch,
) -> Result<(), Error> {
    let at = batch.finished_at.unwrap_or(batch.started_at);
    if due(cycle, at).is_some_and(|d| d < yishu_meta::now_ms()) {
        return Ok(());
    }
    store
        .report_pass(KIND, batch.resource_id, 0, &batch.id)
        .await?;
    Ok(())
}

/// The deadline of a resource fed at `since`, for pages.
pub fn due(cycle: UpdateCycle, since: i64) -> Option<i64> {
    cycle.max_age_ms().map(|m| since + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_counts_whole_days() {
        assert_eq!(days_late(DAY * 10, DAY * 10 - 1), 1);
        assert_eq!(days_late(DAY * 10, DAY * 7), 3);
        assert_eq!(due(UpdateCycle::Irregular, 0), None);
        assert_eq!(due(UpdateCycle::Daily, 0), Some(2 * DAY));
    }
}
