//! Person linking on the synthetic city's files against its ground truth: the household register
//! (with its injected wrong, full-width and duplicated IDs, homophone and traditional names), the
//! social-insurance file and the birth records. Pairwise precision and recall are printed and
//! must both reach 0.99.

use chrono::NaiveDate;
use std::collections::HashMap;
use yishu_fusion::address::parse_address;
use yishu_fusion::fellegi_sunter::Thresholds;
use yishu_fusion::link::{PersonRecord, link_people};

fn date(s: &str) -> Option<NaiveDate> {
    yishu_types::date::parse_cn_date(s).ok()
}

fn pairs(n: usize) -> u64 {
    (n as u64) * (n as u64).saturating_sub(1) / 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn city_people_link_to_their_true_person() {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("city");
    yishu_gen::generate_city(
        &yishu_gen::CityArgs {
            people: 5000,
            seed: 11,
            out: city.clone(),
            problem_rate: 0.05,
        },
        &mut yishu_gen::NoProgress,
    )
    .await
    .unwrap();
    // Truth: (file, location) → the person.
    let mut truth: HashMap<(String, String), String> = HashMap::new();
    let mut r = csv::Reader::from_path(city.join("truth/record_subjects.csv")).unwrap();
    for x in r.records() {
        let x = x.unwrap();
        if &x[2] == "person" {
            truth.insert((x[0].to_string(), x[1].to_string()), x[3].to_string());
        }
    }
    let mut records = Vec::new();
    let mut want: Vec<String> = Vec::new();
    let mut add = |file: &str, loc: usize, rec: PersonRecord| {
        if let Some(p) = truth.get(&(file.to_string(), loc.to_string())) {
            records.push(rec);
            want.push(p.clone());
        }
    };
    // 公安 household register, GB18030.
    let bytes = std::fs::read(city.join("gongan_huji.csv")).unwrap();
    let (text, _, _) = encoding_rs::GB18030.decode(&bytes);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    for (n, row) in rd.records().enumerate() {
        let row = row.unwrap();
        add(
            "gongan_huji.csv",
            n + 2,
            PersonRecord {
                id: row[0].to_string(),
                name: row[1].to_string(),
                sex: Some(row[2].to_string()),
                birth: date(&row[4]),
                address: Some(parse_address(&row[6])),
            },
        );
    }
    // 人社 insurance: number and name.
    let mut rd = csv::Reader::from_path(city.join("renshe_canbao.csv")).unwrap();
    for (n, row) in rd.records().enumerate() {
        let row = row.unwrap();
        add(
            "renshe_canbao.csv",
            n + 2,
            PersonRecord {
                id: row[0].to_string(),
                name: row[1].to_string(),
                ..Default::default()
            },
        );
    }
    // 卫健: births (the child) and vaccinations (the person vaccinated).
    let text = std::fs::read_to_string(city.join("weijian_shengyu_yimiao.ndjson")).unwrap();
    for (n, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let rec = if s("type") == "birth" {
            PersonRecord {
                id: s("child_id"),
                name: s("child_name"),
                sex: Some(s("sex")),
                birth: date(&s("birth_date")),
                address: None,
            }
        } else {
            PersonRecord {
                id: s("person_id"),
                name: s("person_name"),
                ..Default::default()
            }
        };
        add("weijian_shengyu_yimiao.ndjson", n + 1, rec);
    }
    let linked = link_people(&records, Thresholds::default());
    // Clusters: a linked record's subject, else the record alone.
    let cluster: Vec<String> = linked
        .subject
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Some(s) => format!("s{s}"),
            None => format!("r{i}"),
        })
        .collect();
    let mut by_pred: HashMap<&str, usize> = HashMap::new();
    let mut by_true: HashMap<&str, usize> = HashMap::new();
    let mut by_both: HashMap<(&str, &str), usize> = HashMap::new();
    for (c, t) in cluster.iter().zip(&want) {
        *by_pred.entry(c).or_default() += 1;
        *by_true.entry(t).or_default() += 1;
        *by_both.entry((c, t)).or_default() += 1;
    }
    let tp: u64 = by_both.values().map(|&n| pairs(n)).sum();
    let predicted: u64 = by_pred.values().map(|&n| pairs(n)).sum();
    let actual: u64 = by_true.values().map(|&n| pairs(n)).sum();
    let precision = tp as f64 / predicted.max(1) as f64;
    let recall = tp as f64 / actual.max(1) as f64;
    eprintln!(
        "city: {} records, {} subjects; pairs predicted {predicted}, true {actual}, right {tp}: precision {precision:.4}, recall {recall:.4}; review {}, collisions {}",
        records.len(),
        linked.keys.len(),
        linked.review.len(),
        linked.collisions.len()
    );
    if std::env::var_os("LINK_DEBUG").is_some() {
        let unlinked = linked.subject.iter().filter(|s| s.is_none()).count();
        eprintln!("unlinked {unlinked}");
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut shown = 0;
        for (i, t) in want.iter().enumerate() {
            match first.get(t.as_str()) {
                Some(&j) if cluster[i] != cluster[j] && shown < 8 => {
                    shown += 1;
                    eprintln!("missed: {:?} / {:?} (truth {t})", records[j], records[i]);
                }
                Some(_) => {}
                None => {
                    first.insert(t, i);
                }
            }
        }
    }
    assert!(precision >= 0.99, "precision {precision}");
    assert!(recall >= 0.99, "recall {recall}");
}
