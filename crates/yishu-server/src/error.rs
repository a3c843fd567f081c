//! The uniform error body. Handlers return [`ApiError`]; a middleware adds the request id, so every
//! failure reads `{"error":{"code","message","request_id"}}` with the registry's HTTP status.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use yishu_types::{Error, ErrorCode};

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(Error::new(code, message))
    }
}

/// The error body as documented in the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code from the registry, e.g. `org_not_found`.
    pub code: String,
    /// What was wrong and where.
    pub message: String,
    /// Matches the `x-request-id` response header and the server log.
    pub request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = %self.0.code, message = %self.0.message, "request failed");
        }
        let mut resp = status.into_response();
        // A rate limit says when to come back (its message ends "retry after N s").
        if self.0.code == ErrorCode::RateLimited
            && let Some(n) = self
                .0
                .message
                .rsplit("retry after ")
                .next()
                .and_then(|t| t.trim_end_matches(" s").parse::<u64>().ok())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(n));
        }
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Renders the body of any [`ApiError`] response with the request's id.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut resp = next.run(req).await;
    let Some(err) = resp.extensions_mut().remove::<ApiError>() else {
        return resp;
    };
    let status = resp.status();
    let body = ErrorBody {
        error: ErrorDetail {
            code: err.0.code.as_str().to_string(),
            message: err.0.message,
            request_id,
        },
    };
    let mut out = (status, Json(body)).into_response();
    for (k, v) in resp.headers() {
        if k != "content-type" && k != "content-length" {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    out
}

/// Unknown routes under the API.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::RouteNotFound,
        format!("no route for {}", uri.path()),
    )
}

pub type ApiResult<T> = Result<T, ApiError>;
