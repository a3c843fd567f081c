//! `yishu demo`: a working platform in under a minute — a synthetic city's organisations and one
//! user per role, served on 127.0.0.1:8080.

use crate::config::Config;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use rand::Rng;
use std::path::PathBuf;
use yishu_meta::catalog::{
    Actor, ClassKind, Extended, Item, OpenType, ResourceDraft, ResourceFormat, ShareType,
    UpdateCycle,
};
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::Role;

#[derive(Args)]
pub struct DemoArgs {
    /// People in the synthetic city.
    #[arg(long, default_value_t = 20_000)]
    pub people: usize,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Data directory of the demo; recreated on every run.
    #[arg(long, default_value = "yishu-demo")]
    pub data_dir: PathBuf,
    /// Prepare everything, print the credentials and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Seed of the synthetic city: another seed, another city with the same shape.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of rows given an injected problem (0 to 0.5).
    #[arg(long, default_value_t = 0.02)]
    pub problem_rate: f64,
}

/// Marks a directory as created by the demo, so a rerun may wipe it and nothing else.
const MARKER: &str = ".yishu-demo";

/// The city's departments (委办局): code, name.
pub const DEPARTMENTS: &[(&str, &str)] = &[
    ("CD-DSJ", "成都市大数据管理局"),
    ("CD-GA", "成都市公安局"),
    ("CD-MZ", "成都市民政局"),
    ("CD-RS", "成都市人力资源和社会保障局"),
    ("CD-WJ", "成都市卫生健康委员会"),
    ("CD-SJ", "成都市市场监督管理局"),
    ("CD-ZJ", "成都市住房和城乡建设局"),
    ("CD-GJJ", "成都住房公积金管理中心"),
];

pub async fn run(args: DemoArgs, mut config: Config) -> Result<u8> {
    let started = std::time::Instant::now();
    let dir = &args.data_dir;
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            bail!(
                "{} exists and was not made by `yishu demo`; choose another --data-dir",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(MARKER), "created by yishu demo\n")?;
    config.data_dir = dir.clone();
    config.database_url = None;
    config.lake_root = None;

    let city = yishu_gen::CityArgs {
        people: args.people,
        seed: args.seed,
        out: dir.join("city"),
        problem_rate: args.problem_rate,
    };
    let summary = yishu_gen::generate_city(&city, &mut yishu_gen::TermProgress::new()).await?;
    eprintln!("{summary}");

    let (store, lake) = crate::cmd::serve::open(&config).await?;
    let users = seed_city(&store).await?;
    let resources = catalog_city(&store).await?;
    let ingested = ingest_city(&store, &lake, &dir.join("city")).await?;
    let checked = quality_city(&store, &lake).await?;
    let plan = crate::cmd::fusion::city_plan(&store).await?;
    crate::cmd::fusion::save_plan(&store, &plan, None).await?;
    let fused = crate::cmd::fusion::fuse(&store, &lake, yishu_fusion::run::RunMode::Auto).await?;
    println!("\n一数 Yishu demo — data in {}", dir.display());
    println!(
        "  console: http://{}/console    API docs: http://{}/api/v1/docs/",
        args.listen, args.listen
    );
    println!("  users (passwords are random and shown only now):");
    for (name, role, password) in &users {
        println!("    {name:<10} {role:<18} {password}");
    }
    println!("  catalog: {resources} published resources");
    for line in &ingested {
        println!("  ingested {line}");
    }
    println!(
        "  quality: {checked} batches profiled, checked and cleaned into std (console → 质量)"
    );
    println!(
        "  fusion: {} people, {} legal entities, {} houses in the base libraries; {} records in review, {} conflicts in {} work orders (console → 基础库)",
        fused.subjects.get("person").copied().unwrap_or_default(),
        fused.subjects.get("entity").copied().unwrap_or_default(),
        fused.subjects.get("house").copied().unwrap_or_default(),
        fused.review_queued,
        fused.conflicts,
        fused.work_orders
    );
    println!("  ready in {:.1} s", started.elapsed().as_secs_f64());
    if args.no_serve {
        return Ok(crate::exit::OK);
    }
    crate::cmd::serve::serve(store, lake, &config, &args.listen).await?;
    Ok(crate::exit::OK)
}

/// Creates the province, the city, its districts and departments, and one user per role, each
/// change audited as the demo. Returns (user name, role, password).
pub async fn seed_city(store: &Store) -> Result<Vec<(String, String, String)>> {
    let out = seed_city_unaudited(store).await?;
    for o in store.list_orgs().await? {
        let entry = crate::cmd::audit::cli_entry(
            "org.create",
            format!("org:{}", o.id),
            serde_json::json!({"code": o.code, "name": o.name}),
        );
        store.audit(&entry).await?;
    }
    for u in store.list_users(None, 1000, 0).await?.items {
        let entry = crate::cmd::audit::cli_entry(
            "user.create",
            format!("user:{}", u.id),
            serde_json::json!({"name": u.name, "roles": u.roles}),
        );
        store.audit(&entry).await?;
    }
    Ok(out)
}

async fn seed_city_unaudited(store: &Store) -> Result<Vec<(String, String, String)>> {
    let province = store
        .create_org(&NewOrg {
            code: "SC".into(),
            name: "四川省".into(),
            level: Some(OrgLevel::Province),
            division_code: Some("510000".into()),
            ..Default::default()
        })
        .await?;
    let city = store
        .create_org(&NewOrg {
            code: "CD".into(),
            name: "成都市".into(),
            level: Some(OrgLevel::City),
            parent_id: Some(province.id),
            division_code: Some("510100".into()),
            ..Default::default()
        })
        .await?;
    for d in yishu_types::division::current_under("5101")
        .into_iter()
        .filter(|d| d.code.as_str() != "510100")
    {
        store
            .create_org(&NewOrg {
                code: format!("CD-{}", d.code),
                name: d.name.clone(),
                level: Some(OrgLevel::District),
                parent_id: Some(city.id),
                division_code: Some(d.code.to_string()),
                ..Default::default()
            })
            .await?;
    }
    let mut dept_ids = Vec::new();
    for (i, (code, name)) in DEPARTMENTS.iter().enumerate() {
        let o = store
            .create_org(&NewOrg {
                code: (*code).into(),
                name: (*name).into(),
                parent_id: Some(city.id),
                credit_code: Some(yishu_gen::government_credit_code(i as u32 + 1, "510100")),
                division_code: Some("510100".into()),
                ..Default::default()
            })
            .await?;
        dept_ids.push(o.id);
    }
    let plan: [(&str, &str, Role, usize); 5] = [
        ("admin", "系统管理员", Role::Admin, 0),
        ("manager", "数据管理员", Role::DataManager, 0),
        ("officer", "公安局数据专员", Role::ProviderOfficer, 1),
        ("consumer", "人社局数据使用方", Role::Consumer, 3),
        ("auditor", "安全审计员", Role::Auditor, 0),
    ];
    let mut out = Vec::new();
    for (name, display, role, dept) in plan {
        let password = random_password();
        store
            .create_user(&NewUser {
                name: name.into(),
                display_name: Some(display.into()),
                org_id: dept_ids[dept],
                password: password.clone(),
                roles: vec![role],
            })
            .await?;
        out.push((name.to_string(), role.as_str().to_string(), password));
    }
    Ok(out)
}

/// 16 characters from an alphabet without look-alikes.
pub fn random_password() -> String {
    const A: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| A[rng.random_range(0..A.len())] as char)
        .collect()
}

/// One catalog entry per department file of the synthetic city: (department code, resource name,
/// summary, format, share, open, cycle, items as (name, type, length)).
type DemoResource = (
    &'static str,
    &'static str,
    &'static str,
    ResourceFormat,
    ShareType,
    OpenType,
    UpdateCycle,
    &'static [(&'static str, &'static str, Option<i64>)],
);

const DEMO_RESOURCES: &[DemoResource] = &[
    (
        "CD-GA",
        "户籍人口基本信息",
        "公安局户籍登记的人口基本信息（gongan_huji.csv）",
        ResourceFormat::Database,
        ShareType::Conditional,
        OpenType::Never,
        UpdateCycle::Daily,
        &[
            ("公民身份号码", "C", Some(18)),
            ("姓名", "C", Some(50)),
            ("性别", "C", Some(1)),
            ("民族", "C", Some(2)),
            ("出生日期", "D", None),
            ("婚姻状况", "C", Some(2)),
            ("住址", "C", Some(200)),
            ("行政区划代码", "C", Some(6)),
            ("户籍状态", "C", Some(4)),
            ("注销原因", "C", Some(20)),
            ("注销日期", "D", None),
        ],
    ),
    (
        "CD-MZ",
        "婚姻登记信息",
        "民政局婚姻登记（结婚、离婚）记录（minzheng_hunyin.xlsx 婚姻登记）",
        ResourceFormat::File,
        ShareType::Conditional,
        OpenType::Never,
        UpdateCycle::Daily,
        &[
            ("登记类型", "C", Some(4)),
            ("男方身份号码", "C", Some(18)),
            ("男方姓名", "C", Some(50)),
            ("女方身份号码", "C", Some(18)),
            ("女方姓名", "C", Some(50)),
            ("登记日期", "D", None),
            ("登记机关", "C", Some(100)),
        ],
    ),
    (
        "CD-MZ",
        "死亡登记信息",
        "民政局死亡登记记录（minzheng_hunyin.xlsx 死亡登记）",
        ResourceFormat::File,
        ShareType::Conditional,
        OpenType::Never,
        UpdateCycle::Daily,
        &[
            ("身份号码", "C", Some(18)),
            ("姓名", "C", Some(50)),
            ("死亡日期", "D", None),
            ("登记机关", "C", Some(100)),
        ],
    ),
    (
        "CD-MZ",
        "最低生活保障对象信息",
        "民政局前置库低保对象表（minzheng_qianzhiku.sqlite dibao）",
        ResourceFormat::Database,
        ShareType::Conditional,
        OpenType::Never,
        UpdateCycle::Realtime,
        &[
            ("citizen_id", "C", Some(18)),
            ("name", "C", Some(50)),
            ("household_size", "I", None),
            ("monthly_amount", "Y", None),
            ("start_month", "C", Some(7)),
            ("status", "C", Some(10)),
            ("updated_at", "T", None),
        ],
    ),
    (
        "CD-RS",
        "社会保险参保信息",
        "人社局城镇职工基本养老保险参保记录（renshe_canbao.csv）",
        ResourceFormat::Database,
        ShareType::Conditional,
        OpenType::Never,
        UpdateCycle::Monthly,
        &[
            ("身份证号", "C", Some(18)),
            ("姓名", "C", Some(50)),
            ("单位统一社会信用代码", "C", Some(18)),
            ("单位名称", "C", Some(200)),
            ("险种", "C", Some(50)),
            ("参保日期", "D", None),
            ("缴费状态", "C", Some(20)),
            ("更新时间", "D", None),
        ],
    ),
    (
        "CD-WJ",
        "出生与预防接种信息",
        "卫健委出生医学证明与预防接种事件（weijian_shengyu_yimiao.ndjson）",
        ResourceFormat::Stream,
        ShareType::Conditional,
        OpenType::Never,
        UpdateCycle::Realtime,
        &[
            ("type", "C", Some(20)),
            ("child_id", "C", Some(18)),
            ("child_name", "C", Some(50)),
            ("birth_date", "D", None),
            ("mother_id", "C", Some(18)),
            ("person_id", "C", Some(18)),
            ("vaccine", "C", Some(50)),
            ("date", "D", None),
        ],
    ),
    (
        "CD-SJ",
        "市场主体登记信息",
        "市场监管局企业登记信息（shichang_qiye.xlsx）",
        ResourceFormat::File,
        ShareType::Unconditional,
        OpenType::Conditional,
        UpdateCycle::Daily,
        &[
            ("统一社会信用代码", "C", Some(18)),
            ("企业名称", "C", Some(200)),
            ("法定代表人", "C", Some(50)),
            ("法定代表人身份证号", "C", Some(18)),
            ("注册资本(万元)", "Y", None),
            ("成立日期", "D", None),
            ("住所", "C", Some(200)),
            ("登记状态", "C", Some(10)),
            ("行政区划", "C", Some(6)),
        ],
    ),
    (
        "CD-ZJ",
        "房屋产权登记信息",
        "住建局房屋及产权人登记（zhujian_fangwu.csv）",
        ResourceFormat::Database,
        ShareType::Conditional,
        OpenType::Never,
        UpdateCycle::Weekly,
        &[
            ("房屋编码", "C", Some(18)),
            ("坐落", "C", Some(200)),
            ("建筑面积", "F", None),
            ("产权人身份证号", "C", Some(18)),
            ("产权人姓名", "C", Some(50)),
            ("登记日期", "D", None),
        ],
    ),
    (
        "CD-GJJ",
        "住房公积金缴存信息",
        "公积金中心个人账户缴存记录（gongjijin_jiaocun.parquet）",
        ResourceFormat::Database,
        ShareType::Conditional,
        OpenType::Never,
        UpdateCycle::Monthly,
        &[
            ("身份证号", "C", Some(18)),
            ("姓名", "C", Some(50)),
            ("单位名称", "C", Some(200)),
            ("缴存基数", "Y", None),
            ("月缴存额", "Y", None),
            ("开户日期", "D", None),
            ("账户状态", "C", Some(10)),
        ],
    ),
];

/// Catalogues the synthetic city's resources (as the admin for each department), and has the
/// bureau's data manager approve and publish them; every step audited like the console does.
pub async fn catalog_city(store: &Store) -> Result<usize> {
    let admin = store.get_user_by_name("admin").await?;
    let manager = store.get_user_by_name("manager").await?;
    let by = Actor {
        user: admin.id,
        org: admin.org_id,
        roles: &admin.roles,
    };
    let reviewer = Actor {
        user: manager.id,
        org: manager.org_id,
        roles: &manager.roles,
    };
    for (n, (dept, name, summary, format, share, open, cycle, items)) in
        DEMO_RESOURCES.iter().enumerate()
    {
        let org = store.get_org_by_code(dept).await?;
        let dept_no = DEPARTMENTS.iter().position(|d| d.0 == *dept).unwrap_or(0) + 1;
        let draft = ResourceDraft {
            class_kind: ClassKind::Department,
            class_path: format!("{dept_no:02}001{:03}", n + 1),
            name: (*name).into(),
            provider_org_id: org.id,
            summary: (*summary).into(),
            format: *format,
            share_type: *share,
            share_condition: if *share == ShareType::Unconditional {
                String::new()
            } else {
                "依据《政务信息资源共享管理暂行办法》，经申请审批后共享".into()
            },
            open_type: *open,
            open_condition: if *open == OpenType::Conditional {
                "去除法定代表人身份证号后开放".into()
            } else {
                String::new()
            },
            update_cycle: *cycle,
            related_codes: Vec::new(),
            extended: Extended {
                contact: format!("{}数据专员", org.name),
                keywords: vec![name.chars().take(2).collect()],
                spatial_coverage: "成都市".into(),
                ..Default::default()
            },
            items: items
                .iter()
                .map(|(name, t, len)| Item {
                    name: (*name).into(),
                    item_type: (*t).into(),
                    length: *len,
                    data_element: element_for(name),
                    description: String::new(),
                })
                .collect(),
        };
        let r = store.create_resource(&draft, &by).await?;
        store.submit_resource(r.id, &by).await?;
        store.review_resource(r.id, true, "", &reviewer).await?;
        let r = store.publish_resource(r.id, &reviewer).await?;
        for action in [
            "resource.create",
            "resource.submit",
            "resource.approve",
            "resource.publish",
        ] {
            let entry = crate::cmd::audit::cli_entry(
                action,
                format!("resource:{}", r.code),
                serde_json::json!({"name": r.meta.name}),
            );
            store.audit(&entry).await?;
        }
    }
    Ok(DEMO_RESOURCES.len())
}

/// The demo's CSV files and the catalog entries they feed.
const DEMO_FILES: &[(&str, &str, Option<&str>)] = &[
    ("户籍人口基本信息", "gongan_huji.csv", None),
    ("婚姻登记信息", "minzheng_hunyin.xlsx", Some("婚姻登记")),
    ("死亡登记信息", "minzheng_hunyin.xlsx", Some("死亡登记")),
    ("社会保险参保信息", "renshe_canbao.csv", None),
    ("出生与预防接种信息", "weijian_shengyu_yimiao.ndjson", None),
    ("市场主体登记信息", "shichang_qiye.xlsx", None),
    ("房屋产权登记信息", "zhujian_fangwu.csv", None),
    ("住房公积金缴存信息", "gongjijin_jiaocun.parquet", None),
];

/// Ingests the city's CSV files and workbook sheets into their resources' ods tables; returns one
/// line per batch.
pub async fn ingest_city(
    store: &Store,
    lake: &yishu_lake::Lake,
    city: &std::path::Path,
) -> Result<Vec<String>> {
    let published = store
        .list_resources(
            Some(yishu_meta::catalog::ResourceStatus::Published),
            None,
            100,
            0,
        )
        .await?
        .items;
    let mut out = Vec::new();
    for (name, file, sheet) in DEMO_FILES {
        let Some(r) = published.iter().find(|r| r.meta.name == *name) else {
            continue;
        };
        let path = city.join(file);
        let xlsx = yishu_ingest::xlsx::XlsxOptions {
            sheet: sheet.map(str::to_string),
            header_row: 1,
            ..Default::default()
        };
        let source = yishu_ingest::Source::for_path(&path, Default::default(), xlsx);
        let outcome =
            yishu_ingest::ingest_file(store, lake, r, &path, &source, &mut |_| {}).await?;
        if let yishu_ingest::Outcome::Ingested(b) = outcome {
            let file = match sheet {
                Some(s) => format!("{file} {s}"),
                None => file.to_string(),
            };
            out.push(format!(
                "{file}: {} rows read = {} stored + {} quarantined",
                b.rows_read, b.rows_stored, b.rows_quarantined
            ));
        }
    }
    // 民政's front-end database is a source, pulled every 5 minutes by its watermark.
    if let Some(r) = published
        .iter()
        .find(|r| r.meta.name == "最低生活保障对象信息")
    {
        let db = city.join("minzheng_qianzhiku.sqlite");
        let cfg = serde_json::json!({"url": format!("sqlite://{}", db.display()), "table": "dibao", "watermark_column": "updated_at"});
        let src = store
            .create_source(r.id, "database", &cfg, "*/5 * * * *", "demo")
            .await?;
        let src = yishu_ingest::sources::run(store, lake, &src).await?;
        out.push(format!(
            "minzheng_qianzhiku.sqlite dibao (source, every 5 min): {}",
            src.last_message
        ));
    }
    Ok(out)
}

/// The national data element an item of the demo follows, by its name.
fn element_for(item: &str) -> Option<String> {
    let id = match item {
        "公民身份号码" | "法定代表人身份证号" | "产权人身份证号" => {
            "citizen_id"
        }
        "统一社会信用代码" => "credit_code",
        "性别" => "sex_code",
        "民族" => "ethnicity_code",
        "婚姻状况" => "marital_code",
        "行政区划代码" => "division_code",
        "出生日期" => "birth_date",
        _ => return None,
    };
    Some(id.into())
}

/// Quality for the demo: the national data elements, reviewed rules and cleaning rules for 公安's
/// household register (written by its officer, approved by the officer as business owner and the
/// bureau's data manager as technical owner), then every batch profiled, checked and cleaned.
pub async fn quality_city(store: &Store, lake: &yishu_lake::Lake) -> Result<usize> {
    use yishu_meta::quality::{NewRule, ReviewSide, RuleBody, RulePurpose};
    yishu_quality::standard::seed(store).await?;
    let officer = store.get_user_by_name("officer").await?;
    let manager = store.get_user_by_name("manager").await?;
    let (o, m) = (
        Actor {
            user: officer.id,
            org: officer.org_id,
            roles: &officer.roles,
        },
        Actor {
            user: manager.id,
            org: manager.org_id,
            roles: &manager.roles,
        },
    );
    let huji = store
        .all_resources()
        .await?
        .into_iter()
        .find(|r| r.meta.name == "户籍人口基本信息")
        .ok_or_else(|| anyhow!("the demo catalog has no 户籍人口基本信息"))?;
    let rules: Vec<(&str, &str, RulePurpose, serde_json::Value, &str, &str, &str)> = vec![
        (
            "公民身份号码格式与校验位",
            "公民身份号码规则",
            RulePurpose::Check,
            serde_json::json!({"kind": "format", "column": "公民身份号码", "validator": "citizen_id"}),
            "conformity",
            "high",
            "high",
        ),
        (
            "公民身份号码唯一",
            "公民身份号码规则",
            RulePurpose::Check,
            serde_json::json!({"kind": "unique", "columns": ["公民身份号码"]}),
            "consistency",
            "high",
            "high",
        ),
        (
            "出生日期与身份号码一致",
            "公民身份号码规则",
            RulePurpose::Check,
            serde_json::json!({"kind": "cross", "check": "birth_matches_id", "id": "公民身份号码", "birth": "出生日期"}),
            "consistency",
            "high",
            "medium",
        ),
        (
            "姓名不能为空",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "not_null", "column": "姓名"}),
            "completeness",
            "high",
            "high",
        ),
        (
            "住址不能为空",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "not_null", "column": "住址"}),
            "completeness",
            "medium",
            "medium",
        ),
        (
            "姓名无多余空格",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "format", "column": "姓名", "regex": "^[^\\s\\u{3000}]+$"}),
            "conformity",
            "low",
            "low",
        ),
        (
            "出生日期格式统一",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "format", "column": "出生日期", "regex": "^\\d{4}-\\d{2}-\\d{2}$"}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "出生日期在合理范围",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "range", "column": "出生日期", "after": "1900-01-01", "before": "2030-12-31"}),
            "accuracy",
            "high",
            "medium",
        ),
        (
            "民族符合 GB 3304",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "code_table", "column": "民族", "table": "ethnicity"}),
            "conformity",
            "medium",
            "medium",
        ),
        (
            "去除姓名空格",
            "",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "trim", "column": "姓名"}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "身份号码全角转半角",
            "",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "half_width", "column": "公民身份号码"}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "统一出生日期格式",
            "",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "unify_date", "column": "出生日期"}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "性别映射为国标代码",
            "",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "map_codes", "column": "性别", "table": "sex"}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "出生日期以身份号码为准",
            "公民身份号码第 7–14 位即出生日期（GB 11643）",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "birth_from_id", "column": "出生日期", "id": "公民身份号码"}}),
            "consistency",
            "high",
            "medium",
        ),
        (
            "姓名繁体转简体",
            "户籍姓名使用规范汉字",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "simplify", "column": "姓名"}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "校验位错误的号码不入标准层",
            "",
            RulePurpose::Clean,
            serde_json::json!({"check": {"kind": "format", "column": "公民身份号码", "validator": "citizen_id"}}),
            "conformity",
            "high",
            "high",
        ),
    ];
    for (name, business, purpose, definition, dimension, importance, severity) in rules {
        let v = store
            .create_rule(
                &NewRule {
                    resource_id: huji.id,
                    name: name.into(),
                    business_rule: business.into(),
                    purpose,
                    body: RuleBody {
                        definition,
                        dimension: dimension.into(),
                        importance: importance.into(),
                        severity: severity.into(),
                        action: String::new(),
                    },
                },
                &o,
            )
            .await?;
        store
            .approve_rule(v.rule.id, 1, ReviewSide::Business, &o)
            .await?;
        store
            .approve_rule(v.rule.id, 1, ReviewSide::Technical, &m)
            .await?;
    }
    Ok(yishu_quality::run::check_pending(store, lake, 1_000).await?)
}
