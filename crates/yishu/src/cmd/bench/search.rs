//! `yishu bench search`: a synthetic catalog of many resources (Chinese names, summaries, items),
//! its index build time, and query latency percentiles for one- and two-word Chinese queries with
//! one filter, as a consumer (visibility filter on) would run them.

use anyhow::Result;
use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use yishu_search::{Filters, ResourceDoc, SearchIndex, SearchQuery, Visibility};

#[derive(Args)]
pub struct SearchBenchArgs {
    /// Resources in the synthetic catalog.
    #[arg(long, default_value_t = 100_000)]
    pub resources: usize,
    /// Information items per resource.
    #[arg(long, default_value_t = 20)]
    pub items: usize,
    /// Queries per kind (one word, two words).
    #[arg(long, default_value_t = 2_000)]
    pub queries: usize,
}

pub(crate) const PROVIDERS: &[&str] = &[
    "公安局",
    "民政局",
    "人力资源和社会保障局",
    "卫生健康委员会",
    "市场监督管理局",
    "住房和城乡建设局",
    "教育局",
    "交通运输局",
    "自然资源和规划局",
    "生态环境局",
    "税务局",
    "医疗保障局",
    "退役军人事务局",
    "农业农村局",
    "水务局",
    "应急管理局",
    "统计局",
    "司法局",
    "文化广电旅游局",
    "体育局",
    "商务局",
    "经济和信息化局",
    "财政局",
    "审计局",
    "城市管理委员会",
    "林业和园林管理局",
    "气象局",
    "残疾人联合会",
    "住房公积金管理中心",
    "大数据中心",
];
pub(crate) const SUBJECTS: &[&str] = &[
    "户籍",
    "人口",
    "婚姻",
    "出生",
    "死亡",
    "收养",
    "企业",
    "个体工商户",
    "机动车",
    "驾驶员",
    "房屋",
    "不动产",
    "社会保险",
    "医疗保险",
    "养老",
    "失业",
    "工伤",
    "疫苗",
    "接种",
    "医院",
    "医师",
    "护士",
    "药品",
    "食品",
    "学籍",
    "学校",
    "教师",
    "招生",
    "纳税",
    "发票",
    "土地",
    "规划",
    "建设工程",
    "公交",
    "地铁",
    "出租车",
    "道路",
    "桥梁",
    "河流",
    "水质",
    "空气质量",
    "污染源",
    "排污许可",
    "气象",
    "降雨",
    "农田",
    "耕地",
    "林地",
    "森林防火",
    "低保",
    "特困",
    "救助",
    "残疾人",
    "退役军人",
    "优抚",
    "公积金",
    "就业",
    "招聘",
    "职业培训",
    "技能等级",
    "律师",
    "公证",
    "法律援助",
    "社区矫正",
    "旅游",
    "景区",
    "文物",
    "图书馆",
    "体育场馆",
    "商品房",
    "租赁",
    "物业",
    "燃气",
    "供水",
    "供电",
    "消防",
    "安全生产",
    "危险化学品",
    "特种设备",
    "价格",
    "知识产权",
    "专利",
    "商标",
    "广告",
    "进出口",
    "外资",
    "统计调查",
    "人口普查",
    "经济普查",
    "财政",
    "预算",
    "政府采购",
];
const SUFFIXES: &[&str] = &[
    "信息",
    "登记信息",
    "名单",
    "目录",
    "统计",
    "台账",
    "许可信息",
    "备案信息",
    "证照信息",
    "监测数据",
    "基本信息",
];
const ITEMS: &[&str] = &[
    "姓名",
    "公民身份号码",
    "性别",
    "民族",
    "出生日期",
    "户籍地址",
    "居住地址",
    "联系电话",
    "统一社会信用代码",
    "企业名称",
    "法定代表人",
    "注册资本",
    "成立日期",
    "登记机关",
    "经营范围",
    "住所",
    "行政区划代码",
    "街道",
    "社区",
    "登记日期",
    "办理机构",
    "证件类型",
    "证件号码",
    "有效期起",
    "有效期止",
    "状态",
    "备注",
    "金额",
    "缴费基数",
    "参保日期",
    "参保状态",
    "单位名称",
    "单位编号",
    "岗位",
    "学历",
    "学位",
    "毕业院校",
    "专业",
    "号牌号码",
    "车辆类型",
    "车辆识别代号",
    "发动机号",
    "准驾车型",
    "初次领证日期",
    "房屋坐落",
    "建筑面积",
    "规划用途",
    "不动产单元号",
    "权利人",
    "共有情况",
    "监测点位",
    "监测时间",
    "监测值",
    "计量单位",
    "经度",
    "纬度",
    "许可证编号",
    "许可范围",
    "发证机关",
    "发证日期",
    "处罚决定书文号",
    "违法事实",
    "处罚依据",
    "处罚结果",
    "救助类别",
    "救助金额",
    "保障人数",
    "疫苗名称",
    "接种日期",
    "接种单位",
    "批号",
    "医师姓名",
    "执业类别",
    "执业范围",
    "纳税人识别号",
    "税种",
    "税款所属期",
    "应纳税额",
    "更新时间",
    "数据来源",
];
const SHARE: &[&str] = &["unconditional", "conditional", "never"];
const CYCLE: &[&str] = &[
    "realtime",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
];

fn pick<'a>(rng: &mut ChaCha8Rng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

fn catalog(n: usize, items: usize) -> Vec<ResourceDoc> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (1..=n as i64)
        .map(|id| {
            let p = rng.random_range(0..PROVIDERS.len());
            let (a, b) = (pick(&mut rng, SUBJECTS), pick(&mut rng, SUBJECTS));
            let name = if rng.random_bool(0.5) {
                format!("{a}{}", pick(&mut rng, SUFFIXES))
            } else {
                format!("{a}{b}{}", pick(&mut rng, SUFFIXES))
            };
            let summary = format!(
                "成都市{}归集的{a}与{b}相关数据，包括{}、{}等，按{}更新，用于{}业务办理。",
                PROVIDERS[p],
                pick(&mut rng, ITEMS),
                pick(&mut rng, ITEMS),
                pick(&mut rng, &["日", "周", "月", "季度"]),
                pick(&mut rng, SUBJECTS),
            );
            ResourceDoc {
                id,
                code: format!("3{:02}001001/{id:06}", p + 1),
                name,
                summary,
                items: (0..items)
                    .map(|_| pick(&mut rng, ITEMS).to_string())
                    .collect(),
                keywords: vec![a.into(), b.into()],
                provider_id: p as i64 + 1,
                provider: format!("成都市{}", PROVIDERS[p]),
                class: "department".into(),
                share: pick(&mut rng, SHARE).into(),
                open: pick(&mut rng, SHARE).into(),
                format: "database".into(),
                cycle: pick(&mut rng, CYCLE).into(),
                status: if rng.random_bool(0.9) {
                    "published"
                } else {
                    "draft"
                }
                .into(),
                attachments: String::new(),
                version: 1,
                updated_at: id,
            }
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn run(a: SearchBenchArgs) -> Result<u8> {
    let started = Instant::now();
    let docs = catalog(a.resources, a.items);
    println!(
        "bench search: {} resources × {} items generated in {:.1} s",
        a.resources,
        a.items,
        started.elapsed().as_secs_f64()
    );
    let tmp = tempfile::tempdir()?;
    let index = SearchIndex::open(&tmp.path().join("search"))?;
    let started = Instant::now();
    let n = index.replace_all(docs.iter())?;
    let build = started.elapsed().as_secs_f64();
    let size: u64 = std::fs::read_dir(tmp.path().join("search"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "index build: {n} resources in {build:.1} s ({:.0} resources/s), {:.0} MiB on disk",
        n as f64 / build,
        size as f64 / 1048576.0
    );
    drop(docs);

    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let query = |words: usize, rng: &mut ChaCha8Rng| {
        let text = match words {
            1 => pick(rng, SUBJECTS).to_string(),
            _ => format!("{} {}", pick(rng, SUBJECTS), pick(rng, SUFFIXES)),
        };
        let mut filters = Filters::new();
        match rng.random_range(0..3) {
            0 => filters.insert("share".into(), pick(rng, SHARE).into()),
            1 => filters.insert("cycle".into(), pick(rng, CYCLE).into()),
            _ => filters.insert(
                "provider".into(),
                rng.random_range(1..=PROVIDERS.len()).to_string(),
            ),
        };
        SearchQuery {
            text,
            filters,
            visibility: Visibility::Org(rng.random_range(1..=PROVIDERS.len() as i64)),
            limit: 20,
            offset: 0,
        }
    };
    for _ in 0..200 {
        let q = query(1, &mut rng);
        index.search(&q)?;
    }
    println!("| query | queries | mean hits | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    let mut worst = 0.0f64;
    for (words, label) in [(1, "one word + filter"), (2, "two words + filter")] {
        let mut lat = Vec::with_capacity(a.queries);
        let mut hits = 0usize;
        for _ in 0..a.queries {
            let q = query(words, &mut rng);
            let t = Instant::now();
            let r = index.search(&q)?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            hits += r.total;
        }
        lat.sort_by(f64::total_cmp);
        let p99 = percentile(&lat, 0.99);
        worst = worst.max(p99);
        println!(
            "| {label} | {} | {:.0} | {:.2} | {:.2} | {p99:.2} | {:.2} |",
            a.queries,
            hits as f64 / a.queries as f64,
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            lat[lat.len() - 1]
        );
    }
    println!(
        "p99 {worst:.2} ms (target < 20 ms); peak RSS {:.0} MiB",
        super::peak_rss_mib().unwrap_or(f64::NAN)
    );
    Ok(crate::exit::OK)
}
