//! Standards and quality metadata (R11–R16): data elements (数据元) with versions, department code
//! tables mapped to national ones, quality rules whose versions take effect only after a business
//! owner and a technical owner both approve them, and per-batch profiles and rule results. Rule
//! definitions are JSON here; `yishu-quality` gives them meaning.

use crate::store::{Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use yishu_types::{Error, ErrorCode, OrgId, UserId};

mod results;
mod rules;
pub use results::*;
pub use rules::*;

pub(super) fn not_found(msg: impl Into<String>) -> Error {
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

/// Binds a code table's fields as `$1`–`$6`: id, name, source, org, national table, entries.
fn bind_code_table<'q>(
    q: crate::store::Query<'q>,
    t: &'q LocalCodeTable,
    entries: &'q str,
) -> crate::store::Query<'q> {
    q.bind(&t.id)
        .bind(&t.name)
        .bind(&t.source)
        .bind(t.org_id.map(|o| o.0))
        .bind(&t.national)
        .bind(entries)
}

pub(super) fn check_text(field: &str, v: &str, max: usize) -> Result<(), Error> {
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
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(identifier.trim())
            .bind(version.unwrap_or(-1));
        self.one(q, "read a data element", de_from_row, "read a data element")
            .await?
            .ok_or_else(|| not_found(format!("no data element '{identifier}'")))
    }

    /// Every data element at its newest version, by identifier.
    pub async fn data_elements(&self) -> Result<Vec<DataElement>, Error> {
        let sql = format!(
            "SELECT {DE_COLUMNS} FROM data_elements d WHERE version = (SELECT MAX(version) FROM data_elements e WHERE e.identifier = d.identifier) ORDER BY identifier"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        self.all(q, "list data elements", de_from_row, "read a data element")
            .await
    }

    /// Every version of a data element, oldest first.
    pub async fn data_element_versions(&self, identifier: &str) -> Result<Vec<DataElement>, Error> {
        let sql = format!(
            "SELECT {DE_COLUMNS} FROM data_elements WHERE identifier = $1 ORDER BY version"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(identifier);
        self.all(
            q,
            "list data element versions",
            de_from_row,
            "read a data element",
        )
        .await
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
                let q = sqlx::query(
                    "UPDATE code_tables SET name = $2, source = $3, org_id = $4, national = $5, entries = $6, version = version + 1 WHERE id = $1",
                );
                bind_code_table(q, t, &entries)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err("update a code table"))?;
            }
            Err(_) => {
                let q = sqlx::query(
                    "INSERT INTO code_tables (id, name, source, org_id, national, entries, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
                );
                bind_code_table(q, t, &entries)
                    .bind(now_ms())
                    .execute(&self.pool)
                    .await
                    .map_err(db_err("save a code table"))?;
            }
        }
        self.code_table(&t.id).await
    }

    pub async fn code_table(&self, id: &str) -> Result<LocalCodeTable, Error> {
        let q = sqlx::query(
            "SELECT id, name, source, org_id, national, entries, version, created_at FROM code_tables WHERE id = $1",
        )
        .bind(id);
        self.one(
            q,
            "read a code table",
            code_table_from_row,
            "read a code table",
        )
        .await?
        .ok_or_else(|| not_found(format!("no code table '{id}'")))
    }

    pub async fn code_tables(&self) -> Result<Vec<LocalCodeTable>, Error> {
        let q = sqlx::query(
            "SELECT id, name, source, org_id, national, entries, version, created_at FROM code_tables ORDER BY id",
        );
        self.all(
            q,
            "list code tables",
            code_table_from_row,
            "read a code table",
        )
        .await
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
