//! Society's part of open data (R34): demand requests (anyone asks for data not yet open; the
//! department answers in public within a deadline), ratings and comments on open datasets
//! (shown once moderated), and the showcase of applications built on open data.

use crate::store::{Store, db_err, is_unique_violation, now_ms};
use serde::Serialize;
use sqlx::Row;
use yishu_types::{Error, ErrorCode, OrgId, UserId};

/// Days a department has to answer a demand request.
pub const ANSWER_DAYS: i64 = 15;
const DAY: i64 = 86_400_000;

/// A demand request and its answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DemandRequest {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub org_id: Option<OrgId>,
    /// open or answered.
    pub status: String,
    /// granted, partly or refused once answered.
    pub outcome: String,
    pub answer: String,
    pub created_at: i64,
    pub due_at: i64,
    pub answered_at: Option<i64>,
}

impl DemandRequest {
    /// Whether the answer is late (or was given late).
    pub fn overdue(&self, now: i64) -> bool {
        self.answered_at.unwrap_or(now) > self.due_at
    }
}

/// A rating with its comment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rating {
    pub id: i64,
    pub resource_id: i64,
    pub user_id: UserId,
    /// 1 to 5.
    pub stars: i64,
    pub comment: String,
    /// pending, shown or hidden.
    pub status: String,
    pub created_at: i64,
}

/// An application built on open data.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Showcase {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub url: String,
    pub datasets: Vec<String>,
    pub user_id: UserId,
    /// pending, shown or hidden.
    pub status: String,
    pub created_at: i64,
}

fn text(field: &str, s: &str, min: usize, max: usize) -> Result<String, Error> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min || n > max {
        return Err(Error::field(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    if yishu_types::text::has_control(&t.replace(['\n', '\r', '\t'], " ")) {
        return Err(Error::field(field, "must not contain control characters"));
    }
    Ok(t.to_string())
}

const REQUEST_COLUMNS: &str =
    "id, title, description, org_id, status, outcome, answer, created_at, due_at, answered_at";
const RATING_COLUMNS: &str = "id, resource_id, user_id, stars, comment, status, created_at";
const SHOWCASE_COLUMNS: &str = "id, title, description, url, datasets, user_id, status, created_at";

fn request_row(r: &sqlx::any::AnyRow) -> Result<DemandRequest, sqlx::Error> {
    Ok(DemandRequest {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        org_id: r.try_get::<Option<i64>, _>("org_id")?.map(OrgId),
        status: r.try_get("status")?,
        outcome: r.try_get("outcome")?,
        answer: r.try_get("answer")?,
        created_at: r.try_get("created_at")?,
        due_at: r.try_get("due_at")?,
        answered_at: r.try_get("answered_at")?,
    })
}

fn rating_row(r: &sqlx::any::AnyRow) -> Result<Rating, sqlx::Error> {
    Ok(Rating {
        id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        user_id: UserId(r.try_get("user_id")?),
        stars: r.try_get("stars")?,
        comment: r.try_get("comment")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
    })
}

fn showcase_row(r: &sqlx::any::AnyRow) -> Result<Showcase, sqlx::Error> {
    let datasets: String = r.try_get("datasets")?;
    Ok(Showcase {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        url: r.try_get("url")?,
        datasets: serde_json::from_str(&datasets).unwrap_or_default(),
        user_id: UserId(r.try_get("user_id")?),
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The moderation states a rating or showcase entry moves between.
fn check_status(status: &str) -> Result<(), Error> {
    if matches!(status, "shown" | "hidden") {
        Ok(())
    } else {
        Err(Error::field("status", "must be shown or hidden"))
    }
}

impl Store {
    /// Records a demand request: due for an answer in [`ANSWER_DAYS`] days.
    pub async fn create_request(
        &self,
        title: &str,
        description: &str,
        org: Option<OrgId>,
        user: Option<UserId>,
        source_ip: &str,
    ) -> Result<DemandRequest, Error> {
        let title = text("title", title, 2, 100)?;
        let description = text("description", description, 4, 2000)?;
        if let Some(o) = org {
            self.get_org(o).await?;
        }
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO open_requests (title, description, org_id, user_id, source_ip, status, outcome, answer, created_at, due_at) \
             VALUES ($1, $2, $3, $4, $5, 'open', '', '', $6, $7) RETURNING id",
        )
        .bind(&title)
        .bind(&description)
        .bind(org.map(|o| o.0))
        .bind(user.map(|u| u.0))
        .bind(source_ip)
        .bind(now)
        .bind(now + ANSWER_DAYS * DAY)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("record a demand request"))?;
        self.request(id).await
    }

    pub async fn request(&self, id: i64) -> Result<DemandRequest, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM open_requests WHERE id = $1"
        )))
        .bind(id);
        self.one(
            q,
            "read a demand request",
            request_row,
            "read a demand request",
        )
        .await?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::ApplicationNotFound,
                format!("no demand request {id}"),
            )
        })
    }

    /// Demand requests, newest first (those to one department when `org` is given).
    pub async fn requests(&self, org: Option<OrgId>) -> Result<Vec<DemandRequest>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM open_requests WHERE ($1 IS NULL OR org_id = $1) ORDER BY id DESC"
        )))
        .bind(org.map(|o| o.0));
        self.all(
            q,
            "list demand requests",
            request_row,
            "read a demand request",
        )
        .await
    }

    /// Answers an open request in public: `outcome` granted, partly or refused.
    pub async fn answer_request(
        &self,
        id: i64,
        outcome: &str,
        answer: &str,
        by: UserId,
    ) -> Result<DemandRequest, Error> {
        if !matches!(outcome, "granted" | "partly" | "refused") {
            return Err(Error::field(
                "outcome",
                "must be granted, partly or refused",
            ));
        }
        let answer = text("answer", answer, 2, 2000)?;
        let done = sqlx::query(
            "UPDATE open_requests SET status = 'answered', outcome = $2, answer = $3, answered_by = $4, answered_at = $5 \
             WHERE id = $1 AND status = 'open'",
        )
        .bind(id)
        .bind(outcome)
        .bind(&answer)
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("answer a demand request"))?;
        if done.rows_affected() == 0 {
            self.request(id).await?;
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!("demand request {id} was already answered"),
            ));
        }
        self.request(id).await
    }

    /// Records (or replaces) `user`'s rating of a dataset; it waits for moderation.
    pub async fn rate(
        &self,
        resource: i64,
        user: UserId,
        stars: i64,
        comment: &str,
    ) -> Result<Rating, Error> {
        if !(1..=5).contains(&stars) {
            return Err(Error::field("stars", "must be 1 to 5"));
        }
        let comment = text("comment", comment, 0, 1000)?;
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO open_ratings (resource_id, user_id, stars, comment, status, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5)",
        )
        .bind(resource)
        .bind(user.0)
        .bind(stars)
        .bind(&comment)
        .bind(now)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                sqlx::query(
                    "UPDATE open_ratings SET stars = $3, comment = $4, status = 'pending', created_at = $5, \
                     moderated_by = NULL, moderated_at = NULL WHERE resource_id = $1 AND user_id = $2",
                )
                .bind(resource)
                .bind(user.0)
                .bind(stars)
                .bind(&comment)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db_err("rate a dataset"))?;
            }
            Err(e) => return Err(db_err("rate a dataset")(e)),
        }
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RATING_COLUMNS} FROM open_ratings WHERE resource_id = $1 AND user_id = $2"
        )))
        .bind(resource)
        .bind(user.0);
        self.one(q, "read a rating", rating_row, "read a rating")
            .await?
            .ok_or_else(|| Error::new(ErrorCode::Internal, "the rating just made is gone"))
    }

    /// Ratings of one dataset (every dataset when `None`), by status (every one when `None`).
    pub async fn ratings(
        &self,
        resource: Option<i64>,
        status: Option<&str>,
    ) -> Result<Vec<Rating>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RATING_COLUMNS} FROM open_ratings WHERE ($1 IS NULL OR resource_id = $1) \
             AND ($2 IS NULL OR status = $2) ORDER BY id DESC"
        )))
        .bind(resource)
        .bind(status);
        self.all(q, "list ratings", rating_row, "read a rating")
            .await
    }

    pub async fn rating(&self, id: i64) -> Result<Rating, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RATING_COLUMNS} FROM open_ratings WHERE id = $1"
        )))
        .bind(id);
        self.one(q, "read a rating", rating_row, "read a rating")
            .await?
            .ok_or_else(|| Error::new(ErrorCode::ApplicationNotFound, format!("no rating {id}")))
    }

    /// Shows or hides a rating's comment.
    pub async fn moderate_rating(
        &self,
        id: i64,
        status: &str,
        by: UserId,
    ) -> Result<Rating, Error> {
        check_status(status)?;
        sqlx::query(
            "UPDATE open_ratings SET status = $2, moderated_by = $3, moderated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("moderate a rating"))?;
        self.rating(id).await
    }

    /// Submits an application to the showcase; it waits for review.
    pub async fn submit_showcase(
        &self,
        title: &str,
        description: &str,
        url: &str,
        datasets: &[String],
        user: UserId,
    ) -> Result<Showcase, Error> {
        let title = text("title", title, 2, 100)?;
        let description = text("description", description, 4, 2000)?;
        let url = url.trim();
        let parsed = url::Url::parse(url)
            .map_err(|_| Error::field("url", format!("'{url}' is not a web address")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::field("url", "must be an http or https address"));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO open_showcase (title, description, url, datasets, user_id, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id",
        )
        .bind(&title)
        .bind(&description)
        .bind(parsed.as_str())
        .bind(serde_json::to_string(datasets).unwrap_or_else(|_| "[]".into()))
        .bind(user.0)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("submit to the showcase"))?;
        self.showcase_entry(id).await
    }

    pub async fn showcase_entry(&self, id: i64) -> Result<Showcase, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SHOWCASE_COLUMNS} FROM open_showcase WHERE id = $1"
        )))
        .bind(id);
        self.one(
            q,
            "read a showcase entry",
            showcase_row,
            "read a showcase entry",
        )
        .await?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::ApplicationNotFound,
                format!("no showcase entry {id}"),
            )
        })
    }

    /// Showcase entries by status (every one when `None`), newest first.
    pub async fn showcase(&self, status: Option<&str>) -> Result<Vec<Showcase>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SHOWCASE_COLUMNS} FROM open_showcase WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC"
        )))
        .bind(status);
        self.all(
            q,
            "list the showcase",
            showcase_row,
            "read a showcase entry",
        )
        .await
    }

    /// Shows or hides a showcase entry.
    pub async fn moderate_showcase(
        &self,
        id: i64,
        status: &str,
        by: UserId,
    ) -> Result<Showcase, Error> {
        check_status(status)?;
        sqlx::query(
            "UPDATE open_showcase SET status = $2, moderated_by = $3, moderated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("moderate a showcase entry"))?;
        self.showcase_entry(id).await
    }
}
