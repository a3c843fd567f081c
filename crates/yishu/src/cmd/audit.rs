//! `yishu audit verify` and `yishu migrate`: the audit chain and the metadata store's schema.

use crate::cmd::serve::open;
use crate::config::Config;
use crate::exit;
use anyhow::Result;
use clap::Subcommand;
use yishu_meta::AuditEntry;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the SM3 chain and name the first altered or missing record (exit 4 if broken).
    Verify,
}

/// An audit entry for an action taken on the command line.
pub(crate) fn cli_entry(action: &str, object: String, detail: serde_json::Value) -> AuditEntry {
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    AuditEntry {
        actor_name: format!("cli:{who}"),
        action: action.into(),
        object,
        source_ip: "local".into(),
        request_id: String::new(),
        outcome: "ok".into(),
        detail: detail.to_string(),
        ..Default::default()
    }
}

/// An audit entry for an action taken on the command line acting as the user `who`.
pub(crate) fn cli_entry_as(
    who: &yishu_meta::Principal,
    action: &str,
    object: String,
    detail: serde_json::Value,
) -> AuditEntry {
    let mut e = cli_entry(action, object, detail);
    e.actor_id = Some(who.user_id);
    e.org_id = Some(who.org_id);
    e
}

pub async fn run(config: &Config, cmd: AuditCommand) -> Result<u8> {
    match cmd {
        AuditCommand::Verify => {
            let (store, _) = open(config).await?;
            let r = store.verify_audit().await?;
            match r.broken_at {
                None => {
                    println!("audit chain intact: {} records", r.records);
                    Ok(exit::OK)
                }
                Some(b) => {
                    println!(
                        "audit chain BROKEN at record {}: {} ({} records verified before it)",
                        b.seq, b.reason, r.records
                    );
                    Ok(exit::AUDIT_BROKEN)
                }
            }
        }
    }
}

/// `yishu migrate`: applies the metadata store's migrations.
pub async fn migrate(config: &Config) -> Result<u8> {
    let (store, _) = open(config).await?;
    store.migrate().await?;
    println!(
        "metadata store is up to date ({})",
        yishu_meta::store_redacted_url(&config.database_url())
    );
    Ok(exit::OK)
}
