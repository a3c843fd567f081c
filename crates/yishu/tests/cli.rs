//! The real `yishu` binary run the way an operator runs it.

mod common;

use common::{out, yishu};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn version_help_and_usage_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let v = yishu(d.path(), &["--version"], None);
    assert!(v.status.success());
    assert!(out(&v).starts_with("yishu "));
    let h = yishu(d.path(), &["--help"], None);
    assert!(out(&h).contains("Exit codes"));
    let bad = yishu(d.path(), &["frobnicate"], None);
    assert_eq!(bad.status.code(), Some(2));
    let cfg = d.path().join("bad.toml");
    std::fs::write(&cfg, "listen = 5\n").unwrap();
    let c = yishu(
        d.path(),
        &["--config", cfg.to_str().unwrap(), "migrate"],
        None,
    );
    assert_eq!(c.status.code(), Some(3), "{}", out(&c));
}

#[tokio::test]
async fn orgs_users_and_a_tampered_audit_chain() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    assert!(yishu(p, &["migrate"], None).status.success());
    let o = yishu(
        p,
        &[
            "org",
            "add",
            "--code",
            "CD",
            "--name",
            "成都市",
            "--level",
            "city",
            "--division",
            "510100",
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = yishu(
        p,
        &[
            "org",
            "add",
            "--code",
            "CD-GA",
            "--name",
            "成都市公安局",
            "--parent",
            "CD",
            "--credit-code",
            "91510100MA61R0XX0E",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("credit_code"), "{}", out(&o));
    let o = yishu(
        p,
        &[
            "org",
            "add",
            "--code",
            "CD-GA",
            "--name",
            "成都市公安局",
            "--parent",
            "CD",
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    // The password comes from stdin when it is not a terminal; short ones are refused.
    let o = yishu(
        p,
        &[
            "user", "add", "--name", "admin", "--org", "CD", "--role", "admin",
        ],
        Some("short\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("password"));
    let o = yishu(
        p,
        &[
            "user",
            "add",
            "--name",
            "admin",
            "--org",
            "CD",
            "--role",
            "admin,auditor",
        ],
        Some("a very long password\n"),
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = yishu(
        p,
        &[
            "org",
            "add",
            "--code",
            "CD-MZ",
            "--name",
            "民政局",
            "--parent",
            "CD",
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        yishu(p, &["org", "rename", "CD-MZ", "成都市民政局"], None)
            .status
            .success()
    );
    assert!(
        yishu(p, &["org", "disable", "CD-MZ"], None)
            .status
            .success()
    );
    let o = yishu(p, &["org", "move", "CD", "--parent", "CD-MZ"], None);
    assert_eq!(o.status.code(), Some(1), "a cycle is refused: {}", out(&o));
    assert!(out(&o).contains("itself"), "{}", out(&o));
    let list = yishu(p, &["org", "list"], None);
    assert!(
        out(&list).contains("CD-MZ 成都市民政局 [disabled]"),
        "{}",
        out(&list)
    );
    assert!(
        out(&list).contains("  CD-GA 成都市公安局"),
        "{}",
        out(&list)
    );
    let v = yishu(p, &["audit", "verify"], None);
    assert!(out(&v).contains("intact: 6 records"), "{}", out(&v));

    // Someone edits the database behind the product's back.
    let store = yishu_meta::Store::open(&format!("sqlite://{}", p.join("meta.db").display()))
        .await
        .unwrap();
    store
        .raw_execute(store.drop_audit_guard_sql())
        .await
        .unwrap();
    store
        .raw_execute("UPDATE audit_log SET detail = '{}' WHERE seq = 2")
        .await
        .unwrap();
    store.close().await;
    let v = yishu(p, &["audit", "verify"], None);
    assert_eq!(v.status.code(), Some(4));
    assert!(out(&v).contains("BROKEN at record 2"), "{}", out(&v));
}

#[test]
fn gen_city_writes_files_and_truth() {
    let d = tempfile::tempdir().unwrap();
    let city = d.path().join("city");
    let o = yishu(
        d.path(),
        &[
            "gen",
            "city",
            "--people",
            "500",
            "--seed",
            "3",
            "--out",
            city.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    for f in [
        "gongan_huji.csv",
        "minzheng_hunyin.xlsx",
        "renshe_canbao.csv",
        "weijian_shengyu_yimiao.ndjson",
        "shichang_qiye.xlsx",
        "zhujian_fangwu.csv",
        "minzheng_qianzhiku.sqlite",
        "truth/problems.csv",
        "truth/record_subjects.csv",
        "manifest.json",
    ] {
        assert!(city.join(f).exists(), "{f} missing");
    }
}

#[test]
fn demo_prepares_a_city_with_one_user_per_role() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("demo");
    let o = yishu(
        d.path(),
        &[
            "demo",
            "--people",
            "1000",
            "--data-dir",
            dir.to_str().unwrap(),
            "--no-serve",
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    let text = out(&o);
    for role in [
        "admin",
        "data_manager",
        "provider_officer",
        "consumer",
        "auditor",
    ] {
        assert!(text.contains(role), "{text}");
    }
    assert!(text.contains("catalog: 9 published resources"), "{text}");
    assert!(
        text.contains("ingested gongjijin_jiaocun.parquet: "),
        "{text}"
    );
    assert!(
        text.contains("dibao (source, every 5 min): batch "),
        "{text}"
    );
    // Ingest the demo city's GB18030 household register into its published resource, twice.
    let file = dir.join("city/gongan_huji.csv");
    let ingest = |code: &str| {
        yishu(
            &dir,
            &["ingest", file.to_str().unwrap(), "--resource", code],
            None,
        )
    };
    assert!(text.contains("ingested gongan_huji.csv: "), "{text}");
    assert!(
        text.contains("ingested minzheng_hunyin.xlsx 死亡登记: "),
        "{text}"
    );
    assert!(text.contains("ingested shichang_qiye.xlsx: "), "{text}");
    assert!(
        text.contains("ingested weijian_shengyu_yimiao.ndjson: "),
        "{text}"
    );
    // The demo already ingested it: a second run is a no-op that says so.
    let o = ingest("302001001/000001");
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("already ingested"), "{}", out(&o));
    // 住建's file does not fit 公安's items: refused with a clear message.
    let other = dir.join("city/zhujian_fangwu.csv");
    let o = yishu(
        &dir,
        &[
            "ingest",
            other.to_str().unwrap(),
            "--resource",
            "302001001/000001",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("no column matches"), "{}", out(&o));
    // Columns named differently: refused with proposed pairs, then taken once confirmed.
    let renamed = d.path().join("huji_renamed.csv");
    std::fs::write(
        &renamed,
        "sfzh,XM,出生 日期\n510104199001011234,张三,1990-01-01\n",
    )
    .unwrap();
    let o = yishu(
        &dir,
        &[
            "ingest",
            renamed.to_str().unwrap(),
            "--resource",
            "302001001/000001",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("proposed mapping (confirm with --map)"),
        "{}",
        out(&o)
    );
    let o = yishu(
        &dir,
        &[
            "ingest",
            renamed.to_str().unwrap(),
            "--resource",
            "302001001/000001",
            "--map",
            "sfzh=公民身份号码",
            "--map",
            "XM=姓名",
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("1 rows read = 1 stored"), "{}", out(&o));
    let o = ingest("399999999/000001");
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("resource_not_found"), "{}", out(&o));
    // The catalog as XLSX and JSON, and the XLSX back in as drafts.
    let xlsx = d.path().join("catalog.xlsx");
    let o = yishu(
        &dir,
        &["catalog", "export", "--out", xlsx.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    let json_out = d.path().join("catalog.json");
    let o = yishu(
        &dir,
        &["catalog", "export", "--out", json_out.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_out).unwrap()).unwrap();
    assert_eq!(exported.as_array().unwrap().len(), 9);
    let o = yishu(
        &dir,
        &["catalog", "import", xlsx.to_str().unwrap(), "--as", "admin"],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("imported 9 resource(s) as drafts"),
        "{}",
        out(&o)
    );
    // A sheet with mistakes: each is named by sheet, row and column; nothing is imported.
    let bad = d.path().join("bad.xlsx");
    {
        let mut book = rust_xlsxwriter::Workbook::new();
        let s = book.add_worksheet().set_name("资源").unwrap();
        let good = [
            "",
            "流动人口信息",
            "CD-GA",
            "部门信息资源",
            "01001002",
            "流动人口登记",
            "数据库",
            "无条件共享",
            "",
            "不予开放",
            "",
            "每日",
            "人口",
            "",
            "",
        ];
        let wrong = [
            "",
            "出租房屋信息",
            "CD-GA",
            "部门信息资源",
            "0100",
            "出租房屋",
            "数据库",
            "随便",
            "",
            "不予开放",
            "",
            "每日",
            "",
            "",
            "",
        ];
        for (r, row) in [good, wrong].iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                s.write(r as u32 + 1, c as u16, *v).unwrap();
            }
        }
        let s = book.add_worksheet().set_name("信息项").unwrap();
        for (r, row) in [
            ["流动人口信息", "公民身份号码", "C", "18", ""],
            ["出租房屋信息", "房屋地址", "Q", "x", ""],
        ]
        .iter()
        .enumerate()
        {
            for (c, v) in row.iter().enumerate() {
                s.write(r as u32 + 1, c as u16, *v).unwrap();
            }
        }
        book.save(&bad).unwrap();
    }
    let o = yishu(
        &dir,
        &["catalog", "import", bad.to_str().unwrap(), "--as", "admin"],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    for needle in [
        "资源 第3行 E 类目编码",
        "资源 第3行 H 共享属性: “随便”不是有效的共享属性",
        "信息项 第3行 C 数据类型",
        "信息项 第3行 D 长度",
        "nothing imported",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let o = yishu(
        &dir,
        &[
            "catalog",
            "import",
            bad.to_str().unwrap(),
            "--as",
            "admin",
            "--valid-only",
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("imported 1 resource(s) as drafts; 1 row(s) skipped"),
        "{}",
        out(&o)
    );
    let tpl = d.path().join("template.xlsx");
    assert!(
        yishu(
            &dir,
            &["catalog", "template", "--out", tpl.to_str().unwrap()],
            None
        )
        .status
        .success()
    );
    assert!(std::fs::metadata(&tpl).unwrap().len() > 1000);

    // A rerun replaces the demo; a foreign directory is never wiped.
    assert!(
        yishu(
            d.path(),
            &[
                "demo",
                "--people",
                "1000",
                "--data-dir",
                dir.to_str().unwrap(),
                "--no-serve"
            ],
            None
        )
        .status
        .success()
    );
    let foreign = d.path().join("precious");
    std::fs::create_dir_all(&foreign).unwrap();
    let o = yishu(
        d.path(),
        &[
            "demo",
            "--people",
            "1000",
            "--data-dir",
            foreign.to_str().unwrap(),
            "--no-serve",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(foreign.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_and_stops_on_sigterm() {
    let d = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_yishu"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("YISHU_DATA_DIR", d.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "server did not answer");
    let pid = child.id().to_string();
    // Transparent huge pages are off for the process (the kernel reports it since Linux 5.0).
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
            assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
        }
    }
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

/// rows of `ods.<table>` from batch `id`, read through the lake the way the platform reads it.
async fn ods_rows_of(dir: &std::path::Path, table: &str, id: &str) -> i64 {
    use yishu_lake::arrow::array::{Array, Int64Array};
    let lake = yishu_lake::Lake::open(dir.join("lake").to_str().unwrap()).unwrap();
    let ctx = lake.session().await.unwrap();
    let b = yishu_lake::query(
        &ctx,
        &format!("SELECT COUNT(*) FROM ods.{table} WHERE _batch_id = '{id}'"),
    )
    .await
    .unwrap();
    let col = b[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(col.len(), 1);
    col.value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_ingest_leaves_no_partial_batch_and_the_rerun_completes() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("demo");
    let o = yishu(
        d.path(),
        &[
            "demo",
            "--people",
            "1000",
            "--data-dir",
            dir.to_str().unwrap(),
            "--no-serve",
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    // A big GB18030 register: the demo's rows many times over, so the run takes seconds.
    let huji = std::fs::read(dir.join("city/gongan_huji.csv")).unwrap();
    let cut = huji.iter().position(|b| *b == b'\n').unwrap() + 1;
    let (header, body) = huji.split_at(cut);
    let big = d.path().join("big_huji.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    f.write_all(header).unwrap();
    for _ in 0..400 {
        f.write_all(body).unwrap();
    }
    drop(f);
    let lines = body.iter().filter(|b| **b == b'\n').count() as i64 * 400;

    let code = "302001001/000001";
    let table = "r_302001001_000001";
    let store = yishu_meta::Store::open(&format!("sqlite://{}", dir.join("meta.db").display()))
        .await
        .unwrap();
    let r = store.get_resource_by_code(code).await.unwrap();
    let before = store.list_batches(r.id).await.unwrap().len();
    let mut child = Command::new(env!("CARGO_BIN_EXE_yishu"))
        .args(["ingest", big.to_str().unwrap(), "--resource", code])
        .env("YISHU_DATA_DIR", &dir)
        .env_remove("YISHU_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the batch is running (parsing and writing Parquet), then kill -9.
    let started = std::time::Instant::now();
    let running = loop {
        let batches = store.list_batches(r.id).await.unwrap();
        if let Some(b) = batches.iter().find(|b| b.status == "running") {
            break b.clone();
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the ingest finished before it could be killed: make the file bigger"
        );
        assert!(started.elapsed().as_secs() < 120, "no batch started");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "finished too early to test a kill"
    );
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    // Nothing of the killed batch is visible; it is still marked running.
    assert_eq!(ods_rows_of(&dir, table, &running.id).await, 0);
    let after = store.list_batches(r.id).await.unwrap();
    assert_eq!(after.len(), before + 1);
    assert_eq!(
        after.iter().find(|b| b.id == running.id).unwrap().status,
        "running"
    );

    // The next run settles the killed batch and stores the whole file once.
    let o = yishu(
        &dir,
        &["ingest", big.to_str().unwrap(), "--resource", code],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains(&format!("{lines} rows read")),
        "{}",
        out(&o)
    );
    let all = store.list_batches(r.id).await.unwrap();
    let killed = all.iter().find(|b| b.id == running.id).unwrap();
    assert_eq!(killed.status, "failed", "{killed:?}");
    let done = all
        .iter()
        .find(|b| b.source == "big_huji.csv" && b.status == "succeeded")
        .unwrap();
    assert_eq!(done.rows_read, lines);
    assert_eq!(done.rows_read, done.rows_stored + done.rows_quarantined);
    assert_eq!(ods_rows_of(&dir, table, &done.id).await, done.rows_stored);
    assert_eq!(ods_rows_of(&dir, table, &running.id).await, 0);
    store.close().await;
}
