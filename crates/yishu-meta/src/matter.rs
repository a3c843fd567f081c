//! The duty list (权责清单): a department's business matters (权责事项, e.g. 户口迁移登记) and the
//! resources — and which of their items — each matter produces, so a matter's page shows the data
//! it yields and a resource shows the matters behind it (R6).

use crate::store::{Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use yishu_types::{Error, ErrorCode, OrgId};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Matter {
    pub id: i64,
    /// The matter's code in the duty list.
    pub code: String,
    pub name: String,
    pub org_id: OrgId,
    /// 行政许可, 行政确认, 公共服务 …
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Produces {
    pub resource_id: i64,
    pub code: String,
    pub name: String,
    /// Items of the resource the matter produces (all when empty).
    pub items: Vec<String>,
}

fn matter_from_row(r: &sqlx::any::AnyRow) -> Result<Matter, sqlx::Error> {
    Ok(Matter {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        org_id: OrgId(r.try_get("org_id")?),
        kind: r.try_get("kind")?,
    })
}

impl Store {
    pub async fn create_matter(
        &self,
        code: &str,
        name: &str,
        org: OrgId,
        kind: &str,
    ) -> Result<Matter, Error> {
        crate::org::check_name("code", code, 64)?;
        crate::org::check_name("name", name, 200)?;
        self.get_org(org).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO matters (code, name, org_id, kind, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(code.trim())
        .bind(name.trim())
        .bind(org.0)
        .bind(kind.trim())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                Error::field("code", format!("a matter with code '{code}' exists"))
            }
            e => db_err("create a matter")(e),
        })?;
        self.get_matter(id).await
    }

    /// Every matter of the duty list, by department and code.
    pub async fn list_matters(&self) -> Result<Vec<Matter>, Error> {
        sqlx::query("SELECT id, code, name, org_id, kind FROM matters ORDER BY org_id, code")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list matters"))?
            .iter()
            .map(|r| matter_from_row(r).map_err(db_err("read a matter")))
            .collect()
    }

    pub async fn get_matter(&self, id: i64) -> Result<Matter, Error> {
        let q =
            sqlx::query("SELECT id, code, name, org_id, kind FROM matters WHERE id = $1").bind(id);
        self.one(q, "read a matter", matter_from_row, "read a matter")
            .await?
            .ok_or_else(|| Error::new(ErrorCode::InvalidInput, format!("no matter with id {id}")))
    }

    /// Records that `matter` produces `items` of `resource` (all items when empty); the items must
    /// be the resource's.
    pub async fn link_matter(
        &self,
        matter: i64,
        resource: i64,
        items: &[String],
    ) -> Result<(), Error> {
        self.get_matter(matter).await?;
        let r = self.get_resource(resource).await?;
        for i in items {
            if !r.meta.items.iter().any(|it| it.name.trim() == i.trim()) {
                return Err(Error::field(
                    "items",
                    format!("'{i}' is not an item of {}", r.code),
                ));
            }
        }
        sqlx::query(
            "INSERT INTO matter_resources (matter_id, resource_id, items) VALUES ($1, $2, $3) \
             ON CONFLICT (matter_id, resource_id) DO UPDATE SET items = $3",
        )
        .bind(matter)
        .bind(resource)
        .bind(serde_json::to_string(items).unwrap_or_else(|_| "[]".into()))
        .execute(&self.pool)
        .await
        .map_err(db_err("link a matter"))?;
        Ok(())
    }

    /// What a matter produces: resources with the items.
    pub async fn matter_produces(&self, matter: i64) -> Result<Vec<Produces>, Error> {
        let q = sqlx::query(
            "SELECT r.id, r.code, r.name, m.items FROM matter_resources m JOIN resources r ON r.id = m.resource_id \
             WHERE m.matter_id = $1 ORDER BY r.code",
        )
        .bind(matter);
        self.all(
            q,
            "list what a matter produces",
            |r| {
                let items: String = r.try_get("items")?;
                Ok(Produces {
                    resource_id: r.try_get("id")?,
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    items: serde_json::from_str(&items).unwrap_or_default(),
                })
            },
            "list what a matter produces",
        )
        .await
    }

    /// The matters that produce a resource.
    pub async fn resource_matters(&self, resource: i64) -> Result<Vec<Matter>, Error> {
        let rows = sqlx::query(
            "SELECT t.id FROM matters t JOIN matter_resources m ON m.matter_id = t.id WHERE m.resource_id = $1 ORDER BY t.code",
        )
        .bind(resource)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list matters"))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(
                self.get_matter(r.try_get("id").map_err(db_err("list matters"))?)
                    .await?,
            );
        }
        Ok(out)
    }
}
