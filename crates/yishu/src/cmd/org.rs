//! `yishu org`: the organisation tree — levels and departments.

use crate::cmd::audit::cli_entry;
use crate::cmd::serve::open;
use crate::config::Config;
use crate::exit;
use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use yishu_meta::{NewOrg, OrgLevel, Store};
use yishu_types::OrgId;

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Add an organisation.
    Add(OrgAdd),
    /// List organisations as a tree.
    List,
    /// Rename an organisation.
    Rename {
        /// Code of the organisation.
        code: String,
        /// New name.
        name: String,
    },
    /// Move an organisation under another (or to the top with --root).
    Move {
        /// Code of the organisation.
        code: String,
        /// Code of the new parent.
        #[arg(long, conflicts_with = "root", required_unless_present = "root")]
        parent: Option<String>,
        /// Make it a top-level organisation.
        #[arg(long)]
        root: bool,
    },
    /// Disable an organisation (its users can no longer be created there).
    Disable {
        /// Code of the organisation.
        code: String,
    },
    /// Enable a disabled organisation.
    Enable {
        /// Code of the organisation.
        code: String,
    },
    /// Name the bureau (大数据主管部门): it confirms sharing and provides the base libraries.
    Bureau {
        /// Code of the organisation.
        code: String,
    },
}

#[derive(Args)]
pub struct OrgAdd {
    /// Unique code (ASCII letters, digits, - and _).
    #[arg(long)]
    code: String,
    /// Name, e.g. 成都市公安局.
    #[arg(long)]
    name: String,
    /// For a platform level: province, city or district. Omit for a department.
    #[arg(long)]
    level: Option<String>,
    /// Code of the parent organisation.
    #[arg(long)]
    parent: Option<String>,
    /// 统一社会信用代码 (checked).
    #[arg(long)]
    credit_code: Option<String>,
    /// GB/T 2260 division code.
    #[arg(long)]
    division: Option<String>,
}

/// Audits a CLI change to an org and prints it.
async fn org_changed(store: &Store, action: &str, o: &yishu_meta::Org) -> Result<u8> {
    let detail = serde_json::json!({"code": o.code, "name": o.name, "parent_id": o.parent_id, "disabled": o.disabled});
    store
        .audit(&cli_entry(action, format!("org:{}", o.id), detail))
        .await?;
    println!("{action}: {} {} (version {})", o.code, o.name, o.version);
    Ok(exit::OK)
}

async fn set_org_disabled(config: &Config, code: &str, disabled: bool) -> Result<u8> {
    let (store, _) = open(config).await?;
    let o = store.get_org_by_code(code).await?;
    let o = store.set_org_disabled(o.id, disabled, o.version).await?;
    org_changed(&store, "org.disable", &o).await
}

pub async fn run(config: &Config, cmd: OrgCommand) -> Result<u8> {
    match cmd {
        OrgCommand::Add(a) => add(config, a).await,
        OrgCommand::Rename { code, name } => {
            let (store, _) = open(config).await?;
            let o = store.get_org_by_code(&code).await?;
            let o = store.rename_org(o.id, &name, o.version).await?;
            org_changed(&store, "org.rename", &o).await
        }
        OrgCommand::Move {
            code,
            parent,
            root: _,
        } => {
            let (store, _) = open(config).await?;
            let o = store.get_org_by_code(&code).await?;
            let parent = match parent {
                Some(p) => Some(store.get_org_by_code(&p).await?.id),
                None => None,
            };
            let o = store.move_org(o.id, parent, o.version).await?;
            org_changed(&store, "org.move", &o).await
        }
        OrgCommand::Disable { code } => set_org_disabled(config, &code, true).await,
        OrgCommand::Enable { code } => set_org_disabled(config, &code, false).await,
        OrgCommand::Bureau { code } => {
            let (store, _) = open(config).await?;
            let o = store.get_org_by_code(&code).await?;
            store.set_bureau(o.id).await?;
            org_changed(&store, "org.bureau", &o).await
        }
        OrgCommand::List => {
            let (store, _) = open(config).await?;
            let orgs = store.list_orgs().await?;
            for row in yishu_meta::org::tree(&orgs) {
                let o = &row.org;
                let state = if o.disabled { " [disabled]" } else { "" };
                println!("{}{} {}{state}", "  ".repeat(row.depth), o.code, o.name);
            }
            Ok(exit::OK)
        }
    }
}

/// `yishu org add`.
async fn add(config: &Config, a: OrgAdd) -> Result<u8> {
    let (store, _) = open(config).await?;
    let parent_id: Option<OrgId> = match &a.parent {
        Some(code) => Some(store.get_org_by_code(code).await?.id),
        None => None,
    };
    let level = match a.level.as_deref() {
        None => None,
        Some("province") => Some(OrgLevel::Province),
        Some("city") => Some(OrgLevel::City),
        Some("district") => Some(OrgLevel::District),
        Some(other) => {
            return Err(anyhow!(
                "--level must be province, city or district, not '{other}'"
            ));
        }
    };
    let o = store
        .create_org(&NewOrg {
            code: a.code,
            name: a.name,
            kind: None,
            level,
            parent_id,
            credit_code: a.credit_code,
            division_code: a.division,
        })
        .await?;
    store
        .audit(&cli_entry(
            "org.create",
            format!("org:{}", o.id),
            serde_json::json!({"code": o.code, "name": o.name}),
        ))
        .await?;
    println!("created organisation {} {} (id {})", o.code, o.name, o.id);
    Ok(exit::OK)
}
