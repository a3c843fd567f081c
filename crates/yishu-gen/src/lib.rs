//! The synthetic city: what a city's departments would hand over, each file in its department's
//! own shape, with problems injected at stated rates and the ground truth written beside it.
//! Deterministic for a seed.

mod changes;
pub mod city;
pub mod names;
mod out;
mod progress;

pub use out::{Cell, Encoding};
pub use progress::{NoProgress, Progress, TermProgress};

use chrono::{Datelike, Duration, NaiveDate};
use names::*;
use out::CsvOut;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;
use yishu_types::citizen_id::check_char;
use yishu_types::credit_code::{credit_check_char, org_check_char};

pub use changes::{ChangesArgs, write_changes};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("cannot write: {0}")]
    Io(String),
    #[error("{0}")]
    Invalid(String),
}

impl GenError {
    fn io(path: &Path, e: std::io::Error) -> Self {
        GenError::Io(format!("{}: {e}", path.display()))
    }
}

/// `yishu gen city` options.
#[derive(Debug, Clone, clap::Args)]
pub struct CityArgs {
    /// Number of people in the household register.
    #[arg(long, default_value_t = 100_000)]
    pub people: usize,
    /// Random seed; the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Share of rows that get one injected problem, per file (0–0.5).
    #[arg(long, default_value_t = 0.02)]
    pub problem_rate: f64,
}

/// Files written and problems injected.
#[derive(Debug, Clone)]
pub struct Summary {
    pub files: Vec<(String, usize)>,
    pub problems: usize,
    pub people: usize,
    pub seconds: f64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "synthetic city: {} people in {:.1} s ({:.0} people/s)",
            self.people,
            self.seconds,
            self.people as f64 / self.seconds.max(1e-9)
        )?;
        for (name, rows) in &self.files {
            writeln!(f, "  {name:<34} {rows:>10} rows")?;
        }
        write!(
            f,
            "  injected problems: {} (truth/problems.csv)",
            self.problems
        )
    }
}

/// A true person of the city.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub sex: u8,
    pub ethnicity: usize,
    pub birth: NaiveDate,
    pub division: &'static str,
    pub address: String,
    pub spouse: Option<usize>,
    pub married_on: Option<NaiveDate>,
    pub divorced_on: Option<NaiveDate>,
    pub death: Option<NaiveDate>,
    pub mother: Option<usize>,
}

impl Person {
    /// GB/T 2261.2 marital status code as of the data date.
    pub fn marital(&self, people: &[Person]) -> &'static str {
        match (self.spouse, self.divorced_on) {
            (Some(_), Some(_)) => "40",
            (Some(s), None) if people[s].death.is_some() => "30",
            (Some(_), None) => "20",
            (None, _) => "10",
        }
    }
}

struct Entity {
    code: String,
    name: String,
    rep: Option<usize>,
    rep_id: String,
    rep_name: String,
    capital: f64,
    founded: NaiveDate,
    address: String,
    status: &'static str,
    division: &'static str,
}

struct House {
    code: String,
    address: String,
    area: f64,
    owner: usize,
    registered: NaiveDate,
}

/// The date the data is "as of".
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default()
}

fn date_between(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let days = (to - from).num_days().max(1);
    from + Duration::days(rng.random_range(0..days))
}

fn age_on(p: &Person, d: NaiveDate) -> i32 {
    let mut a = d.year() - p.birth.year();
    if (d.month(), d.day()) < (p.birth.month(), p.birth.day()) {
        a -= 1;
    }
    a
}

/// The problem log and record→subject truth.
struct Truth {
    problems: CsvOut,
    subjects: CsvOut,
    count: usize,
}

impl Truth {
    fn problem(
        &mut self,
        file: &str,
        loc: &str,
        column: &str,
        kind: &str,
        true_value: &str,
        given: &str,
    ) -> Result<(), GenError> {
        self.count += 1;
        self.problems.row(&[
            file.into(),
            loc.into(),
            column.into(),
            kind.into(),
            true_value.into(),
            given.into(),
        ])?;
        Ok(())
    }

    fn subject(&mut self, file: &str, loc: &str, kind: &str, id: &str) -> Result<(), GenError> {
        self.subjects
            .row(&[file.into(), loc.into(), kind.into(), id.into()])?;
        Ok(())
    }
}

/// Generates the whole city into `args.out`.
pub async fn generate_city(
    args: &CityArgs,
    progress: &mut dyn Progress,
) -> Result<Summary, GenError> {
    if args.people < 100 {
        return Err(GenError::Invalid("--people must be at least 100".into()));
    }
    if !(0.0..=0.5).contains(&args.problem_rate) {
        return Err(GenError::Invalid(
            "--problem-rate must be between 0 and 0.5".into(),
        ));
    }
    let start = Instant::now();
    let out = &args.out;
    std::fs::create_dir_all(out.join("truth")).map_err(|e| GenError::io(out, e))?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut city = City::build(args.people, &mut rng, progress);
    let mut truth = Truth {
        problems: CsvOut::create(
            &out.join("truth/problems.csv"),
            Encoding::Utf8,
            &[
                "file",
                "location",
                "column",
                "kind",
                "true_value",
                "given_value",
            ],
        )?,
        subjects: CsvOut::create(
            &out.join("truth/record_subjects.csv"),
            Encoding::Utf8,
            &["file", "location", "subject_kind", "subject_id"],
        )?,
        count: 0,
    };
    let rate = args.problem_rate;
    let mut files = Vec::new();
    progress.stage("写出各部门文件 writing department files", 8);
    files.push((
        "gongan_huji.csv (GB18030)".to_string(),
        city.write_gongan(out, rate, &mut rng, &mut truth)?,
    ));
    progress.inc(1);
    files.push((
        "minzheng_hunyin.xlsx".to_string(),
        city.write_minzheng(out, rate, &mut rng, &mut truth)?,
    ));
    progress.inc(1);
    files.push((
        "renshe_canbao.csv".to_string(),
        city.write_renshe(out, rate, &mut rng, &mut truth)?,
    ));
    progress.inc(1);
    files.push((
        "weijian_shengyu_yimiao.ndjson".to_string(),
        city.write_weijian(out, rate, &mut rng, &mut truth)?,
    ));
    progress.inc(1);
    files.push((
        "shichang_qiye.xlsx".to_string(),
        city.write_shichang(out, rate, &mut rng, &mut truth)?,
    ));
    progress.inc(1);
    files.push((
        "zhujian_fangwu.csv".to_string(),
        city.write_zhujian(out, rate, &mut rng, &mut truth)?,
    ));
    progress.inc(1);
    files.push((
        "minzheng_qianzhiku.sqlite (dibao)".to_string(),
        city.write_frontend_db(out, &mut rng, &mut truth).await?,
    ));
    progress.inc(1);
    files.push((
        "gongjijin_jiaocun.parquet".to_string(),
        city.write_gongjijin(out, rate, &mut rng, &mut truth)?,
    ));
    progress.inc(1);
    city.write_truth(out)?;
    let problems = truth.count;
    truth.problems.finish()?;
    truth.subjects.finish()?;
    write_manifest(out, args, &files, problems)?;
    progress.finish();
    Ok(Summary {
        files,
        problems,
        people: args.people,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn write_manifest(
    out: &Path,
    args: &CityArgs,
    files: &[(String, usize)],
    problems: usize,
) -> Result<(), GenError> {
    let m = json!({
        "generator": "yishu gen city",
        "seed": args.seed,
        "people": args.people,
        "problem_rate": args.problem_rate,
        "as_of": today().to_string(),
        "city": "成都市 (510100)",
        "files": files.iter().map(|(n, r)| json!({"file": n, "rows": r})).collect::<Vec<_>>(),
        "departments": {
            "gongan_huji.csv": {"department": "公安局", "format": "csv", "encoding": "GB18030 (GBK-compatible; rare characters use four-byte sequences)"},
            "minzheng_hunyin.xlsx": {"department": "民政局", "format": "xlsx", "sheets": ["婚姻登记", "死亡登记"]},
            "renshe_canbao.csv": {"department": "人力资源和社会保障局", "format": "csv", "encoding": "UTF-8"},
            "weijian_shengyu_yimiao.ndjson": {"department": "卫生健康委员会", "format": "ndjson"},
            "gongjijin_jiaocun.parquet": {"department": "住房公积金管理中心", "format": "parquet"},
            "shichang_qiye.xlsx": {"department": "市场监督管理局", "format": "xlsx", "sheets": ["企业登记"]},
            "zhujian_fangwu.csv": {"department": "住房和城乡建设局", "format": "csv", "encoding": "UTF-8"},
            "minzheng_qianzhiku.sqlite": {"department": "民政局 前置库", "format": "sqlite", "table": "dibao", "watermark": "updated_at"}
        },
        "problems": {
            "total": problems,
            "kinds": ["bad_check_digit", "mixed_date_format", "missing_value", "exact_duplicate", "near_duplicate", "name_homophone", "name_traditional", "name_stray_space", "name_full_width", "conflict_marital_status", "death_not_reported", "stale_record", "out_of_range", "orphan_reference", "formula_error"],
            "truth": "truth/problems.csv lists every injected problem (file, location, column, kind, true and given value); truth/record_subjects.csv maps every record to its true subject, so two records with the same subject are a true cross-source pair"
        }
    });
    let text = serde_json::to_string_pretty(&m).map_err(|e| GenError::Io(e.to_string()))?;
    std::fs::write(out.join("manifest.json"), text).map_err(|e| GenError::io(out, e))
}

/// The true city.
struct City {
    people: Vec<Person>,
    entities: Vec<Entity>,
    houses: Vec<House>,
    employment: Vec<(usize, usize, NaiveDate)>,
    vaccinations: Vec<(usize, &'static str, NaiveDate)>,
    divisions: Vec<(&'static str, &'static str)>,
    /// Deaths that 公安 never recorded (民政 did).
    unreported_deaths: HashSet<usize>,
}

fn make_id(
    rng: &mut ChaCha8Rng,
    division: &str,
    birth: NaiveDate,
    sex: u8,
    used: &mut HashSet<String>,
) -> String {
    loop {
        let seq: u32 = rng.random_range(0..500) * 2 + u32::from(sex == 1);
        let body = format!("{division}{}{seq:03}", birth.format("%Y%m%d"));
        let id = format!("{body}{}", check_char(body.as_bytes()));
        if used.insert(id.clone()) {
            return id;
        }
    }
}

fn make_credit_code(rng: &mut ChaCha8Rng, division: &str, used: &mut HashSet<String>) -> String {
    const ORG_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    loop {
        let body: Vec<u8> = (0..8)
            .map(|_| *ORG_CHARS.choose(rng).unwrap_or(&b'0'))
            .collect();
        let Some(oc) = org_check_char(&body) else {
            continue;
        };
        let first17 = format!("91{division}{}{oc}", String::from_utf8_lossy(&body));
        let Some(cc) = credit_check_char(first17.as_bytes()) else {
            continue;
        };
        let code = format!("{first17}{cc}");
        if used.insert(code.clone()) {
            return code;
        }
    }
}

fn person_name(rng: &mut ChaCha8Rng, sex: u8) -> String {
    let surname = SURNAMES[rng.random_range(0..SURNAMES.len().min(60)) % SURNAMES.len()];
    let pool = if sex == 1 { GIVEN_MALE } else { GIVEN_FEMALE };
    let mut name = surname.to_string();
    if rng.random_bool(0.002) {
        name.push_str(RARE.choose(rng).unwrap_or(&"䶮"));
    } else {
        name.push_str(pool.choose(rng).unwrap_or(&"明"));
    }
    if rng.random_bool(0.7) {
        name.push_str(pool.choose(rng).unwrap_or(&"明"));
    }
    name
}

fn address(rng: &mut ChaCha8Rng, district: &str) -> String {
    format!(
        "四川省成都市{district}{}{}号{}栋{}单元{}室",
        ROADS.choose(rng).unwrap_or(&"人民南路"),
        rng.random_range(1..400),
        rng.random_range(1..30),
        rng.random_range(1..6),
        rng.random_range(1..33) * 100 + rng.random_range(1..5)
    )
}

/// Divisions renamed or merged since: a person born there before the change carries the old code.
fn birth_division(code: &'static str, birth: NaiveDate) -> &'static str {
    match code {
        "510116" if birth.year() < 2015 => "510122",
        "510117" if birth.year() < 2016 => "510124",
        "510118" if birth.year() < 2020 => "510132",
        "510185" if birth.year() < 2016 => "512081",
        _ => code,
    }
}

impl City {
    fn build(n: usize, rng: &mut ChaCha8Rng, progress: &mut dyn Progress) -> City {
        let divisions: Vec<(&'static str, &'static str)> =
            yishu_types::division::current_under("5101")
                .into_iter()
                .filter(|d| d.code.as_str() != "510100")
                .map(|d| (d.code.as_str(), d.name.as_str()))
                .collect();
        let eth_total: u32 = ETHNICITIES.iter().map(|e| e.2).sum();
        let mut used = HashSet::with_capacity(n * 2);
        let mut people = Vec::with_capacity(n);
        progress.stage("生成人口 people", n as u64);
        let start = NaiveDate::from_ymd_opt(1935, 1, 1).unwrap_or_default();
        for i in 0..n {
            let sex = if rng.random_bool(0.5) { 1 } else { 2 };
            let birth = date_between(rng, start, today());
            let (code, dname) = divisions[rng.random_range(0..divisions.len())];
            let id = make_id(rng, birth_division(code, birth), birth, sex, &mut used);
            let mut pick = rng.random_range(0..eth_total);
            let ethnicity = ETHNICITIES
                .iter()
                .position(|e| {
                    if pick < e.2 {
                        true
                    } else {
                        pick -= e.2;
                        false
                    }
                })
                .unwrap_or(0);
            people.push(Person {
                id,
                name: person_name(rng, sex),
                sex,
                ethnicity,
                birth,
                division: code,
                address: address(rng, dname),
                spouse: None,
                married_on: None,
                divorced_on: None,
                death: None,
                mother: None,
            });
            if i % 10_000 == 0 {
                progress.inc(10_000.min(n - i) as u64);
            }
        }
        let t = today();
        // Deaths: older people die at a few percent.
        let mut unreported_deaths = HashSet::new();
        for (i, p) in people.iter_mut().enumerate() {
            let age = t.year() - p.birth.year();
            if age >= 60 && rng.random_bool(0.06) {
                let from = NaiveDate::from_ymd_opt(2016, 1, 1)
                    .unwrap_or_default()
                    .max(p.birth);
                p.death = Some(date_between(rng, from, t));
                if rng.random_bool(0.05) {
                    unreported_deaths.insert(i);
                }
            }
        }
        // Marriages: pair adult men and women of similar age.
        let mut men: Vec<usize> = (0..n)
            .filter(|&i| people[i].sex == 1 && age_on(&people[i], t) >= 23)
            .collect();
        let mut women: Vec<usize> = (0..n)
            .filter(|&i| people[i].sex == 2 && age_on(&people[i], t) >= 21)
            .collect();
        men.shuffle(rng);
        women.shuffle(rng);
        for (&m, &w) in men.iter().zip(women.iter()) {
            if !rng.random_bool(0.65) {
                continue;
            }
            let older = people[m].birth.max(people[w].birth);
            let earliest = NaiveDate::from_ymd_opt(older.year() + 23, 1, 1).unwrap_or(t);
            let latest = [people[m].death, people[w].death, Some(t)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(t);
            if earliest >= latest {
                continue;
            }
            let on = date_between(rng, earliest, latest);
            let divorced = rng
                .random_bool(0.08)
                .then(|| date_between(rng, on, latest))
                .filter(|d| *d > on);
            for (a, b) in [(m, w), (w, m)] {
                people[a].spouse = Some(b);
                people[a].married_on = Some(on);
                people[a].divorced_on = divorced;
            }
        }
        // Mothers of the children born in the last ten years.
        let mothers: Vec<usize> = (0..n)
            .filter(|&i| people[i].sex == 2 && (1975..=2000).contains(&people[i].birth.year()))
            .collect();
        let birth_cut = NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or_default();
        let mut vaccinations = Vec::new();
        if !mothers.is_empty() {
            for (i, p) in people.iter_mut().enumerate() {
                if p.birth >= birth_cut {
                    p.mother = Some(mothers[rng.random_range(0..mothers.len())]);
                    let k = rng.random_range(1..4);
                    for _ in 0..k {
                        let v = *VACCINES.choose(rng).unwrap_or(&"卡介苗");
                        let d = date_between(rng, p.birth, t);
                        vaccinations.push((i, v, d));
                    }
                }
            }
        }
        // Legal entities, their representatives and employees.
        let adults: Vec<usize> = (0..n)
            .filter(|&i| age_on(&people[i], t) >= 20 && people[i].death.is_none())
            .collect();
        let mut codes = HashSet::new();
        let mut entities = Vec::new();
        for _ in 0..(n / 25).max(4) {
            let (code, dname) = divisions[rng.random_range(0..divisions.len())];
            let rep = adults[rng.random_range(0..adults.len())];
            let name = format!(
                "成都{}{}{}有限公司",
                TRADE_NAMES.choose(rng).unwrap_or(&"天府"),
                TRADE_NAMES.choose(rng).unwrap_or(&"锦城"),
                INDUSTRIES.choose(rng).unwrap_or(&"科技")
            );
            entities.push(Entity {
                code: make_credit_code(rng, code, &mut codes),
                name,
                rep: Some(rep),
                rep_id: people[rep].id.clone(),
                rep_name: people[rep].name.clone(),
                capital: f64::from(rng.random_range(1..2000) * 10),
                founded: date_between(
                    rng,
                    NaiveDate::from_ymd_opt(1995, 1, 1).unwrap_or_default(),
                    t,
                ),
                address: address(rng, dname),
                status: if rng.random_bool(0.9) {
                    "存续"
                } else {
                    "注销"
                },
                division: code,
            });
        }
        let mut employment = Vec::new();
        for &a in &adults {
            if age_on(&people[a], t) <= 60 && rng.random_bool(0.55) {
                let e = rng.random_range(0..entities.len());
                let since = date_between(
                    rng,
                    entities[e]
                        .founded
                        .max(people[a].birth + Duration::days(18 * 366)),
                    t + Duration::days(1),
                );
                employment.push((a, e, since));
            }
        }
        // Houses owned by adults.
        let mut houses = Vec::new();
        for k in 0..(n * 35 / 100) {
            let owner = adults[rng.random_range(0..adults.len())];
            let (code, dname) = divisions[rng.random_range(0..divisions.len())];
            houses.push(House {
                code: format!("{code}{:012}", k + 1),
                address: address(rng, dname),
                area: f64::from(rng.random_range(3000..20000)) / 100.0,
                owner,
                registered: date_between(
                    rng,
                    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
                    t,
                ),
            });
        }
        progress.finish();
        City {
            people,
            entities,
            houses,
            employment,
            vaccinations,
            divisions,
            unreported_deaths,
        }
    }

    fn division_name(&self, code: &str) -> &'static str {
        self.divisions
            .iter()
            .find(|d| d.0 == code)
            .map(|d| d.1)
            .unwrap_or("")
    }
}

mod departments;
mod inject;

/// A valid 统一社会信用代码 for a government body (登记管理部门 1 = 机构编制, 类别 1 = 机关),
/// derived from `index` so demo organisations get stable codes.
pub fn government_credit_code(index: u32, division: &str) -> String {
    let body = format!("{:08}", 10_000_000 + index * 7919 % 89_999_999);
    let oc = org_check_char(body.as_bytes()).unwrap_or('0');
    let first17 = format!("11{division}{body}{oc}");
    let cc = credit_check_char(first17.as_bytes()).unwrap_or('0');
    format!("{first17}{cc}")
}
