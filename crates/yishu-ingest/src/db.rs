//! Front-end databases (前置库): a table in SQLite, PostgreSQL or MySQL/MariaDB pulled in full or
//! incrementally by a watermark column (`updated_at` or an increasing id). Values are read as text
//! (cast in SQL, so dates and numbers keep the database's own rendering); the largest watermark
//! seen is returned for the next pull; the rows' content checksum lets an unchanged full pull be a
//! no-op.

use crate::rows::{ColumnMap, Parsed, RowWriter};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Connection, Row};
use yishu_lake::arrow::array::RecordBatch;
use yishu_meta::catalog::Item;
use yishu_types::{Error, ErrorCode};

/// Which table to pull and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DbPull {
    /// `sqlite://path`, `postgres://…` or `mysql://…`.
    pub url: String,
    pub table: String,
    /// Pull only rows whose value here is greater than the stored watermark; `None`: full pulls.
    pub watermark_column: Option<String>,
    /// Confirmed column → item pairs where the names differ.
    #[serde(default)]
    pub mapping: crate::rows::Mapping,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

impl Dialect {
    fn of(url: &str) -> Result<Self, Error> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Ok(Dialect::Mysql)
        } else {
            Err(Error::field(
                "url",
                "must start with sqlite:, postgres:// or mysql://",
            ))
        }
    }

    /// Quotes an identifier (validated first: letters, digits, `_` and CJK only).
    fn ident(self, name: &str, what: &str) -> Result<String, Error> {
        let ok = !name.is_empty()
            && name.chars().count() <= 64
            && name.chars().all(|c| c == '_' || c.is_alphanumeric())
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            return Err(Error::field(
                what,
                format!("'{name}' is not a plain table or column name"),
            ));
        }
        Ok(match self {
            Dialect::Mysql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        })
    }

    fn as_text(self, quoted: &str) -> String {
        match self {
            Dialect::Mysql => format!("CAST({quoted} AS CHAR)"),
            _ => format!("CAST({quoted} AS TEXT)"),
        }
    }

    fn param(self) -> &'static str {
        match self {
            Dialect::Postgres => "$1",
            _ => "?",
        }
    }
}

/// Hides a password in a connection URL for messages and pages.
pub fn redact(url: &str) -> String {
    yishu_meta::store_redacted_url(url)
}

fn db_failed(url: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!("front-end database {}: {what}: {e}", redact(url)),
    )
}

/// Checks a pull's settings without connecting: the URL's kind and the names.
pub fn check(p: &DbPull) -> Result<(), Error> {
    let d = Dialect::of(&p.url)?;
    d.ident(&p.table, "table")?;
    if let Some(c) = &p.watermark_column {
        d.ident(c, "watermark_column")?;
    }
    Ok(())
}

async fn columns(conn: &mut AnyConnection, d: Dialect, p: &DbPull) -> Result<Vec<String>, Error> {
    let sql = match d {
        Dialect::Sqlite => "SELECT name FROM pragma_table_info(?) ORDER BY cid",
        Dialect::Postgres => {
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position"
        }
        Dialect::Mysql => {
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_name = ? AND table_schema = DATABASE() ORDER BY ordinal_position"
        }
    };
    let rows = sqlx::query(sql)
        .bind(&p.table)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db_failed(&p.url, "cannot list the table's columns", e))?;
    let cols: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()
        .map_err(|e| db_failed(&p.url, "cannot list the table's columns", e))?;
    if cols.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "front-end database {}: no table '{}'",
                redact(&p.url),
                p.table
            ),
        ));
    }
    Ok(cols)
}

/// Pulls the rows after `since` (all rows when `None` or without a watermark column). Runs on a
/// blocking thread and drives the async driver with `rt`, so rows stream into Arrow batches.
/// Returns the counts with `watermark` (largest value seen) and `checksum` (of the rows' text).
#[allow(clippy::too_many_arguments)]
pub fn read(
    rt: &tokio::runtime::Handle,
    p: &DbPull,
    since: Option<&str>,
    items: &[Item],
    batch_id: &str,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<Parsed, Error> {
    use futures::TryStreamExt;
    sqlx::any::install_default_drivers();
    let d = Dialect::of(&p.url)?;
    let table = d.ident(&p.table, "table")?;
    let mut conn = rt
        .block_on(AnyConnection::connect(&p.url))
        .map_err(|e| db_failed(&p.url, "cannot connect", e))?;
    let header = rt.block_on(columns(&mut conn, d, p))?;
    let wm_at = match &p.watermark_column {
        Some(c) => Some(header.iter().position(|h| h == c).ok_or_else(|| {
            Error::field(
                "watermark_column",
                format!("table '{}' has no column '{c}'", p.table),
            )
        })?),
        None => None,
    };
    let select: Vec<String> = header
        .iter()
        .map(|h| d.ident(h, "column").map(|q| d.as_text(&q)))
        .collect::<Result<_, _>>()?;
    let mut sql = format!("SELECT {} FROM {table}", select.join(", "));
    // Whole numbers compare as numbers, anything else (timestamps) as text.
    let numeric = since.is_some_and(|s| s.parse::<i64>().is_ok());
    if let (Some(c), Some(_)) = (&p.watermark_column, since) {
        let q = d.ident(c, "watermark_column")?;
        if numeric {
            sql += &format!(" WHERE {q} > {}", d.param());
        } else {
            sql += &format!(" WHERE {} > {}", d.as_text(&q), d.param());
        }
    }
    if let Some(c) = &p.watermark_column {
        sql += &format!(" ORDER BY {}", d.ident(c, "watermark_column")?);
    }
    let map = ColumnMap::new(&format!("table {}", p.table), &header, items, &p.mapping)?;
    let mut out = RowWriter::new(batch_id, items, map, sink, progress);
    let mut hash = blake3::Hasher::new();
    hash.update(p.table.as_bytes());
    let mut watermark: Option<String> = since.map(str::to_string);
    let mut best_num: Option<i64> = since.and_then(|s| s.parse().ok());
    {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        match since {
            Some(s) if p.watermark_column.is_some() && numeric => {
                q = q.bind(s.parse::<i64>().unwrap_or_default())
            }
            Some(s) if p.watermark_column.is_some() => q = q.bind(s.to_string()),
            _ => {}
        }
        let mut rows = q.fetch(&mut conn);
        let mut n: i64 = 0;
        while let Some(row) = rt
            .block_on(rows.try_next())
            .map_err(|e| db_failed(&p.url, "cannot read rows", e))?
        {
            n += 1;
            let cells: Vec<Option<String>> = (0..header.len())
                .map(|i| row.try_get::<Option<String>, _>(i))
                .collect::<Result<_, _>>()
                .map_err(|e| db_failed(&p.url, "cannot read a value as text", e))?;
            for c in &cells {
                hash.update(c.as_deref().unwrap_or("\u{0}").as_bytes());
                hash.update(b"\x1f");
            }
            hash.update(b"\x1e");
            if let Some(Some(v)) = wm_at.map(|i| &cells[i]) {
                match v.parse::<i64>() {
                    Ok(x) if best_num.is_none_or(|b| x > b) || watermark.is_none() => {
                        best_num = Some(x);
                        watermark = Some(v.clone());
                    }
                    Ok(_) => {}
                    Err(_) => {
                        if watermark.as_deref().is_none_or(|w| v.as_str() > w) {
                            watermark = Some(v.clone());
                        }
                    }
                }
            }
            out.accept(format_args!("{}#{n}", p.table), |c| {
                cells.get(c).and_then(|v| v.as_deref())
            })?;
        }
    }
    rt.block_on(conn.close()).ok();
    let mut parsed = out.finish()?;
    parsed.watermark = watermark;
    parsed.checksum = Some(format!("blake3:{}", hash.finalize().to_hex()));
    Ok(parsed)
}

/// The columns of a table and its first `limit` rows as text, for a resource mounted on the table
/// without copying it (logical aggregation, 逻辑汇聚).
pub async fn peek(
    url: &str,
    table: &str,
    limit: usize,
) -> Result<(Vec<String>, Vec<Vec<Option<String>>>), Error> {
    sqlx::any::install_default_drivers();
    let p = DbPull {
        url: url.to_string(),
        table: table.to_string(),
        watermark_column: None,
        mapping: Default::default(),
    };
    check(&p)?;
    let d = Dialect::of(url)?;
    let mut conn = AnyConnection::connect(url)
        .await
        .map_err(|e| db_failed(url, "cannot connect", e))?;
    let header = columns(&mut conn, d, &p).await?;
    let select: Vec<String> = header
        .iter()
        .map(|h| d.ident(h, "column").map(|q| d.as_text(&q)))
        .collect::<Result<_, _>>()?;
    // Identifiers were validated and quoted; the limit is bound.
    let sql = format!(
        "SELECT {} FROM {} LIMIT {}",
        select.join(", "),
        d.ident(table, "table")?,
        d.param()
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut conn)
        .await
        .map_err(|e| db_failed(url, "cannot read rows", e))?;
    conn.close().await.ok();
    let rows = rows
        .iter()
        .map(|r| {
            (0..header.len())
                .map(|i| r.try_get::<Option<String>, _>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| db_failed(url, "cannot read a value as text", e))?;
    Ok((header, rows))
}
