//! Running the real `yishu` binary in tests.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub fn yishu(data: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    yishu_env(data, args, stdin, &[])
}

/// The same with more environment. The demo subscribes into no PostgreSQL unless `env` names
/// one in `YISHU_DEMO_PG` (tests running side by side would share its table).
pub fn yishu_env(
    data: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yishu"))
        .args(args)
        .env("YISHU_DATA_DIR", data)
        .env_remove("YISHU_DATABASE_URL")
        .env("YISHU_DEMO_PG", "")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `yishu demo --no-serve` for a city of `people`: (its temporary home, the data directory,
/// what the demo printed).
pub fn demo(people: usize) -> (tempfile::TempDir, std::path::PathBuf, String) {
    demo_with(people, &[])
}

/// The same with more flags (`--seed`, `--problem-rate`).
pub fn demo_with(people: usize, more: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, String) {
    demo_env(people, more, &[])
}

/// The same with more environment.
pub fn demo_env(
    people: usize,
    more: &[&str],
    env: &[(&str, &str)],
) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("demo");
    let n = people.to_string();
    let mut args = vec![
        "demo",
        "--people",
        &n,
        "--data-dir",
        dir.to_str().unwrap(),
        "--no-serve",
    ];
    args.extend_from_slice(more);
    let o = yishu_env(d.path(), &args, None, env);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    (d, dir, text)
}

/// Signs in and returns a client holding the session cookie, and the CSRF token.
pub async fn sign_in(base: &str, name: &str, password: &str) -> (reqwest::Client, String) {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{name} cannot sign in");
    let v: serde_json::Value = r.json().await.unwrap();
    (c, v["csrf_token"].as_str().unwrap_or_default().to_string())
}

/// The password the demo printed for `user`.
pub fn password_of(demo_text: &str, user: &str) -> String {
    demo_text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{user} ")))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string()
}

/// `yishu serve` over a data directory on a free loopback port; stopped when dropped.
pub struct Served {
    child: std::process::Child,
    pub base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `yishu serve` for `dir` and waits until it answers.
pub async fn serve(dir: &std::path::Path) -> Served {
    serve_with(dir, &[]).await
}

/// The same with more environment (`YISHU_OUTBOUND_ALLOW`, …). Dropping it kills the server
/// with SIGKILL, as a crash would.
pub async fn serve_with(dir: &std::path::Path, env: &[(&str, &str)]) -> Served {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_yishu"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("YISHU_DATA_DIR", dir)
        .env_remove("YISHU_DATABASE_URL")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Served { child, base }
}

/// Feeds 人社's changes (`yishu gen changes`, 60 rows from `skip` on, always the same file
/// name) through ingest and the quality check into std.
pub fn deliver(dir: &std::path::Path, home: &std::path::Path, code: &str, skip: usize) {
    let changes = home.join("renshe_changes.csv");
    let city = dir.join("city");
    let skip = skip.to_string();
    let o = yishu(
        dir,
        &[
            "gen",
            "changes",
            "--city",
            city.to_str().unwrap(),
            "--records",
            "60",
            "--skip",
            &skip,
            "--out",
            changes.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    ingest(dir, &changes, code);
}

/// Ingests `file` into resource `code` and cleans it into std.
pub fn ingest(dir: &std::path::Path, file: &std::path::Path, code: &str) {
    let o = yishu(
        dir,
        &["ingest", file.to_str().unwrap(), "--resource", code],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = yishu(dir, &["quality", "check"], None);
    assert!(o.status.success(), "{}", out(&o));
}

/// The resource 人社's changes (`yishu gen changes`) are ingested into: the plan's source that
/// carries 参保状态.
pub fn changes_resource(dir: &std::path::Path) -> String {
    let o = yishu(dir, &["fusion", "plan", "--show"], None);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    plan["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["attribute"] == "参保状态")
        })
        .unwrap()["resource"]
        .as_str()
        .unwrap()
        .to_string()
}
