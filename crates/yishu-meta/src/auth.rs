//! Authentication: password logins with lockout, login sessions, and API keys for programs.
//!
//! Session tokens and API keys are 256-bit random secrets; only a keyed SM3 hash of each is stored,
//! so a stolen database does not yield usable credentials, and a lookup costs one hash, not an
//! argon2 run.

use crate::app::{AppGate, split_ranges};
use crate::store::{Store, db_err, now_ms};
use crate::user::verify_password;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sm3::Sm3;
use sqlx::Row;
use yishu_types::{ApiKeyId, AppId, Error, ErrorCode, OrgId, Role, UserId};

/// Failed logins in a row before the account locks.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// How long a login session lasts without a new login.
pub const SESSION_MS: i64 = 12 * 60 * 60 * 1000;
/// Prefix of every API key, so leaked keys are easy to grep for.
pub const API_KEY_PREFIX: &str = "ysk_";

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credential {
    Session,
    ApiKey { id: ApiKeyId },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Principal {
    pub user_id: UserId,
    pub name: String,
    pub display_name: String,
    pub org_id: OrgId,
    pub roles: Vec<Role>,
    pub credential: Credential,
    /// The app whose key made the call, with its terms (a key of a person: `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<AppGate>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A stored API key (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    /// The first characters of the secret, to recognise a key in a list.
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// The app the key belongs to (a person's own key: `None`).
    pub app_id: Option<AppId>,
}

/// A freshly created key: the secret is shown once and never stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: String,
}

/// A new login session: the cookie value and the CSRF token for its forms.
#[derive(Debug, Clone)]
pub struct SessionToken {
    pub token: String,
    pub csrf: String,
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A hash every unknown-user login is checked against, so its timing matches a real user's.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::user::hash_password("no such user here").unwrap_or_default()
});

impl Store {
    /// Keyed SM3 hash of a secret, hex-encoded.
    pub fn secret_hash(&self, secret: &str) -> String {
        let mut mac = <Hmac<Sm3> as KeyInit>::new_from_slice(self.key_secret.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(secret.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks a password login. Five failures in a row lock the account for 15 minutes; an unknown
    /// name costs the same time as a wrong password so names cannot be probed.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
    ) -> Result<(Principal, SessionToken), Error> {
        let now = now_ms();
        let row = sqlx::query(
            "SELECT id, password_hash, disabled, failed_logins, locked_until FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read a user"))?;
        let bad = || Error::new(ErrorCode::BadCredentials, "wrong user name or password");
        let Some(row) = row else {
            verify_password(password, &DUMMY_HASH);
            return Err(bad());
        };
        let get = |c: &str| row.try_get::<i64, _>(c).map_err(db_err("read a user"));
        let id = UserId(get("id")?);
        let hash: String = row
            .try_get("password_hash")
            .map_err(db_err("read a user"))?;
        let locked_until = get("locked_until")?;
        if locked_until > now {
            let mins = (locked_until - now + 59_999) / 60_000;
            return Err(Error::new(
                ErrorCode::AccountLocked,
                format!("too many failed logins; try again in {mins} minute(s)"),
            ));
        }
        if !verify_password(password, &hash) {
            let failed = get("failed_logins")? + 1;
            let (failed, lock) = if failed >= MAX_FAILED_LOGINS {
                (0, now + LOCKOUT_MS)
            } else {
                (failed, 0)
            };
            sqlx::query("UPDATE users SET failed_logins = $2, locked_until = $3 WHERE id = $1")
                .bind(id.0)
                .bind(failed)
                .bind(lock)
                .execute(&self.pool)
                .await
                .map_err(db_err("count a failed login"))?;
            return Err(bad());
        }
        if get("disabled")? != 0 {
            return Err(Error::new(
                ErrorCode::AccountDisabled,
                "this account is disabled",
            ));
        }
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = $1")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db_err("reset failed logins"))?;
        let token = SessionToken {
            token: random_hex(32),
            csrf: random_hex(16),
        };
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(self.secret_hash(&token.token))
        .bind(id.0)
        .bind(&token.csrf)
        .bind(now)
        .bind(now + SESSION_MS)
        .execute(&self.pool)
        .await
        .map_err(db_err("start a session"))?;
        let principal = self.principal(id, Credential::Session).await?;
        Ok((principal, token))
    }

    /// The caller behind a session cookie and the session's CSRF token, if the session is live.
    pub async fn session_principal(
        &self,
        token: &str,
    ) -> Result<Option<(Principal, String)>, Error> {
        let row = sqlx::query(
            "SELECT s.user_id, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
        )
        .bind(self.secret_hash(token))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read a session"))?;
        let Some(row) = row else { return Ok(None) };
        let uid = UserId(row.try_get("user_id").map_err(db_err("read a session"))?);
        let csrf: String = row
            .try_get("csrf_token")
            .map_err(db_err("read a session"))?;
        Ok(Some((
            self.principal(uid, Credential::Session).await?,
            csrf,
        )))
    }

    /// Ends a session.
    pub async fn logout(&self, token: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(self.secret_hash(token))
            .execute(&self.pool)
            .await
            .map_err(db_err("end a session"))?;
        Ok(())
    }

    /// The named user as a signed-in caller: what the command line and the demo act as.
    pub async fn acting_as(&self, name: &str) -> Result<Principal, Error> {
        let u = self.get_user_by_name(name).await?;
        if u.disabled {
            return Err(Error::new(
                ErrorCode::AccountDisabled,
                format!("user '{name}' is disabled"),
            ));
        }
        self.principal(u.id, Credential::Session).await
    }

    /// User `id` as the caller of work done on their behalf without a request (a
    /// subscription's deliveries): refused once the user is disabled.
    pub async fn acting_for(&self, id: UserId) -> Result<Principal, Error> {
        let u = self.get_user(id).await?;
        if u.disabled {
            return Err(Error::new(
                ErrorCode::AccountDisabled,
                format!("user '{}' is disabled", u.name),
            ));
        }
        self.principal(u.id, Credential::Session).await
    }

    async fn principal(&self, id: UserId, credential: Credential) -> Result<Principal, Error> {
        let u = self.get_user(id).await?;
        Ok(Principal {
            user_id: u.id,
            name: u.name,
            display_name: u.display_name,
            org_id: u.org_id,
            roles: u.roles,
            credential,
            app: None,
        })
    }

    /// Creates an API key for a user. The returned secret is shown once.
    pub async fn create_api_key(
        &self,
        user: UserId,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<NewApiKey, Error> {
        self.insert_api_key(user, None, name, expires_at).await
    }

    /// Stores a new key of `user` (for `app` when given) and returns its secret once.
    pub(crate) async fn insert_api_key(
        &self,
        user: UserId,
        app: Option<AppId>,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<NewApiKey, Error> {
        let name = crate::org::check_name("name", name, 100)?;
        if let Some(e) = expires_at
            && e <= now_ms()
        {
            return Err(Error::field("expires_at", "must be in the future"));
        }
        self.get_user(user).await?;
        let secret = format!("{API_KEY_PREFIX}{}", random_hex(32));
        let prefix = secret[..API_KEY_PREFIX.len() + 8].to_string();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at, expires_at, app_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(user.0)
        .bind(&name)
        .bind(&prefix)
        .bind(self.secret_hash(&secret))
        .bind(now_ms())
        .bind(expires_at)
        .bind(app.map(|a| a.0))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("create an API key"))?;
        let key = self.get_api_key(ApiKeyId(id)).await?;
        Ok(NewApiKey { key, secret })
    }

    pub async fn get_api_key(&self, id: ApiKeyId) -> Result<ApiKey, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"
        )))
        .bind(id.0);
        self.one(q, "read an API key", api_key_from_row, "read an API key")
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::ApiKeyNotFound,
                    format!("no API key with id {id}"),
                )
            })
    }

    /// A user's keys, newest first.
    pub async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 AND app_id IS NULL ORDER BY id DESC"
        )))
        .bind(user.0);
        self.all(q, "list API keys", api_key_from_row, "read an API key")
            .await
    }

    /// Revokes a key; takes effect on the next request.
    pub async fn revoke_api_key(&self, id: ApiKeyId) -> Result<ApiKey, Error> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.0)
                .bind(now_ms())
                .execute(&self.pool)
                .await
                .map_err(db_err("revoke an API key"))?;
        let key = self.get_api_key(id).await?;
        if done.rows_affected() == 0 && key.revoked_at.is_none() {
            return Err(Error::new(
                ErrorCode::ApiKeyNotFound,
                format!("no API key with id {id}"),
            ));
        }
        Ok(key)
    }

    /// Resolves an API key secret to its caller, refusing revoked, expired and disabled ones.
    pub async fn api_key_principal(&self, secret: &str) -> Result<Principal, Error> {
        let unknown = || Error::new(ErrorCode::Unauthenticated, "the API key is not valid");
        if !secret.starts_with(API_KEY_PREFIX) || secret.len() > 200 {
            return Err(unknown());
        }
        let row = sqlx::query(
            "SELECT k.id, k.user_id, k.expires_at, k.revoked_at, u.disabled, k.app_id, a.org_id AS app_org, \
             a.name AS app_name, a.ip_allow, a.per_minute, a.status AS app_status, a.status_reason \
             FROM api_keys k JOIN users u ON u.id = k.user_id LEFT JOIN apps a ON a.id = k.app_id \
             WHERE k.key_hash = $1",
        )
        .bind(self.secret_hash(secret))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read an API key"))?
        .ok_or_else(unknown)?;
        let read = |c: &str| {
            row.try_get::<Option<i64>, _>(c)
                .map_err(db_err("read an API key"))
        };
        let text = |c: &str| {
            row.try_get::<Option<String>, _>(c)
                .map(Option::unwrap_or_default)
                .map_err(db_err("read an API key"))
        };
        let id = ApiKeyId(read("id")?.unwrap_or_default());
        if read("revoked_at")?.is_some() {
            return Err(Error::new(
                ErrorCode::ApiKeyRevoked,
                "the API key has been revoked",
            ));
        }
        if read("expires_at")?.is_some_and(|e| e <= now_ms()) {
            return Err(Error::new(
                ErrorCode::ApiKeyExpired,
                "the API key has expired",
            ));
        }
        if read("disabled")?.unwrap_or(0) != 0 {
            return Err(Error::new(
                ErrorCode::AccountDisabled,
                "the key's user is disabled",
            ));
        }
        let uid = UserId(read("user_id")?.unwrap_or_default());
        let mut p = self.principal(uid, Credential::ApiKey { id }).await?;
        if let Some(app) = read("app_id")?.map(AppId) {
            let name = text("app_name")?;
            if text("app_status")? != "active" {
                return Err(Error::new(
                    ErrorCode::AppSuspended,
                    format!("app '{name}' is suspended: {}", text("status_reason")?),
                ));
            }
            // An app reads as its department's consumer system, never with its maker's roles.
            p.org_id = OrgId(read("app_org")?.unwrap_or_default());
            p.roles = vec![Role::Consumer];
            p.app = Some(AppGate {
                id: app,
                name,
                ip_allow: split_ranges(&text("ip_allow")?),
                per_minute: read("per_minute")?.unwrap_or_default(),
            });
        }
        Ok(p)
    }

    /// Records that a key was used (called off the hot path, at most once a minute per key).
    pub async fn touch_api_key(&self, id: ApiKeyId) -> Result<(), Error> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(db_err("touch an API key"))?;
        Ok(())
    }
}

/// The columns [`api_key_from_row`] reads.
pub(crate) const KEY_COLUMNS: &str =
    "id, user_id, name, prefix, created_at, expires_at, revoked_at, last_used_at, app_id";

pub(crate) fn api_key_from_row(r: &sqlx::any::AnyRow) -> Result<ApiKey, sqlx::Error> {
    Ok(ApiKey {
        id: ApiKeyId(r.try_get("id")?),
        user_id: UserId(r.try_get("user_id")?),
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        last_used_at: r.try_get("last_used_at")?,
        app_id: r.try_get::<Option<i64>, _>("app_id")?.map(AppId),
    })
}
