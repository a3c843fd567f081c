//! Who is calling and what they may do. A handler names the right it needs in its signature
//! (`Auth<ManageOrgs>`), so it cannot forget the check: callers without a valid session or API key
//! get 401, callers without the role get 403 (and an audit record).

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use yishu_meta::{AuditEntry, Credential, Principal};
use yishu_types::{ErrorCode, Role};

/// Name of the login session cookie.
pub const SESSION_COOKIE: &str = "yishu_session";
/// Header carrying the CSRF token for cookie-authenticated API writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A right: the roles that hold it. An empty list means any signed-in user.
pub trait Right: Send + Sync + 'static {
    const ROLES: &'static [Role];
    const NAME: &'static str;
}

macro_rules! right {
    ($(#[$doc:meta])* $name:ident, $label:literal, [$($role:ident),*]) => {
        $(#[$doc])*
        pub struct $name;
        impl Right for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),*];
            const NAME: &'static str = $label;
        }
    };
}

right!(
    /// Any signed-in user.
    SignedIn, "signed_in", []
);
right!(
    /// Create, rename, move and disable organisations.
    ManageOrgs, "manage_orgs", [Admin]
);
right!(
    /// Create users, change roles, disable accounts.
    ManageUsers, "manage_users", [Admin]
);
right!(
    /// Read users and the organisation tree in detail.
    ReadUsers, "read_users", [Admin, DataManager, Auditor]
);
right!(
    /// Read and verify the audit log (三员分立: the auditor, not the administrator).
    ReadAudit, "read_audit", [Auditor]
);
right!(
    /// Read personal details in the base libraries in clear, and decide reviews: the bureau.
    SeePersonal, "see_personal", [DataManager]
);
right!(
    /// Propose or decide corrections: departments' officers and the bureau.
    Correct, "correct", [ProviderOfficer, DataManager]
);
right!(
    /// Keep the registry of data elements and the national tables' mapping (the bureau).
    ManageStandards, "manage_standards", [DataManager, Admin]
);
right!(
    /// Write rules and handle work orders: departments' officers and the bureau.
    Quality, "quality", [ProviderOfficer, DataManager, Admin]
);
right!(
    /// Catalogue resources of one's own department (provider officers; admins for any).
    Catalogue, "catalogue", [ProviderOfficer, Admin]
);
right!(
    /// Review, publish and retire catalog entries.
    ReviewCatalog, "review_catalog", [DataManager]
);
right!(
    /// Ask who read a person's record (R30): the bureau and the auditor.
    WhoRead, "who_read", [DataManager, Auditor]
);
right!(
    /// Define, test and publish data services: the bureau, and departments over their own data.
    DefineServices, "define_services", [DataManager, ProviderOfficer]
);
right!(
    /// Register a department's apps, make their keys, suspend them (not the auditor).
    ManageApps, "manage_apps", [Consumer, ProviderOfficer, DataManager, Admin]
);
right!(
    /// Subscribe to a grant's data, pause, resume and deliver subscriptions (not the auditor).
    Subscribe, "subscribe", [Consumer, ProviderOfficer, DataManager, Admin]
);
right!(
    /// Rebuild the search index.
    AdministerSearch, "administer_search", [Admin]
);

/// Request facts every audit record needs.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub source_ip: String,
    pub request_id: String,
}

impl RequestMeta {
    fn from_parts(parts: &Parts) -> Self {
        let source_ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_default();
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        RequestMeta {
            source_ip,
            request_id,
        }
    }

    /// This request as the read channel `kind` (api, page, download …) of the read audit.
    pub fn channel(&self, kind: &'static str) -> yishu_share::audit::Channel {
        yishu_share::audit::Channel {
            kind,
            source_ip: self.source_ip.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// An audit entry for this request; the caller fills action, object, outcome and detail.
    pub fn entry(
        &self,
        who: Option<&Principal>,
        action: &str,
        object: String,
        outcome: &str,
        detail: String,
    ) -> AuditEntry {
        AuditEntry {
            actor_id: who.map(|p| p.user_id),
            actor_name: who
                .map(|p| p.name.clone())
                .unwrap_or_else(|| "anonymous".into()),
            org_id: who.map(|p| p.org_id),
            action: action.into(),
            object,
            source_ip: self.source_ip.clone(),
            request_id: self.request_id.clone(),
            outcome: outcome.into(),
            detail,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta::from_parts(parts))
    }
}

/// The authenticated caller, proven to hold right `R`.
pub struct Auth<R: Right> {
    pub principal: Principal,
    /// The session's CSRF token (None for API keys).
    pub csrf: Option<String>,
    pub meta: RequestMeta,
    _right: PhantomData<R>,
}

impl<R: Right> Auth<R> {
    /// Wraps a caller whose right was already checked (by the page extractor).
    pub(crate) fn trusted(principal: Principal, csrf: Option<String>, meta: RequestMeta) -> Self {
        Auth {
            principal,
            csrf,
            meta,
            _right: PhantomData,
        }
    }

    pub fn who(&self) -> &Principal {
        &self.principal
    }
}

/// Reads one cookie from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Resolves the caller from an API key or a session cookie, without checking any right.
pub async fn authenticate(
    state: &AppState,
    parts: &Parts,
) -> Result<(Principal, Option<String>), ApiError> {
    if let Some(secret) = bearer(&parts.headers) {
        let p = state.key_cache.resolve(state, secret).await?;
        if let Some(app) = &p.app {
            admit_app(state, parts, &p, app).await?;
        }
        return Ok((p, None));
    }
    if let Some(token) = cookie(&parts.headers, SESSION_COOKIE)
        && let Some((p, csrf)) = state.store.session_principal(token).await?
    {
        return Ok((p, Some(csrf)));
    }
    Err(ApiError::new(
        ErrorCode::Unauthenticated,
        "sign in, or send an API key in the Authorization: Bearer header",
    ))
}

/// What an app's key may call: data services and reads through its department's grants —
/// never the console's management API (a key must not make keys or change what it reads).
fn app_may_call(method: &Method, path: &str) -> bool {
    path.starts_with("/api/v1/services/")
        || path.starts_with("/api/v1/verifications/")
        || path.starts_with("/api/v1/comparisons/")
        || (method == Method::GET && path.starts_with("/api/v1/grants"))
}

/// Lets an app's call through when it is for data, from one of the app's addresses and within
/// its calls a minute; a refusal is audited with the app and the reason.
async fn admit_app(
    state: &AppState,
    parts: &Parts,
    p: &Principal,
    app: &yishu_meta::app::AppGate,
) -> Result<(), ApiError> {
    let meta = RequestMeta::from_parts(parts);
    // The API is nested under /api/v1, so the path seen here lost its prefix; judge the whole.
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.0.path())
        .unwrap_or(parts.uri.path());
    let refusal = if !app_may_call(&parts.method, path) {
        Some(yishu_types::Error::new(
            ErrorCode::Forbidden,
            format!(
                "app '{}' calls data services and granted reads only, not {path}",
                app.name,
            ),
        ))
    } else if !app.allows(meta.source_ip.parse().ok()) {
        Some(yishu_types::Error::new(
            ErrorCode::IpNotAllowed,
            format!(
                "app '{}' does not call from {}; its addresses are {}",
                app.name,
                meta.source_ip,
                app.ip_allow.join(", ")
            ),
        ))
    } else {
        state
            .app_limiter
            .app_call(app.id.0, yishu_meta::now_ms(), app.per_minute)
            .err()
    };
    let Some(e) = refusal else { return Ok(()) };
    let detail = serde_json::json!({"app": app.id, "code": e.code.as_str(), "path": path});
    let entry = meta.entry(
        Some(p),
        "app.refused",
        format!("app:{}", app.id),
        "denied",
        detail.to_string(),
    );
    state.store.audit(&entry).await?;
    Err(e.into())
}

impl<R: Right> FromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let meta = RequestMeta::from_parts(parts);
        let (principal, csrf) = authenticate(state, parts).await?;
        check_csrf(parts, &principal, csrf.as_deref())?;
        check_right::<R>(state, &principal, &meta, parts.uri.path()).await?;
        Ok(Auth {
            principal,
            csrf,
            meta,
            _right: PhantomData,
        })
    }
}

/// Cookie-authenticated writes must echo the session's CSRF token in a header.
fn check_csrf(parts: &Parts, p: &Principal, csrf: Option<&str>) -> Result<(), ApiError> {
    let writes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !writes || p.credential != Credential::Session {
        return Ok(());
    }
    let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (sent, csrf) {
        (Some(s), Some(c)) if constant_eq(s, c) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::CsrfMismatch,
            format!(
                "cookie-authenticated writes must send the session's CSRF token in the {CSRF_HEADER} header"
            ),
        )),
    }
}

/// Refuses (and audits) a caller without one of the right's roles.
pub async fn check_right<R: Right>(
    state: &AppState,
    p: &Principal,
    meta: &RequestMeta,
    path: &str,
) -> Result<(), ApiError> {
    if R::ROLES.is_empty() || R::ROLES.iter().any(|r| p.has(*r)) {
        return Ok(());
    }
    let entry = meta.entry(
        Some(p),
        "access.denied",
        path.to_string(),
        "denied",
        format!("{{\"right\":\"{}\"}}", R::NAME),
    );
    state.store.audit(&entry).await?;
    let roles: Vec<&str> = R::ROLES.iter().map(|r| r.as_str()).collect();
    Err(ApiError::new(
        ErrorCode::Forbidden,
        format!(
            "this needs the right '{}' (role {}); you have {:?}",
            R::NAME,
            roles.join(" or "),
            p.roles
        ),
    ))
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A short-lived cache of API key → caller, so a request with a known key costs one hash and a map
/// lookup instead of three queries. Entries live [`KeyCache::TTL`]; revocations and role changes in
/// this process clear it at once, other processes see them within the TTL.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl KeyCache {
    pub const TTL: Duration = Duration::from_secs(5);
    const MAX: usize = 10_000;

    pub async fn resolve(&self, state: &AppState, secret: &str) -> Result<Principal, ApiError> {
        let hash = state.store.secret_hash(secret);
        if let Ok(map) = self.entries.lock()
            && let Some((p, at)) = map.get(&hash)
            && at.elapsed() < Self::TTL
        {
            return Ok(p.clone());
        }
        let p = match state.store.api_key_principal(secret).await {
            Ok(p) => p,
            Err(e) => {
                let meta = RequestMeta {
                    source_ip: String::new(),
                    request_id: String::new(),
                };
                let prefix: String = secret.chars().take(12).collect();
                let entry = meta.entry(
                    None,
                    "auth.api_key_rejected",
                    format!("key:{prefix}"),
                    "denied",
                    format!("{{\"code\":\"{}\"}}", e.code),
                );
                state.store.audit(&entry).await?;
                return Err(e.into());
            }
        };
        if let Credential::ApiKey { id } = p.credential {
            let store = state.store.clone();
            tokio::spawn(async move {
                let _ = store.touch_api_key(id).await;
            });
        }
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= Self::MAX {
                map.clear();
            }
            map.insert(hash, (p.clone(), Instant::now()));
        }
        Ok(p)
    }

    /// Forgets every cached key (after a revoke, a role change or a disable).
    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}
