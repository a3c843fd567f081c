//! Verification (核验) and batch comparison (批量比对) for the API and the pages. A verification
//! says per item whether the base library agrees with what a department holds — never a value.
//! Batch comparison: a department's list of people, each
//! linked to a population subject by key, by the fusion's own model or not at all — with the
//! class, the probability and the evidence — and the subject's granted items as the grant shows
//! them. It rests on a grant for `base:population` (or the bureau's standing) and is one record
//! of the read audit.

use crate::AppState;
use crate::app::share::{plan_read, read_done, refused};
use crate::error::ApiResult;
use serde::Deserialize;
use yishu_meta::Principal;
use yishu_share::ReadRequest;
use yishu_share::audit::Channel;
use yishu_share::gate::MAX_PAGE;
use yishu_share::target::Target;
use yishu_share::verify;

/// The columns a comparison reads, as the population library names them.
const COMPARED: [&str; 5] = ["公民身份号码", "姓名", "出生日期", "性别", "住址"];

/// Body of a batch comparison: people as the caller holds them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareBody {
    /// Up to 10,000 rows of text by column: 公民身份号码 (may be missing or wrong), 姓名,
    /// 出生日期, 性别 (男/女 or 1/2), 住址 — or the caller's own names, mapped.
    pub records: Vec<std::collections::BTreeMap<String, String>>,
    /// The caller's column name → the library's (`{"身份证号": "公民身份号码"}`).
    #[serde(default)]
    pub mapping: std::collections::BTreeMap<String, String>,
}

/// One row's answer: how it matched and the subject as the grant shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Compared {
    pub class: yishu_fusion::batch::MatchClass,
    pub probability: Option<f64>,
    pub evidence: std::collections::BTreeMap<String, yishu_fusion::batch::Evidence>,
    /// The granted items of the subject (masked as the grant says); none when not matched.
    pub subject: Option<std::collections::BTreeMap<String, String>>,
}

/// The answer of a batch comparison.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Comparison {
    pub results: Vec<Compared>,
    /// Rows by class: key, model, review, none.
    pub counts: std::collections::BTreeMap<String, usize>,
}

/// The caller's rows as person records, columns mapped by name or by `mapping`; a column that
/// is neither is refused in words.
pub fn people(
    b: &CompareBody,
) -> Result<Vec<yishu_fusion::link::PersonRecord>, yishu_types::Error> {
    use yishu_types::Error;
    if b.records.is_empty() || b.records.len() > verify::MAX_RECORDS {
        return Err(Error::field(
            "records",
            format!("1 to {} rows a call", verify::MAX_RECORDS),
        ));
    }
    for (from, to) in &b.mapping {
        if !COMPARED.contains(&to.as_str()) {
            return Err(Error::field(
                &format!("mapping.{from}"),
                format!("'{to}' is none of {}", COMPARED.join("、")),
            ));
        }
    }
    let mut out = Vec::with_capacity(b.records.len());
    for (i, r) in b.records.iter().enumerate() {
        let mut v: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
        for (col, val) in r {
            let to = b.mapping.get(col).map(String::as_str).unwrap_or(col);
            if !COMPARED.contains(&to) {
                return Err(Error::field(
                    &format!("records[{i}].{col}"),
                    format!(
                        "not a column compared ({}); map it with \"mapping\"",
                        COMPARED.join("、")
                    ),
                ));
            }
            v.insert(
                COMPARED.iter().find(|c| **c == to).copied().unwrap_or(""),
                val.trim(),
            );
        }
        let get = |c: &str| v.get(c).copied().filter(|x| !x.is_empty());
        out.push(yishu_fusion::link::PersonRecord {
            id: get("公民身份号码").unwrap_or_default().to_uppercase(),
            name: get("姓名").unwrap_or_default().to_string(),
            sex: get("性别").map(|s| match s {
                "男" => "1".to_string(),
                "女" => "2".to_string(),
                other => other.to_string(),
            }),
            birth: get("出生日期").and_then(|d| yishu_types::date::parse_cn_date(d).ok()),
            address: get("住址").map(yishu_fusion::address::parse_address),
        });
    }
    Ok(out)
}

/// Compares `body`'s people for `who` (audited on channel `ch`).
pub async fn compare(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    body: &CompareBody,
) -> ApiResult<Comparison> {
    use yishu_fusion::SubjectKind;
    use yishu_fusion::batch::MatchClass;
    let kind = SubjectKind::Person;
    let target = Target::Base(kind).as_string();
    let source = s.sources.base(&s.store, &s.lake, kind).await;
    let req = ReadRequest {
        limit: MAX_PAGE,
        ..Default::default()
    };
    let plan = plan_read(s, who, ch, &target, source, &req).await?;
    let done = async {
        let records = people(body)?;
        let matched = yishu_fusion::batch::match_people(&s.store, &s.lake, &records).await?;
        let keys: Vec<String> = matched
            .iter()
            .filter(|m| matches!(m.class, MatchClass::Key | MatchClass::Model))
            .filter_map(|m| m.subject_key.clone())
            .collect();
        let columns = plan.columns_for(&plan.items);
        let rows = yishu_fusion::library::by_keys(&s.lake, kind, &keys, &columns).await?;
        Ok::<_, yishu_types::Error>((matched, rows))
    }
    .await;
    let (matched, rows) = match done {
        Ok(x) => x,
        Err(e) => return Err(refused(s, who, ch, &target, e).await),
    };
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut read: Vec<&str> = Vec::new();
    let mut results = Vec::with_capacity(matched.len());
    for m in &matched {
        // A linked subject outside the grant's rows is, to the caller, nobody.
        let shown = match m.class {
            MatchClass::Key | MatchClass::Model => m
                .subject_key
                .as_ref()
                .and_then(|k| rows.get(k))
                .and_then(|row| plan.apply(row)),
            _ => None,
        };
        let class = if shown.is_none() && matches!(m.class, MatchClass::Key | MatchClass::Model) {
            MatchClass::None
        } else {
            m.class
        };
        if shown.is_some()
            && let Some(k) = &m.subject_key
            && read.len() < 200
        {
            read.push(k);
        }
        *counts.entry(class.as_str().to_string()).or_default() += 1;
        results.push(Compared {
            class,
            probability: m.probability,
            evidence: if class == MatchClass::None {
                Default::default()
            } else {
                m.evidence.clone()
            },
            subject: shown,
        });
    }
    let n = results.iter().filter(|r| r.subject.is_some()).count();
    read_done(s, who, ch, &plan, n, &read).await?;
    Ok(Comparison { results, counts })
}

/// Verifies `records` against base library `library` for `who` (one read-audit record on
/// channel `ch`, with the count, never the values).
pub async fn verify(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    library: &str,
    records: &[verify::Claim],
) -> ApiResult<verify::Verification> {
    use yishu_share::gate::Source;
    use yishu_types::ErrorCode;
    let kind = match Target::parse(&format!("verify:{library}")) {
        Ok(Target::Verify(k)) => k,
        _ => {
            return Err(crate::error::ApiError::new(
                ErrorCode::RouteNotFound,
                format!(
                    "no base library '{library}' to verify against; use population, entities or houses"
                ),
            ));
        }
    };
    let target = Target::Verify(kind).as_string();
    let source = s
        .sources
        .base(&s.store, &s.lake, kind)
        .await
        .map(|base| Source {
            target: target.clone(),
            ..base
        });
    let mut items: Vec<String> = Vec::new();
    for c in records {
        for i in c.items.keys() {
            if !items.contains(i) {
                items.push(i.clone());
            }
        }
    }
    let req = ReadRequest {
        items,
        limit: MAX_PAGE,
        ..Default::default()
    };
    let plan = plan_read(s, who, ch, &target, source, &req).await?;
    let done = match verify::verify(&s.lake, kind, &plan, records).await {
        Ok(v) => v,
        Err(e) => return Err(refused(s, who, ch, &target, e).await),
    };
    let found: Vec<&str> = records
        .iter()
        .zip(&done.results)
        .filter(|(_, r)| r.found)
        .map(|(c, _)| c.key.trim())
        .take(200)
        .collect();
    read_done(s, who, ch, &plan, done.records, &found).await?;
    Ok(done)
}
