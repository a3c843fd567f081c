//! The catalog (政务信息资源目录): resources described by the GB/T 21063.3 core metadata, their
//! information items (信息项), the lifecycle draft → submitted → approved/rejected → published →
//! updated → retired, and a version snapshot for every published state so changes can be diffed.
//!
//! Resource codes follow the national cataloguing guide: 前段码 (类 1 digit + 项 2 + 目 3 + 细目 3)
//! "/" 顺序码 (6 digits). The sequence per 前段码 only grows, so a code is never reused.

use crate::store::{Page, Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;
use yishu_types::{Error, ErrorCode, OrgId, Role, UserId};

/// A closed set of values stored as snake_case text, with Chinese labels for pages.
macro_rules! catalog_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $s:literal / $zh:literal / $en:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),* }
            }
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),* }
            }
            pub fn label_en(self) -> &'static str {
                match self { $($name::$variant => $en),* }
            }
            /// The label in English when `english`, else in Chinese.
            pub fn label(self, english: bool) -> &'static str {
                if english { self.label_en() } else { self.label_zh() }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)* _ => None }
            }
        }
    };
}

catalog_enum!(
    /// 信息资源分类: the 类 of the code (1 基础, 2 主题, 3 部门).
    ClassKind { Base = "base" / "基础信息资源" / "Base", Theme = "theme" / "主题信息资源" / "Thematic", Department = "department" / "部门信息资源" / "Departmental" }
);
catalog_enum!(
    /// 信息资源格式.
    ResourceFormat { File = "file" / "电子文件" / "Electronic file", Database = "database" / "数据库" / "Database", Graphic = "graphic" / "图形图像" / "Graphics", Stream = "stream" / "流媒体" / "Streaming media", Custom = "custom" / "自描述格式" / "Self-describing" }
);
catalog_enum!(
    /// 共享属性.
    ShareType { Unconditional = "unconditional" / "无条件共享" / "Shared unconditionally", Conditional = "conditional" / "有条件共享" / "Shared on conditions", Never = "never" / "不予共享" / "Not shared" }
);
catalog_enum!(
    /// 开放属性.
    OpenType { Unconditional = "unconditional" / "无条件开放" / "Open unconditionally", Conditional = "conditional" / "有条件开放" / "Open on conditions", Never = "never" / "不予开放" / "Not open" }
);
catalog_enum!(
    /// 更新周期.
    UpdateCycle { Realtime = "realtime" / "实时" / "Real time", Daily = "daily" / "每日" / "Daily", Weekly = "weekly" / "每周" / "Weekly", Monthly = "monthly" / "每月" / "Monthly", Quarterly = "quarterly" / "每季度" / "Quarterly", HalfYearly = "half_yearly" / "每半年" / "Half-yearly", Yearly = "yearly" / "每年" / "Yearly", Irregular = "irregular" / "不定期" / "Irregular" }
);
catalog_enum!(
    /// Where a resource is in its lifecycle.
    ResourceStatus { Draft = "draft" / "草稿" / "Draft", Submitted = "submitted" / "待审核" / "Submitted", Approved = "approved" / "审核通过" / "Approved", Rejected = "rejected" / "已驳回" / "Rejected", Published = "published" / "已发布" / "Published", Retired = "retired" / "已下线" / "Retired" }
);

impl UpdateCycle {
    /// How long data may age before it is stale: the cycle plus a day's grace (an hour for
    /// real-time feeds); irregular resources are never stale.
    pub fn max_age_ms(self) -> Option<i64> {
        const DAY: i64 = 86_400_000;
        Some(match self {
            UpdateCycle::Realtime => 3_600_000,
            UpdateCycle::Daily => 2 * DAY,
            UpdateCycle::Weekly => 8 * DAY,
            UpdateCycle::Monthly => 32 * DAY,
            UpdateCycle::Quarterly => 93 * DAY,
            UpdateCycle::HalfYearly => 184 * DAY,
            UpdateCycle::Yearly => 367 * DAY,
            UpdateCycle::Irregular => return None,
        })
    }
}

impl ClassKind {
    /// The 类 digit of the code.
    pub fn digit(self) -> char {
        match self {
            ClassKind::Base => '1',
            ClassKind::Theme => '2',
            ClassKind::Department => '3',
        }
    }
}

/// 信息项数据类型 of the cataloguing guide.
pub const ITEM_TYPES: &[(&str, &str)] = &[
    ("C", "字符型"),
    ("N", "数值型"),
    ("Y", "货币型"),
    ("D", "日期型"),
    ("T", "日期时间型"),
    ("L", "逻辑型"),
    ("M", "备注型"),
    ("G", "通用型"),
    ("B", "二进制"),
    ("I", "整型"),
    ("F", "浮点型"),
];

/// One information item (信息项) of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub name: String,
    /// One of C N Y D T L M G B I F.
    pub item_type: String,
    pub length: Option<i64>,
    /// Identifier of the data element (数据元) the item follows, if any.
    pub data_element: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// Extended metadata (扩展元数据).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Extended {
    pub contact: String,
    /// 涉密等级 / sensitivity level, free text from the bureau's grading (e.g. 一级…四级).
    pub sensitivity: String,
    pub keywords: Vec<String>,
    pub spatial_coverage: String,
    pub time_coverage: String,
}

/// The metadata a provider writes; the platform adds code, status and times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceDraft {
    pub class_kind: ClassKind,
    /// 项 (2) + 目 (3) + 细目 (3) digits of the classification, e.g. `01001001`.
    pub class_path: String,
    pub name: String,
    pub provider_org_id: OrgId,
    pub summary: String,
    pub format: ResourceFormat,
    pub share_type: ShareType,
    /// Condition or legal basis; required unless sharing is unconditional.
    #[serde(default)]
    pub share_condition: String,
    pub open_type: OpenType,
    #[serde(default)]
    pub open_condition: String,
    pub update_cycle: UpdateCycle,
    #[serde(default)]
    pub related_codes: Vec<String>,
    #[serde(default)]
    pub extended: Extended,
    pub items: Vec<Item>,
}

/// A catalogued resource.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Resource {
    pub id: i64,
    pub code: String,
    #[serde(flatten)]
    pub meta: ResourceDraft,
    pub status: ResourceStatus,
    pub review_note: String,
    pub published_at: Option<i64>,
    pub created_by: UserId,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Resource {
    /// The item names, trimmed: the columns its data has.
    pub fn item_names(&self) -> Vec<String> {
        self.meta
            .items
            .iter()
            .map(|i| i.name.trim().to_string())
            .collect()
    }

    /// The name of the resource's Delta tables (ods, std, quality): `r_` + its code with `/` as `_`.
    pub fn table(&self) -> String {
        format!("r_{}", self.code.replace('/', "_"))
    }
}

/// One difference between two versions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Change {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// Checks a resource code's shape: 9-character 前段码, "/", 6-digit 顺序码.
pub fn check_code(code: &str) -> Result<(), Error> {
    let ok = code.len() == 16
        && code.as_bytes()[9] == b'/'
        && code[..9].bytes().all(|c| c.is_ascii_digit())
        && matches!(code.as_bytes()[0], b'1'..=b'3')
        && code[10..].bytes().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "related_codes",
            format!("'{code}' is not a resource code (类项目细目/顺序码, e.g. 301001001/000001)"),
        ))
    }
}

/// The rules every draft must meet (also used to check an uploaded cataloguing sheet).
pub fn check_draft(d: &ResourceDraft) -> Result<(), Error> {
    crate::org::check_name("name", &d.name, 200)?;
    crate::org::check_name("summary", &d.summary, 4000)?;
    if d.class_path.len() != 8 || !d.class_path.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Error::field(
            "class_path",
            "must be 8 digits: 项 (2), 目 (3), 细目 (3)",
        ));
    }
    if d.share_type != ShareType::Unconditional && d.share_condition.trim().is_empty() {
        return Err(Error::field(
            "share_condition",
            "conditional or no sharing needs the condition or its legal basis",
        ));
    }
    if d.open_type == OpenType::Conditional && d.open_condition.trim().is_empty() {
        return Err(Error::field(
            "open_condition",
            "conditional opening needs the condition",
        ));
    }
    for c in &d.related_codes {
        check_code(c)?;
    }
    if d.items.is_empty() {
        return Err(Error::field(
            "items",
            "a resource needs at least one information item",
        ));
    }
    if d.items.len() > 5000 {
        return Err(Error::field("items", "at most 5000 items"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, it) in d.items.iter().enumerate() {
        let at = |f: &str| format!("items[{i}].{f}");
        crate::org::check_name(&at("name"), &it.name, 100)?;
        if !seen.insert(it.name.trim()) {
            return Err(Error::field(
                &at("name"),
                format!("'{}' appears twice", it.name.trim()),
            ));
        }
        if !ITEM_TYPES.iter().any(|(t, _)| *t == it.item_type) {
            return Err(Error::field(
                &at("item_type"),
                format!("'{}' is not one of C N Y D T L M G B I F", it.item_type),
            ));
        }
        if it.length.is_some_and(|l| !(1..=1_000_000).contains(&l)) {
            return Err(Error::field(&at("length"), "must be 1–1000000"));
        }
    }
    Ok(())
}

const COLUMNS: &str = "id, code, class_kind, class_path, name, provider_org_id, summary, format, share_type, share_condition, open_type, open_condition, update_cycle, related_codes, extended, status, review_note, published_at, created_by, version, created_at, updated_at";

fn bad_value(col: &str, v: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("column {col} holds unknown value '{v}'").into())
}

fn resource_from_row(r: &AnyRow, items: Vec<Item>) -> Result<Resource, sqlx::Error> {
    let text = |c: &str| r.try_get::<String, _>(c);
    macro_rules! parse_enum {
        ($t:ty, $c:literal) => {{
            let v = text($c)?;
            <$t>::parse(&v).ok_or_else(|| bad_value($c, &v))?
        }};
    }
    Ok(Resource {
        id: r.try_get("id")?,
        code: text("code")?,
        meta: ResourceDraft {
            class_kind: parse_enum!(ClassKind, "class_kind"),
            class_path: text("class_path")?,
            name: text("name")?,
            provider_org_id: OrgId(r.try_get("provider_org_id")?),
            summary: text("summary")?,
            format: parse_enum!(ResourceFormat, "format"),
            share_type: parse_enum!(ShareType, "share_type"),
            share_condition: text("share_condition")?,
            open_type: parse_enum!(OpenType, "open_type"),
            open_condition: text("open_condition")?,
            update_cycle: parse_enum!(UpdateCycle, "update_cycle"),
            related_codes: serde_json::from_str(&text("related_codes")?).unwrap_or_default(),
            extended: serde_json::from_str(&text("extended")?).unwrap_or_default(),
            items,
        },
        status: parse_enum!(ResourceStatus, "status"),
        review_note: text("review_note")?,
        published_at: r.try_get("published_at")?,
        created_by: UserId(r.try_get("created_by")?),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Who acts on a resource, for the lifecycle rules.
pub struct Actor<'a> {
    pub user: UserId,
    pub org: OrgId,
    pub roles: &'a [Role],
}

impl Actor<'_> {
    fn has(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
}

/// Whether an edit of a published entry touches what consumers rely on: its items (names,
/// types, lengths, data elements) or its share and open attributes.
pub fn needs_review(cur: &ResourceDraft, d: &ResourceDraft) -> bool {
    let items = |x: &ResourceDraft| -> Vec<(String, String, Option<i64>, Option<String>)> {
        x.items
            .iter()
            .map(|i| {
                (
                    i.name.trim().to_string(),
                    i.item_type.clone(),
                    i.length,
                    i.data_element.clone(),
                )
            })
            .collect()
    };
    items(cur) != items(d)
        || cur.share_type != d.share_type
        || cur.share_condition.trim() != d.share_condition.trim()
        || cur.open_type != d.open_type
        || cur.open_condition.trim() != d.open_condition.trim()
}

pub(crate) fn forbidden(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::Forbidden, msg)
}

fn wrong_state(r: &Resource, want: &str) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!(
            "resource {} is {} ({}); this needs it to be {want}",
            r.code,
            r.status.as_str(),
            r.status.label_zh()
        ),
    )
}

impl Store {
    /// Catalogues a new resource as a draft with a freshly allocated code.
    pub async fn create_resource(
        &self,
        d: &ResourceDraft,
        by: &Actor<'_>,
    ) -> Result<Resource, Error> {
        check_draft(d)?;
        self.check_provider(d.provider_org_id, by).await?;
        let prefix = format!("{}{}", d.class_kind.digit(), d.class_path);
        let mut tx = self.pool.begin().await.map_err(db_err("begin"))?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO resource_code_seq (prefix, last) VALUES ($1, 1) \
             ON CONFLICT (prefix) DO UPDATE SET last = resource_code_seq.last + 1 RETURNING last",
        )
        .bind(&prefix)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("allocate a resource code"))?;
        if seq > 999_999 {
            return Err(Error::field(
                "class_path",
                format!("classification {prefix} has used all 999999 sequence numbers"),
            ));
        }
        let code = format!("{prefix}/{seq:06}");
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO resources (code, class_kind, class_path, name, provider_org_id, summary, format, share_type, share_condition, \
             open_type, open_condition, update_cycle, related_codes, extended, status, review_note, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'draft', '', $15, $16, $16) RETURNING id",
        )
        .bind(&code)
        .bind(d.class_kind.as_str())
        .bind(&d.class_path)
        .bind(d.name.trim())
        .bind(d.provider_org_id.0)
        .bind(d.summary.trim())
        .bind(d.format.as_str())
        .bind(d.share_type.as_str())
        .bind(d.share_condition.trim())
        .bind(d.open_type.as_str())
        .bind(d.open_condition.trim())
        .bind(d.update_cycle.as_str())
        .bind(json!(d.related_codes).to_string())
        .bind(json!(d.extended).to_string())
        .bind(by.user.0)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("create a resource"))?;
        write_items(&mut tx, id, &d.items).await?;
        tx.commit().await.map_err(db_err("commit"))?;
        self.get_resource(id).await
    }

    /// A provider officer catalogues for their own department; an admin for any.
    async fn check_provider(&self, org: OrgId, by: &Actor<'_>) -> Result<(), Error> {
        let o = self
            .get_org(org)
            .await
            .map_err(|e| Error::field("provider_org_id", e.message))?;
        if o.disabled {
            return Err(Error::field(
                "provider_org_id",
                format!("organisation '{}' is disabled", o.name),
            ));
        }
        if by.has(Role::Admin) || (by.has(Role::ProviderOfficer) && by.org == org) {
            return Ok(());
        }
        Err(forbidden(format!(
            "only a provider officer of '{}' (or an admin) may catalogue its resources",
            o.name
        )))
    }

    pub async fn get_resource(&self, id: i64) -> Result<Resource, Error> {
        let sql = format!("SELECT {COLUMNS} FROM resources WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("read a resource"))?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::ResourceNotFound,
                    format!("no resource with id {id}"),
                )
            })?;
        let items = self.resource_items(id).await?;
        resource_from_row(&row, items).map_err(db_err("read a resource"))
    }

    async fn resource_items(&self, id: i64) -> Result<Vec<Item>, Error> {
        let rows = sqlx::query("SELECT name, item_type, length, data_element, description FROM resource_items WHERE resource_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("read items"))?;
        rows.iter()
            .map(|r| {
                Ok(Item {
                    name: r.try_get("name")?,
                    item_type: r.try_get("item_type")?,
                    length: r.try_get("length")?,
                    data_element: r.try_get("data_element")?,
                    description: r.try_get("description")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("read items"))
    }

    /// Resources changed at or after `since_ms` (Unix ms), oldest change first; pages by
    /// `limit`/`offset`. Lets every API node keep its own search index in step with the store.
    pub async fn resources_changed_since(
        &self,
        since_ms: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Resource>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE updated_at >= $1 ORDER BY updated_at, id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since_ms)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list changed resources"))?;
        self.resources_from_rows(&rows).await
    }

    /// Resources of listed rows, each with its items.
    async fn resources_from_rows(&self, rows: &[AnyRow]) -> Result<Vec<Resource>, Error> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get("id").map_err(db_err("read a resource"))?;
            let items = self.resource_items(id).await?;
            out.push(resource_from_row(r, items).map_err(db_err("read a resource"))?);
        }
        Ok(out)
    }

    /// Every resource in any state, oldest first (exports and index rebuilds).
    pub async fn all_resources(&self) -> Result<Vec<Resource>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM resources ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list resources"))?;
        self.resources_from_rows(&rows).await
    }

    /// Resources changed at or after `since` (ms), in any state, by id: what a cache built
    /// before then reloads.
    pub async fn resources_since(&self, since: i64) -> Result<Vec<Resource>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM resources WHERE updated_at >= $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list changed resources"))?;
        self.resources_from_rows(&rows).await
    }

    /// The departments that provide at least one resource in `status`, by id.
    pub async fn provider_orgs(&self, status: ResourceStatus) -> Result<Vec<OrgId>, Error> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT provider_org_id FROM resources WHERE status = $1 ORDER BY provider_org_id",
        )
        .bind(status.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list providing departments"))?;
        Ok(ids.into_iter().map(OrgId).collect())
    }

    /// A page of resources, optionally by status and provider, newest first.
    pub async fn list_resources(
        &self,
        status: Option<ResourceStatus>,
        provider: Option<OrgId>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<Resource>, Error> {
        let (limit, offset) = (limit.clamp(1, 1000), offset.max(0));
        const WHERE: &str =
            "WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR provider_org_id = $2)";
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM resources {WHERE}"
        )))
        .bind(status.map(ResourceStatus::as_str))
        .bind(provider.map(|p| p.0))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("count resources"))?;
        let sql =
            format!("SELECT {COLUMNS} FROM resources {WHERE} ORDER BY id DESC LIMIT $3 OFFSET $4");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(status.map(ResourceStatus::as_str))
            .bind(provider.map(|p| p.0))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list resources"))?;
        let items = self.resources_from_rows(&rows).await?;
        Ok(Page {
            items,
            total,
            limit,
            offset,
        })
    }

    /// Edits a draft, rejected or published resource. Editing a published resource records a
    /// new version at once (the change is visible in its diff); others stay unversioned drafts.
    pub async fn update_resource(
        &self,
        id: i64,
        d: &ResourceDraft,
        version: i64,
        by: &Actor<'_>,
    ) -> Result<Resource, Error> {
        check_draft(d)?;
        let cur = self.get_resource(id).await?;
        self.check_provider(cur.meta.provider_org_id, by).await?;
        if d.provider_org_id != cur.meta.provider_org_id
            || d.class_kind != cur.meta.class_kind
            || d.class_path != cur.meta.class_path
        {
            return Err(Error::field(
                "provider_org_id",
                "provider and classification fix the code; retire and catalogue anew to change them",
            ));
        }
        if !matches!(
            cur.status,
            ResourceStatus::Draft | ResourceStatus::Rejected | ResourceStatus::Published
        ) {
            return Err(wrong_state(&cur, "draft, rejected or published"));
        }
        if cur.status == ResourceStatus::Published && needs_review(&cur.meta, d) {
            if cur.version != version {
                return Err(Error::new(
                    ErrorCode::EditConflict,
                    format!(
                        "resource {} was changed by someone else (version {} now, you edited version {version}); reload and try again",
                        cur.code, cur.version
                    ),
                ));
            }
            // Items and share/open attributes of a published entry change only after review;
            // the published version stays in force meanwhile.
            self.propose_change(&cur, d, by.user).await?;
            return Ok(cur);
        }
        self.apply_edit(&cur, d, version, by.user).await
    }

    /// Writes an edit of `cur` (at `version`), recording a version snapshot when published.
    pub(crate) async fn apply_edit(
        &self,
        cur: &Resource,
        d: &ResourceDraft,
        version: i64,
        by: UserId,
    ) -> Result<Resource, Error> {
        let id = cur.id;
        let mut tx = self.pool.begin().await.map_err(db_err("begin"))?;
        let done = sqlx::query(
            "UPDATE resources SET name = $3, summary = $4, format = $5, share_type = $6, share_condition = $7, open_type = $8, \
             open_condition = $9, update_cycle = $10, related_codes = $11, extended = $12, version = version + 1, updated_at = $13 \
             WHERE id = $1 AND version = $2",
        )
        .bind(id)
        .bind(version)
        .bind(d.name.trim())
        .bind(d.summary.trim())
        .bind(d.format.as_str())
        .bind(d.share_type.as_str())
        .bind(d.share_condition.trim())
        .bind(d.open_type.as_str())
        .bind(d.open_condition.trim())
        .bind(d.update_cycle.as_str())
        .bind(json!(d.related_codes).to_string())
        .bind(json!(d.extended).to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err("update a resource"))?;
        if done.rows_affected() == 0 {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!(
                    "resource {} was changed by someone else (version {} now, you edited version {version}); reload and try again",
                    cur.code, cur.version
                ),
            ));
        }
        sqlx::query("DELETE FROM resource_items WHERE resource_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("replace items"))?;
        write_items(&mut tx, id, &d.items).await?;
        tx.commit().await.map_err(db_err("commit"))?;
        let r = self.get_resource(id).await?;
        if r.status == ResourceStatus::Published {
            self.snapshot(&r, by).await?;
        }
        Ok(r)
    }

    /// Draft or rejected → submitted, by the provider.
    pub async fn submit_resource(&self, id: i64, by: &Actor<'_>) -> Result<Resource, Error> {
        let r = self.get_resource(id).await?;
        self.check_provider(r.meta.provider_org_id, by).await?;
        if !matches!(r.status, ResourceStatus::Draft | ResourceStatus::Rejected) {
            return Err(wrong_state(&r, "draft or rejected"));
        }
        self.set_status(&r, ResourceStatus::Submitted, "", None)
            .await
    }

    /// Submitted → approved or rejected (with a reason), by a data manager who neither created
    /// the entry nor belongs to the providing department.
    pub async fn review_resource(
        &self,
        id: i64,
        approve: bool,
        note: &str,
        by: &Actor<'_>,
    ) -> Result<Resource, Error> {
        let r = self.get_resource(id).await?;
        if !by.has(Role::DataManager) {
            return Err(forbidden("only a data manager reviews catalog entries"));
        }
        if r.created_by == by.user || r.meta.provider_org_id == by.org {
            return Err(forbidden(format!(
                "resource {} comes from your own department or hand; another data manager must review it",
                r.code
            )));
        }
        if r.status != ResourceStatus::Submitted {
            return Err(wrong_state(&r, "submitted"));
        }
        if !approve && note.trim().is_empty() {
            return Err(Error::field(
                "note",
                "a rejection needs a reason the provider can act on",
            ));
        }
        let next = if approve {
            ResourceStatus::Approved
        } else {
            ResourceStatus::Rejected
        };
        self.set_status(&r, next, note.trim(), None).await
    }

    /// Approved → published (records version snapshot), by a data manager.
    pub async fn publish_resource(&self, id: i64, by: &Actor<'_>) -> Result<Resource, Error> {
        let r = self.get_resource(id).await?;
        if !by.has(Role::DataManager) {
            return Err(forbidden("only a data manager publishes catalog entries"));
        }
        if r.status != ResourceStatus::Approved {
            return Err(wrong_state(&r, "approved"));
        }
        let r = self
            .set_status(
                &r,
                ResourceStatus::Published,
                &r.review_note,
                Some(now_ms()),
            )
            .await?;
        self.snapshot(&r, by.user).await?;
        Ok(r)
    }

    /// Published → retired (with a reason), by a data manager.
    pub async fn retire_resource(
        &self,
        id: i64,
        reason: &str,
        by: &Actor<'_>,
    ) -> Result<Resource, Error> {
        let r = self.get_resource(id).await?;
        if !by.has(Role::DataManager) {
            return Err(forbidden("only a data manager retires catalog entries"));
        }
        if r.status != ResourceStatus::Published {
            return Err(wrong_state(&r, "published"));
        }
        if reason.trim().is_empty() {
            return Err(Error::field(
                "reason",
                "say why the resource is retired; its users are told",
            ));
        }
        let r = self
            .set_status(&r, ResourceStatus::Retired, reason.trim(), r.published_at)
            .await?;
        self.snapshot(&r, by.user).await?;
        Ok(r)
    }

    async fn set_status(
        &self,
        r: &Resource,
        to: ResourceStatus,
        note: &str,
        published_at: Option<i64>,
    ) -> Result<Resource, Error> {
        let done = sqlx::query(
            "UPDATE resources SET status = $3, review_note = $4, published_at = $5, version = version + 1, updated_at = $6 \
             WHERE id = $1 AND version = $2",
        )
        .bind(r.id)
        .bind(r.version)
        .bind(to.as_str())
        .bind(note)
        .bind(published_at.or(r.published_at))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("change a resource's status"))?;
        if done.rows_affected() == 0 {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!(
                    "resource {} changed meanwhile; reload and try again",
                    r.code
                ),
            ));
        }
        self.get_resource(r.id).await
    }

    pub(crate) async fn snapshot(&self, r: &Resource, by: UserId) -> Result<(), Error> {
        sqlx::query("INSERT INTO resource_versions (resource_id, version, snapshot, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(r.id)
            .bind(r.version)
            .bind(json!(r).to_string())
            .bind(by.0)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(db_err("record a resource version"))?;
        Ok(())
    }

    /// The recorded versions of a resource (published states), oldest first.
    pub async fn resource_versions(&self, id: i64) -> Result<Vec<(i64, i64, Value)>, Error> {
        let rows = sqlx::query("SELECT version, changed_at, snapshot FROM resource_versions WHERE resource_id = $1 ORDER BY version")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("read resource versions"))?;
        rows.iter()
            .map(|r| {
                let snap: String = r.try_get("snapshot")?;
                Ok((
                    r.try_get("version")?,
                    r.try_get("changed_at")?,
                    serde_json::from_str(&snap).unwrap_or(Value::Null),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("read resource versions"))
    }
}

async fn write_items(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    items: &[Item],
) -> Result<(), Error> {
    for (i, it) in items.iter().enumerate() {
        sqlx::query("INSERT INTO resource_items (resource_id, position, name, item_type, length, data_element, description) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(i as i64)
            .bind(it.name.trim())
            .bind(&it.item_type)
            .bind(it.length)
            .bind(it.data_element.as_deref())
            .bind(it.description.trim())
            .execute(&mut **tx)
            .await
            .map_err(db_err("write an item"))?;
    }
    Ok(())
}

/// A readable diff of two version snapshots: changed metadata fields, and items added, removed or
/// changed (by name). Bookkeeping fields (version, times, status) are left out.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    const SKIP: &[&str] = &[
        "version",
        "updated_at",
        "created_at",
        "items",
        "status",
        "review_note",
        "published_at",
    ];
    let mut out = Vec::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            if SKIP.contains(&k.as_str()) {
                continue;
            }
            let (x, y) = (
                b.get(k).cloned().unwrap_or(Value::Null),
                a.get(k).cloned().unwrap_or(Value::Null),
            );
            if x != y {
                out.push(Change {
                    field: k.clone(),
                    before: x,
                    after: y,
                });
            }
        }
    }
    let items = |v: &Value| -> Vec<Value> {
        v.get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let name = |v: &Value| {
        v.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (bi, ai) = (items(before), items(after));
    for it in &bi {
        match ai.iter().find(|x| name(x) == name(it)) {
            None => out.push(Change {
                field: format!("items.{}", name(it)),
                before: it.clone(),
                after: Value::Null,
            }),
            Some(x) if x != it => out.push(Change {
                field: format!("items.{}", name(it)),
                before: it.clone(),
                after: x.clone(),
            }),
            _ => {}
        }
    }
    for it in &ai {
        if !bi.iter().any(|x| name(x) == name(it)) {
            out.push(Change {
                field: format!("items.{}", name(it)),
                before: Value::Null,
                after: it.clone(),
            });
        }
    }
    out
}
