//! Cataloguing in the console (资源编目): a new entry, or a change to one, in a form with the
//! national core metadata and the items as lines. The form goes through the same store calls as
//! the API (validation, versions, audit, search index); a refused form comes back filled in, with
//! what was wrong.

use super::catalog::show;
use super::{Chrome, PageAuth, csrf_refused, render};
use crate::AppState;
use crate::app::access::readable;
use crate::app::audit::actor;
use crate::app::catalog::audited;
use crate::auth::Catalogue;
use crate::error::ApiError;
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use std::collections::HashMap;
use yishu_meta::catalog::{
    ClassKind, Extended, ITEM_TYPES, Item, OpenType, Resource, ResourceDraft, ResourceFormat,
    ShareType, UpdateCycle,
};
use yishu_types::{Error, ErrorCode};

/// A select box: its field name, options (value, label) and the chosen value.
struct Choice {
    name: &'static str,
    label: &'static str,
    options: Vec<(&'static str, &'static str)>,
    value: String,
}

macro_rules! choice {
    ($field:literal, $label:literal, $enum:ident, $value:expr) => {
        Choice {
            name: $field,
            label: $label,
            options: $enum::ALL
                .iter()
                .map(|v| (v.as_str(), v.label_zh()))
                .collect(),
            value: $value,
        }
    };
}

#[derive(Template)]
#[template(path = "resource_edit.html")]
struct EditPage {
    c: Chrome,
    /// None for a new entry.
    id: Option<i64>,
    version: i64,
    v: HashMap<String, String>,
    choices: Vec<Choice>,
    types: String,
}

impl EditPage {
    fn val(&self, k: &str) -> &str {
        self.v.get(k).map(String::as_str).unwrap_or("")
    }
}

fn items_text(items: &[Item]) -> String {
    items
        .iter()
        .map(|i| {
            format!(
                "{},{},{},{},{}",
                i.name,
                i.item_type,
                i.length.map(|l| l.to_string()).unwrap_or_default(),
                i.data_element.clone().unwrap_or_default(),
                i.description
            )
            .trim_end_matches(',')
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The form's values for an entry (or the blank form's defaults).
fn values(d: Option<&ResourceDraft>) -> HashMap<String, String> {
    let mut v = HashMap::new();
    if let Some(d) = d {
        v.insert("class_kind".into(), d.class_kind.as_str().into());
        v.insert("class_path".into(), d.class_path.clone());
        v.insert("name".into(), d.name.clone());
        v.insert("summary".into(), d.summary.clone());
        v.insert("format".into(), d.format.as_str().into());
        v.insert("share_type".into(), d.share_type.as_str().into());
        v.insert("share_condition".into(), d.share_condition.clone());
        v.insert("open_type".into(), d.open_type.as_str().into());
        v.insert("open_condition".into(), d.open_condition.clone());
        v.insert("update_cycle".into(), d.update_cycle.as_str().into());
        v.insert("related_codes".into(), d.related_codes.join("、"));
        v.insert("keywords".into(), d.extended.keywords.join("、"));
        v.insert("contact".into(), d.extended.contact.clone());
        v.insert("sensitivity".into(), d.extended.sensitivity.clone());
        v.insert(
            "spatial_coverage".into(),
            d.extended.spatial_coverage.clone(),
        );
        v.insert("time_coverage".into(), d.extended.time_coverage.clone());
        v.insert("items".into(), items_text(&d.items));
    }
    v
}

fn page(c: Chrome, id: Option<i64>, version: i64, v: HashMap<String, String>) -> EditPage {
    let get = |k: &str| v.get(k).cloned().unwrap_or_default();
    let choices = vec![
        choice!("class_kind", "catalog.class", ClassKind, get("class_kind")),
        choice!("format", "catalog.format", ResourceFormat, get("format")),
        choice!("share_type", "catalog.share", ShareType, get("share_type")),
        choice!("open_type", "catalog.open", OpenType, get("open_type")),
        choice!(
            "update_cycle",
            "catalog.cycle",
            UpdateCycle,
            get("update_cycle")
        ),
    ];
    EditPage {
        c,
        id,
        version,
        v,
        choices,
        types: ITEM_TYPES
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join("、"),
    }
}

/// Splits a list typed with commas, 、 or spaces.
fn list(s: &str) -> Vec<String> {
    s.split([',', '，', '、', ' ', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// One item per line: `名称,类型,长度,数据元,说明` (only the name is required; the type defaults to
/// C). Errors name the line.
fn parse_items(text: &str) -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split([',', '，', '\t']).map(str::trim).collect();
        let at = |why: String| Error::field("items", format!("第 {} 行：{why}", n + 1));
        let length = match f.get(2).copied().unwrap_or("") {
            "" => None,
            l => Some(
                l.parse::<i64>()
                    .map_err(|_| at(format!("长度“{l}”不是整数")))?,
            ),
        };
        items.push(Item {
            name: f[0].to_string(),
            item_type: match f.get(1).copied().unwrap_or("") {
                "" => "C".into(),
                t => t.to_ascii_uppercase(),
            },
            length,
            data_element: f.get(3).filter(|d| !d.is_empty()).map(|d| d.to_string()),
            description: f.get(4..).map(|r| r.join(",")).unwrap_or_default(),
        });
    }
    Ok(items)
}

fn draft(
    v: &HashMap<String, String>,
    provider: yishu_types::OrgId,
) -> Result<ResourceDraft, Error> {
    let get = |k: &str| v.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let pick = |k: &str| -> Result<serde_json::Value, Error> {
        let s = get(k);
        if s.is_empty() {
            return Err(Error::field(k, "choose a value"));
        }
        Ok(json!(s))
    };
    let d = json!({
        "class_kind": pick("class_kind")?, "class_path": get("class_path"), "name": get("name"),
        "provider_org_id": provider, "summary": get("summary"), "format": pick("format")?,
        "share_type": pick("share_type")?, "share_condition": get("share_condition"),
        "open_type": pick("open_type")?, "open_condition": get("open_condition"),
        "update_cycle": pick("update_cycle")?, "related_codes": list(&get("related_codes")),
        "extended": Extended {
            contact: get("contact"),
            sensitivity: get("sensitivity"),
            keywords: list(&get("keywords")),
            spatial_coverage: get("spatial_coverage"),
            time_coverage: get("time_coverage"),
        },
        "items": parse_items(&get("items"))?,
    });
    serde_json::from_value(d).map_err(|e| Error::new(ErrorCode::InvalidInput, e.to_string()))
}

/// The blank form.
pub async fn new_form(mut page_auth: PageAuth<Catalogue>) -> Response {
    page_auth.chrome.active = "catalog";
    render(&page(page_auth.chrome, None, 0, values(None)))
}

/// The form filled with the entry's current metadata.
pub async fn edit_form(
    State(s): State<AppState>,
    mut p: PageAuth<Catalogue>,
    Path(id): Path<i64>,
) -> Response {
    p.chrome.active = "catalog";
    match readable(&s, p.auth.who(), id).await {
        Ok(r) => render(&page(p.chrome, Some(id), r.version, values(Some(&r.meta)))),
        Err(e) => {
            let status = super::failed(&mut p.chrome, &e.0);
            (status, render(&super::Message { c: p.chrome })).into_response()
        }
    }
}

/// Creates an entry (a draft of the officer's department) or saves a change to one.
pub async fn save(
    State(s): State<AppState>,
    mut p: PageAuth<Catalogue>,
    id: Option<Path<i64>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    p.chrome.active = "catalog";
    let v: HashMap<String, String> = fields.into_iter().collect();
    if !p.csrf_ok(v.get("_csrf").map(String::as_str).unwrap_or("")) {
        return csrf_refused();
    }
    let id = id.map(|Path(id)| id);
    let version: i64 = v.get("version").and_then(|x| x.parse().ok()).unwrap_or(0);
    let who = p.auth.who().clone();
    let result: Result<Resource, ApiError> = async {
        let provider = match id {
            Some(id) => readable(&s, &who, id).await?.meta.provider_org_id,
            None => who.org_id,
        };
        let d = draft(&v, provider)?;
        let (r, action, object) = match id {
            None => (
                s.store.create_resource(&d, &actor(&who)).await,
                "resource.create",
                "resource:-".to_string(),
            ),
            Some(id) => (
                s.store.update_resource(id, &d, version, &actor(&who)).await,
                "resource.update",
                format!("resource_id:{id}"),
            ),
        };
        audited(
            &s,
            &p.auth,
            action,
            object,
            r,
            json!({"name": d.name, "version": version}),
        )
        .await
    }
    .await;
    match result {
        Ok(r) if id.is_none() => {
            Redirect::to(&format!("/console/catalog/{}", r.id)).into_response()
        }
        Ok(r) => {
            p.chrome.flash = Some(format!("{}：v{}", p.chrome.t.t("edit.saved"), r.version));
            show(&s, p.chrome, &who, r.id, StatusCode::OK).await
        }
        Err(e) => {
            let status = super::failed(&mut p.chrome, &e.0);
            (status, render(&page(p.chrome, id, version, v))).into_response()
        }
    }
}
