//! `yishu bench link`: two generated person sources with known truth (IDs missing or mistyped,
//! homophone and traditional names, slipped birth dates, moved addresses), linked by Yishu and by
//! Splink (DuckDB backend) with the same blocking keys, in one run: F1 and wall time of each.

use super::ensure_python_package;
use anyhow::{Result, bail};
use chrono::NaiveDate;
use clap::Args;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;
use yishu_fusion::address::parse_address;
use yishu_fusion::compare::{fold_name, pinyin_of};
use yishu_fusion::fs::Thresholds;
use yishu_fusion::link::{PersonRecord, link_people};

#[derive(Args)]
pub struct LinkBenchArgs {
    /// Records per source (the same people in both).
    #[arg(long, default_value_t = 200_000)]
    pub records: usize,
    /// Working directory (default: a temporary one).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

const SURNAMES: [&str; 30] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: [&str; 40] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "华", "平", "刚", "桂", "兰", "文", "辉", "建", "国", "红", "霞", "峰", "鹏", "燕",
    "宇", "欣", "浩", "婷", "雪", "亮", "琳", "斌",
];
const HOMOPHONE: [(&str, &str); 6] = [
    ("伟", "玮"),
    ("丽", "莉"),
    ("静", "婧"),
    ("军", "君"),
    ("明", "铭"),
    ("华", "桦"),
];
const ROADS: [&str; 8] = [
    "人民南路",
    "天府大道",
    "蜀都大道",
    "春熙路",
    "建设路",
    "红星路",
    "青龙街",
    "总府路",
];
const COUNTIES: [(&str, &str); 8] = [
    ("510104", "锦江区"),
    ("510105", "青羊区"),
    ("510106", "金牛区"),
    ("510107", "武侯区"),
    ("510108", "成华区"),
    ("510112", "龙泉驿区"),
    ("510113", "青白江区"),
    ("510114", "新都区"),
];

struct Person {
    id: String,
    name: String,
    sex: &'static str,
    birth: NaiveDate,
    county: usize,
    street: String,
}

/// A source's copy of a person, with its own mistakes.
fn copy(p: &Person, rng: &mut rand_chacha::ChaCha8Rng, loose: bool) -> PersonRecord {
    let r = |rng: &mut rand_chacha::ChaCha8Rng, p: f64| rng.random_bool(p);
    let factor = if loose { 2.0 } else { 1.0 };
    let id = if r(rng, 0.05 * factor) {
        String::new()
    } else if r(rng, 0.03 * factor) {
        let mut b = p.id.clone().into_bytes();
        let at = rng.random_range(6..17);
        b[at] = b'0' + (b[at] - b'0' + 1 + rng.random_range(0..8)) % 10;
        String::from_utf8(b).unwrap_or_default()
    } else {
        p.id.clone()
    };
    let mut name = p.name.clone();
    if r(rng, 0.02 * factor) {
        for (a, b) in HOMOPHONE {
            if name.contains(a) {
                name = name.replacen(a, b, 1);
                break;
            }
        }
    }
    let birth = if r(rng, 0.01 * factor) {
        p.birth
            .checked_add_days(chrono::Days::new(rng.random_range(1..9)))
            .unwrap_or(p.birth)
    } else {
        p.birth
    };
    let street = if r(rng, 0.05 * factor) {
        format!(
            "{}{}号",
            ROADS[rng.random_range(0..8)],
            rng.random_range(1..500)
        )
    } else {
        p.street.clone()
    };
    PersonRecord {
        id,
        name,
        sex: Some(p.sex.to_string()),
        birth: Some(birth),
        address: Some(parse_address(&format!(
            "四川省成都市{}{street}",
            COUNTIES[p.county].1
        ))),
    }
}

const SPLINK: &str = r#"
import sys, time, json
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
import splink.comparison_library as cl
t0 = time.perf_counter()
db = DuckDBAPI()
con = db.duckdb_con
con.execute("CREATE TABLE a AS SELECT * FROM read_csv(?, all_varchar = true)", [sys.argv[1]])
con.execute("CREATE TABLE b AS SELECT * FROM read_csv(?, all_varchar = true)", [sys.argv[2]])
settings = SettingsCreator(
    link_type="link_only",
    blocking_rules_to_generate_predictions=[
        block_on("id_db"), block_on("id_dq"), block_on("id_bq"),
        block_on("name_py", "birth_year"), block_on("name_py", "county"),
    ],
    comparisons=[
        cl.LevenshteinAtThresholds("id", [1, 2]),
        cl.JaroWinklerAtThresholds("name_py", [0.9]),
        cl.LevenshteinAtThresholds("birth", [1]),
        cl.ExactMatch("sex"),
        cl.ExactMatch("county"),
        cl.ExactMatch("street"),
    ],
    retain_intermediate_calculation_columns=False,
    retain_matching_columns=False,
)
linker = Linker([db.register("a"), db.register("b")], settings)
linker.training.estimate_probability_two_random_records_match([block_on("id")], recall=0.9)
linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
linker.training.estimate_parameters_using_expectation_maximisation(block_on("id_db"))
linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_py", "birth_year"))
pred = linker.inference.predict(threshold_match_probability=0.99)
pairs = con.execute(f"SELECT unique_id_l, unique_id_r FROM {pred.physical_name}").fetchall()
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "pairs": [[str(l), str(r)] for l, r in pairs]}))
"#;

pub fn run(a: LinkBenchArgs) -> Result<u8> {
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let n = a.records;
    eprintln!("generating {n} people and two sources…");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let people: Vec<Person> = (0..n)
        .map(|k| {
            let given = if rng.random_bool(0.7) {
                format!(
                    "{}{}",
                    GIVEN[rng.random_range(0..40)],
                    GIVEN[rng.random_range(0..40)]
                )
            } else {
                GIVEN[rng.random_range(0..40)].to_string()
            };
            let birth = NaiveDate::from_ymd_opt(
                rng.random_range(1940..2020),
                rng.random_range(1..13),
                rng.random_range(1..29),
            )
            .unwrap_or_default();
            let county = rng.random_range(0..8);
            let seq = format!("{:03}", k % 1000);
            let body = format!("{}{}{seq}", COUNTIES[county].0, birth.format("%Y%m%d"));
            let id = format!(
                "{body}{}",
                yishu_types::citizen_id::check_char(body.as_bytes())
            );
            Person {
                sex: if (seq.as_bytes()[2] - b'0') % 2 == 1 {
                    "1"
                } else {
                    "2"
                },
                id,
                name: format!("{}{given}", SURNAMES[rng.random_range(0..30)]),
                birth,
                county,
                street: format!(
                    "{}{}号",
                    ROADS[rng.random_range(0..8)],
                    rng.random_range(1..500)
                ),
            }
        })
        .collect();
    let src_a: Vec<PersonRecord> = people.iter().map(|p| copy(p, &mut rng, false)).collect();
    // Source B in another order: row k of B is person order[k].
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let src_b: Vec<PersonRecord> = order
        .iter()
        .map(|&p| copy(&people[p], &mut rng, true))
        .collect();
    let write = |path: &std::path::Path, recs: &[PersonRecord], prefix: &str| -> Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(
            w,
            "unique_id,id,name_py,birth,birth_year,sex,county,street,id_db,id_dq,id_bq"
        )?;
        for (k, r) in recs.iter().enumerate() {
            let id: String = r.id.clone();
            let (db, dq, bq) = if id.len() == 18 {
                (
                    format!("{}{}", &id[..6], &id[6..14]),
                    format!("{}{}", &id[..6], &id[14..]),
                    format!("{}{}", &id[6..14], &id[14..]),
                )
            } else {
                Default::default()
            };
            let addr = r.address.clone().unwrap_or_default();
            let birth = r.birth.map(|b| b.to_string()).unwrap_or_default();
            writeln!(
                w,
                "{prefix}{k},{id},{},{birth},{},{},{},{},{db},{dq},{bq}",
                pinyin_of(&fold_name(&r.name)),
                birth.get(..4).unwrap_or_default(),
                r.sex.clone().unwrap_or_default(),
                addr.division.unwrap_or_default(),
                addr.street
            )?;
        }
        Ok(())
    };
    let (fa, fb) = (dir.join("a.csv"), dir.join("b.csv"));
    write(&fa, &src_a, "a")?;
    write(&fb, &src_b, "b")?;
    let truth_b: HashMap<String, usize> = order
        .iter()
        .enumerate()
        .map(|(k, &p)| (format!("b{k}"), p))
        .collect();
    let f1 = |made: u64, right: u64| {
        let p = right as f64 / made.max(1) as f64;
        let r = right as f64 / n as f64;
        (p, r, 2.0 * p * r / (p + r).max(1e-12))
    };

    eprintln!("linking (yishu)…");
    let mut all = src_a;
    all.extend(src_b);
    let t = Instant::now();
    let linked = link_people(&all, Thresholds::default());
    let ys = t.elapsed().as_secs_f64();
    // Cross-source pairs within each subject.
    let mut members: HashMap<usize, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (i, s) in linked.subject.iter().enumerate() {
        if let Some(s) = s {
            let e = members.entry(*s).or_default();
            if i < n { e.0.push(i) } else { e.1.push(i - n) }
        }
    }
    let (mut made, mut right) = (0u64, 0u64);
    for (xs, ys_) in members.values() {
        for &x in xs {
            for &y in ys_ {
                made += 1;
                if order[y] == x {
                    right += 1;
                }
            }
        }
    }
    let (yp, yr, yf) = f1(made, right);

    ensure_python_package("splink", "splink")?;
    eprintln!("linking (Splink)…");
    let out = std::process::Command::new("python3")
        .args(["-c", SPLINK])
        .arg(&fa)
        .arg(&fb)
        .output()?;
    if !out.status.success() {
        bail!("Splink failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())?;
    let ss = v["seconds"].as_f64().unwrap_or(f64::NAN);
    let (mut smade, mut sright) = (0u64, 0u64);
    for p in v["pairs"].as_array().into_iter().flatten() {
        let (l, r) = (p[0].as_str().unwrap_or(""), p[1].as_str().unwrap_or(""));
        let (ai, bi) = if l.starts_with('a') { (l, r) } else { (r, l) };
        smade += 1;
        if ai[1..].parse::<usize>().ok() == truth_b.get(bi).copied() {
            sright += 1;
        }
    }
    let (sp, sr, sf) = f1(smade, sright);
    let version = std::process::Command::new("python3")
        .args(["-c", "import splink; print(splink.__version__)"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "bench link: {n} + {n} person records, same blocking keys (ID parts ×3, name sound + birth year, name sound + county)"
    );
    println!(
        "{:<28} {:>9} {:>10} {:>8} {:>8} {:>8}",
        "linker", "seconds", "pairs", "prec", "recall", "F1"
    );
    println!(
        "{:<28} {ys:>9.2} {made:>10} {yp:>8.4} {yr:>8.4} {yf:>8.4}",
        "yishu link_people"
    );
    println!(
        "{:<28} {ss:>9.2} {smade:>10} {sp:>8.4} {sr:>8.4} {sf:>8.4}",
        format!("Splink {version} (DuckDB)")
    );
    println!(
        "yishu review queue {}, collisions {}; F1 yishu − Splink {:+.4}; time ratio Splink / yishu {:.2} (targets: F1 ≥ Splink's, ratio ≥ 1.0)",
        linked.review.len(),
        linked.collisions.len(),
        yf - sf,
        ss / ys
    );
    Ok(crate::exit::OK)
}
