//! The read audit (R30, R36): every read through the gate — granted, on the provider's or the
//! bureau's own standing, or refused — is one record in the SM3 chain: who, department, grant,
//! purpose, items, row count, a digest of the question, outcome. The record is written before
//! the data goes out; when it cannot be written, the read does not happen (fail closed).

use crate::gate::{Basis, ReadPlan};
use serde_json::{Value, json};
use yishu_meta::{AuditEntry, Principal, Store};
use yishu_types::{Error, ErrorCode};

/// Where a read happened.
#[derive(Debug, Clone)]
pub struct Channel {
    /// api, page, download, service …
    pub kind: &'static str,
    pub source_ip: String,
    pub request_id: String,
}

/// Keyed digests of the subjects a read returned (by their key), so "who read this person" can
/// be answered without the log holding the number.
pub fn subject_digest(store: &Store, key: &str) -> String {
    store.secret_hash(&format!("subject:{key}"))[..24].to_string()
}

/// The record of a read.
pub fn entry(
    who: &Principal,
    target: &str,
    plan: Result<&ReadPlan, &Error>,
    rows: usize,
    subjects: &[String],
    ch: &Channel,
) -> AuditEntry {
    let (object, outcome, detail) = match plan {
        Ok(p) => {
            let object = match p.basis {
                Basis::Grant(id) => format!("grant:{id}"),
                _ => target.to_string(),
            };
            let basis = match p.basis {
                Basis::Grant(_) => "grant",
                Basis::Provider => "provider",
                Basis::Bureau => "bureau",
            };
            let masked: Vec<&String> = p.items.iter().filter(|i| !p.is_clear(i)).collect();
            (
                object,
                "ok",
                json!({"target": target, "basis": basis, "grant": p.basis.grant_id(), "purpose": p.purpose,
                    "items": p.items, "masked": masked, "rows": rows, "query": p.query_hash(),
                    "channel": ch.kind, "subjects": subjects, "app": who.app.as_ref().map(|a| a.id)}),
            )
        }
        Err(e) => (
            target.to_string(),
            if e.code.http_status() < 500 {
                "denied"
            } else {
                "failed"
            },
            json!({"target": target, "channel": ch.kind, "error": e.code.as_str(), "message": e.message,
                "app": who.app.as_ref().map(|a| a.id)}),
        ),
    };
    AuditEntry {
        actor_id: Some(who.user_id),
        actor_name: who.name.clone(),
        org_id: Some(who.org_id),
        action: "share.read".into(),
        object,
        source_ip: ch.source_ip.clone(),
        request_id: ch.request_id.clone(),
        outcome: outcome.into(),
        detail: detail.to_string(),
    }
}

/// Appends the record; a failure to write it is the read's failure.
pub async fn record(store: &Store, e: &AuditEntry) -> Result<(), Error> {
    store.audit(e).await.map(|_| ()).map_err(|err| {
        Error::new(
            ErrorCode::AuditUnavailable,
            format!(
                "the read was not served because its audit record could not be written: {}",
                err.message
            ),
        )
    })
}

/// The detail of a read record, parsed (for "who used my data").
pub fn detail(e: &yishu_meta::AuditRecord) -> Value {
    serde_json::from_str(&e.detail).unwrap_or(Value::Null)
}
