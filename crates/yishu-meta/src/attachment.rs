//! Attachments (附件, R10): files that are not tables — PDF, DOCX, images — kept with a resource.
//! The bytes live in the lake as an object; the store keeps what they are, who added them, and
//! the text extracted from them so the catalog search finds a resource by its documents.

use crate::store::{Store, db_err, now_ms};
use serde::Serialize;
use sqlx::Row;
use yishu_types::{Error, ErrorCode};

/// Text of one resource's attachments given to the search index, at most (characters).
pub const INDEXED_TEXT: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: i64,
    pub resource_id: i64,
    /// The file name as uploaded.
    pub name: String,
    /// `application/pdf`, `image/png`, …
    pub media_type: String,
    pub size: i64,
    /// `blake3:<hex>` of the bytes: the same file twice is kept once.
    pub checksum: String,
    #[serde(skip)]
    pub object_key: String,
    pub description: String,
    /// Pages of a PDF.
    pub pages: Option<i64>,
    /// Characters of text extracted (0 for images and scans).
    pub text_chars: i64,
    pub created_by: String,
    pub created_at: i64,
}

/// What to record for a new attachment (its object already stored).
#[derive(Debug, Clone, Default)]
pub struct NewAttachment {
    pub resource_id: i64,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub checksum: String,
    pub object_key: String,
    pub description: String,
    pub pages: Option<i64>,
    pub text: String,
    pub created_by: String,
}

const COLUMNS: &str = "id, resource_id, name, media_type, size, checksum, object_key, description, pages, text, created_by, created_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Attachment, sqlx::Error> {
    let text: String = r.try_get("text")?;
    Ok(Attachment {
        id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        name: r.try_get("name")?,
        media_type: r.try_get("media_type")?,
        size: r.try_get("size")?,
        checksum: r.try_get("checksum")?,
        object_key: r.try_get("object_key")?,
        description: r.try_get("description")?,
        pages: r.try_get("pages")?,
        text_chars: text.chars().count() as i64,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Records an attachment; the same bytes already attached to the resource give the earlier
    /// record and `false`.
    pub async fn add_attachment(&self, a: &NewAttachment) -> Result<(Attachment, bool), Error> {
        crate::org::check_name("name", &a.name, 255)?;
        if a.description.chars().count() > 2000 {
            return Err(Error::field("description", "at most 2000 characters"));
        }
        if let Some(same) = self
            .attachment_by_checksum(a.resource_id, &a.checksum)
            .await?
        {
            return Ok((same, false));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO attachments (resource_id, name, media_type, size, checksum, object_key, description, pages, text, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(a.resource_id)
        .bind(a.name.trim())
        .bind(&a.media_type)
        .bind(a.size)
        .bind(&a.checksum)
        .bind(&a.object_key)
        .bind(a.description.trim())
        .bind(a.pages)
        .bind(&a.text)
        .bind(&a.created_by)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("record an attachment"))?;
        Ok((self.get_attachment(id).await?, true))
    }

    async fn attachment_by_checksum(
        &self,
        resource_id: i64,
        checksum: &str,
    ) -> Result<Option<Attachment>, Error> {
        let sql =
            format!("SELECT {COLUMNS} FROM attachments WHERE resource_id = $1 AND checksum = $2");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource_id)
            .bind(checksum);
        self.one(q, "read an attachment", from_row, "read an attachment")
            .await
    }

    pub async fn get_attachment(&self, id: i64) -> Result<Attachment, Error> {
        let sql = format!("SELECT {COLUMNS} FROM attachments WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.one(q, "read an attachment", from_row, "read an attachment")
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!("no attachment with id {id}"),
                )
            })
    }

    /// A resource's attachments, oldest first.
    pub async fn list_attachments(&self, resource_id: i64) -> Result<Vec<Attachment>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM attachments WHERE resource_id = $1 ORDER BY id");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(resource_id);
        self.all(q, "list attachments", from_row, "read an attachment")
            .await
    }

    /// Ids of resources that have attachments (for an index rebuild).
    pub async fn resources_with_attachments(&self) -> Result<Vec<i64>, Error> {
        sqlx::query_scalar("SELECT DISTINCT resource_id FROM attachments ORDER BY resource_id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list attachments"))
    }

    /// The names, descriptions and extracted text of a resource's attachments, for the search
    /// index (at most [`INDEXED_TEXT`] characters).
    pub async fn attachment_text(&self, resource_id: i64) -> Result<String, Error> {
        let rows = sqlx::query(
            "SELECT name, description, text FROM attachments WHERE resource_id = $1 ORDER BY id",
        )
        .bind(resource_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("read attachment text"))?;
        let mut out = String::new();
        for r in rows {
            for col in ["name", "description", "text"] {
                let t: String = r.try_get(col).map_err(db_err("read attachment text"))?;
                out.push_str(&t);
                out.push('\n');
            }
        }
        Ok(match out.char_indices().nth(INDEXED_TEXT) {
            Some((cut, _)) => out[..cut].to_string(),
            None => out,
        })
    }
}
