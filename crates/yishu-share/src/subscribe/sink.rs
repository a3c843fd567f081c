//! Where deliveries go: a PostgreSQL or MySQL/MariaDB table, or a drop directory of CSV or
//! Parquet files. Each destination keeps the subscription's cursor itself and moves it in the
//! same step as the rows: in a database, a row of `yishu_delivered` updated in the delivery's
//! transaction (locked first, so two deliverers never both write); in a directory, a state file
//! that names the file being delivered before it is renamed into place.

use super::{ColumnType, Cursor};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::path::{Component, Path, PathBuf};
use yishu_types::{Error, ErrorCode};

/// Row chunks as a delivery reads them: the key, then the items.
pub(super) type Chunks = BoxStream<'static, Result<Vec<Vec<String>>, Error>>;

/// The file format of a drop directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DropFormat {
    Csv,
    Parquet,
}

/// Where a subscription delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Destination {
    /// A table (created on the first delivery) in the consumer's PostgreSQL or MySQL database.
    Database {
        /// `postgres://user:password@host/db` or `mysql://…`; its host must be on the
        /// installation's outbound allow-list.
        url: String,
        table: String,
    },
    /// A directory under the installation's drop root, one file per delivery.
    Directory { path: String, format: DropFormat },
}

/// SQL made here: identifiers checked by [`check_table`] and quoted, values always bound.
fn sql(text: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(text)
}

/// [`sql`] of a `format!`.
macro_rules! sqlf {
    ($($t:tt)*) => {
        sqlx::AssertSqlSafe(format!($($t)*))
    };
}

/// Where deliveries' cursors are kept in a destination database.
const CURSORS: &str = "yishu_delivered";

fn unavailable(url: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::TargetUnavailable,
        format!("the database at {} refused the delivery: {e}", redact(url)),
    )
}

/// A database address without its password, as pages and messages show it.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// Checks a destination table's name: a plain identifier (letters, digits, `_`, CJK) a
/// database can hold without quoting tricks.
pub fn check_table(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c == '_' || c.is_alphanumeric())
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name != CURSORS;
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "destination.table",
            format!("'{name}' is not a plain table name (letters, digits and _, at most 63 bytes)"),
        ))
    }
}

impl Destination {
    /// Checks the destination as given and says what is wrong in words.
    pub fn check(&self) -> Result<(), Error> {
        match self {
            Destination::Database { url, table } => {
                Dialect::of(url)?;
                check_table(table)
            }
            Destination::Directory { path, .. } => relative(path).map(|_| ()),
        }
    }

    /// The destination with a directory placed under `root`, the installation's drop root (the
    /// only place files are delivered to; without one, directories are refused).
    pub fn under(&self, root: Option<&Path>) -> Result<Destination, Error> {
        Ok(match self {
            Destination::Directory { path, format } => {
                let root = root.ok_or_else(|| {
                    Error::field(
                        "destination",
                        "this installation has no drop directory; deliver into a database",
                    )
                })?;
                Destination::Directory {
                    path: root.join(relative(path)?).to_string_lossy().into_owned(),
                    format: *format,
                }
            }
            d => d.clone(),
        })
    }

    /// The destination as pages show it (no password).
    pub fn label(&self) -> String {
        match self {
            Destination::Database { url, table } => format!("{} → {table}", redact(url)),
            Destination::Directory { path, format } => {
                format!(
                    "{path}/ ({})",
                    match format {
                        DropFormat::Csv => "CSV",
                        DropFormat::Parquet => "Parquet",
                    }
                )
            }
        }
    }
}

/// A drop directory as given: relative, plain names, no `..`.
fn relative(path: &str) -> Result<PathBuf, Error> {
    let p = Path::new(path.trim());
    let plain =
        !path.trim().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if plain {
        Ok(p.to_path_buf())
    } else {
        Err(Error::field(
            "destination.path",
            format!("'{path}' must be a relative directory under the drop root, without '..'"),
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    Postgres,
    Mysql,
}

impl Dialect {
    fn of(url: &str) -> Result<Dialect, Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Ok(Dialect::Mysql)
        } else {
            Err(Error::field(
                "destination.url",
                "must start with postgres:// or mysql://",
            ))
        }
    }

    fn quote(self, name: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
        }
    }

    fn sql_type(self, t: ColumnType, key: bool) -> &'static str {
        match (self, t) {
            (Dialect::Postgres, ColumnType::Text) => "text",
            (Dialect::Postgres, ColumnType::Number) => "double precision",
            (Dialect::Postgres, ColumnType::Date) => "date",
            (Dialect::Postgres, ColumnType::DateTime) => "timestamp",
            // An indexed MySQL column needs a length.
            (Dialect::Mysql, ColumnType::Text) if key => "VARCHAR(191)",
            (Dialect::Mysql, ColumnType::Text) => "TEXT",
            (Dialect::Mysql, ColumnType::Number) => "DOUBLE",
            (Dialect::Mysql, ColumnType::Date) => "DATE",
            (Dialect::Mysql, ColumnType::DateTime) => "DATETIME(6)",
        }
    }
}

/// An open destination, in the middle of a delivery.
pub(super) enum Sink {
    Db(Box<Db>),
    Dir(Box<Dir>),
}

impl Sink {
    /// Opens `dest`, makes its table on the first delivery (or checks it still has `columns`)
    /// and reads subscription `uid`'s cursor, holding it until commit or abandon.
    pub async fn open(
        dest: &Destination,
        uid: &str,
        columns: &[(String, ColumnType)],
    ) -> Result<Sink, Error> {
        Ok(match dest {
            Destination::Database { url, table } => {
                Sink::Db(Box::new(Db::open(url, table, uid, columns).await?))
            }
            Destination::Directory { path, format } => {
                Sink::Dir(Box::new(Dir::open(Path::new(path), uid, *format, columns)?))
            }
        })
    }

    pub fn cursor(&self) -> Option<Cursor> {
        match self {
            Sink::Db(d) => d.cursor,
            Sink::Dir(d) => d.state.position,
        }
    }

    pub async fn truncate(&mut self) -> Result<(), Error> {
        match self {
            Sink::Db(d) => d.truncate().await,
            Sink::Dir(d) => {
                d.prefix("truncate", String::new());
                Ok(())
            }
        }
    }

    pub async fn delete(&mut self, keys: &[String]) -> Result<(), Error> {
        match self {
            Sink::Db(d) => d.delete(keys).await,
            Sink::Dir(d) => {
                for k in keys {
                    d.prefix("delete", k.clone());
                }
                Ok(())
            }
        }
    }

    /// Writes every row of `rows`; returns how many.
    pub async fn insert(&mut self, rows: Chunks) -> Result<u64, Error> {
        match self {
            Sink::Db(d) => d.insert(rows).await,
            Sink::Dir(d) => d.write(rows).await,
        }
    }

    /// Makes the delivery visible with its new cursor, in one step.
    pub async fn commit(self, to: Cursor, rows: u64) -> Result<(), Error> {
        match self {
            Sink::Db(d) => d.commit(to, rows).await,
            Sink::Dir(d) => d.commit(to).await,
        }
    }

    /// Leaves the destination as it was.
    pub async fn abandon(self) {
        match self {
            Sink::Db(d) => {
                let _ = d.tx.rollback().await;
            }
            Sink::Dir(d) => d.abandon(),
        }
    }
}

/// A connection's transaction, of either database.
enum Tx {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    My(sqlx::Transaction<'static, sqlx::MySql>),
}

impl Tx {
    async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(t) => t.rollback().await,
            Tx::My(t) => t.rollback().await,
        }
    }
}

pub(super) struct Db {
    url: String,
    dialect: Dialect,
    table: String,
    columns: Vec<String>,
    uid: String,
    tx: Tx,
    cursor: Option<Cursor>,
}

impl Db {
    async fn open(
        url: &str,
        table: &str,
        uid: &str,
        columns: &[(String, ColumnType)],
    ) -> Result<Db, Error> {
        let dialect = Dialect::of(url)?;
        check_table(table)?;
        if dialect == Dialect::Postgres
            && let Some((c, _)) = columns.iter().find(|(c, _)| c.len() > 63)
        {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("item '{c}' is longer than the 63 bytes PostgreSQL names a column with"),
            ));
        }
        let q = |n: &str| dialect.quote(n);
        let names: Vec<String> = columns.iter().map(|(c, _)| c.clone()).collect();
        let create = format!(
            "CREATE TABLE {} ({}){}",
            q(table),
            columns
                .iter()
                .enumerate()
                .map(|(i, (c, t))| format!("{} {}", q(c), dialect.sql_type(*t, i == 0)))
                .collect::<Vec<_>>()
                .join(", "),
            if dialect == Dialect::Mysql {
                " DEFAULT CHARSET=utf8mb4"
            } else {
                ""
            }
        );
        let index = format!(
            "CREATE INDEX {} ON {} ({})",
            q(&format!(
                "{}_key",
                table.chars().take(16).collect::<String>()
            )),
            q(table),
            q(super::KEY)
        );
        let cursors = match dialect {
            Dialect::Postgres => format!(
                "CREATE TABLE IF NOT EXISTS {CURSORS} (subscription text PRIMARY KEY, position text NOT NULL, delivered_at bigint NOT NULL, delivered_rows bigint NOT NULL)"
            ),
            Dialect::Mysql => format!(
                "CREATE TABLE IF NOT EXISTS {CURSORS} (subscription VARCHAR(64) PRIMARY KEY, position TEXT NOT NULL, delivered_at BIGINT NOT NULL, delivered_rows BIGINT NOT NULL)"
            ),
        };
        let err = |e: sqlx::Error| unavailable(url, e);
        // Tables first, outside the delivery's transaction (MySQL commits on any DDL).
        let mut tx = match dialect {
            Dialect::Postgres => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(std::time::Duration::from_secs(10))
                    .connect(url)
                    .await
                    .map_err(err)?;
                let found: Vec<String> = sqlx::query(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(&pool)
                .await
                .map_err(err)?
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
                made(
                    &pool,
                    &found,
                    &names,
                    table,
                    &[&create, &index, &cursors],
                    url,
                )
                .await?;
                Tx::Pg(pool.begin().await.map_err(err)?)
            }
            Dialect::Mysql => {
                let url_my = url.replacen("mariadb://", "mysql://", 1);
                let pool = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(std::time::Duration::from_secs(10))
                    .connect(&url_my)
                    .await
                    .map_err(err)?;
                let found: Vec<String> = sqlx::query(
                    "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(&pool)
                .await
                .map_err(err)?
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
                made(
                    &pool,
                    &found,
                    &names,
                    table,
                    &[&create, &index, &cursors],
                    url,
                )
                .await?;
                Tx::My(pool.begin().await.map_err(err)?)
            }
        };
        let position: Option<String> = match &mut tx {
            Tx::Pg(t) => {
                sqlx::query(sqlf!(
                    "INSERT INTO {CURSORS} (subscription, position, delivered_at, delivered_rows) VALUES ($1, '', 0, 0) ON CONFLICT DO NOTHING"
                ))
                .bind(uid)
                .execute(&mut **t)
                .await
                .map_err(err)?;
                sqlx::query(sqlf!(
                    "SELECT position FROM {CURSORS} WHERE subscription = $1 FOR UPDATE"
                ))
                .bind(uid)
                .fetch_optional(&mut **t)
                .await
                .map_err(err)?
                .map(|r| r.get(0))
            }
            Tx::My(t) => {
                sqlx::query(sqlf!(
                    "INSERT IGNORE INTO {CURSORS} (subscription, position, delivered_at, delivered_rows) VALUES (?, '', 0, 0)"
                ))
                .bind(uid)
                .execute(&mut **t)
                .await
                .map_err(err)?;
                sqlx::query(sqlf!(
                    "SELECT position FROM {CURSORS} WHERE subscription = ? FOR UPDATE"
                ))
                .bind(uid)
                .fetch_optional(&mut **t)
                .await
                .map_err(err)?
                .map(|r| r.get(0))
            }
        };
        let cursor = position
            .filter(|p| !p.is_empty())
            .and_then(|p| serde_json::from_str(&p).ok());
        Ok(Db {
            url: url.to_string(),
            dialect,
            table: q(table),
            columns: names.iter().map(|n| q(n)).collect(),
            uid: uid.to_string(),
            tx,
            cursor,
        })
    }

    async fn truncate(&mut self) -> Result<(), Error> {
        let err = |e: sqlx::Error| unavailable(&self.url, e);
        match &mut self.tx {
            // Transactional in PostgreSQL; MySQL's TRUNCATE would commit.
            Tx::Pg(t) => sqlx::query(sqlf!("TRUNCATE {}", self.table))
                .execute(&mut **t)
                .await
                .map(|_| ()),
            Tx::My(t) => sqlx::query(sqlf!("DELETE FROM {}", self.table))
                .execute(&mut **t)
                .await
                .map(|_| ()),
        }
        .map_err(err)
    }

    async fn delete(&mut self, keys: &[String]) -> Result<(), Error> {
        let key = self.dialect.quote(super::KEY);
        let err = |e: sqlx::Error| unavailable(&self.url, e);
        for chunk in keys.chunks(1_000) {
            match &mut self.tx {
                Tx::Pg(t) => sqlx::query(sqlf!("DELETE FROM {} WHERE {key} = ANY($1)", self.table))
                    .bind(chunk)
                    .execute(&mut **t)
                    .await
                    .map(|_| ()),
                Tx::My(t) => {
                    let marks = vec!["?"; chunk.len()].join(", ");
                    let sql_text = format!("DELETE FROM {} WHERE {key} IN ({marks})", self.table);
                    let mut q = sqlx::query(sql(sql_text.clone()));
                    for k in chunk {
                        q = q.bind(k);
                    }
                    q.execute(&mut **t).await.map(|_| ())
                }
            }
            .map_err(err)?;
        }
        Ok(())
    }

    async fn insert(&mut self, mut rows: Chunks) -> Result<u64, Error> {
        let url = self.url.clone();
        let err = move |e: sqlx::Error| unavailable(&url, e);
        let mut n = 0u64;
        let cols = self.columns.join(", ");
        match &mut self.tx {
            Tx::Pg(t) => {
                // COPY: the rows stream in as CSV, an empty field is NULL.
                let mut copy = t
                    .copy_in_raw(&format!(
                        "COPY {} ({cols}) FROM STDIN WITH (FORMAT csv)",
                        self.table
                    ))
                    .await
                    .map_err(&err)?;
                while let Some(chunk) = rows.next().await {
                    let chunk = match chunk {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = copy.abort("the delivery's read failed").await;
                            return Err(e);
                        }
                    };
                    n += chunk.len() as u64;
                    copy.send(csv_bytes(&chunk)).await.map_err(&err)?;
                }
                copy.finish().await.map_err(&err)?;
            }
            Tx::My(t) => {
                let width = self.columns.len();
                let per = (60_000 / width).clamp(1, 1_000);
                while let Some(chunk) = rows.next().await {
                    let chunk = chunk?;
                    n += chunk.len() as u64;
                    for part in chunk.chunks(per) {
                        let one = format!("({})", vec!["?"; width].join(", "));
                        let sql_text = format!(
                            "INSERT INTO {} ({cols}) VALUES {}",
                            self.table,
                            vec![one.as_str(); part.len()].join(", ")
                        );
                        let mut q = sqlx::query(sql(sql_text.clone()));
                        for row in part {
                            for v in row {
                                q = q.bind((!v.is_empty()).then_some(v.as_str()));
                            }
                        }
                        q.execute(&mut **t).await.map_err(&err)?;
                    }
                }
            }
        }
        Ok(n)
    }

    async fn commit(self, to: Cursor, rows: u64) -> Result<(), Error> {
        let err = |e: sqlx::Error| unavailable(&self.url, e);
        let position = serde_json::to_string(&to).unwrap_or_default();
        let now = yishu_meta::now_ms();
        match self.tx {
            Tx::Pg(mut t) => {
                sqlx::query(sqlf!("UPDATE {CURSORS} SET position = $2, delivered_at = $3, delivered_rows = delivered_rows + $4 WHERE subscription = $1"))
                    .bind(&self.uid)
                    .bind(&position)
                    .bind(now)
                    .bind(rows as i64)
                    .execute(&mut *t)
                    .await
                    .map_err(err)?;
                t.commit().await.map_err(err)
            }
            Tx::My(mut t) => {
                sqlx::query(sqlf!("UPDATE {CURSORS} SET position = ?, delivered_at = ?, delivered_rows = delivered_rows + ? WHERE subscription = ?"))
                    .bind(&position)
                    .bind(now)
                    .bind(rows as i64)
                    .bind(&self.uid)
                    .execute(&mut *t)
                    .await
                    .map_err(err)?;
                t.commit().await.map_err(err)
            }
        }
    }
}

/// Makes the destination table on the first delivery, or checks it still has the columns the
/// deliveries write (a consumer who changed it is told, nothing is written).
async fn made<'e, E>(
    db: E,
    found: &[String],
    names: &[String],
    table: &str,
    ddl: &[&str],
    url: &str,
) -> Result<(), Error>
where
    E: sqlx::Executor<'e> + Copy,
{
    let err = |e: sqlx::Error| unavailable(url, e);
    if found.is_empty() {
        sqlx::raw_sql(sql(ddl[0].to_string()))
            .execute(db)
            .await
            .map_err(err)?;
        sqlx::raw_sql(sql(ddl[1].to_string()))
            .execute(db)
            .await
            .map_err(err)?;
    } else if found != names {
        return Err(Error::new(
            ErrorCode::TargetChanged,
            format!(
                "table {table} has the columns [{}] but this subscription delivers [{}]: restore them, or deliver into a new table",
                found.join(", "),
                names.join(", ")
            ),
        ));
    }
    sqlx::raw_sql(sql(ddl[2].to_string()))
        .execute(db)
        .await
        .map_err(err)?;
    Ok(())
}

/// Rows as CSV lines (an empty field unquoted: NULL to COPY).
fn csv_bytes(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::with_capacity(rows.len() * 64));
    for r in rows {
        let _ = w.write_record(r);
    }
    w.into_inner().unwrap_or_default()
}

/// A drop directory's state file: the cursor, the deliveries so far, and the one being put
/// in place (a crash between its rename and the state's update is finished on the next open).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct DirState {
    position: Option<Cursor>,
    seq: u64,
    pending: Option<Pending>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    seq: u64,
    file: String,
    position: Cursor,
}

pub(super) struct Dir {
    /// Held while the delivery runs: one deliverer a directory and subscription at a time.
    _lock: std::fs::File,
    dir: PathBuf,
    uid: String,
    format: DropFormat,
    header: Vec<String>,
    pub(super) state: DirState,
    prefix: Vec<Vec<String>>,
    /// The part file written, and the name it gets.
    written: Option<(PathBuf, String)>,
}

fn io_err(what: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::TargetUnavailable,
        format!("cannot write {}: {e}", what.display()),
    )
}

impl Dir {
    fn open(
        dir: &Path,
        uid: &str,
        format: DropFormat,
        columns: &[(String, ColumnType)],
    ) -> Result<Dir, Error> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let lock_path = dir.join(format!(".yishu-{uid}.lock"));
        let lock = std::fs::File::create(&lock_path).map_err(|e| io_err(&lock_path, e))?;
        lock.lock().map_err(|e| io_err(&lock_path, e))?;
        let mut d = Dir {
            _lock: lock,
            dir: dir.to_path_buf(),
            uid: uid.to_string(),
            format,
            header: std::iter::once("_op".to_string())
                .chain(columns.iter().map(|(c, _)| c.clone()))
                .collect(),
            state: DirState::default(),
            prefix: Vec::new(),
            written: None,
        };
        let path = d.state_path();
        if let Ok(text) = std::fs::read_to_string(&path) {
            d.state = serde_json::from_str(&text).map_err(|e| {
                Error::new(
                    ErrorCode::TargetChanged,
                    format!("{} is not a delivery state file: {e}", path.display()),
                )
            })?;
        }
        if let Some(p) = d.state.pending.take() {
            // Renamed into place before the crash: delivered.
            if d.dir.join(&p.file).exists() {
                d.state.position = Some(p.position);
                d.state.seq = p.seq;
            }
            d.save()?;
        }
        Ok(d)
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join(format!(".yishu-{}.json", self.uid))
    }

    /// Writes the state file whole or not at all.
    fn save(&self) -> Result<(), Error> {
        let path = self.state_path();
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec(&self.state).unwrap_or_default();
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| io_err(&path, e))
    }

    fn prefix(&mut self, op: &str, key: String) {
        let mut row = vec![String::new(); self.header.len()];
        row[0] = op.to_string();
        row[1] = key;
        self.prefix.push(row);
    }

    fn file_name(&self) -> String {
        let ext = match self.format {
            DropFormat::Csv => "csv",
            DropFormat::Parquet => "parquet",
        };
        let short: String = self.uid.chars().take(8).collect();
        format!("{short}-{:06}.{ext}", self.state.seq + 1)
    }

    /// Writes the delivery's file (operations first, then the rows) under a temporary name.
    async fn write(&mut self, rows: Chunks) -> Result<u64, Error> {
        let name = self.file_name();
        let part = self.dir.join(format!(".{name}.part"));
        let prefix = std::mem::take(&mut self.prefix);
        let counted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let c2 = counted.clone();
        let inserts = rows.map(move |chunk| {
            chunk.map(|rows| {
                c2.fetch_add(rows.len() as u64, std::sync::atomic::Ordering::Relaxed);
                rows.into_iter()
                    .map(|r| std::iter::once("insert".to_string()).chain(r).collect())
                    .collect::<Vec<Vec<String>>>()
            })
        });
        let all = futures::stream::iter((!prefix.is_empty()).then_some(Ok(prefix))).chain(inserts);
        match self.format {
            DropFormat::Parquet => {
                crate::files::write(crate::files::FileFormat::Parquet, &self.header, all, &part)
                    .await?;
            }
            DropFormat::Csv => write_csv(&part, &self.header, all.boxed()).await?,
        }
        self.written = Some((part, name));
        Ok(counted.load(std::sync::atomic::Ordering::Relaxed))
    }

    async fn commit(mut self, to: Cursor) -> Result<(), Error> {
        if self.written.is_none() && !self.prefix.is_empty() {
            self.write(futures::stream::empty().boxed()).await?;
        }
        if let Some((part, name)) = self.written.take() {
            self.state.pending = Some(Pending {
                seq: self.state.seq + 1,
                file: name.clone(),
                position: to,
            });
            self.save()?;
            let fin = self.dir.join(&name);
            std::fs::rename(&part, &fin).map_err(|e| io_err(&fin, e))?;
            self.state.pending = None;
            self.state.seq += 1;
        }
        self.state.position = Some(to);
        self.save()
    }

    fn abandon(self) {
        if let Some((part, _)) = self.written {
            let _ = std::fs::remove_file(part);
        }
    }
}

/// A CSV file (UTF-8 with BOM, as spreadsheets open it) of a heading and the rows, synced.
async fn write_csv(
    path: &Path,
    header: &[String],
    mut rows: BoxStream<'_, Result<Vec<Vec<String>>, Error>>,
) -> Result<(), Error> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| io_err(path, e))?);
    f.write_all(&[0xEF, 0xBB, 0xBF])
        .map_err(|e| io_err(path, e))?;
    f.write_all(&csv_bytes(std::slice::from_ref(&header.to_vec())))
        .map_err(|e| io_err(path, e))?;
    while let Some(chunk) = rows.next().await {
        f.write_all(&csv_bytes(&chunk?))
            .map_err(|e| io_err(path, e))?;
    }
    let f = f.into_inner().map_err(|e| io_err(path, e.into_error()))?;
    f.sync_all().map_err(|e| io_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_checked_in_words() {
        let bad_dir = Destination::Directory {
            path: "../etc".into(),
            format: DropFormat::Csv,
        };
        assert!(bad_dir.check().unwrap_err().message.contains(".."));
        let abs = Destination::Directory {
            path: "/tmp/x".into(),
            format: DropFormat::Csv,
        };
        assert!(abs.check().is_err());
        let bad_table = Destination::Database {
            url: "postgres://u@h/db".into(),
            table: "t; DROP TABLE x".into(),
        };
        assert!(bad_table.check().is_err());
        let bad_url = Destination::Database {
            url: "http://h/db".into(),
            table: "t".into(),
        };
        assert!(bad_url.check().is_err());
        assert!(check_table("人口订阅_1").is_ok());
        assert!(check_table(CURSORS).is_err());
    }

    #[test]
    fn pages_never_show_a_password() {
        let d = Destination::Database {
            url: "postgres://rs:s3cret@10.0.0.5:5432/rs".into(),
            table: "population".into(),
        };
        assert!(!d.label().contains("s3cret"), "{}", d.label());
        assert!(d.label().contains("10.0.0.5"));
    }
}
