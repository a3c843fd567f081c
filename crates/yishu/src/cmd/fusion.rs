//! `yishu fusion …`: save the plan (checked first), run fusion, and measure it against a
//! synthetic city's ground truth.

use crate::config::Config;
use crate::exit;
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use yishu_fusion::plan::Plan;
use yishu_fusion::run::RunMode;
use yishu_fusion::survive::{AttributeRule, Fallback};
use yishu_lake::arrow::array::{Array, StringArray};
use yishu_lake::{Lake, Layer};
use yishu_meta::Store;

#[derive(Subcommand)]
pub enum FusionCommand {
    /// Save a plan from a JSON file after checking it (resources, columns, one authority per
    /// attribute, no cycles); `--show` prints the plan in force.
    Plan {
        #[arg(long, conflicts_with = "show")]
        file: Option<PathBuf>,
        #[arg(long)]
        show: bool,
    },
    /// Run fusion under the plan in force: link, build golden records, write the base libraries.
    /// Reads only the std batches no run has read and rebuilds only the subjects they touch,
    /// unless the plan changed, a person decided a review or a correction was accepted since the
    /// last run, or `--full` asks to read everything again.
    Run {
        #[arg(long)]
        full: bool,
    },
    /// Compare the base libraries with a synthetic city's ground truth (`yishu gen city` or the
    /// demo's `city/`): person linkage precision and recall, golden values, injected conflicts,
    /// and the same per injected problem kind.
    Accuracy {
        #[arg(long)]
        city: PathBuf,
        /// Also list the first N golden values that differ from the truth, with the problems
        /// injected into that person's records (to tell a defect from data no rule can mend).
        #[arg(long, default_value_t = 0)]
        misses: usize,
    },
}

pub async fn run(config: &Config, cmd: FusionCommand) -> Result<u8> {
    let (store, lake) = crate::cmd::serve::open(config).await?;
    match cmd {
        FusionCommand::Plan { file, show } => {
            if show || file.is_none() {
                match store.fusion_plan().await? {
                    Some(p) => println!("{}", serde_json::to_string_pretty(&p.body)?),
                    None => bail!("no fusion plan has been saved yet"),
                }
                return Ok(exit::OK);
            }
            let path = file.unwrap_or_default();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let plan: Plan = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a fusion plan", path.display()))?;
            let saved = save_plan(&store, &plan, None).await?;
            println!("fusion plan version {saved} saved");
            Ok(exit::OK)
        }
        FusionCommand::Run { full } => {
            let mode = if full { RunMode::Full } else { RunMode::Auto };
            let report = fuse(&store, &lake, mode).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(exit::OK)
        }
        FusionCommand::Accuracy { city, misses } => {
            let a = accuracy(&store, &lake, &city).await?;
            print!("{a}");
            for m in a.misses.iter().take(misses) {
                println!("miss: {m}");
            }
            Ok(if a.meets() { exit::OK } else { exit::FAILED })
        }
    }
}

/// Checks a plan against the catalog and saves it; returns its version.
pub async fn save_plan(store: &Store, plan: &Plan, by: Option<yishu_types::UserId>) -> Result<i64> {
    let known = yishu_fusion::run::known_resources(store).await?;
    plan.check(&known)
        .map_err(|e| anyhow!("the plan is refused: {}", e.message))?;
    let saved = store
        .save_fusion_plan(&serde_json::to_value(plan)?, by)
        .await?;
    Ok(saved.version)
}

/// Runs fusion with progress on stderr.
pub async fn fuse(
    store: &Store,
    lake: &Lake,
    mode: RunMode,
) -> Result<yishu_fusion::run::FusionReport> {
    let report =
        yishu_fusion::run::fuse(store, lake, mode, &mut |m: &str| eprintln!("  fusion: {m}"))
            .await?;
    Ok(report)
}

fn rule(
    attr: &str,
    authority: Option<&str>,
    checkers: &[&str],
    fallback: Fallback,
) -> AttributeRule {
    AttributeRule {
        attribute: attr.into(),
        authority: authority.map(str::to_string),
        checkers: checkers.iter().map(|s| s.to_string()).collect(),
        fallback,
        core: false,
    }
}

/// The synthetic city's plan: 公安 is authoritative for identity and household facts, 民政 for
/// marital status, 人社 for insurance, 公积金 for its accounts; deaths come from 公安 or 民政,
/// whichever is first. Resources are found by their catalog names.
pub async fn city_plan(store: &Store) -> Result<Plan> {
    let resources = store.all_resources().await?;
    let code = |name: &str| -> Result<String> {
        resources
            .iter()
            .find(|r| r.meta.name == name)
            .map(|r| r.code.clone())
            .ok_or_else(|| anyhow!("the catalog has no resource named {name}"))
    };
    let v = json!({
        "sources": [
            {"resource": code("户籍人口基本信息")?, "role": "本人", "subject": "person",
             "key": "公民身份号码", "name": "姓名", "sex": "性别", "birth": "出生日期", "address": "住址",
             "attributes": [
                {"attribute": "姓名", "value": {"from": "column", "column": "姓名"}},
                {"attribute": "性别", "value": {"from": "column", "column": "性别"}},
                {"attribute": "民族", "value": {"from": "column", "column": "民族"}},
                {"attribute": "出生日期", "value": {"from": "column", "column": "出生日期"}},
                {"attribute": "婚姻状况", "value": {"from": "column", "column": "婚姻状况"}},
                {"attribute": "住址", "value": {"from": "column", "column": "住址"}},
                {"attribute": "行政区划代码", "value": {"from": "column", "column": "行政区划代码"}},
                {"attribute": "户籍状态", "value": {"from": "column", "column": "户籍状态"}},
                {"attribute": "死亡日期", "value": {"from": "column", "column": "注销日期"},
                 "when": {"column": "注销原因", "equals": "死亡"}}],
             "events": [{"event": "出生", "date": "出生日期"},
                        {"event": "户籍注销", "date": "注销日期", "detail": {"from": "column", "column": "注销原因"}}]},
            {"resource": code("婚姻登记信息")?, "role": "男方", "subject": "person",
             "key": "男方身份号码", "name": "男方姓名", "at": "登记日期",
             "attributes": [
                {"attribute": "姓名", "value": {"from": "column", "column": "男方姓名"}},
                {"attribute": "婚姻状况", "value": {"from": "map", "column": "登记类型", "map": {"结婚": "20", "离婚": "40"}}},
                {"attribute": "性别", "value": {"from": "const", "value": "1"}}],
             "events": [{"event": "婚姻登记", "date": "登记日期", "detail": {"from": "column", "column": "登记类型"}}],
             "relations": [{"relation": "配偶", "target": {"to": "role", "role": "女方"}, "since": "登记日期"}]},
            {"resource": code("婚姻登记信息")?, "role": "女方", "subject": "person",
             "key": "女方身份号码", "name": "女方姓名", "at": "登记日期",
             "attributes": [
                {"attribute": "姓名", "value": {"from": "column", "column": "女方姓名"}},
                {"attribute": "婚姻状况", "value": {"from": "map", "column": "登记类型", "map": {"结婚": "20", "离婚": "40"}}},
                {"attribute": "性别", "value": {"from": "const", "value": "2"}}],
             "events": [{"event": "婚姻登记", "date": "登记日期", "detail": {"from": "column", "column": "登记类型"}}],
             "relations": [{"relation": "配偶", "target": {"to": "role", "role": "男方"}, "since": "登记日期"}]},
            {"resource": code("死亡登记信息")?, "role": "本人", "subject": "person",
             "key": "身份号码", "name": "姓名", "at": "死亡日期",
             "attributes": [
                {"attribute": "姓名", "value": {"from": "column", "column": "姓名"}},
                {"attribute": "死亡日期", "value": {"from": "column", "column": "死亡日期"}},
                {"attribute": "户籍状态", "value": {"from": "const", "value": "注销"}}],
             "events": [{"event": "死亡", "date": "死亡日期"}]},
            {"resource": code("最低生活保障对象信息")?, "role": "本人", "subject": "person",
             "key": "citizen_id", "name": "name", "at": "updated_at",
             "attributes": [{"attribute": "低保状态", "value": {"from": "column", "column": "status"}}],
             "events": [{"event": "低保", "date": "updated_at", "detail": {"from": "column", "column": "status"}}]},
            {"resource": code("社会保险参保信息")?, "role": "本人", "subject": "person",
             "key": "身份证号", "name": "姓名", "at": "更新时间",
             "attributes": [
                {"attribute": "姓名", "value": {"from": "column", "column": "姓名"}},
                {"attribute": "参保状态", "value": {"from": "column", "column": "缴费状态"}}],
             "events": [{"event": "参保", "date": "参保日期", "detail": {"from": "column", "column": "险种"}}],
             "relations": [{"relation": "参保单位", "target": {"to": "key", "kind": "entity", "column": "单位统一社会信用代码"}, "since": "参保日期"}]},
            {"resource": code("出生与预防接种信息")?, "role": "子女", "subject": "person",
             "key": "child_id", "name": "child_name", "birth": "birth_date",
             "when": {"column": "type", "equals": "birth"},
             "attributes": [
                {"attribute": "姓名", "value": {"from": "column", "column": "child_name"}},
                {"attribute": "出生日期", "value": {"from": "column", "column": "birth_date"}}],
             "events": [{"event": "出生", "date": "birth_date"}],
             "relations": [{"relation": "母亲", "target": {"to": "role", "role": "母亲"}, "since": "birth_date"}]},
            {"resource": code("出生与预防接种信息")?, "role": "母亲", "subject": "person",
             "key": "mother_id", "when": {"column": "type", "equals": "birth"},
             "relations": [{"relation": "子女", "target": {"to": "role", "role": "子女"}, "since": "birth_date"}]},
            {"resource": code("出生与预防接种信息")?, "role": "接种者", "subject": "person",
             "key": "person_id", "when": {"column": "type", "equals": "vaccination"},
             "events": [{"event": "预防接种", "date": "date", "detail": {"from": "column", "column": "vaccine"}}]},
            {"resource": code("住房公积金缴存信息")?, "role": "本人", "subject": "person",
             "key": "身份证号", "name": "姓名",
             "attributes": [
                {"attribute": "姓名", "value": {"from": "column", "column": "姓名"}},
                {"attribute": "公积金账户状态", "value": {"from": "column", "column": "账户状态"}}],
             "events": [{"event": "公积金开户", "date": "开户日期", "detail": {"from": "column", "column": "单位名称"}}]},
            {"resource": code("房屋产权登记信息")?, "role": "产权人", "subject": "person",
             "key": "产权人身份证号", "name": "产权人姓名",
             "attributes": [{"attribute": "姓名", "value": {"from": "column", "column": "产权人姓名"}}],
             "events": [{"event": "房屋产权登记", "date": "登记日期", "detail": {"from": "column", "column": "坐落"}}],
             "relations": [{"relation": "产权人", "target": {"to": "key", "kind": "house", "column": "房屋编码"}, "since": "登记日期"}]},
            {"resource": code("房屋产权登记信息")?, "role": "房屋", "subject": "house",
             "key": "房屋编码", "at": "登记日期",
             "attributes": [
                {"attribute": "坐落", "value": {"from": "column", "column": "坐落"}},
                {"attribute": "建筑面积", "value": {"from": "column", "column": "建筑面积"}},
                {"attribute": "产权人身份证号", "value": {"from": "column", "column": "产权人身份证号"}},
                {"attribute": "登记日期", "value": {"from": "column", "column": "登记日期"}}],
             "events": [{"event": "产权登记", "date": "登记日期"}]},
            {"resource": code("市场主体登记信息")?, "role": "企业", "subject": "entity",
             "key": "统一社会信用代码",
             "attributes": [
                {"attribute": "企业名称", "value": {"from": "column", "column": "企业名称"}},
                {"attribute": "法定代表人", "value": {"from": "column", "column": "法定代表人"}},
                {"attribute": "注册资本(万元)", "value": {"from": "column", "column": "注册资本(万元)"}},
                {"attribute": "成立日期", "value": {"from": "column", "column": "成立日期"}},
                {"attribute": "住所", "value": {"from": "column", "column": "住所"}},
                {"attribute": "登记状态", "value": {"from": "column", "column": "登记状态"}},
                {"attribute": "行政区划", "value": {"from": "column", "column": "行政区划"}}],
             "events": [{"event": "企业成立", "date": "成立日期"}]},
            {"resource": code("市场主体登记信息")?, "role": "法定代表人", "subject": "person",
             "key": "法定代表人身份证号", "name": "法定代表人",
             "attributes": [{"attribute": "姓名", "value": {"from": "column", "column": "法定代表人"}}],
             "relations": [{"relation": "法定代表人", "target": {"to": "key", "kind": "entity", "column": "统一社会信用代码"}, "since": "成立日期"}]}
        ]
    });
    let mut plan: Plan = serde_json::from_value(v)?;
    plan.after_death = vec![yishu_fusion::plan::AfterDeath {
        relation: "配偶".into(),
        attribute: "婚姻状况".into(),
        from: "20".into(),
        to: "30".into(),
        death: "死亡日期".into(),
    }];
    let all_checkers = ["CD-MZ", "CD-RS", "CD-GJJ", "CD-WJ", "CD-ZJ", "CD-SJ"];
    plan.person = vec![
        AttributeRule {
            core: true,
            ..rule("姓名", Some("CD-GA"), &all_checkers, Fallback::Latest)
        },
        AttributeRule {
            core: true,
            ..rule("性别", Some("CD-GA"), &["CD-MZ"], Fallback::Majority)
        },
        AttributeRule {
            core: true,
            ..rule("出生日期", Some("CD-GA"), &["CD-WJ"], Fallback::Earliest)
        },
        rule("民族", Some("CD-GA"), &[], Fallback::Latest),
        rule("住址", Some("CD-GA"), &[], Fallback::Latest),
        rule("行政区划代码", Some("CD-GA"), &[], Fallback::Latest),
        rule("婚姻状况", Some("CD-MZ"), &["CD-GA"], Fallback::Latest),
        rule("户籍状态", Some("CD-GA"), &["CD-MZ"], Fallback::Latest),
        rule("死亡日期", None, &[], Fallback::Earliest),
        rule("参保状态", Some("CD-RS"), &[], Fallback::Latest),
        rule("公积金账户状态", Some("CD-GJJ"), &[], Fallback::Latest),
        rule("低保状态", Some("CD-MZ"), &[], Fallback::Latest),
    ];
    plan.tags = serde_json::from_value(json!([
        {"tag": "老年人", "description": "60 岁及以上且在世",
         "all": [{"if": "age_at_least", "attribute": "出生日期", "years": 60},
                 {"if": "missing", "attribute": "死亡日期"}]},
        {"tag": "独居老人", "description": "60 岁及以上、在世，未婚、丧偶或离婚（无在世配偶）",
         "all": [{"if": "age_at_least", "attribute": "出生日期", "years": 60},
                 {"if": "missing", "attribute": "死亡日期"},
                 {"if": "one_of", "attribute": "婚姻状况", "values": ["10", "30", "40"]}]},
        {"tag": "失业人员", "description": "养老保险暂停、中断或终止缴费且在世",
         "all": [{"if": "one_of", "attribute": "参保状态", "values": ["暂停缴费", "中断缴费", "终止缴费"]},
                 {"if": "missing", "attribute": "死亡日期"}]},
        {"tag": "新生儿家庭", "description": "三年内有子女出生（卫健出生医学证明）",
         "all": [{"if": "related", "relation": "子女", "within_days": 1095}]},
        {"tag": "低保对象", "description": "民政最低生活保障在保",
         "all": [{"if": "equals", "attribute": "低保状态", "value": "在保"}]}
    ]))?;
    plan.house = ["坐落", "建筑面积", "产权人身份证号", "登记日期"]
        .iter()
        .map(|a| rule(a, Some("CD-ZJ"), &[], Fallback::Latest))
        .collect();
    plan.entity = [
        "企业名称",
        "法定代表人",
        "注册资本(万元)",
        "成立日期",
        "住所",
        "登记状态",
        "行政区划",
    ]
    .iter()
    .map(|a| rule(a, Some("CD-SJ"), &[], Fallback::Latest))
    .collect();
    Ok(plan)
}

/// Linkage and golden-record accuracy against the city's truth.
pub struct Accuracy {
    /// Over every person record.
    pub all: Measure,
    /// Per attribute: (compared, right).
    pub per_attribute: BTreeMap<String, (u64, u64)>,
    /// Per injected conflict kind: (injected, another department gives the attribute, found).
    pub conflicts: BTreeMap<String, (u64, u64, u64)>,
    /// Per injected problem kind: linkage of the pairs that involve a record with the problem,
    /// and golden values of the people who have such a record.
    pub per_kind: BTreeMap<String, Measure>,
    /// Golden values that differ from the truth: person, attribute, truth, golden value, and the
    /// problems injected into the person's records.
    pub misses: Vec<String>,
}

/// Linkage and golden-value counts: over the whole city, or where one kind of problem was
/// injected.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Measure {
    /// Linked person records (that carry the problem, for a kind).
    pub records: u64,
    pub pairs_true: u64,
    pub pairs_made: u64,
    pub pairs_right: u64,
    pub attributes_compared: u64,
    pub attributes_right: u64,
}

impl Measure {
    /// `None` where there is no pair (nothing to judge).
    pub fn precision(&self) -> Option<f64> {
        (self.pairs_made > 0).then(|| self.pairs_right as f64 / self.pairs_made as f64)
    }
    pub fn recall(&self) -> Option<f64> {
        (self.pairs_true > 0).then(|| self.pairs_right as f64 / self.pairs_true as f64)
    }
    pub fn golden(&self) -> Option<f64> {
        (self.attributes_compared > 0)
            .then(|| self.attributes_right as f64 / self.attributes_compared as f64)
    }
}

impl Accuracy {
    pub fn precision(&self) -> f64 {
        self.all.precision().unwrap_or(0.0)
    }
    pub fn recall(&self) -> f64 {
        self.all.recall().unwrap_or(0.0)
    }
    pub fn golden(&self) -> f64 {
        self.all.golden().unwrap_or(0.0)
    }
    pub fn meets(&self) -> bool {
        self.precision() >= 0.99
            && self.recall() >= 0.99
            && self.golden() >= 0.995
            && self
                .conflicts
                .values()
                .all(|(_, checkable, found)| found >= checkable)
    }
}

impl std::fmt::Display for Accuracy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "person linkage over {} records: pairs true {}, made {}, right {} → precision {:.4}, recall {:.4} (target ≥ 0.99 each)",
            self.all.records,
            self.all.pairs_true,
            self.all.pairs_made,
            self.all.pairs_right,
            self.precision(),
            self.recall()
        )?;
        writeln!(
            f,
            "golden values equal to the truth: {} of {} = {:.4} (target ≥ 0.995)",
            self.all.attributes_right,
            self.all.attributes_compared,
            self.golden()
        )?;
        for (a, (n, r)) in &self.per_attribute {
            writeln!(
                f,
                "  {a:<8} {r:>7} / {n:<7} {:.4}",
                *r as f64 / (*n).max(1) as f64
            )?;
        }
        writeln!(
            f,
            "injected conflicts flagged (each opens a work order) or mended by cleaning: found / cross-checked by another department / injected"
        )?;
        for (k, (n, checkable, found)) in &self.conflicts {
            writeln!(f, "  {k:<24} {found} / {checkable} / {n}")?;
        }
        writeln!(
            f,
            "per injected problem kind (pairs with a record that has it; golden values of its people):"
        )?;
        writeln!(
            f,
            "  {:<24} {:>8} {:>9} {:>9} {:>9}",
            "kind", "records", "precision", "recall", "golden"
        )?;
        let show = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
        for (k, x) in &self.per_kind {
            writeln!(
                f,
                "  {k:<24} {:>8} {:>9} {:>9} {:>9}",
                x.records,
                show(x.precision()),
                show(x.recall()),
                show(x.golden())
            )?;
        }
        Ok(())
    }
}

fn text_col(b: &yishu_lake::arrow::array::RecordBatch, name: &str) -> Result<StringArray> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| anyhow!("no column {name}"))?;
    let c = yishu_lake::arrow::compute::cast(c, &yishu_lake::arrow::datatypes::DataType::Utf8)?;
    c.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| anyhow!("column {name} is not text"))
}

async fn read_all(lake: &Lake, table: &str) -> Result<Vec<yishu_lake::arrow::array::RecordBatch>> {
    let frame = lake
        .frame(Layer::Base, table)
        .await?
        .ok_or_else(|| anyhow!("base.{table} does not exist: run `yishu fusion run` first"))?;
    Ok(frame.collect().await?)
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Measures the base libraries against `city/truth`.
pub async fn accuracy(store: &Store, lake: &Lake, city: &Path) -> Result<Accuracy> {
    let truth_dir = city.join("truth");
    // (file, location) → true person.
    let mut truth: HashMap<(String, String), String> = HashMap::new();
    let mut rd = csv::Reader::from_path(truth_dir.join("record_subjects.csv"))
        .with_context(|| format!("cannot read {}", truth_dir.display()))?;
    for x in rd.records() {
        let x = x?;
        if &x[2] == "person" {
            truth.insert((x[0].to_string(), x[1].to_string()), x[3].to_string());
        }
    }
    // The roles that describe the row's own person (the truth maps a row to one person; a
    // birth record's mother is another person on the same row).
    let primary = |role: &str| matches!(role, "本人" | "子女" | "接种者");
    // (resource, column) → the attributes it gives, to tell which injected values the plan reads.
    let plan: Plan = serde_json::from_value(
        store
            .fusion_plan()
            .await?
            .ok_or_else(|| anyhow!("no fusion plan has been saved"))?
            .body,
    )?;
    let mut reads: HashMap<(String, String), Vec<String>> = HashMap::new();
    for src in &plan.sources {
        for at in &src.attributes {
            if let yishu_fusion::plan::ValueOf::Column { column } = &at.value {
                reads
                    .entry((src.resource.clone(), column.clone()))
                    .or_default()
                    .push(at.attribute.clone());
            }
        }
    }
    let mut resource_of: HashMap<String, String> = HashMap::new(); // ods_ref → resource
    let mut predicted: HashMap<String, String> = HashMap::new(); // ods_ref → subject
    for b in read_all(lake, yishu_fusion::schema::RECORDS_TABLE).await? {
        let (kind, key, role, res, r) = (
            text_col(&b, "subject_kind")?,
            text_col(&b, "subject_key")?,
            text_col(&b, "role")?,
            text_col(&b, "resource")?,
            text_col(&b, "_ods_ref")?,
        );
        for i in 0..b.num_rows() {
            if kind.value(i) != "person" || !primary(role.value(i)) {
                continue;
            }
            predicted.insert(r.value(i).to_string(), key.value(i).to_string());
            resource_of.insert(r.value(i).to_string(), res.value(i).to_string());
        }
    }
    let mut a = Accuracy {
        all: Measure::default(),
        per_attribute: BTreeMap::new(),
        conflicts: BTreeMap::new(),
        per_kind: BTreeMap::new(),
        misses: Vec::new(),
    };
    let split = |r: &str| -> Option<(String, String)> {
        r.split_once(':')
            .map(|(f, l)| (f.to_string(), l.to_string()))
    };
    let mut by_truth: HashMap<&str, u64> = HashMap::new();
    let mut by_pred: HashMap<&str, u64> = HashMap::new();
    let mut by_both: HashMap<(&str, &str), u64> = HashMap::new();
    for (r, s) in &predicted {
        let Some(t) = split(r).and_then(|k| truth.get(&k)) else {
            continue;
        };
        a.all.records += 1;
        *by_truth.entry(t).or_default() += 1;
        *by_pred.entry(s).or_default() += 1;
        *by_both.entry((t, s)).or_default() += 1;
    }
    a.all.pairs_true = by_truth.values().map(|n| pairs(*n)).sum();
    a.all.pairs_made = by_pred.values().map(|n| pairs(*n)).sum();
    a.all.pairs_right = by_both.values().map(|n| pairs(*n)).sum();
    // Each true person's subject: the one most of their records went to.
    let mut subject_of: HashMap<&str, (&str, u64)> = HashMap::new();
    for ((t, s), n) in &by_both {
        let e = subject_of.entry(t).or_insert((s, 0));
        if *n > e.1 {
            *e = (s, *n);
        }
    }
    // Golden values.
    let mut golden: HashMap<String, HashMap<String, String>> = HashMap::new();
    // (subject, attribute) → (another department gives a value, flagged as a conflict).
    let mut checked: HashMap<(String, String), (bool, bool)> = HashMap::new();
    let attrs = [
        ("姓名", "name"),
        ("性别", "sex"),
        ("民族", "ethnicity"),
        ("出生日期", "birth_date"),
        ("行政区划代码", "division"),
        ("住址", "address"),
        ("婚姻状况", "marital_status"),
        ("死亡日期", "death_date"),
    ];
    for b in read_all(lake, "population").await? {
        let key = text_col(&b, "subject_key")?;
        let prov = text_col(&b, "_provenance")?;
        for i in 0..b.num_rows() {
            let p: serde_json::Value = serde_json::from_str(prov.value(i)).unwrap_or_default();
            for (attr, v) in p.as_object().into_iter().flatten() {
                // A conflict is a disagreement with the authority: checkable only where the
                // authority gave the value (not where its row was kept out of std, e.g. for a bad
                // ID, and a fallback decided among the others).
                let others = v["by"] == "authority"
                    && (v["agree"].as_array().is_some_and(|a| !a.is_empty())
                        || v["disagree"].as_array().is_some_and(|a| !a.is_empty()));
                let conflict = v["conflict"].as_bool().unwrap_or(false);
                checked.insert((key.value(i).to_string(), attr.clone()), (others, conflict));
            }
        }
        let cols: Vec<(&str, Option<StringArray>)> = attrs
            .iter()
            .map(|(a, _)| (*a, text_col(&b, a).ok()))
            .collect();
        for i in 0..b.num_rows() {
            let m = golden.entry(key.value(i).to_string()).or_default();
            for (a, c) in &cols {
                if let Some(c) = c
                    && !c.is_null(i)
                {
                    m.insert(a.to_string(), c.value(i).to_string());
                }
            }
        }
    }
    // Per true person: (attributes compared, right), for the per-kind figures.
    let mut person_golden: HashMap<String, (u64, u64)> = HashMap::new();
    let mut rd = csv::Reader::from_path(truth_dir.join("people.csv"))?;
    let headers = rd.headers()?.clone();
    for x in rd.records() {
        let x = x?;
        let id = &x[0];
        let Some((s, _)) = subject_of.get(id) else {
            continue;
        };
        let Some(g) = golden.get(*s) else {
            continue;
        };
        for (attr, col) in attrs {
            let Some(k) = headers.iter().position(|h| h == col) else {
                continue;
            };
            let want = x[k].trim();
            let got = g.get(attr).map(|v| v.trim()).unwrap_or("");
            let e = a.per_attribute.entry(attr.to_string()).or_default();
            e.0 += 1;
            a.all.attributes_compared += 1;
            let p = person_golden.entry(id.to_string()).or_default();
            p.0 += 1;
            if want == got {
                e.1 += 1;
                a.all.attributes_right += 1;
                p.1 += 1;
            } else if a.misses.len() < 1000 {
                a.misses
                    .push(format!("{id} {attr}: truth {want:?}, golden {got:?}"));
            }
        }
    }
    // Injected conflicts: the record's subject has the attribute flagged as a conflict (which
    // is what opens the work order), when another department gives the attribute at all.
    let truth_of_record = |r: &str| -> Option<String> {
        r.split_once(':')
            .and_then(|(f, l)| truth.get(&(f.to_string(), l.to_string())))
            .cloned()
    };
    let mut rd = csv::Reader::from_path(truth_dir.join("problems.csv"))?;
    // Record → the kinds injected into it, for the per-kind figures.
    let mut kinds_of: HashMap<String, Vec<String>> = HashMap::new();
    for x in rd.records() {
        let x = x?;
        let kind = &x[3];
        kinds_of
            .entry(format!("{}:{}", &x[0], &x[1]))
            .or_default()
            .push(kind.to_string());
        let attribute = match kind {
            "conflict_marital_status" => "婚姻状况",
            "death_not_reported" => "户籍状态",
            "name_traditional" | "name_homophone" => "姓名",
            _ => continue,
        };
        let r = format!("{}:{}", &x[0], &x[1]);
        let e = a.conflicts.entry(kind.to_string()).or_default();
        e.0 += 1;
        let seen = predicted
            .get(&r)
            .and_then(|s| checked.get(&(s.clone(), attribute.to_string())))
            .copied()
            .unwrap_or_default();
        // The plan reads the injected value (a column it maps to the attribute, or a status).
        let read = attribute != "姓名"
            || resource_of
                .get(&r)
                .and_then(|res| reads.get(&(res.clone(), x[2].to_string())))
                .is_some_and(|a| a.iter().any(|a| a == attribute));
        if seen.0 && read {
            e.1 += 1;
        }
        // A traditional spelling that cleaning turned into the simplified one (the `simplify`
        // fix) is mended, not a conflict left to find.
        let mended = kind == "name_traditional"
            && predicted
                .get(&r)
                .and_then(|s| golden.get(s))
                .and_then(|g| g.get(attribute))
                .is_some_and(|v| v.trim() == x[4].trim());
        if seen.1 || mended {
            e.2 += 1;
        } else if seen.0 && read {
            a.misses.push(format!(
                "{} {attribute}: {kind} at {r} not flagged (given {:?}, truth {:?})",
                truth_of_record(&r).unwrap_or_default(),
                &x[5],
                &x[4]
            ));
        }
    }
    a.per_kind = per_kind(&predicted, &truth, &kinds_of, &person_golden, &a.all);
    // Name the problems behind each miss: the kinds injected into the person's records.
    let mut kinds_of_person: HashMap<&str, Vec<String>> = HashMap::new();
    for (r, kinds) in &kinds_of {
        let t = r
            .split_once(':')
            .and_then(|(f, l)| truth.get(&(f.to_string(), l.to_string())));
        if let Some(t) = t {
            for k in kinds {
                kinds_of_person
                    .entry(t)
                    .or_default()
                    .push(format!("{k}@{r}"));
            }
        }
    }
    for m in &mut a.misses {
        let id = m.split(' ').next().unwrap_or_default().to_string();
        let kinds = kinds_of_person
            .get(id.as_str())
            .cloned()
            .unwrap_or_default();
        m.push_str(&format!(" — injected: {}", kinds.join(", ")));
    }
    Ok(a)
}

/// Linkage and golden values where each kind of problem was injected. The pairs that involve a
/// record with the kind are all pairs less those among the records without it.
fn per_kind(
    predicted: &HashMap<String, String>,
    truth: &HashMap<(String, String), String>,
    kinds_of: &HashMap<String, Vec<String>>,
    person_golden: &HashMap<String, (u64, u64)>,
    all: &Measure,
) -> BTreeMap<String, Measure> {
    let truth_of = |r: &str| {
        r.split_once(':')
            .and_then(|(f, l)| truth.get(&(f.to_string(), l.to_string())))
    };
    let kinds: std::collections::BTreeSet<&String> = kinds_of.values().flatten().collect();
    let mut out = BTreeMap::new();
    for kind in kinds {
        let has = |r: &str| kinds_of.get(r).is_some_and(|k| k.contains(kind));
        let mut x = Measure::default();
        let mut by_truth: HashMap<&str, u64> = HashMap::new();
        let mut by_pred: HashMap<&str, u64> = HashMap::new();
        let mut by_both: HashMap<(&str, &str), u64> = HashMap::new();
        let mut people: std::collections::HashSet<&str> = Default::default();
        for (r, s) in predicted {
            let Some(t) = truth_of(r) else { continue };
            if has(r) {
                x.records += 1;
                people.insert(t);
                continue;
            }
            *by_truth.entry(t).or_default() += 1;
            *by_pred.entry(s).or_default() += 1;
            *by_both.entry((t, s)).or_default() += 1;
        }
        x.pairs_true = all.pairs_true - by_truth.values().map(|n| pairs(*n)).sum::<u64>();
        x.pairs_made = all.pairs_made - by_pred.values().map(|n| pairs(*n)).sum::<u64>();
        x.pairs_right = all.pairs_right - by_both.values().map(|n| pairs(*n)).sum::<u64>();
        for p in people {
            let (n, r) = person_golden.get(p).copied().unwrap_or_default();
            x.attributes_compared += n;
            x.attributes_right += r;
        }
        out.insert(kind.clone(), x);
    }
    out
}
