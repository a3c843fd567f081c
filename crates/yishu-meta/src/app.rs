//! Apps (接入应用): a consumer department's system that calls data services. An app holds its
//! own API keys (each with an expiry), names the addresses it calls from and how many calls a
//! minute it may make over all its keys; suspending it stops every key on the next call. An app
//! reads only through its department's grants: its keys carry no role but `consumer`.

use crate::auth::{ApiKey, NewApiKey};
use crate::store::{Store, db_err, is_unique_violation, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::net::IpAddr;
use yishu_types::{AppId, Error, ErrorCode, OrgId, UserId};

/// The most calls a minute an app may be allowed.
pub const MAX_PER_MINUTE: i64 = 1_000_000;
/// How long a key lasts when its maker names no expiry, and the longest it may last.
pub const KEY_DEFAULT_MS: i64 = 365 * 86_400_000;
pub const KEY_MAX_MS: i64 = 2 * KEY_DEFAULT_MS;

/// A consumer system and its terms.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct App {
    pub id: AppId,
    /// The department it belongs to (and whose grants it reads through).
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    /// Addresses or CIDR ranges it may call from (`10.1.0.0/16`, `192.0.2.7`); empty: anywhere.
    pub ip_allow: Vec<String>,
    /// Calls a minute over all its keys; 0 leaves only the grants' limits.
    pub per_minute: i64,
    /// `active` or `suspended`.
    pub status: String,
    pub status_reason: String,
    pub created_by: UserId,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a department says of its app.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppDraft {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub ip_allow: Vec<String>,
    #[serde(default)]
    pub per_minute: i64,
}

/// The terms an app key's every call is checked against, carried with its caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppGate {
    pub id: AppId,
    pub name: String,
    pub ip_allow: Vec<String>,
    pub per_minute: i64,
}

impl AppGate {
    /// Whether a call from `ip` is within the app's addresses (an empty list allows any). An
    /// IPv4 peer seen as IPv4-mapped IPv6 is compared as IPv4.
    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        if self.ip_allow.is_empty() {
            return true;
        }
        let Some(ip) = ip else { return false };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.ip_allow
            .iter()
            .filter_map(|r| parse_range(r).ok())
            .any(|net| net.contains(&ip))
    }
}

/// One allow-list entry: an address (a /32 or /128) or a CIDR range.
fn parse_range(s: &str) -> Result<ipnet::IpNet, ()> {
    let s = s.trim();
    if let Ok(net) = s.parse::<ipnet::IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>().map(ipnet::IpNet::from).map_err(|_| ())
}

impl AppDraft {
    /// The draft with its name trimmed and its ranges normalised, or what is wrong and where.
    fn checked(&self) -> Result<AppDraft, Error> {
        let name = crate::org::check_name("name", &self.name, 100)?;
        if self.description.chars().count() > 2000 {
            return Err(Error::field(
                "description",
                "must be at most 2000 characters",
            ));
        }
        if self.ip_allow.len() > 100 {
            return Err(Error::field("ip_allow", "at most 100 addresses or ranges"));
        }
        let mut ip_allow = Vec::with_capacity(self.ip_allow.len());
        for (i, r) in self.ip_allow.iter().enumerate() {
            let net = parse_range(r).map_err(|_| {
                Error::field(
                    &format!("ip_allow[{i}]"),
                    format!("'{r}' is not an address or a CIDR range (10.1.0.0/16, 192.0.2.7)"),
                )
            })?;
            ip_allow.push(net.to_string());
        }
        if !(0..=MAX_PER_MINUTE).contains(&self.per_minute) {
            return Err(Error::field(
                "per_minute",
                format!("must be between 0 (no app limit) and {MAX_PER_MINUTE}"),
            ));
        }
        Ok(AppDraft {
            name,
            description: self.description.trim().to_string(),
            ip_allow,
            per_minute: self.per_minute,
        })
    }
}

const COLUMNS: &str = "id, org_id, name, description, ip_allow, per_minute, status, status_reason, \
                       created_by, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<App, sqlx::Error> {
    let ip: String = r.try_get("ip_allow")?;
    Ok(App {
        id: AppId(r.try_get("id")?),
        org_id: OrgId(r.try_get("org_id")?),
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        ip_allow: split_ranges(&ip),
        per_minute: r.try_get("per_minute")?,
        status: r.try_get("status")?,
        status_reason: r.try_get("status_reason")?,
        created_by: UserId(r.try_get("created_by")?),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The stored allow-list (one range a line) as a list.
pub(crate) fn split_ranges(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn not_found(id: AppId) -> Error {
    Error::new(ErrorCode::AppNotFound, format!("no app with id {id}"))
}

fn name_taken(name: &str) -> Error {
    Error::field(
        "name",
        format!("the department already has an app named '{name}'"),
    )
}

impl Store {
    /// Registers an app of department `org`, made by `by`.
    pub async fn create_app(&self, org: OrgId, by: UserId, d: &AppDraft) -> Result<App, Error> {
        let d = d.checked()?;
        self.get_org(org).await?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO apps (org_id, name, description, ip_allow, per_minute, status, \
             status_reason, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'active', '', $6, $7, $7) RETURNING id",
        )
        .bind(org.0)
        .bind(&d.name)
        .bind(&d.description)
        .bind(d.ip_allow.join("\n"))
        .bind(d.per_minute)
        .bind(by.0)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                name_taken(&d.name)
            } else {
                db_err("register an app")(e)
            }
        })?;
        self.app(AppId(id)).await
    }

    pub async fn app(&self, id: AppId) -> Result<App, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM apps WHERE id = $1"
        )))
        .bind(id.0);
        self.one(q, "read an app", from_row, "read an app")
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// The apps of one department, or every app; newest first.
    pub async fn apps(&self, org: Option<OrgId>) -> Result<Vec<App>, Error> {
        let q = match org {
            Some(o) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM apps WHERE org_id = $1 ORDER BY id DESC"
            )))
            .bind(o.0),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM apps ORDER BY id DESC"
            ))),
        };
        self.all(q, "list apps", from_row, "read an app").await
    }

    /// Changes an app's name, description, addresses and rate.
    pub async fn edit_app(&self, id: AppId, d: &AppDraft) -> Result<App, Error> {
        let d = d.checked()?;
        let done = sqlx::query(
            "UPDATE apps SET name = $2, description = $3, ip_allow = $4, per_minute = $5, \
             updated_at = $6 WHERE id = $1",
        )
        .bind(id.0)
        .bind(&d.name)
        .bind(&d.description)
        .bind(d.ip_allow.join("\n"))
        .bind(d.per_minute)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                name_taken(&d.name)
            } else {
                db_err("change an app")(e)
            }
        })?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
        }
        self.app(id).await
    }

    /// Suspends (`Some(reason)`) or resumes (`None`) an app; its keys stop or work again on the
    /// next call.
    pub async fn set_app_suspended(&self, id: AppId, reason: Option<&str>) -> Result<App, Error> {
        let (status, why) = match reason {
            Some(r) => {
                let r = r.trim();
                if r.is_empty() || r.chars().count() > 500 {
                    return Err(Error::field(
                        "reason",
                        "say why the app is suspended (1 to 500 characters)",
                    ));
                }
                ("suspended", r)
            }
            None => ("active", ""),
        };
        let done = sqlx::query(
            "UPDATE apps SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id.0)
        .bind(status)
        .bind(why)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("suspend or resume an app"))?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
        }
        self.app(id).await
    }

    /// A new key for app `id`, made by `by`, lasting until `expires_at` (a year when `None`, at
    /// most two). The secret is returned once.
    pub async fn create_app_key(
        &self,
        id: AppId,
        by: UserId,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<NewApiKey, Error> {
        let app = self.app(id).await?;
        let now = now_ms();
        let expires = expires_at.unwrap_or(now + KEY_DEFAULT_MS);
        if expires > now + KEY_MAX_MS {
            return Err(Error::field(
                "expires_at",
                "an app key lasts at most two years",
            ));
        }
        self.insert_api_key(by, Some(app.id), name, Some(expires))
            .await
    }

    /// The keys of app `id`, newest first (never their secrets).
    pub async fn app_keys(&self, id: AppId) -> Result<Vec<ApiKey>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM api_keys WHERE app_id = $1 ORDER BY id DESC",
            crate::auth::KEY_COLUMNS
        )))
        .bind(id.0);
        self.all(
            q,
            "list an app's keys",
            crate::auth::api_key_from_row,
            "read an API key",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(allow: &[&str]) -> AppGate {
        AppGate {
            id: AppId(1),
            name: "a".into(),
            ip_allow: allow.iter().map(|s| s.to_string()).collect(),
            per_minute: 0,
        }
    }

    #[test]
    fn allow_lists_hold_addresses_and_ranges() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(gate(&[]).allows(ip("203.0.113.9")));
        assert!(gate(&[]).allows(None));
        let g = gate(&["10.1.0.0/16", "192.0.2.7/32", "2001:db8::/32"]);
        assert!(g.allows(ip("10.1.200.3")));
        assert!(!g.allows(ip("10.2.0.1")));
        assert!(g.allows(ip("192.0.2.7")));
        assert!(!g.allows(ip("192.0.2.8")));
        assert!(g.allows(ip("::ffff:10.1.0.1")));
        assert!(g.allows(ip("2001:db8::5")));
        assert!(!g.allows(None));
    }

    #[test]
    fn drafts_are_checked_and_normalised() {
        let d = |ips: &[&str], rate| AppDraft {
            name: " 社保核验系统 ".into(),
            description: String::new(),
            ip_allow: ips.iter().map(|s| s.to_string()).collect(),
            per_minute: rate,
        };
        let ok = d(&["10.1.2.3/16", "192.0.2.7"], 600).checked().unwrap();
        assert_eq!(ok.name, "社保核验系统");
        assert_eq!(ok.ip_allow, ["10.1.0.0/16", "192.0.2.7/32"]);
        let e = d(&["10.1.0.0/16", "not-an-ip"], 0).checked().unwrap_err();
        assert!(e.message.contains("ip_allow[1]"), "{}", e.message);
        assert!(d(&[], -1).checked().is_err());
        assert!(d(&[], MAX_PER_MINUTE + 1).checked().is_err());
    }
}
