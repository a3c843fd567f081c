//! The public's open data files: `/open/datasets/{name}/download.{csv,json,xlsx,parquet}` (no
//! sign-in needed; a conditionally open dataset needs a registered reader with access; every
//! download passes the gate on the dataset's opening grant and is audited), and the catalog as
//! DCAT-AP 3: `/catalog.{ttl,jsonld,rdf}` (paged, `modified_since`) and
//! `/dataset/{name}.{ttl,jsonld,rdf}`.

use crate::AppState;
use crate::app::dcat::{self, PageQuery, Syntax};
use crate::app::open::{Catalog, base_url};
use crate::app::open_read::{self, Reader};
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use yishu_types::ErrorCode;

/// The public open-data paths.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/open/datasets/{name}/{file}", get(download))
        .route(
            "/catalog.ttl",
            get(|s, h, q| catalog(s, h, q, Syntax::Turtle)),
        )
        .route(
            "/catalog.jsonld",
            get(|s, h, q| catalog(s, h, q, Syntax::JsonLd)),
        )
        .route(
            "/catalog.rdf",
            get(|s, h, q| catalog(s, h, q, Syntax::RdfXml)),
        )
        .route("/dataset/{file}", get(dataset))
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

#[derive(Debug, Deserialize)]
struct CatalogQuery {
    page: Option<String>,
    modified_since: Option<String>,
}

fn rdf(syntax: Syntax, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, syntax.content_type())], body).into_response()
}

/// `/catalog.{ttl,jsonld,rdf}?page=N&modified_since=T`.
async fn catalog(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CatalogQuery>,
    syntax: Syntax,
) -> ApiResult<Response> {
    let page = match q.page.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => p.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            yishu_types::Error::field("page", format!("'{p}' is not a page number (1, 2, …)"))
        })?,
    };
    let modified_since = match q.modified_since.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(dcat::parse_since(t)?),
        None => None,
    };
    let c = Catalog::current(&s).await?;
    let base = base_url(&s, &headers);
    let body = dcat::catalog_page(
        &c,
        &base,
        &s.config.open_license,
        &PageQuery {
            page,
            modified_since,
        },
        syntax,
    )?;
    Ok(rdf(syntax, body))
}

/// `/dataset/{name}.{ttl,jsonld,rdf}`.
async fn dataset(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let (name, syntax) = file
        .rsplit_once('.')
        .and_then(|(n, ext)| Syntax::from_extension(ext).map(|x| (n, x)))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::RouteNotFound,
                format!("no description '{file}': ask for <name>.ttl, .jsonld or .rdf"),
            )
        })?;
    let c = Catalog::current(&s).await?;
    let (r, _) = open_read::dataset(&c, name)?;
    let base = base_url(&s, &headers);
    let body = dcat::dataset(&c, r, &base, &s.config.open_license, syntax)?;
    Ok(rdf(syntax, body))
}
