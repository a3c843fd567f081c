//! The generator on a small city: deterministic, readable files in the declared encodings, and a
//! ground truth that matches what is in the files.

use std::collections::HashMap;
use yishu_gen::{CityArgs, NoProgress, generate_city};
use yishu_types::CitizenId;

async fn gen_city(dir: &std::path::Path, seed: u64) -> yishu_gen::Summary {
    let args = CityArgs {
        people: 3000,
        seed,
        out: dir.to_path_buf(),
        problem_rate: 0.05,
    };
    generate_city(&args, &mut NoProgress).await.unwrap()
}

#[tokio::test]
async fn city_is_deterministic_and_truthful() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let s = gen_city(a.path(), 7).await;
    gen_city(b.path(), 7).await;
    assert!(s.problems > 100, "{s}");
    for f in [
        "gongan_huji.csv",
        "renshe_canbao.csv",
        "zhujian_fangwu.csv",
        "weijian_shengyu_yimiao.ndjson",
        "truth/problems.csv",
        "truth/people.csv",
    ] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f} differs between runs with one seed"
        );
    }

    // The household register is GB18030: it does not decode as UTF-8 and decodes cleanly as GB18030.
    let raw = std::fs::read(a.path().join("gongan_huji.csv")).unwrap();
    assert!(std::str::from_utf8(&raw).is_err());
    let (text, _, had_errors) = encoding_rs::GB18030.decode(&raw);
    assert!(!had_errors);
    assert!(text.starts_with("公民身份号码,姓名,性别"));
    let lines: Vec<&str> = text.lines().collect();

    // Every bad check digit the truth names is really in the file at that line.
    let problems = std::fs::read_to_string(a.path().join("truth/problems.csv")).unwrap();
    let mut kinds: HashMap<String, usize> = HashMap::new();
    let mut rdr = csv::Reader::from_reader(problems.as_bytes());
    for rec in rdr.records() {
        let rec = rec.unwrap();
        *kinds.entry(rec[3].to_string()).or_default() += 1;
        if &rec[0] == "gongan_huji.csv" && &rec[3] == "bad_check_digit" {
            let line: usize = rec[1].parse().unwrap();
            let row = lines[line - 1];
            assert!(
                row.starts_with(&rec[5]),
                "line {line}: {row} should start with {}",
                &rec[5]
            );
            assert!(CitizenId::parse(&rec[5]).is_err());
            assert!(CitizenId::parse(&rec[4]).is_ok());
        }
    }
    for k in [
        "bad_check_digit",
        "mixed_date_format",
        "missing_value",
        "exact_duplicate",
        "near_duplicate",
        "conflict_marital_status",
        "stale_record",
        "orphan_reference",
        "death_not_reported",
    ] {
        assert!(
            kinds.get(k).copied().unwrap_or(0) > 0,
            "no {k} injected: {kinds:?}"
        );
    }

    // True people have valid IDs.
    let people = std::fs::read_to_string(a.path().join("truth/people.csv")).unwrap();
    let mut n = 0;
    for rec in csv::Reader::from_reader(people.as_bytes()).records() {
        let rec = rec.unwrap();
        assert!(CitizenId::parse(&rec[0]).is_ok(), "{}", &rec[0]);
        n += 1;
    }
    assert_eq!(n, 3000);

    // XLSX files open and carry real Excel dates.
    use calamine::{Data, Reader, open_workbook_auto};
    let mut wb = open_workbook_auto(a.path().join("shichang_qiye.xlsx")).unwrap();
    let range = wb.worksheet_range("企业登记").unwrap();
    let dates = range
        .rows()
        .skip(1)
        .filter(|r| matches!(r.get(5), Some(Data::DateTime(_))))
        .count();
    assert!(dates > 50, "{dates} Excel dates");

    assert!(a.path().join("minzheng_qianzhiku.sqlite").exists());
    assert!(
        std::fs::read_to_string(a.path().join("manifest.json"))
            .unwrap()
            .contains("GB18030")
    );
}

#[tokio::test]
async fn refuses_bad_arguments() {
    let d = tempfile::tempdir().unwrap();
    let args = CityArgs {
        people: 10,
        seed: 1,
        out: d.path().into(),
        problem_rate: 0.01,
    };
    assert!(generate_city(&args, &mut NoProgress).await.is_err());
    let args = CityArgs {
        people: 1000,
        seed: 1,
        out: d.path().into(),
        problem_rate: 0.9,
    };
    assert!(generate_city(&args, &mut NoProgress).await.is_err());
}
