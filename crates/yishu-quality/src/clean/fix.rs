//! The fixes cleaning applies to one item's values, ready to run, and the batch's columns as
//! fixes change them.

use super::{LocalTables, StdType};
use crate::text::Texts;
use std::collections::HashMap;
use std::sync::Arc;
use yishu_lake::arrow::array::{Array, ArrayRef, RecordBatch, StringArray, StringBuilder};
use yishu_lake::arrow::datatypes::DataType;
use yishu_types::{Error, ErrorCode};

/// Removes spaces at the ends and spaces next to a Chinese character.
pub(super) fn trim_cjk(s: &str) -> String {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
    let chars: Vec<char> = t.chars().collect();
    let cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c) || c == '·';
    let mut out = String::with_capacity(t.len());
    for (i, &c) in chars.iter().enumerate() {
        if c.is_whitespace() || c == '\u{3000}' {
            let prev = chars[..i]
                .iter()
                .rev()
                .find(|c| !c.is_whitespace() && **c != '\u{3000}');
            let next = chars[i + 1..]
                .iter()
                .find(|c| !c.is_whitespace() && **c != '\u{3000}');
            if prev.is_some_and(|p| cjk(*p)) || next.is_some_and(|n| cjk(*n)) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// A fix ready to run, with what it needs (code lookups, dependency majorities).
pub(super) enum Ready {
    Trim,
    HalfWidth,
    UnifyDate,
    MapCodes(HashMap<String, String>),
    UpgradeId15,
    Simplify,
    /// The position of the ID column among the std columns.
    BirthFromId(Option<usize>),
    Fill(Vec<String>, HashMap<String, String>),
}

impl Ready {
    pub(super) fn apply(&self, v: &str) -> Option<String> {
        // Most values need no fix: say so without building a new string.
        let untouched = match self {
            Ready::Trim => !v.chars().any(|c| c.is_whitespace() || c == '\u{3000}'),
            Ready::HalfWidth => v.is_ascii(),
            Ready::UnifyDate => is_iso_date(v),
            Ready::MapCodes(m) => m.get(v).is_some_and(|c| c == v),
            Ready::UpgradeId15 => v.trim().len() != 15,
            Ready::Simplify => v.is_ascii(),
            Ready::BirthFromId(_) | Ready::Fill(..) => true,
        };
        if untouched {
            return None;
        }
        let out = match self {
            Ready::Trim => trim_cjk(v),
            Ready::HalfWidth => yishu_types::text::fold_width(v),
            Ready::UnifyDate => match yishu_types::date::parse_cn_date(v) {
                Ok(d) => d.format("%Y-%m-%d").to_string(),
                Err(_) => return None,
            },
            Ready::MapCodes(m) => m.get(&map_key(v))?.clone(),
            Ready::UpgradeId15 => yishu_types::citizen_id::CitizenId::upgrade15(v.trim())
                .ok()?
                .as_str()
                .to_string(),
            Ready::Simplify => fast2s::convert(v),
            Ready::BirthFromId(_) | Ready::Fill(..) => return None,
        };
        (out != v).then_some(out)
    }
}

/// The birth date a valid citizen ID holds, when `birth` is missing or another date.
pub(super) fn birth_from_id(id: Option<&str>, birth: Option<&str>) -> Option<String> {
    let id = yishu_types::citizen_id::CitizenId::parse(id?.trim()).ok()?;
    let want = id.birth_date();
    let given = birth
        .filter(|b| !b.trim().is_empty())
        .and_then(|b| yishu_types::date::parse_cn_date(b.trim()).ok());
    (given != Some(want)).then(|| want.format("%Y-%m-%d").to_string())
}

/// `yyyy-mm-dd` already.
pub(super) fn is_iso_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

pub(super) fn map_key(s: &str) -> String {
    yishu_types::text::fold_width(s).trim().to_lowercase()
}

/// Every spelling a national table resolves, and a department table's mapped codes.
pub(super) fn code_map(table: &str, local: &LocalTables) -> HashMap<String, String> {
    let mut m = HashMap::new();
    if let Some(t) = yishu_types::codes::table(table) {
        for e in &t.entries {
            for s in std::iter::once(&e.code)
                .chain(std::iter::once(&e.name))
                .chain(&e.aliases)
            {
                m.insert(map_key(s), e.code.clone());
            }
        }
    } else if let Some(entries) = local.get(table) {
        for (code, national) in entries {
            if let Some(n) = national {
                m.insert(map_key(code), n.clone());
            }
        }
    }
    m
}

pub(super) fn lake_err(
    what: String,
) -> impl FnOnce(yishu_lake::datafusion::error::DataFusionError) -> Error {
    move |e| Error::new(ErrorCode::LakeError, format!("{what}: {e}"))
}

/// The values of `cols` in row `i`, joined as a lookup key.
pub(super) fn key_of(b: &RecordBatch, cols: &[String], i: usize) -> String {
    cols.iter()
        .map(|c| {
            b.column_by_name(c)
                .and_then(Texts::of)
                .and_then(|t| t.present(i))
                .unwrap_or_default()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// One batch's item columns as read, with the values fixes replaced. Untouched columns are passed
/// through without copying their values.
pub(super) struct Columns<'a> {
    read: Vec<Option<&'a ArrayRef>>,
    texts: Vec<Option<Texts<'a>>>,
    /// Per column, when a fix changed any value: the replaced values by row.
    fixed: Vec<Option<Vec<Option<String>>>>,
    rows: usize,
}

impl<'a> Columns<'a> {
    pub(super) fn new(b: &'a RecordBatch, columns: &[(String, StdType)]) -> Self {
        let read: Vec<Option<&ArrayRef>> =
            columns.iter().map(|(c, _)| b.column_by_name(c)).collect();
        Columns {
            texts: read.iter().map(|a| a.and_then(Texts::of)).collect(),
            read,
            fixed: vec![None; columns.len()],
            rows: b.num_rows(),
        }
    }

    /// The value at row `i`, after the fixes so far.
    pub(super) fn get(&self, c: usize, i: usize) -> Option<&str> {
        if let Some(v) = self.fixed[c].as_ref().and_then(|f| f[i].as_deref()) {
            return Some(v);
        }
        self.texts[c].and_then(|t| t.get(i))
    }

    pub(super) fn set(&mut self, c: usize, i: usize, v: String) {
        let rows = self.rows;
        self.fixed[c].get_or_insert_with(|| vec![None; rows])[i] = Some(v);
    }

    /// The column as text, fixes included (the read array itself when nothing changed).
    pub(super) fn array(&self, c: usize) -> ArrayRef {
        match (&self.fixed[c], self.read[c]) {
            (None, Some(a)) if self.texts[c].is_some() => a.clone(),
            _ => Arc::new(StringArray::from_iter(
                (0..self.rows).map(|i| self.get(c, i)),
            )),
        }
    }

    /// The std text column: fixes included, blank values as null.
    pub(super) fn text_array(&self, c: usize) -> Result<ArrayRef, Error> {
        let blank = |i: usize| self.get(c, i).is_some_and(|s| s.trim().is_empty());
        if self.fixed[c].is_none()
            && let Some(a) = self.read[c]
            && self.texts[c].is_some()
            && !(0..self.rows).any(blank)
        {
            return as_utf8(a);
        }
        Ok(Arc::new(StringArray::from_iter(
            (0..self.rows).map(|i| self.get(c, i).filter(|s| !s.trim().is_empty())),
        )))
    }
}

/// A text array in the std layer's layout (Utf8).
pub(super) fn as_utf8(a: &ArrayRef) -> Result<ArrayRef, Error> {
    if a.data_type() == &DataType::Utf8 {
        return Ok(a.clone());
    }
    yishu_lake::arrow::compute::cast(a, &DataType::Utf8)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("std text column: {e}")))
}

/// A number as departments write it (thousands separators allowed).
pub(super) fn parse_number(s: &str) -> Option<f64> {
    if s.contains(',') {
        s.replace(',', "").parse().ok()
    } else {
        s.parse().ok()
    }
}

/// One text value per row: the row's labels joined by `;`.
pub(super) fn joined(rows: &[Vec<&str>]) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 4);
    for r in rows {
        match r.as_slice() {
            [] => b.append_value(""),
            [one] => b.append_value(one),
            many => b.append_value(many.join(";")),
        }
    }
    Arc::new(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clean::{Action, default_action};
    use crate::rule::Level;

    #[test]
    fn fixes_do_what_they_say() {
        assert_eq!(trim_cjk(" 张\u{3000}三 "), "张三");
        assert_eq!(trim_cjk("王 小 明"), "王小明");
        assert_eq!(trim_cjk("John Smith"), "John Smith");
        assert_eq!(Ready::HalfWidth.apply("５１０１"), Some("5101".into()));
        assert_eq!(
            Ready::UnifyDate.apply("2024年3月5日"),
            Some("2024-03-05".into())
        );
        assert_eq!(
            Ready::UnifyDate.apply("2024-03-05"),
            None,
            "already right: no fix recorded"
        );
        let sex = Ready::MapCodes(code_map("sex", &HashMap::new()));
        assert_eq!(sex.apply("男"), Some("1".into()));
        assert_eq!(sex.apply("女性"), sex.apply("女"));
        assert_eq!(Ready::Simplify.apply("唐偉斌"), Some("唐伟斌".into()));
        assert_eq!(Ready::Simplify.apply("唐伟斌"), None);
        // The ID holds 1949-12-31: a missing or impossible date takes it; the right one stays.
        let id = Some("11010519491231002X");
        assert_eq!(
            birth_from_id(id, Some("2045-01-01")),
            Some("1949-12-31".into())
        );
        assert_eq!(birth_from_id(id, None), Some("1949-12-31".into()));
        assert_eq!(birth_from_id(id, Some("1949年12月31日")), None);
        assert_eq!(
            birth_from_id(Some("110105194912310021"), Some("2045-01-01")),
            None
        );
        let up = Ready::UpgradeId15.apply("110105491231002").unwrap();
        assert!(
            up.starts_with("11010519491231002") && up.len() == 18,
            "{up}"
        );
        assert_eq!(default_action(Level::High, Level::High), Action::Filter);
        assert_eq!(default_action(Level::Low, Level::High), Action::Tolerate);
        assert_eq!(default_action(Level::High, Level::Medium), Action::Tolerate);
    }
}
