//! Runs every validator over `tests/cases/validators.tsv` (input → expected). A domain expert adds
//! a case by adding a line.

use yishu_types::{
    CitizenId, CreditCode, Email, Invalid, Mobile, OrgCode, division, parse_cn_date,
};

fn unescape(raw: &str) -> String {
    if raw == "<empty>" {
        return String::new();
    }
    if let Some(spec) = raw.strip_prefix("<rep:").and_then(|r| r.split_once('>')) {
        let (count_and_unit, rest) = spec;
        let (n, unit) = count_and_unit.split_once(':').expect("rep needs N:S");
        return unit.repeat(n.parse().expect("rep count")) + rest;
    }
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some('u') => {
                let hex: String = chars
                    .by_ref()
                    .skip_while(|c| *c == '{')
                    .take_while(|c| *c != '}')
                    .collect();
                let v = u32::from_str_radix(&hex, 16).expect("hex escape");
                out.push(char::from_u32(v).expect("valid char"));
            }
            other => panic!("unknown escape \\{other:?} in {raw}"),
        }
    }
    out
}

fn run(validator: &str, input: &str) -> Result<String, Invalid> {
    match validator {
        "citizen_id" => CitizenId::parse(input).map(|v| v.to_string()),
        "citizen_id_lenient" => CitizenId::parse_lenient(input).map(|v| v.to_string()),
        "credit_code" => CreditCode::parse(input).map(|v| v.to_string()),
        "credit_code_lenient" => CreditCode::parse_lenient(input).map(|v| v.to_string()),
        "org_code" => OrgCode::parse(input).map(|v| v.as_str().to_string()),
        "division" => division::parse_known(input).map(|d| d.code.to_string()),
        "mobile" => Mobile::parse(input).map(|v| v.as_str().to_string()),
        "email" => Email::parse(input).map(|v| v.as_str().to_string()),
        "date" => parse_cn_date(input).map(|d| d.to_string()),
        other => panic!("unknown validator {other}"),
    }
}

#[test]
fn validator_cases() {
    let text = include_str!("cases/validators.tsv");
    let mut failures = Vec::new();
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            cols.len(),
            3,
            "line {}: need 3 tab-separated columns",
            n + 1
        );
        let input = unescape(cols[1]);
        let got = match run(cols[0], &input) {
            Ok(v) => format!("ok:{v}"),
            Err(e) => {
                assert!(!e.message.is_empty(), "line {}: empty message", n + 1);
                assert!(e.message.len() < 300, "line {}: message too long", n + 1);
                format!("err:{}", e.reason)
            }
        };
        count += 1;
        if got != cols[2] {
            failures.push(format!(
                "line {}: {} {:?} → {got}, expected {}",
                n + 1,
                cols[0],
                cols[1],
                cols[2]
            ));
        }
    }
    assert!(count > 80, "only {count} cases read");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn citizen_id_fields() {
    let id = CitizenId::parse("510107199003071236").unwrap();
    assert_eq!(id.birth_date().to_string(), "1990-03-07");
    assert_eq!(id.sex().code(), "1");
    assert_eq!(id.division().as_str(), "510107");
    assert_eq!(division::lookup(&id.division()).unwrap().name, "武侯区");
}

#[test]
fn validators_never_panic_on_arbitrary_bytes() {
    // A cheap deterministic fuzz: every validator sees many short strings of mixed scripts.
    let alphabet: Vec<char> = "0123456789Xx-/年月日 \t\u{0}\u{3000}１Ｘ张@.é\u{202e}"
        .chars()
        .collect();
    let mut state: u64 = 0x9E3779B97F4A7C15;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 24) as usize;
        let s: String = (0..len)
            .map(|i| alphabet[((state >> (i % 50)) as usize + i * 7) % alphabet.len()])
            .collect();
        for v in [
            "citizen_id",
            "citizen_id_lenient",
            "credit_code",
            "credit_code_lenient",
            "org_code",
            "division",
            "mobile",
            "email",
            "date",
        ] {
            let _ = run(v, &s);
        }
    }
}

#[test]
fn divisions_current_later_and_abolished() {
    use yishu_types::DivisionCode;
    let get = |c: &str| division::lookup(&DivisionCode::parse(c).unwrap());
    assert_eq!(get("110105").unwrap().name, "朝阳区");
    assert!(get("110105").unwrap().abolished.is_none());
    // 崇文区 merged into 东城区 in 2010: found, and marked abolished.
    let old = get("110103").unwrap();
    assert_eq!(old.name, "崇文区");
    assert!(old.abolished.is_some());
    // 新津区 (2020) comes from the later-changes table.
    assert_eq!(get("510118").unwrap().name, "新津区");
    assert!(get("510199").is_none());
}

#[test]
fn divisions_since_1980_with_years_and_successors() {
    use yishu_types::DivisionCode;
    let get = |c: &str| division::lookup(&DivisionCode::parse(c).unwrap()).unwrap();
    // 太康县 left 周口地区 when it became 周口市: in force until 1999, now 411627.
    let taikang = get("412724");
    assert_eq!(taikang.name, "太康县");
    assert_eq!(taikang.abolished, Some(1999));
    assert_eq!(taikang.successor.as_ref().unwrap().as_str(), "411627");
    assert_eq!(
        taikang.describe(),
        "412724（太康县，1999 年撤销，现为 411627 太康县）"
    );
    // 衡南县 moved twice (432722 → 430522 → 430422); the successor is the code in force today.
    assert_eq!(get("432722").successor.unwrap().as_str(), "430422");
    // Created after 2016: 海安市 2018, 南和区 2020.
    let haian = get("320685");
    assert_eq!(
        (haian.name.as_str(), haian.since, haian.abolished),
        ("海安市", Some(2018), None)
    );
    assert_eq!(get("130506").since, Some(2020));
    // 郫县 became 郫都区 (a district named after the county).
    assert_eq!(get("510124").successor.unwrap().as_str(), "510117");
    // A code used for two names in turn keeps both, oldest first; lookup gives today's.
    let names: Vec<_> = division::history(&DivisionCode::parse("130123").unwrap())
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["栾城县", "正定县"]);
    assert_eq!(get("130123").name, "正定县");
    // Renamed in place: not abolished, no successor.
    assert!(get("120110").abolished.is_none());
}
