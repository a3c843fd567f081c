//! Data services (数据服务, R28): an API written once in SQL with typed named parameters, kept
//! here with its lifecycle. Each version is its own row, so v1 and v2 serve side by side; a
//! version's definition changes only while it is a draft (or tested, which sends it back to
//! draft), and it moves draft → tested → reviewed → published → deprecated → retired. What the
//! SQL reads and returns is checked by the share crate before anything is stored here.

use crate::store::{Store, db_err, is_unique_violation, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use yishu_types::{Error, ErrorCode, OrgId, UserId};

/// Where a parameter travels in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    Path,
    Query,
    Body,
}

impl Placement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Body => "body",
        }
    }
}

/// A parameter's type and domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ParamKind {
    /// Text of `min_len..=max_len` characters (not bytes), matching `pattern` when given.
    String {
        #[serde(default)]
        min_len: usize,
        max_len: usize,
        #[serde(default)]
        pattern: Option<String>,
    },
    Integer {
        #[serde(default)]
        min: Option<i64>,
        #[serde(default)]
        max: Option<i64>,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One of `values`.
    Enum { values: Vec<String> },
    /// Up to `max` values of `item` (a scalar kind).
    List {
        #[schema(no_recursion)]
        item: Box<ParamKind>,
        max: usize,
    },
}

/// A named parameter (`:name` in the SQL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Param {
    pub name: String,
    /// Its type and domain: `{"type": "string", "min_len": 18, "max_len": 18}`.
    pub kind: ParamKind,
    pub placement: Placement,
    #[serde(default)]
    pub required: bool,
    /// Taken when an optional parameter is not sent.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub example: Option<String>,
    #[serde(default)]
    pub description: String,
}

impl Param {
    /// A required 公民身份号码 (GB 11643: 17 digits and a digit or X) in the query: the key most
    /// services are asked by.
    pub fn citizen_number(name: &str) -> Param {
        Param {
            name: name.into(),
            kind: ParamKind::String {
                min_len: 18,
                max_len: 18,
                pattern: Some("[0-9]{17}[0-9X]".into()),
            },
            placement: Placement::Query,
            required: true,
            default: None,
            example: None,
            description: "公民身份号码".into(),
        }
    }
}

/// What an author writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceDraft {
    /// The path name: lowercase letters, digits and `-` (`marriage-status`).
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// One SELECT with `:name` placeholders (empty for a function API).
    #[serde(default)]
    pub sql: String,
    #[serde(default)]
    pub params: Vec<Param>,
    /// A function API's steps, called in order instead of SQL.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Most rows one call returns.
    #[serde(default = "default_row_cap")]
    pub row_cap: i64,
    /// Longest a call's query may run, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: i64,
}

/// One step of a function API: a call of a published service or a verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Its name in the result, prefixing its items (`marriage` → `marriage.婚姻状况`).
    pub name: String,
    /// What it calls: `service:<name>` (the newest published version) or `verify:<library>`.
    pub call: String,
    /// The called service's parameters (for a verification: `key` and the items compared),
    /// each `:param` of this API or a literal value.
    #[serde(default)]
    pub with: BTreeMap<String, String>,
    /// For a verification: unless every item matches, the later steps are not read.
    #[serde(default)]
    pub stop_unless_matched: bool,
}

fn default_row_cap() -> i64 {
    1_000
}

fn default_timeout_ms() -> i64 {
    1_000
}

/// What the SQL was found to read and return when it was checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Checked {
    /// `layer.table` of every table read.
    pub tables: Vec<String>,
    /// The result's columns, in order.
    pub outputs: Vec<Output>,
}

/// One column of a service's result and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Output {
    pub name: String,
    /// `layer.table.column` when the column is a table's column as it is (masking defaults and
    /// sensitivity follow it); `None` for a computed one.
    pub source: Option<String>,
}

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Draft,
    Tested,
    Reviewed,
    Published,
    Deprecated,
    Retired,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Tested => "tested",
            Self::Reviewed => "reviewed",
            Self::Published => "published",
            Self::Deprecated => "deprecated",
            Self::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Draft,
            Self::Tested,
            Self::Reviewed,
            Self::Published,
            Self::Deprecated,
            Self::Retired,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Draft => "草稿",
            Self::Tested => "已测试",
            Self::Reviewed => "已审核",
            Self::Published => "已发布",
            Self::Deprecated => "已弃用",
            Self::Retired => "已下线",
        }
    }

    /// Whether calls are served (a deprecated version until its sunset date).
    pub fn serves(self) -> bool {
        matches!(self, Self::Published | Self::Deprecated)
    }
}

/// One version of a data service.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Service {
    pub id: i64,
    pub name: String,
    pub version: i64,
    pub provider_org_id: OrgId,
    pub author_id: UserId,
    pub draft: ServiceDraft,
    pub checked: Checked,
    pub status: ServiceStatus,
    pub tested_at: Option<i64>,
    /// Rows the last test run returned.
    pub test_rows: Option<i64>,
    pub reviewed_by: Option<UserId>,
    pub review_note: String,
    pub published_at: Option<i64>,
    /// After this moment (ms) a deprecated version answers 410.
    pub sunset_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Service {
    /// The path it is served at.
    pub fn path(&self) -> String {
        format!("/api/v1/services/{}/v{}", self.name, self.version)
    }

    /// The grant target consumers apply for (every version of the name).
    pub fn target(&self) -> String {
        format!("service:{}", self.name)
    }
}

const COLUMNS: &str = "id, name, version, provider_org_id, author_id, title, description, sql_text, params, steps, row_cap, timeout_ms, checked, status, tested_at, test_rows, reviewed_by, review_note, published_at, sunset_at, created_at, updated_at";

fn json_err(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Service, sqlx::Error> {
    let params: String = r.try_get("params")?;
    let steps: String = r.try_get("steps")?;
    let checked: String = r.try_get("checked")?;
    let status: String = r.try_get("status")?;
    Ok(Service {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        version: r.try_get("version")?,
        provider_org_id: OrgId(r.try_get("provider_org_id")?),
        author_id: UserId(r.try_get("author_id")?),
        draft: ServiceDraft {
            name: r.try_get("name")?,
            title: r.try_get("title")?,
            description: r.try_get("description")?,
            sql: r.try_get("sql_text")?,
            params: serde_json::from_str(&params).map_err(json_err)?,
            steps: serde_json::from_str(&steps).map_err(json_err)?,
            row_cap: r.try_get("row_cap")?,
            timeout_ms: r.try_get("timeout_ms")?,
        },
        checked: serde_json::from_str(&checked).map_err(json_err)?,
        status: ServiceStatus::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown status {status}").into()))?,
        tested_at: r.try_get("tested_at")?,
        test_rows: r.try_get("test_rows")?,
        reviewed_by: r.try_get::<Option<i64>, _>("reviewed_by")?.map(UserId),
        review_note: r.try_get("review_note")?,
        published_at: r.try_get("published_at")?,
        sunset_at: r.try_get("sunset_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn to_json<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("cannot keep the definition: {e}"),
        )
    })
}

fn not_found(what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::ServiceNotFound,
        format!("no data service {what}"),
    )
}

impl Store {
    /// Records a new version of service `d.name` (the next number after the newest) as a draft.
    pub async fn create_service(
        &self,
        provider: OrgId,
        author: UserId,
        d: &ServiceDraft,
        checked: &Checked,
    ) -> Result<Service, Error> {
        let now = now_ms();
        // Two authors racing for the same next version: the unique (name, version) lets one in;
        // the other takes the number after it.
        for _ in 0..3 {
            let newest: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM services WHERE name = $1")
                    .bind(&d.name)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err("read a service's versions"))?;
            let made = sqlx::query_scalar::<_, i64>(
                "INSERT INTO services (name, version, provider_org_id, author_id, title, description, sql_text, params, row_cap, timeout_ms, checked, status, review_note, created_at, updated_at, steps) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'draft', '', $12, $12, $13) RETURNING id",
            )
            .bind(&d.name)
            .bind(newest.unwrap_or(0) + 1)
            .bind(provider.0)
            .bind(author.0)
            .bind(&d.title)
            .bind(&d.description)
            .bind(&d.sql)
            .bind(to_json(&d.params)?)
            .bind(d.row_cap)
            .bind(d.timeout_ms)
            .bind(to_json(checked)?)
            .bind(now)
            .bind(to_json(&d.steps)?)
            .fetch_one(&self.pool)
            .await;
            match made {
                Ok(id) => return self.service(id).await,
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(db_err("record a data service")(e)),
            }
        }
        Err(Error::new(
            ErrorCode::EditConflict,
            format!(
                "data service {} is being versioned by someone else; try again",
                d.name
            ),
        ))
    }

    pub async fn service(&self, id: i64) -> Result<Service, Error> {
        let sql = format!("SELECT {COLUMNS} FROM services WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.one(q, "read a data service", from_row, "read a data service")
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Version `version` of service `name`.
    pub async fn service_version(&self, name: &str, version: i64) -> Result<Service, Error> {
        let sql = format!("SELECT {COLUMNS} FROM services WHERE name = $1 AND version = $2");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .bind(version);
        self.one(q, "read a data service", from_row, "read a data service")
            .await?
            .ok_or_else(|| not_found(format_args!("{name} v{version}")))
    }

    /// Every version of every service, by name and version.
    pub async fn services(&self) -> Result<Vec<Service>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM services ORDER BY name, version");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        self.all(q, "list data services", from_row, "read a data service")
            .await
    }

    /// Replaces a draft's (or tested version's) definition; it is a draft again and needs a new
    /// test run before review.
    pub async fn edit_service(
        &self,
        id: i64,
        d: &ServiceDraft,
        checked: &Checked,
    ) -> Result<Service, Error> {
        let done = sqlx::query(
            "UPDATE services SET title = $2, description = $3, sql_text = $4, params = $5, row_cap = $6, timeout_ms = $7, checked = $8, \
             status = 'draft', tested_at = NULL, test_rows = NULL, updated_at = $9, steps = $10 WHERE id = $1 AND status IN ('draft', 'tested')",
        )
        .bind(id)
        .bind(&d.title)
        .bind(&d.description)
        .bind(&d.sql)
        .bind(to_json(&d.params)?)
        .bind(d.row_cap)
        .bind(d.timeout_ms)
        .bind(to_json(checked)?)
        .bind(now_ms())
        .bind(to_json(&d.steps)?)
        .execute(&self.pool)
        .await
        .map_err(db_err("change a data service"))?;
        let s = self.service(id).await?;
        if done.rows_affected() == 0 {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!(
                    "{} v{} is {} and can no longer be edited; make a new version instead",
                    s.name,
                    s.version,
                    s.status.label_zh()
                ),
            ));
        }
        Ok(s)
    }

    /// Records a test run of `rows` rows: a draft becomes tested.
    pub async fn service_tested(&self, id: i64, rows: i64) -> Result<Service, Error> {
        let now = now_ms();
        self.move_service(
            id,
            &[ServiceStatus::Draft, ServiceStatus::Tested],
            ServiceStatus::Tested,
            sqlx::query(
                "UPDATE services SET status = 'tested', tested_at = $2, test_rows = $3, updated_at = $2 WHERE id = $1 AND status IN ('draft', 'tested')",
            )
            .bind(id)
            .bind(now)
            .bind(rows),
        )
        .await
    }

    /// The review of a tested version: approved, it is reviewed (ready to publish); rejected,
    /// it goes back to draft with the reviewer's note.
    pub async fn review_service(
        &self,
        id: i64,
        by: UserId,
        approve: bool,
        note: &str,
    ) -> Result<Service, Error> {
        let to = if approve {
            ServiceStatus::Reviewed
        } else {
            ServiceStatus::Draft
        };
        self.move_service(
            id,
            &[ServiceStatus::Tested],
            to,
            sqlx::query(
                "UPDATE services SET status = $2, reviewed_by = $3, review_note = $4, updated_at = $5 WHERE id = $1 AND status = 'tested'",
            )
            .bind(id)
            .bind(to.as_str())
            .bind(by.0)
            .bind(note)
            .bind(now_ms()),
        )
        .await
    }

    pub async fn publish_service(&self, id: i64) -> Result<Service, Error> {
        let now = now_ms();
        self.move_service(
            id,
            &[ServiceStatus::Reviewed],
            ServiceStatus::Published,
            sqlx::query(
                "UPDATE services SET status = 'published', published_at = $2, updated_at = $2 WHERE id = $1 AND status = 'reviewed'",
            )
            .bind(id)
            .bind(now),
        )
        .await
    }

    /// A published version is deprecated: it still serves until `sunset_at` (ms), then 410.
    pub async fn deprecate_service(&self, id: i64, sunset_at: i64) -> Result<Service, Error> {
        self.move_service(
            id,
            &[ServiceStatus::Published, ServiceStatus::Deprecated],
            ServiceStatus::Deprecated,
            sqlx::query(
                "UPDATE services SET status = 'deprecated', sunset_at = $2, updated_at = $3 WHERE id = $1 AND status IN ('published', 'deprecated')",
            )
            .bind(id)
            .bind(sunset_at)
            .bind(now_ms()),
        )
        .await
    }

    /// Stops a version for good.
    pub async fn retire_service(&self, id: i64) -> Result<Service, Error> {
        self.move_service(
            id,
            &[ServiceStatus::Published, ServiceStatus::Deprecated],
            ServiceStatus::Retired,
            sqlx::query(
                "UPDATE services SET status = 'retired', updated_at = $2 WHERE id = $1 AND status IN ('published', 'deprecated')",
            )
            .bind(id)
            .bind(now_ms()),
        )
        .await
    }

    /// Runs a status change guarded by the statuses it may start from; a version elsewhere is
    /// an edit conflict that names where it stands.
    async fn move_service(
        &self,
        id: i64,
        from: &[ServiceStatus],
        to: ServiceStatus,
        q: crate::store::Query<'_>,
    ) -> Result<Service, Error> {
        let done = q
            .execute(&self.pool)
            .await
            .map_err(db_err("change a data service's status"))?;
        let s = self.service(id).await?;
        if done.rows_affected() == 0 {
            let from: Vec<&str> = from.iter().map(|f| f.label_zh()).collect();
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!(
                    "{} v{} is {}; it becomes {} only from {}",
                    s.name,
                    s.version,
                    s.status.label_zh(),
                    to.label_zh(),
                    from.join("/")
                ),
            ));
        }
        Ok(s)
    }
}
