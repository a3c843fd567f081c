//! Applications (R26): a consumer department applies for items of a target with a purpose, a
//! legal basis, a scenario and a period. Unconditionally shared items are granted at once;
//! conditional ones go to the providing department, then to the bureau; a resource marked not
//! shared is refused with the catalog's reason. Each step is due within a number of working days
//! and is escalated to the bureau when it is late. Every step is recorded; every party is told.

use crate::calendar::Calendar;
use crate::filter::Filter;
use crate::mask::Mask;
use crate::target::{Resolved, Target, bureau, resolve};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use yishu_lake::Lake;
use yishu_meta::share::{Application, ApplicationFilter, Grant, NewApplication, NewGrant, Terms};
use yishu_meta::{Counter, Principal, Store};
use yishu_types::{Error, ErrorCode, OrgId, Role, UserId};

/// Working days a step may take unless configured otherwise.
pub const DEFAULT_STEP_DAYS: u32 = 5;
/// Limits a grant gets unless the approver sets others.
pub const DEFAULT_PER_MINUTE: i64 = 600;
pub const DEFAULT_ROWS_PER_DAY: i64 = 1_000_000;

/// The workflow's context.
pub struct Workflow<'a> {
    pub store: &'a Store,
    pub lake: &'a Lake,
    pub calendar: &'a Calendar,
    /// Working days each step may take.
    pub step_days: u32,
}

impl<'a> Workflow<'a> {
    /// The workflow with the shipped holiday calendar and the default step deadline.
    pub fn new(store: &'a Store, lake: &'a Lake) -> Workflow<'a> {
        Workflow {
            store,
            lake,
            calendar: Calendar::shipped(),
            step_days: DEFAULT_STEP_DAYS,
        }
    }
}

/// What a consumer fills in.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    /// `resource:<id>` or `base:population` / `base:entities` / `base:houses`.
    pub target: String,
    pub items: Vec<String>,
    pub purpose: String,
    /// 依据.
    pub legal_basis: String,
    /// 应用场景.
    pub scenario: String,
    /// Start and end of the use, milliseconds.
    pub period_from: i64,
    pub period_to: i64,
    #[serde(default)]
    pub expected_volume: String,
    pub contact: String,
}

/// A reviewer's decision; an approving provider may set the grant's terms.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub approve: bool,
    #[serde(default)]
    pub reason: String,
    /// Row filter over the target's items (the filter language).
    #[serde(default)]
    pub row_filter: Option<String>,
    /// Mask per item: keep, partial, generalise, token, hash. Unnamed items keep their default.
    #[serde(default)]
    pub masks: BTreeMap<String, String>,
    #[serde(default)]
    pub per_minute: Option<i64>,
    #[serde(default)]
    pub rows_per_day: Option<i64>,
    /// Earlier than the application's period end, if the approver shortens it.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

fn field(name: &str, why: impl std::fmt::Display) -> Error {
    Error::field(name, why)
}

/// That `app` waits for the step of `whom` (its status is `status`), or a conflict saying where
/// it is.
fn waiting(app: &Application, status: &str, whom: &str) -> Result<(), Error> {
    if app.status == status {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::EditConflict,
        format!(
            "application {} is {}, not waiting for {whom}",
            app.id, app.status
        ),
    ))
}

fn required(name: &str, v: &str, max: usize) -> Result<String, Error> {
    let v = v.trim();
    if v.is_empty() {
        return Err(field(name, "is required"));
    }
    if v.chars().count() > max {
        return Err(field(name, format!("is longer than {max} characters")));
    }
    Ok(v.to_string())
}

impl Workflow<'_> {
    /// Files an application: granted at once, sent to the provider, or refused.
    pub async fn apply(&self, who: &Principal, a: &Apply, now: i64) -> Result<Application, Error> {
        let target = Target::parse(a.target.trim())?;
        let r = resolve(self.store, self.lake, target.clone()).await?;
        if r.source.provider_org == who.org_id {
            return Err(field(
                "target",
                format!(
                    "{} is your department's own data; read it without a grant",
                    r.name
                ),
            ));
        }
        if a.items.is_empty() {
            return Err(field("items", "name at least one item"));
        }
        let mut items: Vec<String> = Vec::new();
        for i in &a.items {
            let i = i.trim();
            if !r.source.has(i) {
                return Err(field(
                    "items",
                    format!(
                        "'{i}' is not an item of {}; its items are {}",
                        r.name,
                        r.source.names().join("、")
                    ),
                ));
            }
            if !items.iter().any(|x| x == i) {
                items.push(i.to_string());
            }
        }
        if a.period_to <= a.period_from {
            return Err(field("period_to", "must be after period_from"));
        }
        if a.period_to <= now {
            return Err(field("period_to", "is already past"));
        }
        let new = NewApplication {
            consumer_org_id: who.org_id,
            applicant_id: who.user_id,
            target: target.as_string(),
            resource_id: r.resource.as_ref().map(|x| x.id),
            provider_org_id: r.source.provider_org,
            items,
            purpose: required("purpose", &a.purpose, 500)?,
            legal_basis: required("legal_basis", &a.legal_basis, 500)?,
            scenario: required("scenario", &a.scenario, 500)?,
            period_from: a.period_from,
            period_to: a.period_to,
            expected_volume: a.expected_volume.trim().chars().take(100).collect(),
            contact: required("contact", &a.contact, 100)?,
            share_type: r.share_type.as_str().to_string(),
            status: "submitted".into(),
            step_deadline: None,
        };
        use yishu_meta::catalog::ShareType;
        let filed = match r.share_type {
            ShareType::Never => {
                let mut new = new;
                new.status = "refused".into();
                let app = self.store.create_application(&new).await?;
                let reason = if r.share_condition.trim().is_empty() {
                    format!("{}在目录中标注为不予共享", r.name)
                } else {
                    format!("{}不予共享：{}", r.name, r.share_condition.trim())
                };
                self.step(&app, "apply", "submitted", "", Some(who), None)
                    .await?;
                self.step(&app, "auto", "refused", &reason, None, None)
                    .await?;
                self.tell(&[who.user_id], &app, "refused", &reason).await;
                Ok(app)
            }
            ShareType::Unconditional => {
                let app = self.store.create_application(&new).await?;
                self.step(&app, "apply", "submitted", "", Some(who), None)
                    .await?;
                let terms = self.default_terms(&app);
                let g = self.make_grant(&app, &terms, None).await?;
                let app = self
                    .store
                    .move_application(
                        app.id,
                        "submitted",
                        "granted",
                        None,
                        Some(&terms),
                        Some(g.id),
                    )
                    .await?;
                self.step(&app, "auto", "granted", "无条件共享，自动授权", None, None)
                    .await?;
                let msg = format!("申请 #{} 已自动授权（无条件共享）：{}", app.id, r.name);
                self.tell_granted(&app, &msg).await;
                Ok(app)
            }
            ShareType::Conditional => {
                let mut new = new;
                let due = self.calendar.deadline(now, self.step_days);
                new.step_deadline = Some(due);
                let app = self.store.create_application(&new).await?;
                self.step(&app, "apply", "submitted", "", Some(who), Some(due))
                    .await?;
                let msg = format!(
                    "新的共享申请 #{}：{} 申请 {}（{} 项），请审核",
                    app.id,
                    self.org_name(who.org_id).await,
                    r.name,
                    app.items.len()
                );
                self.tell_org(
                    app.provider_org_id,
                    Role::ProviderOfficer,
                    &app,
                    "application",
                    &msg,
                )
                .await;
                Ok(app)
            }
        };
        // The catalog page counts the applications an entry received.
        if let Ok(Application {
            resource_id: Some(rid),
            ..
        }) = &filed
            && let Err(e) = self.store.count_use(Counter::Applications, &[*rid]).await
        {
            tracing::warn!("counting an application of resource {rid}: {e}");
        }
        filed
    }

    /// The providing department decides a submitted application. Approval sets the terms and
    /// sends it to the bureau (or grants it, when the bureau itself provides).
    pub async fn provider_decide(
        &self,
        who: &Principal,
        id: i64,
        d: &Decision,
        now: i64,
    ) -> Result<Application, Error> {
        let app = self.store.application(id).await?;
        if app.provider_org_id != who.org_id {
            return Err(Error::new(
                ErrorCode::Forbidden,
                format!("only the providing department decides application {id}"),
            ));
        }
        waiting(&app, "submitted", "the provider")?;
        if !d.approve {
            return self.reject(who, app, "provider", &d.reason).await;
        }
        let r = resolve(self.store, self.lake, Target::parse(&app.target)?).await?;
        let terms = self.terms(&app, &r, d)?;
        let bureau = bureau(self.store).await?;
        if app.provider_org_id == bureau {
            let app = self
                .store
                .move_application(
                    id,
                    "submitted",
                    "provider_approved",
                    None,
                    Some(&terms),
                    None,
                )
                .await?;
            self.step(
                &app,
                "provider",
                "approved",
                &d.reason,
                Some(who),
                app.step_deadline,
            )
            .await?;
            return self.grant(who, app, &terms).await;
        }
        let due = self.calendar.deadline(now, self.step_days);
        let app = self
            .store
            .move_application(
                id,
                "submitted",
                "provider_approved",
                Some(due),
                Some(&terms),
                None,
            )
            .await?;
        self.step(
            &app,
            "provider",
            "approved",
            &d.reason,
            Some(who),
            Some(due),
        )
        .await?;
        let msg = format!(
            "共享申请 #{} 已经提供部门同意，请大数据主管部门确认",
            app.id
        );
        self.tell_org(bureau, Role::DataManager, &app, "application", &msg)
            .await;
        Ok(app)
    }

    /// The bureau confirms (grants with the provider's terms) or rejects.
    pub async fn bureau_decide(
        &self,
        who: &Principal,
        id: i64,
        d: &Decision,
    ) -> Result<Application, Error> {
        let app = self.store.application(id).await?;
        if !who.has(Role::DataManager) {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "only the bureau's data managers confirm applications",
            ));
        }
        waiting(&app, "provider_approved", "the bureau")?;
        if !d.approve {
            return self.reject(who, app, "bureau", &d.reason).await;
        }
        self.step(
            &app,
            "bureau",
            "approved",
            &d.reason,
            Some(who),
            app.step_deadline,
        )
        .await?;
        let terms = app.terms.clone();
        self.grant(who, app, &terms).await
    }

    /// The applicant's department withdraws an application still under review.
    pub async fn withdraw(&self, who: &Principal, id: i64) -> Result<Application, Error> {
        let app = self.store.application(id).await?;
        if app.consumer_org_id != who.org_id {
            return Err(Error::new(
                ErrorCode::ApplicationNotFound,
                format!("no application {id} of your department"),
            ));
        }
        if !matches!(app.status.as_str(), "submitted" | "provider_approved") {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!(
                    "application {id} is {} and can no longer be withdrawn",
                    app.status
                ),
            ));
        }
        let app = self
            .store
            .move_application(id, &app.status, "withdrawn", None, None, None)
            .await?;
        self.step(&app, "withdraw", "withdrawn", "", Some(who), None)
            .await?;
        Ok(app)
    }

    /// Marks every step past its deadline as overdue and tells the bureau, once per step.
    /// Returns the applications escalated now.
    pub async fn escalate_overdue(&self, now: i64) -> Result<Vec<Application>, Error> {
        let mut out = Vec::new();
        for status in ["submitted", "provider_approved"] {
            let apps = self
                .store
                .applications(&ApplicationFilter {
                    status: Some(status.into()),
                    ..Default::default()
                })
                .await?;
            for app in apps {
                let late = app.step_deadline.is_some_and(|d| d < now);
                if !late || app.escalated_at.is_some() {
                    continue;
                }
                if self.store.escalate_application(app.id, now).await? {
                    let waiting = if status == "submitted" {
                        "提供部门审核"
                    } else {
                        "大数据主管部门确认"
                    };
                    self.step(
                        &app,
                        "escalate",
                        "overdue",
                        waiting,
                        None,
                        app.step_deadline,
                    )
                    .await?;
                    let msg = format!("共享申请 #{} 的{}已超期，请督办", app.id, waiting);
                    if let Ok(b) = bureau(self.store).await {
                        self.tell_org(b, Role::DataManager, &app, "overdue", &msg)
                            .await;
                    }
                    out.push(self.store.application(app.id).await?);
                }
            }
        }
        Ok(out)
    }

    async fn reject(
        &self,
        who: &Principal,
        app: Application,
        step: &str,
        reason: &str,
    ) -> Result<Application, Error> {
        let reason = required("reason", reason, 500)?;
        let app = self
            .store
            .move_application(app.id, &app.status, "rejected", None, None, None)
            .await?;
        self.step(
            &app,
            step,
            "rejected",
            &reason,
            Some(who),
            app.step_deadline,
        )
        .await?;
        let msg = format!("共享申请 #{} 未获批准：{}", app.id, reason);
        self.tell(&[app.applicant_id], &app, "decision", &msg).await;
        Ok(app)
    }

    /// Makes the grant and closes the application.
    async fn grant(
        &self,
        who: &Principal,
        app: Application,
        terms: &Terms,
    ) -> Result<Application, Error> {
        let g = self.make_grant(&app, terms, Some(who.user_id)).await?;
        let app = self
            .store
            .move_application(
                app.id,
                "provider_approved",
                "granted",
                None,
                None,
                Some(g.id),
            )
            .await?;
        let msg = format!("共享申请 #{} 已获授权（授权 #{}）", app.id, g.id);
        self.tell_granted(&app, &msg).await;
        Ok(app)
    }

    async fn make_grant(
        &self,
        app: &Application,
        terms: &Terms,
        by: Option<UserId>,
    ) -> Result<Grant, Error> {
        self.store
            .create_grant(&NewGrant {
                application_id: Some(app.id),
                consumer_org_id: app.consumer_org_id,
                provider_org_id: app.provider_org_id,
                target: app.target.clone(),
                resource_id: app.resource_id,
                items: app.items.clone(),
                row_filter: terms.row_filter.clone(),
                masks: terms.masks.clone(),
                per_minute: terms.per_minute,
                rows_per_day: terms.rows_per_day,
                purpose: app.purpose.clone(),
                expires_at: terms.expires_at,
                created_by: by,
            })
            .await
    }

    fn default_terms(&self, app: &Application) -> Terms {
        Terms {
            row_filter: String::new(),
            masks: BTreeMap::new(),
            per_minute: DEFAULT_PER_MINUTE,
            rows_per_day: DEFAULT_ROWS_PER_DAY,
            expires_at: app.period_to,
        }
    }

    /// The approver's terms, checked against the target: the filter parses over its items,
    /// masks name applied-for items, limits are positive, the expiry within the period.
    fn terms(&self, app: &Application, r: &Resolved, d: &Decision) -> Result<Terms, Error> {
        let mut t = self.default_terms(app);
        if let Some(f) = d.row_filter.as_deref().filter(|f| !f.trim().is_empty()) {
            t.row_filter = Filter::parse(f)?.check(&r.source.kinds())?.to_string();
        }
        for (item, m) in &d.masks {
            if !app.items.contains(item) {
                return Err(field(
                    "masks",
                    format!("'{item}' is not among the items applied for"),
                ));
            }
            let mask = Mask::parse(m).ok_or_else(|| {
                field(
                    "masks",
                    format!("'{m}' is not a mask: keep, partial, generalise, token or hash"),
                )
            })?;
            t.masks.insert(item.clone(), mask.as_str().to_string());
        }
        if let Some(n) = d.per_minute {
            if n < 1 {
                return Err(field("per_minute", "must be at least 1"));
            }
            t.per_minute = n;
        }
        if let Some(n) = d.rows_per_day {
            if n < 1 {
                return Err(field("rows_per_day", "must be at least 1"));
            }
            t.rows_per_day = n;
        }
        if let Some(e) = d.expires_at {
            t.expires_at = e.min(app.period_to);
        }
        Ok(t)
    }

    async fn step(
        &self,
        app: &Application,
        step: &str,
        decision: &str,
        reason: &str,
        who: Option<&Principal>,
        deadline: Option<i64>,
    ) -> Result<(), Error> {
        self.store
            .record_step(
                app.id,
                step,
                decision,
                reason,
                who.map(|p| (p.user_id, p.org_id)),
                deadline,
            )
            .await
    }

    async fn org_name(&self, org: OrgId) -> String {
        self.store
            .get_org(org)
            .await
            .map(|o| o.name)
            .unwrap_or_else(|_| format!("部门 {}", org.0))
    }

    /// Tells users about an application; a failed notice never undoes the step.
    async fn tell(&self, users: &[UserId], app: &Application, kind: &str, msg: &str) {
        let payload = json!({"event": format!("share.{kind}"), "application": app.id, "status": app.status, "target": app.target, "message": msg});
        let link = format!("/console/share/applications/{}", app.id);
        if let Err(e) = self
            .store
            .notify_users(users, app.resource_id, kind, msg, &link, &payload)
            .await
        {
            tracing::warn!("notifying about application {}: {e}", app.id);
        }
    }

    /// A grant was made: the applicant and the providing department's officers hear of it.
    async fn tell_granted(&self, app: &Application, msg: &str) {
        self.tell(&[app.applicant_id], app, "granted", msg).await;
        self.tell_org(
            app.provider_org_id,
            Role::ProviderOfficer,
            app,
            "granted",
            msg,
        )
        .await;
    }

    async fn tell_org(&self, org: OrgId, role: Role, app: &Application, kind: &str, msg: &str) {
        let users: Vec<UserId> = self
            .store
            .users_with_role(role, Some(org))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        self.tell(&users, app, kind, msg).await;
    }
}
