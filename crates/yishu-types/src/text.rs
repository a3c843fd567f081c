//! Text folding used before validation: Chinese systems often type identifiers with full-width
//! digits (全角), ideographic spaces or a lowercase check letter.

/// Folds full-width ASCII (U+FF01–U+FF5E) to half-width and the ideographic space (U+3000) to a
/// plain space. Everything else is unchanged.
pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// True if the string holds a control character (C0, DEL or C1); such input is never a valid
/// identifier and often means binary garbage or an injection attempt.
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Lenient clean-up of an identifier typed by a person: width folding, trimming, dropping inner
/// spaces and hyphens is left to the caller. Upper-cases ASCII letters.
pub fn fold_identifier(s: &str) -> String {
    fold_width(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A short, printable rendering of untrusted input for error messages: control characters are
/// escaped and long values cut, so a message never carries a 100 MB value or a terminal escape.
pub fn quote_for_message(s: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    format!("'{out}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width() {
        assert_eq!(fold_width("１２３ＡＢｘ\u{3000}"), "123ABx ");
        assert_eq!(
            fold_identifier(" 11010519491231002ｘ "),
            "11010519491231002X"
        );
    }

    #[test]
    fn quotes_hostile_values() {
        assert_eq!(quote_for_message("a\u{1b}[31m"), "'a\\u{1b}[31m'");
        assert!(quote_for_message(&"x".repeat(1000)).chars().count() < 50);
    }
}
