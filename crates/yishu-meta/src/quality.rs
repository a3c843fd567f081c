//! Standards and quality metadata (R11–R16): data elements (数据元) with versions, department code
//! tables mapped to national ones, quality rules whose versions take effect only after a business
//! owner and a technical owner both approve them, and per-batch profiles and rule results. Rule
//! definitions are JSON here; `yishu-quality` gives them meaning.

use crate::catalog::Actor;
use crate::store::{Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use yishu_types::{Error, ErrorCode, OrgId, Role, UserId};

fn not_found(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::QualityNotFound, msg)
}

/// A data element (数据元): the standard an item follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataElement {
    /// 内部标识符, e.g. `DE00001` or a standard's own identifier.
    pub identifier: String,
    pub version: i64,
    pub name: String,
    pub definition: String,
    /// Item type letter (C N Y D T …) the values must have.
    pub data_type: String,
    /// Maximum length in characters.
    pub length: Option<i64>,
    /// 表示格式 as the standard writes it, e.g. `c..50`, `n18`, `YYYYMMDD`.
    pub format: String,
    /// 值域: `{"code_table": "sex"}`, `{"validator": "citizen_id"}`, `{"regex": "…"}`,
    /// `{"min": 0, "max": 150}` or `{}`.
    #[schema(value_type = Object)]
    pub domain: Value,
    pub unit: String,
    pub security_level: String,
    /// The standard it comes from, e.g. `GB/T 2261.1-2003`.
    pub source_standard: String,
    pub created_at: i64,
}

/// What a person writes for a data element; saving it again with changes makes a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataElement {
    pub identifier: String,
    pub name: String,
    #[serde(default)]
    pub definition: String,
    pub data_type: String,
    #[serde(default)]
    pub length: Option<i64>,
    #[serde(default)]
    pub format: String,
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub domain: Value,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub security_level: String,
    #[serde(default)]
    pub source_standard: String,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

const DE_COLUMNS: &str = "identifier, version, name, definition, data_type, length, format, domain, unit, security_level, source_standard, created_at";

fn de_from_row(r: &sqlx::any::AnyRow) -> Result<DataElement, sqlx::Error> {
    Ok(DataElement {
        identifier: r.try_get("identifier")?,
        version: r.try_get("version")?,
        name: r.try_get("name")?,
        definition: r.try_get("definition")?,
        data_type: r.try_get("data_type")?,
        length: r.try_get("length")?,
        format: r.try_get("format")?,
        domain: serde_json::from_str(&r.try_get::<String, _>("domain")?).unwrap_or_default(),
        unit: r.try_get("unit")?,
        security_level: r.try_get("security_level")?,
        source_standard: r.try_get("source_standard")?,
        created_at: r.try_get("created_at")?,
    })
}

/// A department's own code table (本地代码表) and, per code, the national code it means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LocalCodeTable {
    pub id: String,
    pub name: String,
    pub source: String,
    pub org_id: Option<OrgId>,
    /// The national table its codes map to (`sex`, `marital` …), or empty.
    pub national: String,
    pub entries: Vec<LocalCodeEntry>,
    pub version: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LocalCodeEntry {
    pub code: String,
    pub name: String,
    /// The national code this local code means, once mapped.
    #[serde(default)]
    pub national: Option<String>,
}

/// Whether a rule checks data or cleans it on the way to std.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RulePurpose {
    Check,
    Clean,
}

impl RulePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            RulePurpose::Check => "check",
            RulePurpose::Clean => "clean",
        }
    }
}

/// Where a rule version is in its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// Waiting for one or both approvals; not in effect.
    Pending,
    /// Approved by both owners; the version checks run under.
    Active,
    /// Turned down by a reviewer.
    Rejected,
    /// Was active; a newer version took over.
    Superseded,
}

impl RuleStatus {
    fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pending => "pending",
            RuleStatus::Active => "active",
            RuleStatus::Rejected => "rejected",
            RuleStatus::Superseded => "superseded",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "active" => RuleStatus::Active,
            "rejected" => RuleStatus::Rejected,
            "superseded" => RuleStatus::Superseded,
            _ => RuleStatus::Pending,
        }
    }
}

/// Which owner approves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewSide {
    /// 业务负责人: a data officer of the department that provides the resource.
    Business,
    /// 技术负责人: a data manager of the bureau.
    Technical,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rule {
    pub id: i64,
    pub resource_id: i64,
    pub name: String,
    /// The business rule this technical rule belongs to (e.g. 公民身份号码规则), or empty.
    pub business_rule: String,
    pub purpose: RulePurpose,
    pub retired: bool,
    pub created_by: UserId,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleVersion {
    pub rule_id: i64,
    pub version: i64,
    #[schema(value_type = Object)]
    pub definition: Value,
    pub dimension: String,
    pub importance: String,
    pub severity: String,
    /// For cleaning rules: fix, filter or tolerate (empty: from the importance × severity matrix).
    pub action: String,
    pub status: RuleStatus,
    pub business_by: Option<UserId>,
    pub technical_by: Option<UserId>,
    pub note: String,
    pub created_by: UserId,
    pub created_at: i64,
}

/// A rule with its version in effect and the one under review.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    #[serde(flatten)]
    pub rule: Rule,
    pub active: Option<RuleVersion>,
    pub pending: Option<RuleVersion>,
}

/// The body of a rule version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    #[schema(value_type = Object)]
    pub definition: Value,
    pub dimension: String,
    pub importance: String,
    pub severity: String,
    #[serde(default)]
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    pub resource_id: i64,
    pub name: String,
    #[serde(default)]
    pub business_rule: String,
    #[serde(default = "check")]
    pub purpose: RulePurpose,
    #[serde(flatten)]
    pub body: RuleBody,
}

fn check() -> RulePurpose {
    RulePurpose::Check
}

const RULE_COLUMNS: &str =
    "id, resource_id, name, business_rule, purpose, retired, created_by, created_at";
const VERSION_COLUMNS: &str = "rule_id, version, definition, dimension, importance, severity, action, status, business_by, technical_by, note, created_by, created_at";

fn rule_from_row(r: &sqlx::any::AnyRow) -> Result<Rule, sqlx::Error> {
    Ok(Rule {
        id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        name: r.try_get("name")?,
        business_rule: r.try_get("business_rule")?,
        purpose: if r.try_get::<String, _>("purpose")? == "clean" {
            RulePurpose::Clean
        } else {
            RulePurpose::Check
        },
        retired: r.try_get::<i64, _>("retired")? != 0,
        created_by: UserId(r.try_get("created_by")?),
        created_at: r.try_get("created_at")?,
    })
}

fn version_from_row(r: &sqlx::any::AnyRow) -> Result<RuleVersion, sqlx::Error> {
    Ok(RuleVersion {
        rule_id: r.try_get("rule_id")?,
        version: r.try_get("version")?,
        definition: serde_json::from_str(&r.try_get::<String, _>("definition")?)
            .unwrap_or_default(),
        dimension: r.try_get("dimension")?,
        importance: r.try_get("importance")?,
        severity: r.try_get("severity")?,
        action: r.try_get("action")?,
        status: RuleStatus::parse(&r.try_get::<String, _>("status")?),
        business_by: r.try_get::<Option<i64>, _>("business_by")?.map(UserId),
        technical_by: r.try_get::<Option<i64>, _>("technical_by")?.map(UserId),
        note: r.try_get("note")?,
        created_by: UserId(r.try_get("created_by")?),
        created_at: r.try_get("created_at")?,
    })
}

/// One rule's result on one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleResult {
    pub batch_id: String,
    pub rule_id: i64,
    pub rule_version: i64,
    pub resource_id: i64,
    pub checked: i64,
    pub failed: i64,
    /// passed, failed or broken.
    pub status: String,
    pub message: String,
    pub created_at: i64,
}

/// A stored profile of one batch.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredProfile {
    pub batch_id: String,
    pub resource_id: i64,
    pub records: i64,
    #[schema(value_type = Object)]
    pub body: Value,
    pub created_at: i64,
}

fn check_text(field: &str, v: &str, max: usize) -> Result<(), Error> {
    crate::org::check_name(field, v, max).map(|_| ())
}

impl Store {
    /// Saves a data element: a new identifier is version 1; a change to an existing one is the
    /// next version; saving it unchanged returns the current version.
    pub async fn put_data_element(
        &self,
        d: &NewDataElement,
        by: Option<UserId>,
    ) -> Result<DataElement, Error> {
        check_text("identifier", &d.identifier, 64)?;
        check_text("name", &d.name, 200)?;
        if !"CNYDTLMGBIF".contains(d.data_type.as_str()) || d.data_type.len() != 1 {
            return Err(Error::field(
                "data_type",
                format!("'{}' is not one of C N Y D T L M G B I F", d.data_type),
            ));
        }
        if d.length.is_some_and(|l| l <= 0) {
            return Err(Error::field("length", "must be positive"));
        }
        if !d.domain.is_object() {
            return Err(Error::field("domain", "must be a JSON object"));
        }
        if let Ok(cur) = self.data_element(&d.identifier, None).await {
            let same = cur.name == d.name
                && cur.definition == d.definition
                && cur.data_type == d.data_type
                && cur.length == d.length
                && cur.format == d.format
                && cur.domain == d.domain
                && cur.unit == d.unit
                && cur.security_level == d.security_level
                && cur.source_standard == d.source_standard;
            if same {
                return Ok(cur);
            }
        }
        let next: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM data_elements WHERE identifier = $1",
        )
        .bind(d.identifier.trim())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("number a data element version"))?;
        sqlx::query(
            "INSERT INTO data_elements (identifier, version, name, definition, data_type, length, format, domain, unit, security_level, source_standard, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(d.identifier.trim())
        .bind(next)
        .bind(d.name.trim())
        .bind(&d.definition)
        .bind(&d.data_type)
        .bind(d.length)
        .bind(&d.format)
        .bind(d.domain.to_string())
        .bind(&d.unit)
        .bind(&d.security_level)
        .bind(&d.source_standard)
        .bind(by.map(|u| u.0))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("save a data element"))?;
        self.data_element(&d.identifier, Some(next)).await
    }

    /// A data element at a version (None: the newest).
    pub async fn data_element(
        &self,
        identifier: &str,
        version: Option<i64>,
    ) -> Result<DataElement, Error> {
        let sql = format!(
            "SELECT {DE_COLUMNS} FROM data_elements WHERE identifier = $1 AND ($2 < 0 OR version = $2) ORDER BY version DESC LIMIT 1"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(identifier.trim())
            .bind(version.unwrap_or(-1))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("read a data element"))?
            .ok_or_else(|| not_found(format!("no data element '{identifier}'")))?;
        de_from_row(&r).map_err(db_err("read a data element"))
    }

    /// Every data element at its newest version, by identifier.
    pub async fn data_elements(&self) -> Result<Vec<DataElement>, Error> {
        let sql = format!(
            "SELECT {DE_COLUMNS} FROM data_elements d WHERE version = (SELECT MAX(version) FROM data_elements e WHERE e.identifier = d.identifier) ORDER BY identifier"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list data elements"))?;
        rows.iter()
            .map(|r| de_from_row(r).map_err(db_err("read a data element")))
            .collect()
    }

    /// Every version of a data element, oldest first.
    pub async fn data_element_versions(&self, identifier: &str) -> Result<Vec<DataElement>, Error> {
        let sql = format!(
            "SELECT {DE_COLUMNS} FROM data_elements WHERE identifier = $1 ORDER BY version"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(identifier)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list data element versions"))?;
        rows.iter()
            .map(|r| de_from_row(r).map_err(db_err("read a data element")))
            .collect()
    }

    /// Saves a department's code table (a new version when it exists). Duplicate codes are refused
    /// naming them; a national table's id cannot be reused.
    pub async fn put_code_table(&self, t: &LocalCodeTable) -> Result<LocalCodeTable, Error> {
        check_text("id", &t.id, 64)?;
        check_text("name", &t.name, 200)?;
        if yishu_types::codes::table(&t.id).is_some() {
            return Err(Error::field(
                "id",
                format!("'{}' is a national code table", t.id),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let dups: Vec<&str> = t
            .entries
            .iter()
            .filter(|e| !seen.insert(e.code.trim()))
            .map(|e| e.code.as_str())
            .collect();
        if !dups.is_empty() {
            return Err(Error::field(
                "entries",
                format!("duplicate codes: {}", dups.join(", ")),
            ));
        }
        if t.entries.iter().any(|e| e.code.trim().is_empty()) {
            return Err(Error::field("entries", "a code is empty"));
        }
        if !t.national.is_empty() && yishu_types::codes::table(&t.national).is_none() {
            return Err(Error::field(
                "national",
                format!("no national code table '{}'", t.national),
            ));
        }
        let entries = serde_json::to_string(&t.entries).unwrap_or_default();
        match self.code_table(&t.id).await {
            Ok(_) => {
                sqlx::query(
                    "UPDATE code_tables SET name = $2, source = $3, org_id = $4, national = $5, entries = $6, version = version + 1 WHERE id = $1",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.source)
                .bind(t.org_id.map(|o| o.0))
                .bind(&t.national)
                .bind(&entries)
                .execute(&self.pool)
                .await
                .map_err(db_err("update a code table"))?;
            }
            Err(_) => {
                sqlx::query(
                    "INSERT INTO code_tables (id, name, source, org_id, national, entries, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.source)
                .bind(t.org_id.map(|o| o.0))
                .bind(&t.national)
                .bind(&entries)
                .bind(now_ms())
                .execute(&self.pool)
                .await
                .map_err(db_err("save a code table"))?;
            }
        }
        self.code_table(&t.id).await
    }

    pub async fn code_table(&self, id: &str) -> Result<LocalCodeTable, Error> {
        let r = sqlx::query(
            "SELECT id, name, source, org_id, national, entries, version, created_at FROM code_tables WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read a code table"))?
        .ok_or_else(|| not_found(format!("no code table '{id}'")))?;
        code_table_from_row(&r).map_err(db_err("read a code table"))
    }

    pub async fn code_tables(&self) -> Result<Vec<LocalCodeTable>, Error> {
        let rows = sqlx::query(
            "SELECT id, name, source, org_id, national, entries, version, created_at FROM code_tables ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list code tables"))?;
        rows.iter()
            .map(|r| code_table_from_row(r).map_err(db_err("read a code table")))
            .collect()
    }

    /// Creates a rule; its first version waits for review. The definition must already have been
    /// checked against the resource by the caller (see `yishu-quality`).
    pub async fn create_rule(&self, r: &NewRule, by: &Actor<'_>) -> Result<RuleView, Error> {
        check_text("name", &r.name, 200)?;
        let res = self.get_resource(r.resource_id).await?;
        may_author(&res, by)?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO rules (resource_id, name, business_rule, purpose, retired, created_by, created_at) VALUES ($1, $2, $3, $4, 0, $5, $6) RETURNING id",
        )
        .bind(r.resource_id)
        .bind(r.name.trim())
        .bind(r.business_rule.trim())
        .bind(r.purpose.as_str())
        .bind(by.user.0)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("save a rule"))?;
        self.insert_version(id, 1, &r.body, by.user).await?;
        self.rule(id).await
    }

    async fn insert_version(
        &self,
        rule: i64,
        version: i64,
        b: &RuleBody,
        by: UserId,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO rule_versions (rule_id, version, definition, dimension, importance, severity, action, status, note, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', '', $8, $9)",
        )
        .bind(rule)
        .bind(version)
        .bind(b.definition.to_string())
        .bind(&b.dimension)
        .bind(&b.importance)
        .bind(&b.severity)
        .bind(&b.action)
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("save a rule version"))?;
        Ok(())
    }

    /// A change to a rule: a new version under review (a pending one is replaced). The active
    /// version stays in effect until the new one is approved.
    pub async fn revise_rule(
        &self,
        id: i64,
        b: &RuleBody,
        by: &Actor<'_>,
    ) -> Result<RuleView, Error> {
        let view = self.rule(id).await?;
        let res = self.get_resource(view.rule.resource_id).await?;
        may_author(&res, by)?;
        sqlx::query("DELETE FROM rule_versions WHERE rule_id = $1 AND status = 'pending'")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("replace a pending rule version"))?;
        let next: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM rule_versions WHERE rule_id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("number a rule version"))?;
        self.insert_version(id, next, b, by.user).await?;
        self.rule(id).await
    }

    /// One owner's approval of a pending version. The business side is a data officer of the
    /// resource's department, the technical side a data manager; one person cannot give both.
    /// With both, the version takes effect and the previous one is superseded.
    pub async fn approve_rule(
        &self,
        id: i64,
        version: i64,
        side: ReviewSide,
        by: &Actor<'_>,
    ) -> Result<RuleView, Error> {
        let v = self.rule_version(id, version).await?;
        if v.status != RuleStatus::Pending {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!(
                    "version {version} of rule {id} is {}, not pending",
                    v.status.as_str()
                ),
            ));
        }
        let view = self.rule(id).await?;
        let res = self.get_resource(view.rule.resource_id).await?;
        match side {
            ReviewSide::Business => {
                if !(by.roles.contains(&Role::ProviderOfficer)
                    && by.org == res.meta.provider_org_id)
                {
                    return Err(Error::new(
                        ErrorCode::Forbidden,
                        "the business approval must come from a data officer of the department that provides the resource",
                    ));
                }
                if v.technical_by == Some(by.user) {
                    return Err(two_people());
                }
            }
            ReviewSide::Technical => {
                if !by.roles.contains(&Role::DataManager) {
                    return Err(Error::new(
                        ErrorCode::Forbidden,
                        "the technical approval must come from a data manager",
                    ));
                }
                if v.business_by == Some(by.user) {
                    return Err(two_people());
                }
            }
        }
        let column = match side {
            ReviewSide::Business => "business",
            ReviewSide::Technical => "technical",
        };
        let sql = format!(
            "UPDATE rule_versions SET {column}_by = $3, {column}_at = $4 WHERE rule_id = $1 AND version = $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(version)
            .bind(by.user.0)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(db_err("approve a rule version"))?;
        let v = self.rule_version(id, version).await?;
        if v.business_by.is_some() && v.technical_by.is_some() {
            let mut tx = self.pool.begin().await.map_err(db_err("activate a rule"))?;
            sqlx::query(
                "UPDATE rule_versions SET status = 'superseded' WHERE rule_id = $1 AND status = 'active'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("activate a rule"))?;
            sqlx::query(
                "UPDATE rule_versions SET status = 'active' WHERE rule_id = $1 AND version = $2",
            )
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(db_err("activate a rule"))?;
            tx.commit().await.map_err(db_err("activate a rule"))?;
        }
        self.rule(id).await
    }

    /// A reviewer turns a pending version down, saying why.
    pub async fn reject_rule(
        &self,
        id: i64,
        version: i64,
        note: &str,
        by: &Actor<'_>,
    ) -> Result<RuleView, Error> {
        if !(by.roles.contains(&Role::DataManager) || by.roles.contains(&Role::ProviderOfficer)) {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "only reviewers may reject a rule",
            ));
        }
        if note.trim().is_empty() {
            return Err(Error::field("note", "say why the rule is rejected"));
        }
        let n = sqlx::query(
            "UPDATE rule_versions SET status = 'rejected', note = $3 WHERE rule_id = $1 AND version = $2 AND status = 'pending'",
        )
        .bind(id)
        .bind(version)
        .bind(note.trim())
        .execute(&self.pool)
        .await
        .map_err(db_err("reject a rule version"))?
        .rows_affected();
        if n == 0 {
            return Err(not_found(format!(
                "no pending version {version} of rule {id}"
            )));
        }
        self.rule(id).await
    }

    /// Takes a rule out of effect (its history stays).
    pub async fn retire_rule(&self, id: i64, by: &Actor<'_>) -> Result<RuleView, Error> {
        let view = self.rule(id).await?;
        let res = self.get_resource(view.rule.resource_id).await?;
        may_author(&res, by)?;
        sqlx::query("UPDATE rules SET retired = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("retire a rule"))?;
        self.rule(id).await
    }

    pub async fn rule_version(&self, id: i64, version: i64) -> Result<RuleVersion, Error> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM rule_versions WHERE rule_id = $1 AND version = $2"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(version)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("read a rule version"))?
            .ok_or_else(|| not_found(format!("no version {version} of rule {id}")))?;
        version_from_row(&r).map_err(db_err("read a rule version"))
    }

    /// Every version of a rule, newest first.
    pub async fn rule_versions(&self, id: i64) -> Result<Vec<RuleVersion>, Error> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM rule_versions WHERE rule_id = $1 ORDER BY version DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list rule versions"))?;
        rows.iter()
            .map(|r| version_from_row(r).map_err(db_err("read a rule version")))
            .collect()
    }

    pub async fn rule(&self, id: i64) -> Result<RuleView, Error> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM rules WHERE id = $1");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("read a rule"))?
            .ok_or_else(|| not_found(format!("no rule {id}")))?;
        let rule = rule_from_row(&r).map_err(db_err("read a rule"))?;
        let versions = self.rule_versions(id).await?;
        Ok(view(rule, versions))
    }

    /// A resource's rules (retired ones too), oldest first.
    pub async fn rules_of(&self, resource_id: i64) -> Result<Vec<RuleView>, Error> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM rules WHERE resource_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list rules"))?;
        let vsql = format!(
            "SELECT {VERSION_COLUMNS} FROM rule_versions WHERE rule_id IN (SELECT id FROM rules WHERE resource_id = $1) ORDER BY version DESC"
        );
        let vrows = sqlx::query(sqlx::AssertSqlSafe(vsql))
            .bind(resource_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list rule versions"))?;
        let mut versions: Vec<RuleVersion> = vrows
            .iter()
            .map(|r| version_from_row(r).map_err(db_err("read a rule version")))
            .collect::<Result<_, _>>()?;
        rows.iter()
            .map(|r| {
                let rule = rule_from_row(r).map_err(db_err("read a rule"))?;
                let (mine, rest): (Vec<_>, Vec<_>) =
                    versions.drain(..).partition(|v| v.rule_id == rule.id);
                versions = rest;
                Ok(view(rule, mine))
            })
            .collect()
    }

    /// The rules in effect for a resource: not retired, with an active version.
    pub async fn active_rules(
        &self,
        resource_id: i64,
        purpose: RulePurpose,
    ) -> Result<Vec<(Rule, RuleVersion)>, Error> {
        Ok(self
            .rules_of(resource_id)
            .await?
            .into_iter()
            .filter(|v| !v.rule.retired && v.rule.purpose == purpose)
            .filter_map(|v| v.active.map(|a| (v.rule, a)))
            .collect())
    }

    /// Stores a batch's profile (JSON of `yishu_quality::TableProfile`).
    pub async fn save_profile(
        &self,
        batch_id: &str,
        resource_id: i64,
        records: i64,
        body: &Value,
    ) -> Result<(), Error> {
        // One statement: two checks of a batch at once both land, the later one kept.
        sqlx::query(
            "INSERT INTO profiles (batch_id, resource_id, records, body, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (batch_id) DO UPDATE SET resource_id = excluded.resource_id, records = excluded.records, body = excluded.body, created_at = excluded.created_at",
        )
        .bind(batch_id)
        .bind(resource_id)
        .bind(records)
        .bind(body.to_string())
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("save a profile"))?;
        Ok(())
    }

    /// A resource's profiles, newest first, at most `limit`.
    pub async fn profiles(
        &self,
        resource_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredProfile>, Error> {
        let rows = sqlx::query(
            "SELECT batch_id, resource_id, records, body, created_at FROM profiles WHERE resource_id = $1 AND records >= 0 ORDER BY created_at DESC, batch_id DESC LIMIT $2",
        )
        .bind(resource_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list profiles"))?;
        rows.iter()
            .map(stored_profile)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("read a profile"))
    }

    /// The stored profile of one batch, if it has been checked.
    pub async fn profile(&self, batch_id: &str) -> Result<Option<StoredProfile>, Error> {
        let row = sqlx::query(
            "SELECT batch_id, resource_id, records, body, created_at FROM profiles WHERE batch_id = $1 AND records >= 0",
        )
        .bind(batch_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read a profile"))?;
        row.map(|r| stored_profile(&r))
            .transpose()
            .map_err(db_err("read a profile"))
    }

    /// Succeeded batches not yet checked, oldest first: the quality job's queue. A batch claimed
    /// by a check that has not finished within `CLAIM_MS` (its process died) is due again.
    pub async fn unchecked_batches(&self, limit: i64) -> Result<Vec<(String, i64)>, Error> {
        let rows = sqlx::query(
            "SELECT id, resource_id FROM batches b WHERE status = 'succeeded' AND rows_stored > 0 AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.batch_id = b.id AND (p.records >= 0 OR p.created_at > $2)) ORDER BY started_at, id LIMIT $1",
        )
        .bind(limit)
        .bind(now_ms() - CLAIM_MS)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list unchecked batches"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("resource_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("read a batch"))
    }

    /// Claims a batch for checking so that two nodes do not check it at once: true when this
    /// caller got it (no claim yet, or only one older than `CLAIM_MS`).
    pub async fn claim_check(&self, batch_id: &str, resource_id: i64) -> Result<bool, Error> {
        let now = now_ms();
        let n = sqlx::query(
            "INSERT INTO profiles (batch_id, resource_id, records, body, created_at) VALUES ($1, $2, -1, '{}', $3) ON CONFLICT (batch_id) DO UPDATE SET created_at = $3 WHERE profiles.records < 0 AND profiles.created_at < $4",
        )
        .bind(batch_id)
        .bind(resource_id)
        .bind(now)
        .bind(now - CLAIM_MS)
        .execute(&self.pool)
        .await
        .map_err(db_err("claim a batch for checking"))?
        .rows_affected();
        Ok(n == 1)
    }

    /// Stores the results of a batch's checks (replacing an earlier run of the same batch).
    pub async fn save_results(&self, batch_id: &str, results: &[RuleResult]) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db_err("save results"))?;
        sqlx::query("DELETE FROM rule_results WHERE batch_id = $1")
            .bind(batch_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("save results"))?;
        for r in results {
            sqlx::query(
                "INSERT INTO rule_results (batch_id, rule_id, rule_version, resource_id, checked, failed, status, message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (batch_id, rule_id) DO UPDATE SET rule_version = excluded.rule_version, resource_id = excluded.resource_id, checked = excluded.checked, failed = excluded.failed, status = excluded.status, message = excluded.message, created_at = excluded.created_at",
            )
            .bind(batch_id)
            .bind(r.rule_id)
            .bind(r.rule_version)
            .bind(r.resource_id)
            .bind(r.checked)
            .bind(r.failed)
            .bind(&r.status)
            .bind(&r.message)
            .bind(r.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err("save results"))?;
        }
        tx.commit().await.map_err(db_err("save results"))
    }

    /// Results of one batch's checks, by rule.
    pub async fn batch_results(&self, batch_id: &str) -> Result<Vec<RuleResult>, Error> {
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM rule_results WHERE batch_id = $1 ORDER BY rule_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(batch_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list rule results"))?;
        results(&rows)
    }

    /// Results on the resources a department provides, checked in `[from, to)` (ms), oldest
    /// first: a report's rule lines.
    pub async fn org_results(
        &self,
        org: OrgId,
        from: i64,
        to: i64,
    ) -> Result<Vec<RuleResult>, Error> {
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM rule_results WHERE resource_id IN (SELECT id FROM resources WHERE provider_org_id = $1) AND created_at >= $2 AND created_at < $3 ORDER BY created_at, rule_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list rule results"))?;
        results(&rows)
    }

    /// A resource's results, newest first.
    pub async fn resource_results(&self, resource_id: i64) -> Result<Vec<RuleResult>, Error> {
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM rule_results WHERE resource_id = $1 ORDER BY created_at DESC, rule_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list rule results"))?;
        results(&rows)
    }
}

const RESULT_COLUMNS: &str =
    "batch_id, rule_id, rule_version, resource_id, checked, failed, status, message, created_at";

fn results(rows: &[sqlx::any::AnyRow]) -> Result<Vec<RuleResult>, Error> {
    rows.iter()
        .map(|r| {
            Ok(RuleResult {
                batch_id: r.try_get("batch_id")?,
                rule_id: r.try_get("rule_id")?,
                rule_version: r.try_get("rule_version")?,
                resource_id: r.try_get("resource_id")?,
                checked: r.try_get("checked")?,
                failed: r.try_get("failed")?,
                status: r.try_get("status")?,
                message: r.try_get("message")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("read a rule result"))
}

impl Store {
    /// Remembers that a suggested rule was discarded for a resource.
    pub async fn discard_suggestion(
        &self,
        resource_id: i64,
        definition: &Value,
        by: UserId,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO discarded_suggestions (resource_id, definition, discarded_by, discarded_at) VALUES ($1, $2, $3, $4) ON CONFLICT (resource_id, definition) DO NOTHING",
        )
        .bind(resource_id)
        .bind(definition.to_string())
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("discard a suggestion"))?;
        Ok(())
    }

    /// Definitions discarded for a resource.
    pub async fn discarded_suggestions(&self, resource_id: i64) -> Result<Vec<Value>, Error> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT definition FROM discarded_suggestions WHERE resource_id = $1",
        )
        .bind(resource_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list discarded suggestions"))?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect())
    }
}

/// How long a claimed check may run before another node may take the batch over.
const CLAIM_MS: i64 = 30 * 60 * 1000;

fn two_people() -> Error {
    Error::new(
        ErrorCode::Forbidden,
        "the business and the technical approval must come from two different people",
    )
}

/// Rules of a resource are written by its department's officers or the bureau's data managers.
fn may_author(res: &crate::catalog::Resource, by: &Actor<'_>) -> Result<(), Error> {
    let ok = by.roles.contains(&Role::DataManager)
        || by.roles.contains(&Role::Admin)
        || (by.roles.contains(&Role::ProviderOfficer) && by.org == res.meta.provider_org_id);
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::Forbidden,
            "only the providing department's officers and data managers write its rules",
        ))
    }
}

fn view(rule: Rule, versions: Vec<RuleVersion>) -> RuleView {
    let active = versions
        .iter()
        .find(|v| v.status == RuleStatus::Active)
        .cloned();
    let pending = versions
        .into_iter()
        .find(|v| v.status == RuleStatus::Pending);
    RuleView {
        rule,
        active,
        pending,
    }
}

fn code_table_from_row(r: &sqlx::any::AnyRow) -> Result<LocalCodeTable, sqlx::Error> {
    Ok(LocalCodeTable {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        source: r.try_get("source")?,
        org_id: r.try_get::<Option<i64>, _>("org_id")?.map(OrgId),
        national: r.try_get("national")?,
        entries: serde_json::from_str(&r.try_get::<String, _>("entries")?).unwrap_or_default(),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Quality scores of one checked batch on the GB/T 36344 dimensions (0–100 each).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredScore {
    pub batch_id: String,
    pub resource_id: i64,
    pub org_id: OrgId,
    pub records: i64,
    /// dimension → score for the dimensions something measured; the others are absent (未评估).
    #[schema(value_type = Object)]
    pub dimensions: Value,
    /// The weighted total; `None` (未评估) when nothing measured the batch.
    pub total: Option<f64>,
    pub created_at: i64,
}

const SCORE_COLUMNS: &str = "batch_id, resource_id, org_id, records, dimensions, total, created_at";

fn score_from_row(r: &sqlx::any::AnyRow) -> Result<StoredScore, sqlx::Error> {
    Ok(StoredScore {
        batch_id: r.try_get("batch_id")?,
        resource_id: r.try_get("resource_id")?,
        org_id: OrgId(r.try_get("org_id")?),
        records: r.try_get("records")?,
        dimensions: serde_json::from_str(&r.try_get::<String, _>("dimensions")?)
            .unwrap_or_default(),
        total: r.try_get("total")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    pub async fn save_score(&self, s: &StoredScore) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db_err("save a score"))?;
        sqlx::query("DELETE FROM quality_scores WHERE batch_id = $1")
            .bind(&s.batch_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("save a score"))?;
        sqlx::query(
            "INSERT INTO quality_scores (batch_id, resource_id, org_id, records, dimensions, total, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (batch_id) DO UPDATE SET resource_id = excluded.resource_id, org_id = excluded.org_id, records = excluded.records, dimensions = excluded.dimensions, total = excluded.total, created_at = excluded.created_at",
        )
        .bind(&s.batch_id)
        .bind(s.resource_id)
        .bind(s.org_id.0)
        .bind(s.records)
        .bind(s.dimensions.to_string())
        .bind(s.total)
        .bind(s.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err("save a score"))?;
        tx.commit().await.map_err(db_err("save a score"))
    }

    /// Scores since `since` (ms), oldest first: of one resource, one department, or all (None).
    pub async fn scores(
        &self,
        resource: Option<i64>,
        org: Option<OrgId>,
        since: i64,
    ) -> Result<Vec<StoredScore>, Error> {
        let sql = format!(
            "SELECT {SCORE_COLUMNS} FROM quality_scores WHERE ($1 < 0 OR resource_id = $1) AND ($2 < 0 OR org_id = $2) AND created_at >= $3 ORDER BY created_at, batch_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource.unwrap_or(-1))
            .bind(org.map_or(-1, |o| o.0))
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list scores"))?;
        rows.iter()
            .map(|r| score_from_row(r).map_err(db_err("read a score")))
            .collect()
    }

    /// The bureau's dimension weights (dimensions not set weigh 1).
    pub async fn quality_weights(&self) -> Result<Vec<(String, f64)>, Error> {
        let rows = sqlx::query("SELECT dimension, weight FROM quality_weights ORDER BY dimension")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("read weights"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("dimension")?, r.try_get("weight")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("read weights"))
    }

    pub async fn set_quality_weight(&self, dimension: &str, weight: f64) -> Result<(), Error> {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(Error::field("weight", "must be a number ≥ 0"));
        }
        sqlx::query(
            "INSERT INTO quality_weights (dimension, weight) VALUES ($1, $2) ON CONFLICT (dimension) DO UPDATE SET weight = $2",
        )
        .bind(dimension)
        .bind(weight)
        .execute(&self.pool)
        .await
        .map_err(db_err("set a weight"))?;
        Ok(())
    }
}

fn stored_profile(r: &sqlx::any::AnyRow) -> Result<StoredProfile, sqlx::Error> {
    Ok(StoredProfile {
        batch_id: r.try_get("batch_id")?,
        resource_id: r.try_get("resource_id")?,
        records: r.try_get("records")?,
        body: serde_json::from_str(&r.try_get::<String, _>("body")?).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
    })
}
