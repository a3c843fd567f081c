//! Quality rules: versions that take effect only after a business owner and a technical owner
//! (two different people) both approve them.

use super::{check_text, not_found};
use crate::catalog::Actor;
use crate::store::{Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use yishu_types::{Error, ErrorCode, Role, UserId};

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

impl Store {
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
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(version);
        self.one(
            q,
            "read a rule version",
            version_from_row,
            "read a rule version",
        )
        .await?
        .ok_or_else(|| not_found(format!("no version {version} of rule {id}")))
    }

    /// Every version of a rule, newest first.
    pub async fn rule_versions(&self, id: i64) -> Result<Vec<RuleVersion>, Error> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM rule_versions WHERE rule_id = $1 ORDER BY version DESC"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.all(
            q,
            "list rule versions",
            version_from_row,
            "read a rule version",
        )
        .await
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
}

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
