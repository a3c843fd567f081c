//! Masking (脱敏, R36; GB/T 35273 去标识化): what a reader sees of a value under a grant. Each item
//! of a grant carries one [`Mask`]; its default comes from the item's data-element security level
//! (or, without one, from what the item is), and only an approver may loosen it.

use crate::token::Tokens;
use serde::{Deserialize, Serialize};

/// How a value is shown, from the loosest to the strictest.
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
pub enum Mask {
    /// In clear.
    Keep,
    /// Part shown: 张*三, 5101**********1234, 138****5678, an address to its street.
    Partial,
    /// Less precise: a birth date to its year, an age to a ten-year band, a division to its city.
    Generalise,
    /// A format-preserving token (FF1 over SM4): digits stay digits and the same value gives the
    /// same token for one consumer, so two granted tables join without the number being seen.
    Token,
    /// A keyed SM3 digest: equal values stay equal, nothing else is kept.
    Hash,
}

impl Mask {
    pub const ALL: &'static [Mask] = &[
        Mask::Keep,
        Mask::Partial,
        Mask::Generalise,
        Mask::Token,
        Mask::Hash,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mask::Keep => "keep",
            Mask::Partial => "partial",
            Mask::Generalise => "generalise",
            Mask::Token => "token",
            Mask::Hash => "hash",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Mask::Keep => "明文",
            Mask::Partial => "部分遮盖",
            Mask::Generalise => "泛化",
            Mask::Token => "保留格式令牌",
            Mask::Hash => "摘要",
        }
    }

    pub fn parse(s: &str) -> Option<Mask> {
        Mask::ALL.iter().copied().find(|m| m.as_str() == s)
    }

    /// The mask an item gets unless an approver loosens it: by the security level of its data
    /// element (一级 public … 四级 most sensitive), or by what the item is when no level is set.
    pub fn default_for(item: &str, security_level: &str) -> Mask {
        let personal = Kind::of(item) != Kind::Other;
        match security_level.trim() {
            "一级" | "1" => Mask::Keep,
            "二级" | "2" if !personal => Mask::Keep,
            "二级" | "2" | "三级" | "3" => Mask::Partial,
            "四级" | "4" => Mask::Hash,
            _ if personal => Mask::Partial,
            _ => Mask::Keep,
        }
    }
}

/// What a value is, by its item's name: it decides what partial and generalised masks keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Name,
    Id,
    Phone,
    Address,
    Date,
    Age,
    Division,
    Other,
}

impl Kind {
    pub fn of(item: &str) -> Kind {
        let a = item;
        if a.contains("身份") || a.contains("证号") || a.contains("证件号") || a == "subject_key"
        {
            Kind::Id
        } else if a.contains("姓名") || a == "法定代表人" || a == "name" {
            Kind::Name
        } else if a.contains("电话") || a.contains("手机") || a.contains("联系方式") {
            Kind::Phone
        } else if a.contains("住址")
            || a.contains("坐落")
            || a.contains("住所")
            || a.contains("地址")
        {
            Kind::Address
        } else if a.contains("出生日期") || a == "birth" {
            Kind::Date
        } else if a.contains("年龄") {
            Kind::Age
        } else if a.contains("行政区划") {
            Kind::Division
        } else {
            Kind::Other
        }
    }
}

/// Whether a reader without a grant's clear right sees this item masked by default.
pub fn is_personal(item: &str) -> bool {
    Kind::of(item) != Kind::Other
}

/// A value as a reader without the right to personal details sees it outside any grant (a
/// review's evidence, a correction request): personal items partially masked, others as they are.
pub fn masked(item: &str, value: &str) -> String {
    if is_personal(item) {
        partial(Kind::of(item), value)
    } else {
        value.to_string()
    }
}

/// Applies masks with one consumer's keys (tokens and digests differ between consumers, so two
/// consumers cannot join on them).
#[derive(Clone)]
pub struct Masker {
    tokens: Tokens,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masker(..)")
    }
}

impl Masker {
    /// A masker whose tokens and digests are keyed by `key` (derived per consumer).
    pub fn new(key: &[u8]) -> Masker {
        Masker {
            tokens: Tokens::new(key),
        }
    }

    /// `value` of `item` as `mask` shows it. Empty stays empty.
    pub fn apply(&self, mask: Mask, item: &str, value: &str) -> String {
        if value.is_empty() {
            return String::new();
        }
        match mask {
            Mask::Keep => value.to_string(),
            Mask::Partial => partial(Kind::of(item), value),
            Mask::Generalise => generalise(Kind::of(item), value),
            Mask::Token => self.tokens.token(value),
            Mask::Hash => self.tokens.digest(value),
        }
    }
}

/// `value` with the characters in `keep_head..len-keep_tail` starred.
fn star_middle(chars: &[char], head: usize, tail: usize) -> String {
    let n = chars.len();
    if n <= head + tail {
        // Too short to keep anything on both sides: keep the first only.
        return match n {
            0 => String::new(),
            1 => "*".into(),
            _ => format!("{}{}", chars[0], "*".repeat(n - 1)),
        };
    }
    let mut s: String = chars[..head].iter().collect();
    s.push_str(&"*".repeat(n - head - tail));
    s.extend(&chars[n - tail..]);
    s
}

/// The partial mask (部分遮盖).
pub fn partial(kind: Kind, value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    match kind {
        Kind::Name => match chars.len() {
            1 => "*".into(),
            2 => format!("{}*", chars[0]),
            _ => star_middle(&chars, 1, 1),
        },
        // A number the libraries made up (`~…`) says nothing about the person.
        Kind::Id if value.starts_with('~') => value.to_string(),
        Kind::Id => star_middle(&chars, 4, 4),
        Kind::Phone => star_middle(&chars, 3, 4),
        Kind::Address => {
            // Up to and including the street (路, 街, 道, 巷 …); the number and flat hidden.
            let cut = chars
                .iter()
                .rposition(|c| matches!(c, '路' | '街' | '道' | '巷' | '村' | '镇' | '乡'))
                .map_or(chars.len().min(6), |p| p + 1);
            let kept: String = chars[..cut].iter().collect();
            if cut < chars.len() {
                format!("{kept}****")
            } else {
                kept
            }
        }
        Kind::Date => generalise(Kind::Date, value),
        Kind::Age | Kind::Division => generalise(kind, value),
        Kind::Other => star_middle(&chars, 1, 1),
    }
}

/// The generalising mask (泛化).
pub fn generalise(kind: Kind, value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    match kind {
        Kind::Date => match value.get(..4) {
            Some(y) if y.chars().all(|c| c.is_ascii_digit()) => y.to_string(),
            _ => "*".repeat(chars.len().min(4)),
        },
        Kind::Age => match value.trim().parse::<u32>() {
            Ok(a) => format!("{}-{}", a / 10 * 10, a / 10 * 10 + 9),
            Err(_) => "*".into(),
        },
        // 510107 → 510100: the city the district belongs to.
        Kind::Division if chars.len() >= 4 && chars.iter().all(|c| c.is_ascii_digit()) => {
            let head: String = chars[..4].iter().collect();
            format!("{head}{}", "0".repeat(chars.len() - 4))
        }
        // An identity number says the birth year; everything else goes.
        Kind::Id if chars.len() == 18 => {
            let year: String = chars[6..10].iter().collect();
            format!("{year}年生")
        }
        Kind::Address => {
            // To the district (区, 县, 市 after the city).
            let cut = chars
                .iter()
                .rposition(|c| matches!(c, '区' | '县'))
                .map_or(chars.len().min(3), |p| p + 1);
            chars[..cut].iter().collect()
        }
        Kind::Name => chars.first().map(|c| format!("{c}*")).unwrap_or_default(),
        _ => "*".repeat(chars.len().clamp(1, 4)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_masks_follow_the_issue_examples() {
        assert_eq!(partial(Kind::Name, "张小三"), "张*三");
        assert_eq!(partial(Kind::Name, "欧阳明月"), "欧**月");
        assert_eq!(partial(Kind::Name, "李四"), "李*");
        assert_eq!(
            partial(Kind::Id, "510104199001011234"),
            "5101**********1234"
        );
        assert_eq!(partial(Kind::Phone, "13812345678"), "138****5678");
        assert_eq!(
            partial(Kind::Address, "四川省成都市锦江区红星路321号19栋"),
            "四川省成都市锦江区红星路****"
        );
        assert_eq!(partial(Kind::Id, "~0123456789abcdef"), "~0123456789abcdef");
    }

    #[test]
    fn generalising_keeps_the_coarse_part() {
        assert_eq!(generalise(Kind::Date, "1990-01-01"), "1990");
        assert_eq!(generalise(Kind::Age, "37"), "30-39");
        assert_eq!(generalise(Kind::Division, "510107"), "510100");
        assert_eq!(
            generalise(Kind::Address, "四川省成都市锦江区红星路321号"),
            "四川省成都市锦江区"
        );
    }

    #[test]
    fn defaults_follow_the_level_and_the_item() {
        assert_eq!(Mask::default_for("婚姻状况", ""), Mask::Keep);
        assert_eq!(Mask::default_for("公民身份号码", ""), Mask::Partial);
        assert_eq!(Mask::default_for("婚姻状况", "四级"), Mask::Hash);
        assert_eq!(Mask::default_for("公民身份号码", "一级"), Mask::Keep);
        assert!(Mask::Keep < Mask::Partial && Mask::Token < Mask::Hash);
    }

    #[test]
    fn tokens_and_digests_depend_on_the_key() {
        let a = Masker::new(b"consumer-a");
        let b = Masker::new(b"consumer-b");
        let id = "510104199001011234";
        assert_eq!(
            a.apply(Mask::Token, "公民身份号码", id),
            a.apply(Mask::Token, "公民身份号码", id)
        );
        assert_ne!(
            a.apply(Mask::Token, "公民身份号码", id),
            b.apply(Mask::Token, "公民身份号码", id)
        );
        assert_ne!(a.apply(Mask::Hash, "x", "v"), b.apply(Mask::Hash, "x", "v"));
        assert_eq!(a.apply(Mask::Hash, "x", ""), "");
    }
}
