//! `yishu bench link`: two generated person sources with known truth (IDs missing or mistyped,
//! homophone and traditional names, slipped birth dates, moved addresses), linked by Yishu and by
//! Splink (DuckDB backend) with the same blocking keys, in one run: F1 and wall time of each.

use super::ensure_python_package;
use anyhow::{Result, bail};
use clap::Args;
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;
use yishu_fusion::compare::{fold_name, pinyin_of};
use yishu_fusion::fellegi_sunter::Thresholds;
use yishu_fusion::link::{PersonRecord, link_people};
use yishu_gen::city::linkage::{TwoSources, two_sources};

#[derive(Args)]
pub struct LinkBenchArgs {
    /// Records per source (the same people in both).
    #[arg(long, default_value_t = 200_000)]
    pub records: usize,
    /// Working directory (default: a temporary one).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
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
    let TwoSources {
        a: src_a,
        b: src_b,
        order,
    } = two_sources(n, 2026);
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
