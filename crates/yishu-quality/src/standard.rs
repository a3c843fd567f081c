//! Conformance to the data elements items are bound to (标准符合性): the type, length and value
//! domain of a data element become checks run on every batch, so the gap between the standard and
//! the data ("标准和数据两张皮") is a number on the batch, not a hope.

use crate::rule::{RuleDef, Validator};
use serde::{Deserialize, Serialize};
use yishu_meta::quality::DataElement;

/// What part of the data element a conformance check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    Type,
    Length,
    Domain,
}

/// One check of an item against its data element.
#[derive(Debug, Clone, PartialEq)]
pub struct Conformance {
    pub item: String,
    pub element: String,
    pub version: i64,
    pub aspect: Aspect,
    pub def: RuleDef,
}

/// The checks a data element implies for an item.
pub fn checks(item: &str, de: &DataElement) -> Vec<Conformance> {
    let mut out = Vec::new();
    let mut push = |aspect, def| {
        out.push(Conformance {
            item: item.to_string(),
            element: de.identifier.clone(),
            version: de.version,
            aspect,
            def,
        })
    };
    let format = |regex: Option<&str>, validator: Option<Validator>| RuleDef::Format {
        column: item.to_string(),
        regex: regex.map(String::from),
        validator,
    };
    match de.data_type.as_str() {
        "N" | "Y" => push(Aspect::Type, format(Some(r"^-?\d+(\.\d+)?$"), None)),
        "D" => push(Aspect::Type, format(None, Some(Validator::Date))),
        "T" => push(
            Aspect::Type,
            format(Some(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$"), None),
        ),
        _ => {}
    }
    if let Some(len) = de.length.filter(|l| *l > 0) {
        push(
            Aspect::Length,
            RuleDef::Range {
                column: item.to_string(),
                min: None,
                max: None,
                min_len: None,
                max_len: Some(len as u64),
                after: None,
                before: None,
            },
        );
    }
    let d = &de.domain;
    if let Some(t) = d.get("code_table").and_then(|v| v.as_str()) {
        push(
            Aspect::Domain,
            RuleDef::CodeTable {
                column: item.to_string(),
                table: t.to_string(),
            },
        );
    }
    if let Some(v) = d
        .get("validator")
        .and_then(|v| serde_json::from_value::<Validator>(v.clone()).ok())
    {
        push(Aspect::Domain, format(None, Some(v)));
    }
    if let Some(re) = d.get("regex").and_then(|v| v.as_str()) {
        push(Aspect::Domain, format(Some(re), None));
    }
    let (min, max) = (
        d.get("min").and_then(|v| v.as_f64()),
        d.get("max").and_then(|v| v.as_f64()),
    );
    if min.is_some() || max.is_some() {
        push(
            Aspect::Domain,
            RuleDef::Range {
                column: item.to_string(),
                min,
                max,
                min_len: None,
                max_len: None,
                after: None,
                before: None,
            },
        );
    }
    out
}

/// How an item conformed to its data element on one batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemConformance {
    pub item: String,
    pub element: String,
    pub version: i64,
    pub checked: u64,
    /// Values failing the type, length and domain checks.
    pub type_failed: u64,
    pub length_failed: u64,
    pub domain_failed: u64,
    /// Why a check could not run (e.g. a code table that no longer exists).
    pub broken: Vec<String>,
}

impl ItemConformance {
    /// Share of checked values with no failure of any aspect (an upper bound when a value fails
    /// more than one).
    pub fn rate(&self) -> f64 {
        let failed = (self.type_failed + self.length_failed + self.domain_failed).min(self.checked);
        crate::profile::rate(self.checked - failed, self.checked)
    }
}

/// A data element the bureau ships: the ones the national code tables and validators define.
pub fn national_elements() -> Vec<yishu_meta::quality::NewDataElement> {
    use serde_json::json;
    let de = |id: &str, name: &str, def: &str, t: &str, len: i64, fmt: &str, domain, std: &str| {
        yishu_meta::quality::NewDataElement {
            identifier: id.into(),
            name: name.into(),
            definition: def.into(),
            data_type: t.into(),
            length: Some(len),
            format: fmt.into(),
            domain,
            unit: String::new(),
            security_level: String::new(),
            source_standard: std.into(),
        }
    };
    let mut out = vec![
        de(
            "citizen_id",
            "公民身份号码",
            "国家为每个公民编制的唯一的、终身不变的身份代码",
            "C",
            18,
            "an18",
            json!({"validator": "citizen_id"}),
            "GB 11643-1999",
        ),
        de(
            "credit_code",
            "统一社会信用代码",
            "法人和其他组织的唯一身份识别代码",
            "C",
            18,
            "an18",
            json!({"validator": "credit_code"}),
            "GB 32100-2015",
        ),
        de(
            "division_code",
            "行政区划代码",
            "县级及以上行政区划的代码",
            "C",
            6,
            "n6",
            json!({"validator": "division"}),
            "GB/T 2260-2007",
        ),
        de(
            "mobile",
            "移动电话号码",
            "个人移动电话号码",
            "C",
            11,
            "n11",
            json!({"validator": "mobile"}),
            "YD/T 2375",
        ),
        de(
            "birth_date",
            "出生日期",
            "个人出生的公历日期",
            "D",
            10,
            "YYYY-MM-DD",
            json!({}),
            "GB/T 7408-2005",
        ),
    ];
    for t in yishu_types::codes::national() {
        let len = t
            .entries
            .iter()
            .map(|e| e.code.chars().count())
            .max()
            .unwrap_or(1) as i64;
        out.push(de(
            &format!("{}_code", t.id),
            &format!("{}代码", t.name.trim_end_matches("代码")),
            &format!("按 {} 编码", t.source),
            "C",
            len,
            &format!("n{len}"),
            json!({"code_table": t.id}),
            &t.source,
        ));
    }
    out
}

/// Registers the national data elements; saving one unchanged keeps its version.
pub async fn seed(store: &yishu_meta::Store) -> Result<usize, yishu_types::Error> {
    let all = national_elements();
    for d in &all {
        store.put_data_element(d, None).await?;
    }
    Ok(all.len())
}
