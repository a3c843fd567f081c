//! `yishu service`: data services from the command line, acting as a named user (the same rules
//! as the console and the API; every step audited).

use crate::cmd::audit::cli_entry_as;
use crate::cmd::serve::open;
use crate::config::Config;
use crate::exit;
use anyhow::{Context, Result};
use clap::Subcommand;
use yishu_meta::service::{Service, ServiceDraft};
use yishu_meta::{Principal, Store};
use yishu_share::service::{self, param::Given};

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Define a service (a new version when the name exists) from a JSON file: name, title,
    /// sql with :name placeholders, params, row_cap, timeout_ms.
    Define {
        /// The defining user's name (a data manager, or a department's officer).
        #[arg(long = "as")]
        user: String,
        /// The definition, JSON.
        file: std::path::PathBuf,
    },
    /// Run a version on real data with parameter values; a draft becomes tested.
    Test {
        /// Service version id.
        id: i64,
        #[arg(long = "as")]
        user: String,
        /// A parameter value as name=value; repeatable.
        #[arg(long = "param", value_parser = name_value)]
        params: Vec<(String, String)>,
    },
    /// Review a tested version (a data manager other than its author).
    Review {
        id: i64,
        #[arg(long = "as")]
        user: String,
        /// Send it back to draft instead of approving (give --note).
        #[arg(long)]
        reject: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Publish a reviewed version at /api/v1/services/<name>/v<n>.
    Publish {
        id: i64,
        #[arg(long = "as")]
        user: String,
    },
    /// List every version with its status and path.
    List,
}

fn name_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(n, v)| (n.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("'{s}' is not name=value"))
}

pub async fn run(config: &Config, cmd: ServiceCommand) -> Result<u8> {
    let (store, lake) = open(config).await?;
    match cmd {
        ServiceCommand::Define { user, file } => {
            let who = store.acting_as(&user).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let d: ServiceDraft = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a service definition", file.display()))?;
            let s = service::define(&store, &lake, &who, &d).await?;
            done(&store, &who, "service.define", &s).await
        }
        ServiceCommand::Test { id, user, params } => {
            let who = store.acting_as(&user).await?;
            let mut given = Given::default();
            for (n, v) in params {
                given.body.insert(n, serde_json::Value::String(v));
            }
            let (s, answer) = service::test(&store, &lake, &who, id, &given).await?;
            println!("{}", answer.items.join("\t"));
            for row in &answer.rows {
                println!("{}", row.join("\t"));
            }
            if answer.truncated {
                println!("… more rows than the row cap ({})", s.draft.row_cap);
            }
            done(&store, &who, "service.test", &s).await
        }
        ServiceCommand::Review {
            id,
            user,
            reject,
            note,
        } => {
            let who = store.acting_as(&user).await?;
            let s = service::review(&store, &who, id, !reject, &note).await?;
            let action = if reject {
                "service.reject"
            } else {
                "service.approve"
            };
            done(&store, &who, action, &s).await
        }
        ServiceCommand::Publish { id, user } => {
            let who = store.acting_as(&user).await?;
            let s = service::publish(&store, &who, id).await?;
            done(&store, &who, "service.publish", &s).await
        }
        ServiceCommand::List => {
            for s in store.services().await? {
                println!(
                    "{}\t{} v{}\t{}\t{}\t{}",
                    s.id,
                    s.name,
                    s.version,
                    s.status.as_str(),
                    s.path(),
                    s.draft.title
                );
            }
            Ok(exit::OK)
        }
    }
}

/// Audits a step taken as `who` and says where the version stands.
async fn done(store: &Store, who: &Principal, action: &str, s: &Service) -> Result<u8> {
    store
        .audit(&cli_entry_as(
            who,
            action,
            format!("service:{}/v{}", s.name, s.version),
            serde_json::json!({"as": who.name, "id": s.id, "status": s.status.as_str()}),
        ))
        .await?;
    println!(
        "service {} ({} v{}): {}",
        s.id,
        s.name,
        s.version,
        s.status.as_str()
    );
    Ok(exit::OK)
}
