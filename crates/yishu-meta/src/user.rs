//! Users, their roles and their passwords (argon2id).

use crate::org::check_name;
use crate::store::{Page, Store, db_err, is_unique_violation, now_ms};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use yishu_types::{Error, ErrorCode, OrgId, Role, UserId};

/// A stored user (never with the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub display_name: String,
    pub org_id: OrgId,
    pub roles: Vec<Role>,
    pub disabled: bool,
    pub version: i64,
    pub created_at: i64,
}

/// What a caller supplies to create a user.
#[derive(Debug, Clone, Deserialize)]
pub struct NewUser {
    pub name: String,
    pub display_name: Option<String>,
    pub org_id: OrgId,
    pub password: String,
    pub roles: Vec<Role>,
}

/// Minimum password length; long passphrases beat composition rules.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::new(ErrorCode::Internal, format!("password hashing failed: {e}")))
}

/// Checks a password against a stored argon2 hash in constant time.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn check_password(p: &str) -> Result<(), Error> {
    if p.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::field(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if p.len() > 1024 {
        return Err(Error::field("password", "must be at most 1024 bytes"));
    }
    Ok(())
}

fn check_login_name(n: &str) -> Result<String, Error> {
    let t = n.trim();
    if t.is_empty() || t.len() > 64 {
        return Err(Error::field("name", "must be 1–64 characters"));
    }
    if !t
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(Error::field(
            "name",
            format!(
                "'{}' may only hold ASCII letters, digits and . _ - @",
                yishu_types::text::quote_for_message(t)
            ),
        ));
    }
    Ok(t.to_string())
}

const COLUMNS: &str = "id, name, display_name, org_id, disabled, version, created_at";

impl Store {
    async fn user_from_row(&self, r: &AnyRow) -> Result<User, Error> {
        let id = UserId(r.try_get("id").map_err(db_err("read a user"))?);
        let read = || -> Result<User, sqlx::Error> {
            Ok(User {
                id,
                name: r.try_get("name")?,
                display_name: r.try_get("display_name")?,
                org_id: OrgId(r.try_get("org_id")?),
                roles: Vec::new(),
                disabled: r.try_get::<i64, _>("disabled")? != 0,
                version: r.try_get("version")?,
                created_at: r.try_get("created_at")?,
            })
        };
        let mut u = read().map_err(db_err("read a user"))?;
        u.roles = self.user_roles(id).await?;
        Ok(u)
    }

    pub async fn user_roles(&self, id: UserId) -> Result<Vec<Role>, Error> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
                .bind(id.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("read roles"))?;
        let mut roles: Vec<Role> = rows.iter().filter_map(|r| r.parse().ok()).collect();
        roles.sort();
        Ok(roles)
    }

    /// Creates a user with a hashed password and its roles, in one transaction.
    pub async fn create_user(&self, new: &NewUser) -> Result<User, Error> {
        let name = check_login_name(&new.name)?;
        let display = check_name(
            "display_name",
            new.display_name.as_deref().unwrap_or(&name),
            100,
        )?;
        check_password(&new.password)?;
        let org = self.get_org(new.org_id).await?;
        if org.disabled {
            return Err(Error::field(
                "org_id",
                format!("organisation '{}' is disabled", org.name),
            ));
        }
        let hash = hash_password(&new.password)?;
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(db_err("begin"))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (name, display_name, org_id, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(&name)
        .bind(&display)
        .bind(new.org_id.0)
        .bind(hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::new(
                    ErrorCode::UserNameTaken,
                    format!("a user named '{name}' already exists"),
                )
            } else {
                db_err("create a user")(e)
            }
        })?;
        for role in dedup(&new.roles) {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err("grant a role"))?;
        }
        tx.commit().await.map_err(db_err("commit"))?;
        self.get_user(UserId(id)).await
    }

    pub async fn get_user(&self, id: UserId) -> Result<User, Error> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0);
        self.user_of(q, format!("no user with id {id}")).await
    }

    pub async fn get_user_by_name(&self, name: &str) -> Result<User, Error> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE name = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name);
        self.user_of(q, format!("no user named '{name}'")).await
    }

    /// The user `q` finds, or `missing` as its not-found error.
    async fn user_of(&self, q: crate::store::Query<'_>, missing: String) -> Result<User, Error> {
        let row = q
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("read a user"))?;
        match row {
            Some(r) => self.user_from_row(&r).await,
            None => Err(Error::new(ErrorCode::UserNotFound, missing)),
        }
    }

    /// A page of users, optionally of one org.
    pub async fn list_users(
        &self,
        org: Option<OrgId>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<User>, Error> {
        let limit = limit.clamp(1, 1000);
        let offset = offset.max(0);
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE ($1 IS NULL OR org_id = $1)")
                .bind(org.map(|o| o.0))
                .fetch_one(&self.pool)
                .await
                .map_err(db_err("count users"))?;
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE ($1 IS NULL OR org_id = $1) ORDER BY id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.map(|o| o.0))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list users"))?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            items.push(self.user_from_row(r).await?);
        }
        Ok(Page {
            items,
            total,
            limit,
            offset,
        })
    }

    /// Replaces a user's roles.
    pub async fn set_user_roles(&self, id: UserId, roles: &[Role]) -> Result<User, Error> {
        self.get_user(id).await?;
        let mut tx = self.pool.begin().await.map_err(db_err("begin"))?;
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err("revoke roles"))?;
        for role in dedup(roles) {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(id.0)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err("grant a role"))?;
        }
        sqlx::query("UPDATE users SET version = version + 1, updated_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(db_err("update a user"))?;
        tx.commit().await.map_err(db_err("commit"))?;
        self.get_user(id).await
    }

    /// Disables or re-enables a user; a disabled user's sessions end at once.
    pub async fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<User, Error> {
        self.get_user(id).await?;
        sqlx::query(
            "UPDATE users SET disabled = $2, version = version + 1, updated_at = $3 WHERE id = $1",
        )
        .bind(id.0)
        .bind(i64::from(disabled))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("update a user"))?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id.0)
                .execute(&self.pool)
                .await
                .map_err(db_err("end sessions"))?;
        }
        self.get_user(id).await
    }

    /// Sets a new password (hashing it) and clears any lockout.
    pub async fn set_password(&self, id: UserId, password: &str) -> Result<(), Error> {
        check_password(password)?;
        let hash = hash_password(password)?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = 0, version = version + 1, updated_at = $3 WHERE id = $1",
        )
        .bind(id.0)
        .bind(hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("set a password"))?;
        if done.rows_affected() == 0 {
            return Err(Error::new(
                ErrorCode::UserNotFound,
                format!("no user with id {id}"),
            ));
        }
        Ok(())
    }

    /// How many users exist (the first-run check for `serve`).
    /// Enabled users holding `role`, of `org` when given, oldest first: who is told of a step
    /// they must take.
    pub async fn users_with_role(
        &self,
        role: Role,
        org: Option<OrgId>,
    ) -> Result<Vec<(UserId, OrgId)>, Error> {
        let q = sqlx::query(
            "SELECT u.id, u.org_id FROM users u JOIN user_roles r ON r.user_id = u.id \
             WHERE r.role = $1 AND u.disabled = 0 AND ($2 IS NULL OR u.org_id = $2) ORDER BY u.id",
        )
        .bind(role.as_str())
        .bind(org.map(|o| o.0));
        self.all(
            q,
            "list users by role",
            |r| Ok((UserId(r.try_get("id")?), OrgId(r.try_get("org_id")?))),
            "read a user",
        )
        .await
    }

    pub async fn count_users(&self) -> Result<i64, Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("count users"))
    }
}

fn dedup(roles: &[Role]) -> Vec<Role> {
    let mut v = roles.to_vec();
    v.sort();
    v.dedup();
    v
}
