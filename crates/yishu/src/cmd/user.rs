//! `yishu user`: users, created from the command line (the first administrator).

use crate::cmd::audit::cli_entry;
use crate::cmd::serve::open;
use crate::config::Config;
use crate::exit;
use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal};
use yishu_meta::NewUser;
use yishu_types::Role;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is prompted for, or read from the first line of stdin.
    Add(UserAdd),
}

#[derive(Args)]
pub struct UserAdd {
    /// Login name.
    #[arg(long)]
    name: String,
    /// Full name shown in pages.
    #[arg(long)]
    display_name: Option<String>,
    /// Code of the user's organisation.
    #[arg(long)]
    org: String,
    /// Roles (repeat or comma-separate): admin, data_manager, provider_officer, consumer, auditor.
    #[arg(long = "role", value_delimiter = ',', required = true)]
    roles: Vec<Role>,
}

/// Prompts without echo on a terminal; otherwise reads the first line of stdin.
fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if p != again {
            return Err(anyhow!("the two passwords differ"));
        }
        Ok(p)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

pub async fn run(config: &Config, cmd: UserCommand) -> Result<u8> {
    match cmd {
        UserCommand::Add(a) => {
            let (store, _) = open(config).await?;
            let org = store.get_org_by_code(&a.org).await?;
            let password = read_password()?;
            let u = store
                .create_user(&NewUser {
                    name: a.name,
                    display_name: a.display_name,
                    org_id: org.id,
                    password,
                    roles: a.roles,
                })
                .await?;
            store
                .audit(&cli_entry(
                    "user.create",
                    format!("user:{}", u.id),
                    serde_json::json!({"name": u.name, "roles": u.roles}),
                ))
                .await?;
            println!(
                "created user {} (id {}) in {} with roles {:?}",
                u.name, u.id, org.name, u.roles
            );
            Ok(exit::OK)
        }
    }
}
