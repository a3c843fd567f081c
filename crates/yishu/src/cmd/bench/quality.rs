//! `yishu bench quality`: profile every column and run ten rules on a people table, against DuckDB
//! `SUMMARIZE` plus the ten equivalent SQL checks on the same Parquet files, in one run.

use super::{PEOPLE_HEADER, bench_resources, ensure_duckdb, people_csv, timed_ingest};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::time::Instant;

#[derive(Args)]
pub struct QualityBenchArgs {
    /// Rows in the generated people table.
    #[arg(long, default_value_t = 5_000_000)]
    pub rows: usize,
    /// Working directory (default: a temporary one, removed afterwards).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

/// DuckDB's side: SUMMARIZE and the same ten checks, each a count of violating rows.
const DUCKDB: &str = r#"
import duckdb, json, sys, time
people, divisions, eth = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
t0 = time.perf_counter()
con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{people}')")
con.execute(f"CREATE VIEW d AS SELECT * FROM read_parquet('{divisions}')")
con.execute("CREATE TABLE eth(code VARCHAR)")
con.executemany("INSERT INTO eth VALUES (?)", [[c] for c in eth])
con.execute("""CREATE MACRO id_ok(s) AS length(s) = 18 AND regexp_full_match(s, '[0-9]{17}[0-9X]')
  AND substr('10X98765432', 1 + (list_sum([(ascii(substr(s, i, 1)) - 48)
  * ([7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2])[i] for i in range(1, 18)]) % 11)::INTEGER, 1) = substr(s, 18, 1)""")
con.execute("SUMMARIZE t").fetchall()
t1 = time.perf_counter()
checks = [
  """SELECT count(*) FROM t WHERE "姓名" IS NULL OR trim("姓名") = ''""",
  """SELECT count(*) FROM t WHERE "性别" IS NULL OR trim("性别") = ''""",
  """SELECT count(*) FROM t WHERE "出生日期" IS NULL OR trim("出生日期") = ''""",
  """SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) c FROM t WHERE "公民身份号码" IS NOT NULL GROUP BY "公民身份号码" HAVING count(*) > 1)""",
  """SELECT count(*) FROM t WHERE "公民身份号码" IS NOT NULL AND NOT id_ok("公民身份号码")""",
  """SELECT count(*) FROM t WHERE "出生日期" IS NOT NULL AND coalesce(TRY_CAST("出生日期" AS DATE) NOT BETWEEN DATE '1900-01-01' AND DATE '2025-12-31', true)""",
  """SELECT count(*) FROM t WHERE "民族" IS NOT NULL AND "民族" NOT IN (SELECT code FROM eth)""",
  """SELECT count(*) FROM t WHERE length("公民身份号码") = 18 AND TRY_CAST("出生日期" AS DATE) IS NOT NULL AND substr("公民身份号码", 7, 8) <> strftime(TRY_CAST("出生日期" AS DATE), '%Y%m%d')""",
  """SELECT count(*) FROM t WHERE "行政区划代码" IS NOT NULL AND "行政区划代码" NOT IN (SELECT "代码" FROM d)""",
  """SELECT count(*) FROM t WHERE "联系电话" IS NOT NULL AND NOT regexp_full_match("联系电话", '1[3-9][0-9]{9}')""",
]
counts = [con.execute(q).fetchone()[0] for q in checks]
t2 = time.perf_counter()
print(json.dumps({"summarize": t1 - t0, "checks": t2 - t1, "total": t2 - t0, "counts": counts}))
"#;

pub async fn run(a: QualityBenchArgs) -> Result<u8> {
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    eprintln!("writing {} rows…", a.rows);
    let (people, _gbk, _) = people_csv(&dir, a.rows)?;
    let divisions = dir.join("divisions.csv");
    let mut text = String::from("代码,名称\n");
    for d in yishu_types::division::current_under("51") {
        text.push_str(&format!("{},{}\n", d.code.as_str(), d.name));
    }
    std::fs::write(&divisions, text)?;
    let data = dir.join("data");
    // Dates are typed so that cleaning converts them (text stays text).
    let typed = PEOPLE_HEADER
        .replace("出生日期", "出生日期:D")
        .replace("登记日期", "登记日期:D");
    let codes = bench_resources(&data, &[("基准人口", &typed), ("行政区划", "代码,名称")]).await?;
    ensure_duckdb()?;
    eprintln!("ingesting…");
    timed_ingest(&data, &people, &codes[0])?;
    timed_ingest(&data, &divisions, &codes[1])?;
    let rules = serde_json::json!([
        {"kind": "not_null", "column": "姓名"},
        {"kind": "not_null", "column": "性别"},
        {"kind": "not_null", "column": "出生日期"},
        {"kind": "unique", "columns": ["公民身份号码"]},
        {"kind": "format", "column": "公民身份号码", "validator": "citizen_id"},
        {"kind": "range", "column": "出生日期", "after": "1900-01-01", "before": "2025-12-31"},
        {"kind": "code_table", "column": "民族", "table": "ethnicity"},
        {"kind": "cross", "check": "birth_matches_id", "id": "公民身份号码", "birth": "出生日期"},
        {"kind": "referential", "column": "行政区划代码", "resource": codes[1], "item": "代码"},
        {"kind": "format", "column": "联系电话", "regex": "^1[3-9]\\d{9}$"},
    ]);
    let rules_file = dir.join("rules.json");
    std::fs::write(&rules_file, serde_json::to_vec_pretty(&rules)?)?;
    eprintln!("profiling and checking (yishu)…");
    let t = Instant::now();
    let out = std::process::Command::new(std::env::current_exe()?)
        .args([
            "quality",
            "try",
            "--resource",
            &codes[0],
            "--rules",
            rules_file.to_str().unwrap_or_default(),
        ])
        .env("YISHU_DATA_DIR", &data)
        .env("YISHU_PRINT_PEAK_RSS", "1")
        .output()?;
    let ys = t.elapsed().as_secs_f64();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("yishu quality try failed: {text}");
    }
    let rss: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("peak RSS MiB: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    eprintln!("cleaning into std (yishu)…");
    let clean_rules = serde_json::json!([
        {"fix": {"kind": "trim", "column": "姓名"}},
        {"fix": {"kind": "half_width", "column": "公民身份号码"}},
        {"fix": {"kind": "upgrade_id15", "column": "公民身份号码"}},
        {"fix": {"kind": "unify_date", "column": "出生日期"}},
        {"fix": {"kind": "map_codes", "column": "性别", "table": "sex"}},
        {"fix": {"kind": "map_codes", "column": "民族", "table": "ethnicity"}},
        {"check": {"kind": "format", "column": "公民身份号码", "validator": "citizen_id"}, "action": "filter"},
        {"check": {"kind": "not_null", "column": "姓名"}, "action": "tolerate"},
    ]);
    let clean_file = dir.join("clean.json");
    std::fs::write(&clean_file, serde_json::to_vec_pretty(&clean_rules)?)?;
    let t = Instant::now();
    let cl = std::process::Command::new(std::env::current_exe()?)
        .args([
            "quality",
            "try-clean",
            "--resource",
            &codes[0],
            "--rules",
            clean_file.to_str().unwrap_or_default(),
        ])
        .env("YISHU_DATA_DIR", &data)
        .env("YISHU_PRINT_PEAK_RSS", "1")
        .output()?;
    let cs = t.elapsed().as_secs_f64();
    let clean_text =
        String::from_utf8_lossy(&cl.stdout).to_string() + &String::from_utf8_lossy(&cl.stderr);
    if !cl.status.success() {
        bail!("yishu quality try-clean failed: {clean_text}");
    }
    let clean_rss: f64 = clean_text
        .lines()
        .find_map(|l| l.strip_prefix("peak RSS MiB: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let table = |code: &str| {
        data.join("lake/ods")
            .join(format!("r_{}", code.replace('/', "_")))
            .join("*.parquet")
    };
    let eth: Vec<String> = yishu_types::codes::table("ethnicity")
        .map(|t| t.entries.iter().map(|e| e.code.clone()).collect())
        .unwrap_or_default();
    eprintln!("SUMMARIZE and ten checks (DuckDB)…");
    let duck = std::process::Command::new("python3")
        .args([
            "-c",
            DUCKDB,
            table(&codes[0]).to_str().unwrap_or_default(),
            table(&codes[1]).to_str().unwrap_or_default(),
            &serde_json::to_string(&eth)?,
        ])
        .output()?;
    if !duck.status.success() {
        bail!("DuckDB failed: {}", String::from_utf8_lossy(&duck.stderr));
    }
    // The figures are the last line (DuckDB may draw a progress bar before it).
    let stdout = String::from_utf8_lossy(&duck.stdout);
    let d: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .with_context(|| format!("DuckDB printed no figures: {stdout}"))?;
    let dt = d["total"].as_f64().unwrap_or(f64::NAN);
    println!(
        "bench quality: {} rows × 12 columns, {} cores",
        a.rows,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("{text}");
    println!("{:<64} {:>9} {:>10}", "run", "seconds", "peak MiB");
    println!(
        "{:<64} {:>9.2} {:>10}",
        format!(
            "DuckDB {} SUMMARIZE ({:.2} s) + ten SQL checks ({:.2} s)",
            duckdb_version(),
            d["summarize"].as_f64().unwrap_or(f64::NAN),
            d["checks"].as_f64().unwrap_or(f64::NAN)
        ),
        dt,
        "-"
    );
    println!(
        "{:<64} {:>9.2} {:>10.0}",
        "yishu profile (all columns) + ten rules, violations per row", ys, rss
    );
    println!(
        "{:<64} {:>9.2} {:>10.0}",
        "yishu clean to std (6 fixes, 2 checks, dates typed)", cs, clean_rss
    );
    println!("DuckDB violation counts: {}", d["counts"]);
    println!("{clean_text}");
    println!(
        "cleaning: {:.0} rows/s (process start to commit)",
        a.rows as f64 / cs
    );
    println!(
        "ratio DuckDB time / yishu time: {:.2} (target ≥ 1.0); peak memory target < 2048 MiB",
        dt / ys
    );
    Ok(crate::exit::OK)
}

fn duckdb_version() -> String {
    std::process::Command::new("python3")
        .args(["-c", "import duckdb; print(duckdb.__version__)"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
