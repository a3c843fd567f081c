//! `yishu demo`: a working platform in under a minute — a synthetic city's organisations and one
//! user per role, served on 127.0.0.1:8080.

use crate::config::Config;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use rand::Rng;
use std::path::PathBuf;
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
        seed: 42,
        out: dir.join("city"),
        problem_rate: 0.02,
    };
    let summary = yishu_gen::generate_city(&city, &mut yishu_gen::TermProgress::new())
        .await
        .map_err(|e| anyhow!(e))?;
    eprintln!("{summary}");

    let (store, lake) = crate::open(&config).await?;
    let users = seed_city(&store).await?;
    println!("\n一数 Yishu demo — data in {}", dir.display());
    println!(
        "  console: http://{}/console    API docs: http://{}/api/v1/docs/",
        args.listen, args.listen
    );
    println!("  users (passwords are random and shown only now):");
    for (name, role, password) in &users {
        println!("    {name:<10} {role:<18} {password}");
    }
    println!("  ready in {:.1} s", started.elapsed().as_secs_f64());
    if args.no_serve {
        return Ok(crate::exit::OK);
    }
    crate::serve(store, lake, &config, &args.listen).await?;
    Ok(crate::exit::OK)
}

/// Creates the province, the city, its districts and departments, and one user per role, each
/// change audited as the demo. Returns (user name, role, password).
pub async fn seed_city(store: &Store) -> Result<Vec<(String, String, String)>> {
    let out = seed_city_unaudited(store).await?;
    for o in store.list_orgs().await.map_err(|e| anyhow!(e))? {
        let entry = crate::cli_entry(
            "org.create",
            format!("org:{}", o.id),
            serde_json::json!({"code": o.code, "name": o.name}),
        );
        store.audit(&entry).await.map_err(|e| anyhow!(e))?;
    }
    for u in store
        .list_users(None, 1000, 0)
        .await
        .map_err(|e| anyhow!(e))?
        .items
    {
        let entry = crate::cli_entry(
            "user.create",
            format!("user:{}", u.id),
            serde_json::json!({"name": u.name, "roles": u.roles}),
        );
        store.audit(&entry).await.map_err(|e| anyhow!(e))?;
    }
    Ok(out)
}

async fn seed_city_unaudited(store: &Store) -> Result<Vec<(String, String, String)>> {
    let e = |e: yishu_types::Error| anyhow!(e);
    let province = store
        .create_org(&NewOrg {
            code: "SC".into(),
            name: "四川省".into(),
            level: Some(OrgLevel::Province),
            division_code: Some("510000".into()),
            ..Default::default()
        })
        .await
        .map_err(e)?;
    let city = store
        .create_org(&NewOrg {
            code: "CD".into(),
            name: "成都市".into(),
            level: Some(OrgLevel::City),
            parent_id: Some(province.id),
            division_code: Some("510100".into()),
            ..Default::default()
        })
        .await
        .map_err(e)?;
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
            .await
            .map_err(e)?;
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
            .await
            .map_err(e)?;
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
            .await
            .map_err(e)?;
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
