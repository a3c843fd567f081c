//! The public's open data files: `/open/datasets/{name}/download.{csv,json,xlsx,parquet}`, no
//! sign-in needed (a conditionally open dataset needs a registered reader with access). Every
//! download passes the gate on the dataset's opening grant and is audited.

use crate::AppState;
use crate::app::open_read::{self, Reader};
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, State};
use axum::response::Response;
use yishu_types::ErrorCode;

/// The public open-data paths.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/open/datasets/{name}/{file}", axum::routing::get(download))
}

/// `download.{format}` of open dataset `name`.
async fn download(
    State(s): State<AppState>,
    reader: Reader,
    Path((name, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Some(format) = file.strip_prefix("download.") else {
        return Err(ApiError::new(
            ErrorCode::RouteNotFound,
            format!("no file '{file}': ask for download.csv, .json, .xlsx or .parquet"),
        ));
    };
    open_read::download(&s, &reader, &name, format).await
}
