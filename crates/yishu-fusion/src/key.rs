//! Subjects (主体) and their keys (R18): a person by 公民身份号码, a legal entity by 统一社会信用代码,
//! a house by its house code. Keys are normalised before linking (full-width folded, spaces
//! dropped, x upper-cased, 15-digit IDs upgraded) and validated with their check digits; a key that
//! fails is not used to link deterministically — the record goes to probabilistic matching.

use serde::{Deserialize, Serialize};
use yishu_types::citizen_id::CitizenId;
use yishu_types::credit_code::CreditCode;
use yishu_types::division::DivisionCode;
use yishu_types::error::Invalid;

/// A kind of real-world object the base libraries hold.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Person,
    Entity,
    House,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 3] =
        [SubjectKind::Person, SubjectKind::Entity, SubjectKind::House];

    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Person => "person",
            SubjectKind::Entity => "entity",
            SubjectKind::House => "house",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SubjectKind::Person => "自然人",
            SubjectKind::Entity => "法人",
            SubjectKind::House => "房屋",
        }
    }

    /// The name of the key, as the standards call it.
    pub fn key_name(self) -> &'static str {
        match self {
            SubjectKind::Person => "公民身份号码",
            SubjectKind::Entity => "统一社会信用代码",
            SubjectKind::House => "房屋编码",
        }
    }
}

/// The key in its one canonical form, or why it cannot be used to link.
pub fn normalize_key(kind: SubjectKind, raw: &str) -> Result<String, Invalid> {
    match kind {
        SubjectKind::Person => CitizenId::parse_lenient(raw).map(|k| k.as_str().to_string()),
        SubjectKind::Entity => CreditCode::parse_lenient(raw).map(|k| k.as_str().to_string()),
        SubjectKind::House => house_code(raw),
    }
}

/// A house code: the 6-digit division where the house stands, then 12 digits.
fn house_code(raw: &str) -> Result<String, Invalid> {
    let folded: String = yishu_types::text::fold_width(raw)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if folded.len() != 18 || !folded.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(
            "bad_format",
            format!("house code '{raw}' is not 18 digits"),
        ));
    }
    // The same GB/T 2260 table as citizen IDs and the quality rules: a house keeps the code of
    // the county it was registered in, abolished or not.
    let known = DivisionCode::parse(&folded[..6])
        .ok()
        .and_then(|c| yishu_types::division::lookup(&c));
    if known.is_none() {
        return Err(Invalid::new(
            "unknown_division",
            format!(
                "house code '{raw}' starts with {}, which is not a GB/T 2260 division code",
                &folded[..6]
            ),
        ));
    }
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(body: &str) -> String {
        format!(
            "{body}{}",
            yishu_types::citizen_id::check_char(body.as_bytes())
        )
    }

    #[test]
    fn keys_are_folded_upgraded_and_checked() {
        let good = id("51010719800101123");
        let p = SubjectKind::Person;
        assert_eq!(normalize_key(p, &good).unwrap(), good);
        let wide: String = good
            .chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap_or(c))
            .collect();
        assert_eq!(normalize_key(p, &format!(" {wide} ")).unwrap(), good);
        // A 15-digit legacy number becomes its 18-digit form.
        let up = normalize_key(p, "510107800101123").unwrap();
        assert!(up.starts_with("51010719800101123"), "{up}");
        // A wrong check digit is not a key to link on.
        let mut bad = good.clone();
        let last = if bad.ends_with('0') { "1" } else { "0" };
        bad.replace_range(17.., last);
        assert_eq!(
            normalize_key(p, &bad).unwrap_err().reason,
            "bad_check_digit"
        );
        assert!(normalize_key(SubjectKind::House, "510107000000000001").is_ok());
        assert!(normalize_key(SubjectKind::House, "51010700000000001").is_err());
        // Keys read the same division table as the validators: a person or a house from a county
        // abolished in 1999 links; a code that never existed does not.
        let old = id("41272419750312003");
        assert_eq!(normalize_key(p, &old).unwrap(), old);
        assert!(normalize_key(SubjectKind::House, "412724000000000001").is_ok());
        assert_eq!(
            normalize_key(SubjectKind::House, "412799000000000001")
                .unwrap_err()
                .reason,
            "unknown_division"
        );
        assert!(normalize_key(SubjectKind::Entity, "not a code").is_err());
    }
}
