//! Apps (接入应用) for the API and the pages: which apps a caller sees and may change. A
//! department keeps its own apps and their keys; the bureau sees every app and may suspend any.

use crate::AppState;
use crate::app::audit::audited;
use crate::app::share::is_bureau;
use crate::auth::{Auth, Right};
use crate::error::{ApiError, ApiResult};
use serde_json::json;
use yishu_meta::app::{App, AppDraft};
use yishu_meta::{ApiKey, NewApiKey, Principal, now_ms};
use yishu_types::{ApiKeyId, AppId, ErrorCode, Role};

fn object(id: AppId) -> String {
    format!("app:{id}")
}

fn hidden(id: AppId) -> ApiError {
    ApiError::new(ErrorCode::AppNotFound, format!("no app with id {id}"))
}

/// The apps `who` sees: the bureau's operators every app, others their department's.
pub async fn visible(s: &AppState, who: &Principal) -> ApiResult<Vec<App>> {
    let org = (!is_bureau(who)).then_some(who.org_id);
    Ok(s.store.apps(org).await?)
}

/// App `id` when `who` sees it.
pub async fn seen(s: &AppState, who: &Principal, id: AppId) -> ApiResult<App> {
    let app = s.store.app(id).await?;
    if app.org_id == who.org_id || is_bureau(who) {
        Ok(app)
    } else {
        Err(hidden(id))
    }
}

/// App `id` when `who` may change it and its keys: its own department only (the bureau sees
/// other departments' apps but does not hold their keys).
pub async fn own(s: &AppState, who: &Principal, id: AppId) -> ApiResult<App> {
    let app = seen(s, who, id).await?;
    if app.org_id == who.org_id {
        Ok(app)
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("app {id} belongs to another department; only it changes the app and its keys"),
        ))
    }
}

/// App `id` when `who` may suspend or resume it: its department, or the bureau's data managers
/// and administrators.
pub async fn switchable(s: &AppState, who: &Principal, id: AppId) -> ApiResult<App> {
    let app = seen(s, who, id).await?;
    if app.org_id == who.org_id || who.has(Role::DataManager) || who.has(Role::Admin) {
        Ok(app)
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("suspending app {id} is for its department and the bureau's data managers"),
        ))
    }
}

/// Registers an app of the caller's department (audited).
pub async fn create<R: Right>(s: &AppState, auth: &Auth<R>, d: &AppDraft) -> ApiResult<App> {
    let who = auth.who();
    let done = s
        .store
        .create_app(who.org_id, who.user_id, d)
        .await
        .map_err(ApiError::from);
    let obj = done
        .as_ref()
        .map(|a| object(a.id))
        .unwrap_or_else(|_| "app:-".into());
    let detail = json!({"name": d.name, "ip_allow": d.ip_allow, "per_minute": d.per_minute});
    audited(s, auth, "app.create", obj, detail, done).await
}

/// Changes an app's terms; its keys follow on their next call (audited).
pub async fn edit<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: AppId,
    d: &AppDraft,
) -> ApiResult<App> {
    let done = match own(s, auth.who(), id).await {
        Ok(_) => s.store.edit_app(id, d).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    s.key_cache.clear();
    let detail = json!({"name": d.name, "ip_allow": d.ip_allow, "per_minute": d.per_minute});
    audited(s, auth, "app.edit", object(id), detail, done).await
}

/// Suspends (with a reason) or resumes an app; every key stops or works again on its next
/// call (audited).
pub async fn switch<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: AppId,
    suspended: bool,
    reason: &str,
) -> ApiResult<App> {
    let done = match switchable(s, auth.who(), id).await {
        Ok(_) => s
            .store
            .set_app_suspended(id, suspended.then_some(reason))
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    s.key_cache.clear();
    let action = if suspended {
        "app.suspend"
    } else {
        "app.resume"
    };
    audited(s, auth, action, object(id), json!({"reason": reason}), done).await
}

/// Makes a key for one of the caller's department's apps, lasting `days` (1–730; a year when
/// `None`); the secret is in the answer only (audited, never the secret).
pub async fn make_key<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: AppId,
    name: &str,
    days: Option<i64>,
) -> ApiResult<NewApiKey> {
    let done = async {
        let expires = match days {
            None => None,
            Some(d) if (1..=730).contains(&d) => Some(now_ms() + d * 86_400_000),
            Some(_) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidInput,
                    "expires_in_days: an app key lasts 1 to 730 days",
                ));
            }
        };
        own(s, auth.who(), id).await?;
        Ok(s.store
            .create_app_key(id, auth.who().user_id, name, expires)
            .await?)
    }
    .await;
    let detail = json!({"name": name, "key": done.as_ref().ok().map(|n| n.key.id),
        "expires_at": done.as_ref().ok().and_then(|n| n.key.expires_at)});
    audited(s, auth, "app.key_create", object(id), detail, done).await
}

/// Revokes one of an app's keys; it stops on its next call (audited).
pub async fn revoke_key<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: AppId,
    key: ApiKeyId,
) -> ApiResult<ApiKey> {
    let done = async {
        own(s, auth.who(), id).await?;
        let k = s.store.get_api_key(key).await?;
        if k.app_id != Some(id) {
            return Err(ApiError::new(
                ErrorCode::ApiKeyNotFound,
                format!("app {id} has no key {key}"),
            ));
        }
        Ok(s.store.revoke_api_key(key).await?)
    }
    .await;
    s.key_cache.clear();
    audited(
        s,
        auth,
        "app.key_revoke",
        object(id),
        json!({"key": key}),
        done,
    )
    .await
}
