//! `yishu share`: applications and grants from the command line, acting as a named user (the
//! same rules as the console; every step audited).

use crate::cmd::audit::{cli_entry, cli_entry_as};
use crate::cmd::serve::open;
use crate::config::Config;
use crate::exit;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use yishu_meta::share::Application;
use yishu_meta::{Principal, Store, now_ms};
use yishu_share::application::{Apply, Decision, Workflow};

#[derive(Subcommand)]
pub enum ShareCommand {
    /// Apply for items of a published resource or a base library.
    Apply(ApplyArgs),
    /// Decide the step an application waits for (the provider's, then the bureau's).
    Approve(ApproveArgs),
    /// List grants (all, or those a department holds or gives).
    Grants {
        /// Code of a department.
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke a grant (or suspend / resume it): every read through it stops at once.
    Revoke {
        /// Grant id.
        grant: i64,
        /// Why; the consumer sees it.
        #[arg(long)]
        reason: String,
        /// Suspend instead of revoking.
        #[arg(long, conflicts_with = "resume")]
        suspend: bool,
        /// Resume a suspended grant.
        #[arg(long)]
        resume: bool,
    },
}

#[derive(Args)]
pub struct ApplyArgs {
    /// The applying user's name (the application is their department's).
    #[arg(long = "as")]
    user: String,
    /// `resource:<id>` or `base:population` / `base:entities` / `base:houses`.
    #[arg(long)]
    target: String,
    /// Items, comma-separated.
    #[arg(long, value_delimiter = ',')]
    items: Vec<String>,
    #[arg(long)]
    purpose: String,
    /// 依据: the law or document the use rests on.
    #[arg(long)]
    legal_basis: String,
    #[arg(long)]
    scenario: String,
    /// Days from today the use lasts.
    #[arg(long, default_value_t = 365)]
    days: i64,
    #[arg(long, default_value = "")]
    expected_volume: String,
    #[arg(long)]
    contact: String,
}

#[derive(Args)]
pub struct ApproveArgs {
    /// Application id.
    application: i64,
    /// The deciding user's name.
    #[arg(long = "as")]
    user: String,
    /// Reject instead of approving (give --reason).
    #[arg(long)]
    reject: bool,
    #[arg(long, default_value = "")]
    reason: String,
    /// Row filter, e.g. "行政区划代码 prefix '510107'" (the provider's step).
    #[arg(long)]
    filter: Option<String>,
    /// Masks as item=mask (keep, partial, generalise, token, hash); repeatable.
    #[arg(long = "mask", value_parser = item_mask)]
    masks: Vec<(String, String)>,
    #[arg(long)]
    per_minute: Option<i64>,
    #[arg(long)]
    rows_per_day: Option<i64>,
}

fn item_mask(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(i, m)| (i.trim().to_string(), m.trim().to_string()))
        .ok_or_else(|| format!("'{s}' is not item=mask"))
}

pub async fn run(config: &Config, cmd: ShareCommand) -> Result<u8> {
    let (store, lake) = open(config).await?;
    let flow = Workflow::new(&store, &lake);
    match cmd {
        ShareCommand::Apply(a) => {
            let who = store.acting_as(&a.user).await?;
            let now = now_ms();
            let app = flow
                .apply(
                    &who,
                    &Apply {
                        target: a.target,
                        items: a.items,
                        purpose: a.purpose,
                        legal_basis: a.legal_basis,
                        scenario: a.scenario,
                        period_from: now,
                        period_to: now + a.days * 86_400_000,
                        expected_volume: a.expected_volume,
                        contact: a.contact,
                    },
                    now,
                )
                .await?;
            done(&store, &who, "share.apply", &app).await
        }
        ShareCommand::Approve(a) => {
            let who = store.acting_as(&a.user).await?;
            let d = Decision {
                approve: !a.reject,
                reason: a.reason,
                row_filter: a.filter,
                masks: a.masks.into_iter().collect::<BTreeMap<_, _>>(),
                per_minute: a.per_minute,
                rows_per_day: a.rows_per_day,
                expires_at: None,
            };
            let app = store.application(a.application).await?;
            let app = if app.status == "provider_approved" {
                flow.bureau_decide(&who, app.id, &d).await?
            } else {
                flow.provider_decide(&who, app.id, &d, now_ms()).await?
            };
            done(&store, &who, "share.decide", &app).await
        }
        ShareCommand::Grants { org } => {
            let org = match org {
                Some(code) => Some(store.get_org_by_code(&code).await?.id),
                None => None,
            };
            let mut grants = store.grants(org, None).await?;
            if let Some(o) = org {
                grants.extend(store.grants(None, Some(o)).await?);
                grants.sort_by_key(|g| std::cmp::Reverse(g.id));
                grants.dedup_by_key(|g| g.id);
            }
            for g in grants {
                println!(
                    "grant {} {} consumer={} provider={} items={} filter={} status={}",
                    g.id,
                    g.target,
                    g.consumer_org_id.0,
                    g.provider_org_id.0,
                    g.items.join(","),
                    if g.row_filter.is_empty() {
                        "-"
                    } else {
                        &g.row_filter
                    },
                    g.status
                );
            }
            Ok(exit::OK)
        }
        ShareCommand::Revoke {
            grant,
            reason,
            suspend,
            resume,
        } => {
            let status = if resume {
                "active"
            } else if suspend {
                "suspended"
            } else {
                "revoked"
            };
            let g = store.set_grant_status(grant, status, &reason).await?;
            store
                .audit(&cli_entry(
                    "grant.status",
                    format!("grant:{grant}"),
                    serde_json::json!({"status": status, "reason": reason}),
                ))
                .await?;
            println!("grant {}: {}", g.id, g.status);
            Ok(exit::OK)
        }
    }
}

/// Audits a step taken as `who` and says where the application stands.
async fn done(store: &Store, who: &Principal, action: &str, app: &Application) -> Result<u8> {
    let object = format!("application:{}", app.id);
    store
        .audit(&cli_entry_as(
            who,
            action,
            object,
            serde_json::json!({"as": who.name}),
        ))
        .await?;
    println!(
        "application {}: {}{}",
        app.id,
        app.status,
        app.grant_id
            .map(|g| format!(" (grant {g})"))
            .unwrap_or_default()
    );
    Ok(exit::OK)
}
