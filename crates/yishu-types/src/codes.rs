//! National code tables (国家标准代码表), shipped with the product as data (`data/codes/*.tsv`, each
//! naming its standard): GB/T 2261.1 sex, GB/T 2261.2 marital status, GB 3304 ethnicity, GB/T 4658
//! education and GB/T 4761 family relationship. GB/T 2260 divisions, with their history, are in
//! [`crate::division`]. A value is looked up by its code, or resolved from the names and spellings
//! departments actually write (`男`, `M`, `汉`, `大专`) to its code.

use crate::text::fold_width;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::LazyLock;

const FILES: &[&str] = &[
    include_str!("../data/codes/sex.tsv"),
    include_str!("../data/codes/marital.tsv"),
    include_str!("../data/codes/ethnicity.tsv"),
    include_str!("../data/codes/education.tsv"),
    include_str!("../data/codes/relation.tsv"),
];

/// One code of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeEntry {
    pub code: String,
    pub name: String,
    /// Other spellings that mean this code.
    pub aliases: Vec<String>,
}

/// A code table and the standard it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct CodeTable {
    /// Short id: `sex`, `marital`, `ethnicity`, `education`, `relation`.
    pub id: String,
    pub name: String,
    /// The standard, e.g. `GB 3304-1991 …`.
    pub source: String,
    pub entries: Vec<CodeEntry>,
    #[serde(skip)]
    by_text: HashMap<String, usize>,
}

/// How a written value is compared: full-width folded, trimmed, ASCII lower-case.
fn key(s: &str) -> String {
    fold_width(s).trim().to_ascii_lowercase()
}

impl CodeTable {
    /// Reads a table from its TSV text: `# id:`, `# name:`, `# source:` headers, then
    /// `code<TAB>name<TAB>aliases` lines. Panics name the line: the files ship with the binary and
    /// are checked by the tests.
    fn parse(text: &str) -> CodeTable {
        let mut t = CodeTable {
            id: String::new(),
            name: String::new(),
            source: String::new(),
            entries: Vec::new(),
            by_text: HashMap::new(),
        };
        for (n, line) in text.lines().enumerate() {
            if let Some(h) = line.strip_prefix("# ") {
                if let Some((k, v)) = h.split_once(": ") {
                    match k {
                        "id" => t.id = v.trim().into(),
                        "name" => t.name = v.trim().into(),
                        "source" => t.source = v.trim().into(),
                        _ => {}
                    }
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let mut f = line.split('\t');
            let (Some(code), Some(name)) = (f.next(), f.next()) else {
                panic!("code table {}: line {} needs code and name", t.id, n + 1);
            };
            let aliases = f
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
            t.entries.push(CodeEntry {
                code: code.trim().into(),
                name: name.trim().into(),
                aliases,
            });
        }
        for (i, e) in t.entries.iter().enumerate() {
            for text in std::iter::once(&e.code)
                .chain(std::iter::once(&e.name))
                .chain(&e.aliases)
            {
                t.by_text.entry(key(text)).or_insert(i);
            }
        }
        t
    }

    /// The entry with exactly this code.
    pub fn lookup(&self, code: &str) -> Option<&CodeEntry> {
        self.entries.iter().find(|e| e.code == code.trim())
    }

    /// The entry a written value means: its code, its name or an alias (width and case folded).
    pub fn resolve(&self, written: &str) -> Option<&CodeEntry> {
        self.by_text.get(&key(written)).map(|&i| &self.entries[i])
    }
}

/// A code of a department's own table (本地代码), before it is mapped to a national one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalCode {
    pub code: String,
    pub name: String,
}

/// How a local code was matched to the national table, for a person to confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The local name is a national name or spelling.
    Name,
    /// Only the code is the same (the names differ): check it.
    CodeOnly,
    /// Nothing matched: map it by hand.
    None,
}

/// One local code and the national code proposed for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeMapping {
    pub local: LocalCode,
    pub national: Option<CodeEntry>,
    pub by: MatchedBy,
}

impl CodeTable {
    /// Proposes a national code for each local one: by name (or a known spelling) first, since
    /// departments renumber but keep names; else by an equal code, flagged for checking.
    pub fn map_local(&self, local: &[LocalCode]) -> Vec<CodeMapping> {
        local
            .iter()
            .map(|l| {
                let (national, by) = match (self.resolve(&l.name), self.lookup(&l.code)) {
                    (Some(e), _) => (Some(e.clone()), MatchedBy::Name),
                    (None, Some(e)) => (Some(e.clone()), MatchedBy::CodeOnly),
                    (None, None) => (None, MatchedBy::None),
                };
                CodeMapping {
                    local: l.clone(),
                    national,
                    by,
                }
            })
            .collect()
    }
}

static TABLES: LazyLock<Vec<CodeTable>> =
    LazyLock::new(|| FILES.iter().map(|f| CodeTable::parse(f)).collect());

/// Every national code table shipped with the product.
pub fn national() -> &'static [CodeTable] {
    &TABLES
}

/// A national code table by id.
pub fn table(id: &str) -> Option<&'static CodeTable> {
    TABLES.iter().find(|t| t.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_names_its_standard_and_has_unique_codes() {
        let ids: Vec<&str> = national().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(
            ids,
            ["sex", "marital", "ethnicity", "education", "relation"]
        );
        for t in national() {
            assert!(t.source.starts_with("GB"), "{}: {}", t.id, t.source);
            assert!(!t.name.is_empty());
            let mut seen = std::collections::HashSet::new();
            for e in &t.entries {
                assert!(seen.insert(&e.code), "{}: code {} twice", t.id, e.code);
                assert!(
                    e.code.chars().all(|c| c.is_ascii_digit()),
                    "{}: {}",
                    t.id,
                    e.code
                );
            }
            // No spelling means two different codes.
            let mut meaning: HashMap<String, &str> = HashMap::new();
            for e in &t.entries {
                for text in std::iter::once(&e.name).chain(&e.aliases) {
                    if let Some(other) = meaning.insert(key(text), &e.code) {
                        assert_eq!(other, e.code, "{}: '{text}' means two codes", t.id);
                    }
                }
            }
        }
    }

    #[test]
    fn the_national_tables_hold_what_the_standards_list() {
        let eth = table("ethnicity").unwrap();
        assert_eq!(eth.entries.len(), 58, "56 nationalities, 其他, 外国血统");
        assert_eq!(eth.lookup("01").unwrap().name, "汉族");
        assert_eq!(eth.lookup("33").unwrap().name, "羌族");
        assert_eq!(eth.lookup("56").unwrap().name, "基诺族");
        assert_eq!(table("sex").unwrap().entries.len(), 4);
        assert_eq!(table("marital").unwrap().lookup("40").unwrap().name, "离婚");
        assert_eq!(
            table("education").unwrap().lookup("21").unwrap().name,
            "大学本科毕业"
        );
        assert_eq!(
            table("relation").unwrap().lookup("99").unwrap().name,
            "非亲属"
        );
    }

    #[test]
    fn written_values_resolve_to_codes() {
        let sex = table("sex").unwrap();
        for (written, code) in [
            ("男", "1"),
            ("女性", "2"),
            ("Ｍ", "1"),
            (" f ", "2"),
            ("9", "9"),
        ] {
            assert_eq!(
                sex.resolve(written).map(|e| e.code.as_str()),
                Some(code),
                "{written}"
            );
        }
        assert!(sex.resolve("男女").is_none());
        let eth = table("ethnicity").unwrap();
        assert_eq!(eth.resolve("汉").unwrap().code, "01");
        assert_eq!(eth.resolve("彝族").unwrap().code, "07");
        assert_eq!(
            table("education").unwrap().resolve("大专").unwrap().code,
            "30"
        );
        assert_eq!(
            table("marital").unwrap().resolve("离异").unwrap().code,
            "40"
        );
        assert!(table("no_such").is_none());
    }

    #[test]
    fn a_departments_own_codes_map_to_the_national_table() {
        let local = |code: &str, name: &str| LocalCode {
            code: code.into(),
            name: name.into(),
        };
        let maps = table("marital").unwrap().map_local(&[
            local("1", "未婚"),
            local("2", "已婚"),
            local("40", "分居"),
            local("9", "不详"),
        ]);
        let got: Vec<(Option<&str>, MatchedBy)> = maps
            .iter()
            .map(|m| (m.national.as_ref().map(|e| e.code.as_str()), m.by))
            .collect();
        assert_eq!(
            got,
            [
                (Some("10"), MatchedBy::Name),
                (Some("20"), MatchedBy::Name),
                (Some("40"), MatchedBy::CodeOnly),
                (None, MatchedBy::None),
            ]
        );
    }
}
