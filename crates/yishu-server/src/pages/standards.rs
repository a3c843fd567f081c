//! The standards page: the national data elements and code tables, and importing a department's
//! code table mapped to the national one.

use super::{Chrome, PageAuth, render};
use crate::AppState;
use crate::app::quality as api;
use crate::auth::SignedIn;
use crate::error::{ApiError, ApiResult};
use crate::pages::quality::failure;
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use yishu_types::{ErrorCode, Role};

#[derive(Template)]
#[template(path = "standards.html")]
struct Standards {
    c: Chrome,
    elements: Vec<yishu_meta::quality::DataElement>,
    national: Vec<api::NationalTable>,
    local: Vec<yishu_meta::quality::LocalCodeTable>,
    /// May import a department's code table.
    may_import: bool,
    /// After an import: the codes to map by hand (code, name, proposed national code).
    to_check: Vec<(String, String, String)>,
}

impl Standards {
    fn domain(&self, d: &yishu_meta::quality::DataElement) -> String {
        d.domain.to_string()
    }
}

/// The registry: data elements (newest versions) and code tables, national and departmental.
pub async fn standards(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    let who = page.auth.who().clone();
    standards_page(&s, page.chrome, &who, StatusCode::OK, Vec::new()).await
}

async fn standards_page(
    s: &AppState,
    mut c: Chrome,
    who: &yishu_meta::Principal,
    status: StatusCode,
    to_check: Vec<(String, String, String)>,
) -> Response {
    c.active = "quality";
    let built: ApiResult<_> = async {
        let elements = s.store.data_elements().await?;
        let tables = api::tables(s).await?;
        Ok((elements, tables))
    }
    .await;
    match built {
        Ok((elements, tables)) => (
            status,
            render(&Standards {
                c,
                elements,
                national: tables.national,
                local: tables.local,
                may_import: who.has(Role::ProviderOfficer)
                    || who.has(Role::DataManager)
                    || who.has(Role::Admin),
                to_check,
            }),
        )
            .into_response(),
        Err(e) => failure(c, e),
    }
}

/// A department's code table from an uploaded CSV or XLSX, mapped to a national table; the codes
/// that could not be mapped by name are listed for a person to check.
pub async fn import_code_table(
    State(s): State<AppState>,
    mut page: PageAuth<crate::auth::Quality>,
    mut mp: Multipart,
) -> Response {
    let parts = match super::resource_forms::checked_upload(&page, &mut mp).await {
        Ok(parts) => parts,
        Err(refused) => return refused,
    };
    let result = async {
        let up = parts?;
        if up.data.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "choose a CSV or XLSX file of codes and names",
            ));
        }
        let q = api::ImportQuery {
            name: up.field("name").trim().to_string(),
            national: Some(up.field("national").trim().to_string()).filter(|n| !n.is_empty()),
        };
        api::import_codes(&s, &page.auth, up.field("id").trim(), &q, &up.data).await
    }
    .await;
    let who = page.auth.who().clone();
    match result {
        Ok((saved, to_check)) => {
            page.chrome.flash = Some(format!(
                "{} {}（{} v{}）",
                page.chrome.t.t("quality.codes_imported"),
                saved.entries.len(),
                saved.id,
                saved.version
            ));
            let rows = to_check
                .into_iter()
                .map(|m| {
                    (
                        m.local.code,
                        m.local.name,
                        m.national
                            .map(|e| format!("{} {}", e.code, e.name))
                            .unwrap_or_default(),
                    )
                })
                .collect();
            standards_page(&s, page.chrome, &who, StatusCode::OK, rows).await
        }
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            standards_page(&s, page.chrome, &who, status, Vec::new()).await
        }
    }
}
