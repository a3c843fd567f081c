//! `yishu catalog template|export|import`: the cataloguing workbook on the command line.

use crate::config::Config;
use crate::exit;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use yishu_meta::catalog::Actor;

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// Write the empty cataloguing workbook (sheets 资源, 信息项, 填写说明).
    Template {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the whole catalog as XLSX (the template's layout) or JSON, by the file's extension.
    Export {
        #[arg(long)]
        out: PathBuf,
    },
    /// Import a filled cataloguing workbook as drafts. Every error is listed by sheet, row and
    /// column; nothing is imported unless the sheet is clean, or `--valid-only` is given.
    Import {
        file: PathBuf,
        /// The user the drafts are created by (an admin, or an officer of each provider).
        #[arg(long = "as")]
        user: String,
        /// Import the valid resources even when other rows have errors.
        #[arg(long)]
        valid_only: bool,
    },
}

pub async fn run(config: &Config, cmd: CatalogCommand) -> Result<u8> {
    let (store, _lake) = crate::cmd::serve::open(config).await?;
    match cmd {
        CatalogCommand::Template { out } => {
            let bytes = yishu_ingest::catalog_sheet::template()?;
            std::fs::write(&out, bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote the cataloguing template to {}", out.display());
        }
        CatalogCommand::Export { out } => {
            let resources = store.all_resources().await?;
            let json = out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let bytes = if json {
                serde_json::to_vec_pretty(&resources)?
            } else {
                let orgs = store.list_orgs().await?;
                yishu_ingest::catalog_sheet::export(&resources, &orgs)?
            };
            std::fs::write(&out, bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "exported {} resources to {}",
                resources.len(),
                out.display()
            );
        }
        CatalogCommand::Import {
            file,
            user,
            valid_only,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let orgs = store.list_orgs().await?;
            let parsed = yishu_ingest::catalog_sheet::parse(&bytes, &orgs)?;
            for e in &parsed.errors {
                eprintln!("{} 第{}行 {}: {}", e.sheet, e.row, e.column, e.message);
            }
            if !parsed.errors.is_empty() && !valid_only {
                eprintln!(
                    "{} error(s) in {}; nothing imported. Fix them, or pass --valid-only to import the {} valid resource(s).",
                    parsed.errors.len(),
                    file.display(),
                    parsed.resources.len()
                );
                return Ok(exit::FAILED);
            }
            let u = store.get_user_by_name(&user).await?;
            let by = Actor {
                user: u.id,
                org: u.org_id,
                roles: &u.roles,
            };
            let mut created = 0;
            for r in &parsed.resources {
                match store.create_resource(&r.draft, &by).await {
                    Ok(res) => {
                        created += 1;
                        store
                            .audit(&crate::cmd::audit::cli_entry(
                                "resource.create",
                                format!("resource:{}", res.code),
                                serde_json::json!({"name": res.meta.name, "from": file.display().to_string(), "row": r.row}),
                            ))
                            .await?;
                        println!("{} {} (draft)", res.code, res.meta.name);
                    }
                    Err(e) => eprintln!(
                        "{} 第{}行: {}",
                        yishu_ingest::catalog_sheet::RESOURCES,
                        r.row,
                        e.message
                    ),
                }
            }
            println!(
                "imported {created} resource(s) as drafts; {} row(s) skipped for errors",
                parsed.rejected
            );
            if created < parsed.resources.len() {
                return Ok(exit::FAILED);
            }
        }
    }
    Ok(exit::OK)
}
