//! Organisations: platform levels (province → city → district) and departments (委办局) under them.

use crate::store::{Page, Store, db_err, is_unique_violation, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use yishu_types::{CreditCode, DivisionCode, Error, ErrorCode, OrgId, division};

/// Whether an org is a platform level or a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Level,
    Department,
}

/// The administrative level of a platform-level org.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OrgLevel {
    Province,
    City,
    District,
}

impl OrgKind {
    fn as_str(self) -> &'static str {
        match self {
            OrgKind::Level => "level",
            OrgKind::Department => "department",
        }
    }
}

impl OrgLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgLevel::Province => "province",
            OrgLevel::City => "city",
            OrgLevel::District => "district",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "province" => Some(OrgLevel::Province),
            "city" => Some(OrgLevel::City),
            "district" => Some(OrgLevel::District),
            _ => None,
        }
    }

    /// The level directly above, if any.
    fn parent_level(self) -> Option<OrgLevel> {
        match self {
            OrgLevel::Province => None,
            OrgLevel::City => Some(OrgLevel::Province),
            OrgLevel::District => Some(OrgLevel::City),
        }
    }
}

/// A stored organisation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Org {
    pub id: OrgId,
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    pub level: Option<OrgLevel>,
    pub parent_id: Option<OrgId>,
    pub credit_code: Option<String>,
    pub division_code: Option<String>,
    pub disabled: bool,
    /// Incremented on every change; edits must name the version they saw.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a caller supplies to create an org. Validated by [`Store::create_org`].
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    pub code: String,
    pub name: String,
    pub kind: Option<OrgKind>,
    pub level: Option<OrgLevel>,
    pub parent_id: Option<OrgId>,
    pub credit_code: Option<String>,
    pub division_code: Option<String>,
}

const COLUMNS: &str = "id, code, name, kind, level, parent_id, credit_code, division_code, disabled, version, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<Org, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let level: Option<String> = r.try_get("level")?;
    Ok(Org {
        id: OrgId(r.try_get("id")?),
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        kind: if kind == "level" {
            OrgKind::Level
        } else {
            OrgKind::Department
        },
        level: level.as_deref().and_then(OrgLevel::parse),
        parent_id: r.try_get::<Option<i64>, _>("parent_id")?.map(OrgId),
        credit_code: r.try_get("credit_code")?,
        division_code: r.try_get("division_code")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Checks a name typed by a person: not blank, not too long, no control characters.
pub(crate) fn check_name(field: &str, s: &str, max: usize) -> Result<String, Error> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::field(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(Error::field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if yishu_types::text::has_control(t) {
        return Err(Error::field(field, "must not contain control characters"));
    }
    Ok(t.to_string())
}

fn check_code(code: &str) -> Result<String, Error> {
    let c = code.trim();
    if c.is_empty() || c.len() > 32 {
        return Err(Error::field("code", "must be 1–32 characters"));
    }
    if !c
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        return Err(Error::field(
            "code",
            format!("'{c}' may only hold ASCII letters, digits, '-' and '_'"),
        ));
    }
    Ok(c.to_string())
}

impl Store {
    /// Creates an org after checking its code, names, identifiers and place in the hierarchy.
    pub async fn create_org(&self, new: &NewOrg) -> Result<Org, Error> {
        let code = check_code(&new.code)?;
        let name = check_name("name", &new.name, 100)?;
        let kind = new.kind.unwrap_or(if new.level.is_some() {
            OrgKind::Level
        } else {
            OrgKind::Department
        });
        let credit = match new.credit_code.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(
                CreditCode::parse_lenient(c)
                    .map_err(|e| Error::field("credit_code", e))?
                    .to_string(),
            ),
        };
        let div = match new.division_code.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) => Some(
                division::parse_known(d)
                    .map_err(|e| Error::field("division_code", e))?
                    .code
                    .to_string(),
            ),
        };
        let parent = match new.parent_id {
            Some(p) => Some(self.get_org(p).await?),
            None => None,
        };
        check_placement(kind, new.level, parent.as_ref())?;
        let now = now_ms();
        let sql = format!(
            "INSERT INTO orgs (code, name, kind, level, parent_id, credit_code, division_code, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&code)
            .bind(&name)
            .bind(kind.as_str())
            .bind(if kind == OrgKind::Level {
                new.level.map(OrgLevel::as_str)
            } else {
                None
            })
            .bind(new.parent_id.map(|p| p.0))
            .bind(credit)
            .bind(div)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::new(
                        ErrorCode::OrgCodeTaken,
                        format!("an organisation with code '{code}' already exists"),
                    )
                } else {
                    db_err("create an organisation")(e)
                }
            })?;
        from_row(&row).map_err(db_err("read an organisation"))
    }

    /// The bureau (大数据主管部门): the department that runs the platform, confirms sharing and
    /// provides the base libraries. Set once by the installer; until then the department of the
    /// first data manager.
    pub async fn bureau(&self) -> Result<Option<OrgId>, Error> {
        let set: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE name = 'bureau_org'")
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err("read the bureau setting"))?;
        if let Some(id) = set.and_then(|v| v.parse().ok()) {
            return Ok(Some(OrgId(id)));
        }
        Ok(self
            .users_with_role(yishu_types::Role::DataManager, None)
            .await?
            .first()
            .map(|(_, o)| *o))
    }

    /// Names `org` the bureau.
    pub async fn set_bureau(&self, org: OrgId) -> Result<(), Error> {
        self.get_org(org).await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ('bureau_org', $1) ON CONFLICT (name) DO UPDATE SET value = $1",
        )
        .bind(org.0.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_err("set the bureau"))?;
        Ok(())
    }

    pub async fn get_org(&self, id: OrgId) -> Result<Org, Error> {
        let sql = format!("SELECT {COLUMNS} FROM orgs WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0);
        self.org_of(q, format!("no organisation with id {id}"))
            .await
    }

    pub async fn get_org_by_code(&self, code: &str) -> Result<Org, Error> {
        let sql = format!("SELECT {COLUMNS} FROM orgs WHERE code = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code);
        self.org_of(q, format!("no organisation with code '{code}'"))
            .await
    }

    /// The organisation `q` finds, or `missing` as its not-found error.
    async fn org_of(&self, q: crate::store::Query<'_>, missing: String) -> Result<Org, Error> {
        self.one(q, "read an organisation", from_row, "read an organisation")
            .await?
            .ok_or_else(|| Error::new(ErrorCode::OrgNotFound, missing))
    }

    /// All orgs ordered by code; the tree is small (hundreds) so callers build it in memory.
    pub async fn list_orgs(&self) -> Result<Vec<Org>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM orgs ORDER BY code");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        self.all(q, "list organisations", from_row, "read an organisation")
            .await
    }

    /// A page of orgs, optionally only the children of one parent.
    pub async fn page_orgs(
        &self,
        parent: Option<OrgId>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<Org>, Error> {
        let all = self.list_orgs().await?;
        let filtered: Vec<Org> = all
            .into_iter()
            .filter(|o| parent.is_none() || o.parent_id == parent)
            .collect();
        let total = filtered.len() as i64;
        let items = filtered
            .into_iter()
            .skip(offset.max(0) as usize)
            .take(limit.clamp(1, 1000) as usize)
            .collect();
        Ok(Page {
            items,
            total,
            limit,
            offset,
        })
    }

    /// Renames an org if nobody changed it since `version`.
    pub async fn rename_org(&self, id: OrgId, name: &str, version: i64) -> Result<Org, Error> {
        let name = check_name("name", name, 100)?;
        self.update_org(id, version, "name = $4", |q| q.bind(name))
            .await
    }

    /// Enables or disables an org.
    pub async fn set_org_disabled(
        &self,
        id: OrgId,
        disabled: bool,
        version: i64,
    ) -> Result<Org, Error> {
        self.update_org(id, version, "disabled = $4", |q| {
            q.bind(i64::from(disabled))
        })
        .await
    }

    /// Moves an org under a new parent, refusing cycles and level mismatches.
    pub async fn move_org(
        &self,
        id: OrgId,
        new_parent: Option<OrgId>,
        version: i64,
    ) -> Result<Org, Error> {
        let org = self.get_org(id).await?;
        let parent = match new_parent {
            Some(p) => {
                let all = self.list_orgs().await?;
                let mut cur = Some(p);
                while let Some(c) = cur {
                    if c == id {
                        return Err(Error::new(
                            ErrorCode::OrgHierarchy,
                            format!(
                                "cannot move '{}' under itself or one of its descendants",
                                org.name
                            ),
                        ));
                    }
                    cur = all.iter().find(|o| o.id == c).and_then(|o| o.parent_id);
                }
                Some(self.get_org(p).await?)
            }
            None => None,
        };
        check_placement(org.kind, org.level, parent.as_ref())?;
        self.update_org(id, version, "parent_id = $4", |q| {
            q.bind(new_parent.map(|p| p.0))
        })
        .await
    }

    /// One optimistic update: `$1` is the id, `$2` the expected version, `$3` the time; `set` (a
    /// constant fragment, never user text) binds its value as `$4`.
    async fn update_org<'q>(
        &self,
        id: OrgId,
        version: i64,
        set: &str,
        bind: impl FnOnce(
            sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<Org, Error> {
        let sql = format!(
            "UPDATE orgs SET {set}, version = version + 1, updated_at = $3 WHERE id = $1 AND version = $2 RETURNING {COLUMNS}"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .bind(version)
            .bind(now_ms());
        let row = bind(q)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("update an organisation"))?;
        match row {
            Some(r) => from_row(&r).map_err(db_err("read an organisation")),
            None => {
                let current = self.get_org(id).await?;
                Err(Error::new(
                    ErrorCode::EditConflict,
                    format!(
                        "organisation '{}' was changed by someone else (version {} now, you edited version {version}); reload and try again",
                        current.name, current.version
                    ),
                ))
            }
        }
    }
}

/// The hierarchy: a province has no parent level; a city sits under a province; a district under
/// a city; a department under any level org or another department.
fn check_placement(
    kind: OrgKind,
    level: Option<OrgLevel>,
    parent: Option<&Org>,
) -> Result<(), Error> {
    let bad = |m: String| Err(Error::new(ErrorCode::OrgHierarchy, m));
    match kind {
        OrgKind::Level => {
            let Some(level) = level else {
                return Err(Error::field(
                    "level",
                    "a level org needs level province, city or district",
                ));
            };
            match (level.parent_level(), parent) {
                (None, None) => Ok(()),
                (None, Some(p)) => bad(format!("a province cannot sit under '{}'", p.name)),
                (Some(want), Some(p)) if p.kind == OrgKind::Level && p.level == Some(want) => {
                    Ok(())
                }
                (Some(want), Some(p)) => bad(format!(
                    "a {} must sit under a {}, not under '{}'",
                    level.as_str(),
                    want.as_str(),
                    p.name
                )),
                // A city or district without a parent is allowed when the platform starts at that level.
                (Some(_), None) => Ok(()),
            }
        }
        OrgKind::Department => match parent {
            Some(_) => Ok(()),
            None => bad("a department must sit under a province, city or district".to_string()),
        },
    }
}

/// Parses a division code for an org (used by the API layer for early errors).
pub fn parse_division(s: &str) -> Result<DivisionCode, Error> {
    DivisionCode::parse(s).map_err(|e| Error::field("division_code", e))
}

/// One row of the tree, with its depth for indentation.
pub struct TreeRow {
    pub org: Org,
    pub depth: usize,
}

impl TreeRow {
    pub fn indent(&self) -> String {
        "　".repeat(self.depth * 2)
    }
}

/// Orders orgs depth-first (what the console and `yishu org list` show) so children follow their parent.
pub fn tree(orgs: &[Org]) -> Vec<TreeRow> {
    fn walk(orgs: &[Org], parent: Option<OrgId>, depth: usize, out: &mut Vec<TreeRow>) {
        for o in orgs.iter().filter(|o| o.parent_id == parent) {
            out.push(TreeRow {
                org: o.clone(),
                depth,
            });
            if depth < 16 {
                walk(orgs, Some(o.id), depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(orgs, None, 0, &mut out);
    out
}
