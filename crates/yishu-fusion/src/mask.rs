//! Masking of base-library values (PIPL, GB/T 35273 去标识化) for readers who may see a subject
//! but not its personal details in clear: names keep the surname, identity numbers their
//! division and last four characters, addresses stop at the road, birth dates at the year.

/// What a value is, by its attribute's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Name,
    Id,
    Address,
    Date,
    Clear,
}

fn kind(attribute: &str) -> Kind {
    let a = attribute;
    if a.contains("身份") || a.contains("证号") || a == "subject_key" || a == "id" {
        Kind::Id
    } else if a.contains("姓名") || a == "法定代表人" || a == "name" {
        Kind::Name
    } else if a.contains("住址") || a.contains("坐落") || a.contains("住所") || a == "address"
    {
        Kind::Address
    } else if a == "出生日期" || a == "birth" {
        Kind::Date
    } else {
        Kind::Clear
    }
}

/// Whether a reader without the right to personal details sees this attribute masked.
pub fn is_personal(attribute: &str) -> bool {
    kind(attribute) != Kind::Clear
}

/// The value as a reader without the right sees it.
pub fn mask(attribute: &str, value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    match kind(attribute) {
        Kind::Clear => value.to_string(),
        Kind::Name => match chars.len() {
            0 => String::new(),
            1 => "*".into(),
            n => format!("{}{}", chars[0], "*".repeat(n - 1)),
        },
        Kind::Id => {
            // A number the libraries made up (`~…`) says nothing about the person.
            if value.starts_with('~') || chars.len() <= 10 {
                return value.to_string();
            }
            let n = chars.len();
            let head: String = chars[..6].iter().collect();
            let tail: String = chars[n - 4..].iter().collect();
            format!("{head}{}{tail}", "*".repeat(n - 10))
        }
        Kind::Address => {
            // Up to and including the road (路, 街, 道, 巷 …); the number and flat hidden.
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
        Kind::Date => match value.get(..4) {
            Some(y) if value.len() > 4 => format!("{y}-**-**"),
            _ => value.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_values_are_masked_and_others_are_not() {
        assert_eq!(mask("姓名", "欧阳明月"), "欧***");
        assert_eq!(
            mask("公民身份号码", "51010419900101123X"),
            "510104********123X"
        );
        assert_eq!(
            mask("subject_key", "~0123456789abcdef"),
            "~0123456789abcdef"
        );
        assert_eq!(
            mask("住址", "四川省成都市锦江区红星路321号19栋"),
            "四川省成都市锦江区红星路****"
        );
        assert_eq!(mask("出生日期", "1990-01-01"), "1990-**-**");
        assert_eq!(mask("婚姻状况", "20"), "20");
        assert!(is_personal("产权人身份证号") && !is_personal("参保状态"));
    }
}
