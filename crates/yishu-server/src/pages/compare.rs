//! The batch comparison (批量比对) and verification (核验) pages: a department uploads its list
//! of people (CSV in UTF-8 or GBK, its own column names mapped to the library's) and sees how each
//! row linked to the population library — by number, by the fusion's model, for review, or not at
//! all — with the subject's granted items, or per item whether the library agrees; or takes the
//! whole answer as a CSV file beside its own columns.

use super::resource_forms::{Upload, checked_upload};
use super::{Chrome, PageAuth, render};
use crate::AppState;
use crate::app::compare::{self, CompareBody, Comparison};
use crate::auth::SignedIn;
use crate::error::ApiError;
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use yishu_types::ErrorCode;

/// Rows shown on the page (the CSV file has them all).
const SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "compare.html")]
struct Page {
    c: Chrome,
    mapping: String,
    /// The answer: counts by class, the columns of the subject, rows (line, name, class,
    /// probability, subject's values).
    counts: Vec<(String, usize)>,
    items: Vec<String>,
    rows: Vec<(usize, String, String, String, Vec<String>)>,
    total: usize,
}

impl Page {
    fn class_label(&self, class: &str) -> &'static str {
        self.c.t.t(match class {
            "key" => "cmp.key",
            "model" => "cmp.model",
            "review" => "cmp.review",
            _ => "cmp.none",
        })
    }
}

fn empty(c: Chrome, mapping: String) -> Page {
    Page {
        c,
        mapping,
        counts: Vec::new(),
        items: Vec::new(),
        rows: Vec::new(),
        total: 0,
    }
}

pub async fn form(page: PageAuth<SignedIn>) -> Response {
    let mut c = page.chrome;
    c.active = "share";
    render(&empty(c, String::new())).into_response()
}

/// The upload's text: UTF-8 (with or without BOM), else GB18030 (GBK's superset).
fn decoded(data: &[u8]) -> String {
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match std::str::from_utf8(body) {
        Ok(t) => t.to_string(),
        Err(_) => encoding_rs::GB18030.decode(body).0.into_owned(),
    }
}

/// The uploaded rows by their own column names, and the mapping to the library's names.
fn body_of(up: &Upload) -> Result<(CompareBody, Vec<String>), ApiError> {
    if up.data.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "file: choose a CSV file of people",
        ));
    }
    let text = decoded(&up.data);
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("file: no heading row: {e}"),
            )
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut records = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("file: line {}: {e}", i + 2),
            )
        })?;
        records.push(
            header
                .iter()
                .zip(rec.iter())
                .filter(|(h, v)| !h.is_empty() && !v.trim().is_empty())
                .map(|(h, v)| (h.clone(), v.trim().to_string()))
                .collect::<BTreeMap<_, _>>(),
        );
    }
    let lines: Vec<String> = up
        .field("mapping")
        .lines()
        .map(|l| l.trim().replace('＝', "="))
        .filter(|l| !l.is_empty())
        .collect();
    let mapping = yishu_ingest::mapping::parse_pairs(&lines)?;
    Ok((CompareBody { records, mapping }, header))
}

/// An upload form as both pages read it: the file and fields (or why not), the page's chrome,
/// the caller, the mapping as typed and whether the answer is wanted as a file.
struct Uploaded {
    parts: Result<Upload, ApiError>,
    c: Chrome,
    auth: crate::auth::Auth<SignedIn>,
    mapping: String,
    download: bool,
}

impl Uploaded {
    async fn read(page: PageAuth<SignedIn>, mp: &mut Multipart) -> Result<Uploaded, Response> {
        let parts = checked_upload(&page, mp).await?;
        let (mut c, auth) = (page.chrome, page.auth);
        c.active = "share";
        let mapping = parts
            .as_ref()
            .map(|u| u.field("mapping").to_string())
            .unwrap_or_default();
        let download = parts.as_ref().is_ok_and(|u| u.field("op") == "download");
        Ok(Uploaded {
            parts,
            c,
            auth,
            mapping,
            download,
        })
    }
}

pub async fn run(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    mut mp: Multipart,
) -> Response {
    let Uploaded {
        parts,
        mut c,
        auth,
        mapping,
        download,
    } = match Uploaded::read(page, &mut mp).await {
        Ok(u) => u,
        Err(refused) => return refused,
    };
    let ch = auth.meta.channel("compare");
    let done = async {
        let up = parts?;
        let (body, header) = body_of(&up)?;
        let answer = compare::compare(&s, auth.who(), &ch, &body).await?;
        Ok::<_, ApiError>((body, header, answer))
    }
    .await;
    let (body, header, answer) = match done {
        Ok(x) => x,
        Err(e) => {
            let status = super::failed(&mut c, &e.0);
            return (status, render(&empty(c, mapping))).into_response();
        }
    };
    if download {
        return csv_file(&body, &header, &answer);
    }
    let items: Vec<String> = answer
        .results
        .iter()
        .find_map(|r| r.subject.as_ref().map(|s| s.keys().cloned().collect()))
        .unwrap_or_default();
    let name_col = body
        .mapping
        .iter()
        .find(|(_, to)| to.as_str() == "姓名")
        .map(|(from, _)| from.clone())
        .unwrap_or_else(|| "姓名".into());
    let rows = body
        .records
        .iter()
        .zip(&answer.results)
        .take(SHOWN)
        .enumerate()
        .map(|(i, (rec, r))| {
            (
                i + 2,
                rec.get(&name_col).cloned().unwrap_or_default(),
                r.class.as_str().to_string(),
                r.probability.map(|p| format!("{p:.3}")).unwrap_or_default(),
                items
                    .iter()
                    .map(|k| {
                        r.subject
                            .as_ref()
                            .and_then(|s| s.get(k))
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect(),
            )
        })
        .collect();
    let page = Page {
        c,
        mapping,
        counts: answer.counts.clone().into_iter().collect(),
        items,
        rows,
        total: answer.results.len(),
    };
    (StatusCode::OK, render(&page)).into_response()
}

/// The answer beside the uploaded columns, as a CSV file (UTF-8 with BOM).
fn csv_file(body: &CompareBody, header: &[String], answer: &Comparison) -> Response {
    let items: Vec<String> = answer
        .results
        .iter()
        .find_map(|r| r.subject.as_ref().map(|s| s.keys().cloned().collect()))
        .unwrap_or_default();
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let mut head: Vec<String> = header.to_vec();
    head.extend(["匹配方式".to_string(), "匹配概率".to_string()]);
    head.extend(items.iter().map(|i| format!("库内{i}")));
    let _ = w.write_record(&head);
    for (rec, r) in body.records.iter().zip(&answer.results) {
        let mut row: Vec<String> = header
            .iter()
            .map(|h| rec.get(h).cloned().unwrap_or_default())
            .collect();
        row.push(r.class.as_str().to_string());
        row.push(r.probability.map(|p| format!("{p:.3}")).unwrap_or_default());
        row.extend(items.iter().map(|k| {
            r.subject
                .as_ref()
                .and_then(|s| s.get(k))
                .cloned()
                .unwrap_or_default()
        }));
        let _ = w.write_record(&row);
    }
    let bytes = w.into_inner().unwrap_or_default();
    crate::download::file(
        "text/csv; charset=utf-8",
        "comparison.csv",
        axum::body::Body::from(bytes),
    )
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    c: Chrome,
    mapping: String,
    /// Per item compared: (item, matched, mismatched, no value).
    tally: Vec<(String, usize, usize, usize)>,
    items: Vec<String>,
    /// (line, key as sent, found, verdict per item)
    rows: Vec<(usize, String, bool, Vec<String>)>,
    total: usize,
    found: usize,
}

impl VerifyPage {
    fn verdict(&self, v: &str) -> &'static str {
        self.c.t.t(match v {
            "match" => "ver.match",
            "mismatch" => "ver.mismatch",
            "no_value" => "ver.no_value",
            _ => "ver.not_found",
        })
    }
}

fn verify_empty(c: Chrome, mapping: String) -> VerifyPage {
    VerifyPage {
        c,
        mapping,
        tally: Vec::new(),
        items: Vec::new(),
        rows: Vec::new(),
        total: 0,
        found: 0,
    }
}

pub async fn verify_form(page: PageAuth<SignedIn>) -> Response {
    let mut c = page.chrome;
    c.active = "share";
    render(&verify_empty(c, String::new())).into_response()
}

/// An upload as claims, its rows by column, and its heading.
type Claims = (
    Vec<yishu_share::verify::Claim>,
    Vec<BTreeMap<String, String>>,
    Vec<String>,
);

/// The uploaded rows as claims: the column mapped to 公民身份号码 is the key, every other
/// (mapped) column an item to compare.
fn claims_of(up: &Upload) -> Result<Claims, ApiError> {
    let (body, header) = body_of(up)?;
    let key_col = body
        .mapping
        .iter()
        .find(|(_, to)| to.as_str() == "公民身份号码")
        .map(|(from, _)| from.clone())
        .unwrap_or_else(|| "公民身份号码".into());
    if !header.contains(&key_col) {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!(
                "file: no column '{key_col}' holding the 公民身份号码 (map yours with 列名=公民身份号码)"
            ),
        ));
    }
    let claims = body
        .records
        .iter()
        .map(|r| yishu_share::verify::Claim {
            key: r.get(&key_col).cloned().unwrap_or_default(),
            items: r
                .iter()
                .filter(|(col, _)| **col != key_col)
                .map(|(col, v)| {
                    (
                        body.mapping
                            .get(col)
                            .cloned()
                            .unwrap_or_else(|| col.clone()),
                        v.clone(),
                    )
                })
                .collect(),
        })
        .collect();
    Ok((claims, body.records, header))
}

pub async fn verify_run(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    mut mp: Multipart,
) -> Response {
    let Uploaded {
        parts,
        mut c,
        auth,
        mapping,
        download,
    } = match Uploaded::read(page, &mut mp).await {
        Ok(u) => u,
        Err(refused) => return refused,
    };
    let ch = auth.meta.channel("verify");
    let done = async {
        let up = parts?;
        let (claims, records, header) = claims_of(&up)?;
        let answer = compare::verify(&s, auth.who(), &ch, "population", &claims).await?;
        Ok::<_, ApiError>((claims, records, header, answer))
    }
    .await;
    let (claims, records, header, answer) = match done {
        Ok(x) => x,
        Err(e) => {
            let status = super::failed(&mut c, &e.0);
            return (status, render(&verify_empty(c, mapping))).into_response();
        }
    };
    let items: Vec<String> = answer.tally.keys().cloned().collect();
    let verdict = |r: &yishu_share::verify::Checked, i: &str| -> String {
        if !r.found {
            return "not_found".into();
        }
        r.items
            .get(i)
            .and_then(|v| serde_json::to_value(v).ok())
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    };
    if download {
        let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
        let mut head = header.clone();
        head.extend(items.iter().map(|i| format!("{i}核验")));
        let _ = w.write_record(&head);
        for (rec, r) in records.iter().zip(&answer.results) {
            let mut row: Vec<String> = header
                .iter()
                .map(|h| rec.get(h).cloned().unwrap_or_default())
                .collect();
            row.extend(items.iter().map(|i| verdict(r, i)));
            let _ = w.write_record(&row);
        }
        return crate::download::file(
            "text/csv; charset=utf-8",
            "verification.csv",
            axum::body::Body::from(w.into_inner().unwrap_or_default()),
        );
    }
    let rows = claims
        .iter()
        .zip(&answer.results)
        .take(SHOWN)
        .enumerate()
        .map(|(n, (cl, r))| {
            (
                n + 2,
                cl.key.clone(),
                r.found,
                items.iter().map(|i| verdict(r, i)).collect(),
            )
        })
        .collect();
    let page = VerifyPage {
        c,
        mapping,
        tally: answer
            .tally
            .iter()
            .map(|(i, t)| (i.clone(), t.matched, t.mismatched, t.no_value))
            .collect(),
        items,
        rows,
        total: answer.records,
        found: answer.found,
    };
    (StatusCode::OK, render(&page)).into_response()
}
