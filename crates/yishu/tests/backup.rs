//! Backup and restore (R38) through the real binary: a backup taken while the server takes
//! writes restores whole into a new directory — tables, catalog, grants, an intact audit chain —
//! without what was written after it; a second backup copies only new files; a damaged backup,
//! a non-empty target and an unwritable destination are refused in words.

mod common;

use common::{changes_resource, deliver, demo, out, password_of, serve, sign_in, yishu};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `yishu restore --from backup --data-dir to`.
fn restore(backup: &std::path::Path, to: &std::path::Path) -> std::process::Output {
    yishu(
        to,
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--data-dir",
            to.to_str().unwrap(),
        ],
        None,
    )
}

/// Rows per table of the lake under `dir`, as Yishu reads them.
async fn row_counts(dir: &std::path::Path) -> Vec<(String, usize)> {
    let lake = yishu_lake::Lake::open(dir.join("lake").to_str().unwrap()).unwrap();
    let mut out = Vec::new();
    for layer in yishu_lake::Layer::ALL {
        for name in lake.list_tables(layer) {
            let n = match lake.frame(layer, &name).await.unwrap() {
                Some(df) => df.count().await.unwrap(),
                None => 0,
            };
            out.push((format!("{layer}.{name}"), n));
        }
    }
    out
}

/// Organisation codes, resources (code and version) and grants (id, target, status) in the
/// metadata store under `dir`.
async fn metadata(dir: &std::path::Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    let store = yishu_meta::Store::open(&format!("sqlite://{}", dir.join("meta.db").display()))
        .await
        .unwrap();
    let orgs = store
        .list_orgs()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.code)
        .collect();
    let resources = store
        .all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{}@{}", r.code, r.version))
        .collect();
    let grants = store
        .grants(None, None)
        .await
        .unwrap()
        .into_iter()
        .map(|g| format!("{}:{}:{}", g.id, g.target, g.status))
        .collect();
    store.close().await;
    (orgs, resources, grants)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_whole() {
    let (home, dir, text) = demo(300);
    let served = serve(&dir).await;
    let base = served.base.clone();
    let (admin, csrf) = sign_in(&base, "admin", &password_of(&text, "admin")).await;
    let orgs: serde_json::Value = admin
        .get(format!("{base}/api/v1/orgs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let parent = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["level"] == "city")
        .unwrap_or(&orgs["items"][0])["id"]
        .as_i64()
        .unwrap();
    let add_org = {
        let (admin, csrf, base) = (admin.clone(), csrf.clone(), base.clone());
        move |code: String| {
            let (admin, csrf, base) = (admin.clone(), csrf.clone(), base.clone());
            async move {
                let r = admin
                    .post(format!("{base}/api/v1/orgs"))
                    .header("x-csrf-token", &csrf)
                    .json(&serde_json::json!({"code": code, "name": format!("备份演练{code}"), "parent_id": parent}))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.text().await.unwrap());
            }
        }
    };

    // The server takes writes all through the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, add_org) = (stop.clone(), add_org.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                add_org(format!("BK{n:04}")).await;
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let backup = home.path().join("backup");
    let lake_before = row_counts(&dir).await;
    let o = yishu(&dir, &["backup", "--to", backup.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", out(&o));
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0);
    // A write after the backup must not come back with it.
    add_org("AFTER".into()).await;
    drop(served);

    let o = yishu(&dir, &["backup", "verify", backup.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", out(&o));
    let restored = home.path().join("restored");
    let o = restore(&backup, &restored);
    assert!(o.status.success(), "{}", out(&o));
    let o = yishu(&restored, &["audit", "verify"], None);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(row_counts(&restored).await, lake_before, "rows per table");
    let (orgs_now, resources_now, grants_now) = metadata(&dir).await;
    let (orgs_then, resources_then, grants_then) = metadata(&restored).await;
    assert_eq!(resources_then, resources_now, "the catalog");
    assert_eq!(grants_then, grants_now, "the grants");
    assert!(orgs_now.contains(&"AFTER".to_string()));
    assert!(!orgs_then.contains(&"AFTER".to_string()), "{orgs_then:?}");
    // The organisations written during the backup: those it holds are the first ones, in order,
    // none missing between them.
    let during = |list: &[String]| -> Vec<String> {
        list.iter()
            .filter(|c| c.starts_with("BK"))
            .cloned()
            .collect()
    };
    let (then, now) = (during(&orgs_then), during(&orgs_now));
    assert!(
        now.starts_with(&then) && then.len() <= written,
        "{then:?} / {now:?}"
    );
    // The restored installation serves.
    let again = serve(&restored).await;
    let (admin2, _) = sign_in(&again.base, "admin", &password_of(&text, "admin")).await;
    let r = admin2
        .get(format!("{}/api/v1/resources", again.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    drop(again);

    let first_manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    // A second backup copies only what is new: nothing in the lake until a batch arrives.
    let o = yishu(&dir, &["backup", "--to", backup.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains(" 0 files copied"), "{}", out(&o));
    let code = changes_resource(&dir);
    deliver(&dir, home.path(), &code, 0);
    let o = yishu(&dir, &["backup", "--to", backup.to_str().unwrap()], None);
    let text2 = out(&o);
    assert!(o.status.success(), "{text2}");
    let copied: usize = text2
        .split(" files copied")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!((1..=12).contains(&copied), "{text2}");

    // Point in time: the delivered table brought back to the version the first backup held.
    let table = format!("std.r_{}", code.replace('/', "_"));
    let before = lake_before.iter().find(|(t, _)| *t == table).unwrap().1;
    let grown = row_counts(&dir)
        .await
        .into_iter()
        .find(|(t, _)| *t == table)
        .unwrap()
        .1;
    assert!(grown > before, "{table}: {before} → {grown}");
    let version = first_manifest["tables"][&table].as_u64().unwrap();
    let o = yishu(
        &dir,
        &[
            "restore",
            "--table",
            &table,
            "--version",
            &version.to_string(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    let now = row_counts(&dir)
        .await
        .into_iter()
        .find(|(t, _)| *t == table)
        .unwrap()
        .1;
    assert_eq!(now, before, "{table} restored to version {version}");

    // A damaged backup is named and restores nothing; a non-empty target is refused.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    let victim = manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.ends_with(".parquet"))
        .unwrap()
        .clone();
    let path = backup.join("files").join(&victim);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let o = yishu(&dir, &["backup", "verify", backup.to_str().unwrap()], None);
    assert!(!o.status.success());
    assert!(out(&o).contains(&victim), "{}", out(&o));
    let second = home.path().join("second");
    let o = restore(&backup, &second);
    assert!(!o.status.success());
    assert!(
        out(&o).contains(&victim) && out(&o).contains("nothing was restored"),
        "{}",
        out(&o)
    );
    assert!(!second.join("meta.db").exists());
    let o = restore(&backup, &dir);
    assert!(!o.status.success());
    assert!(out(&o).contains("not empty"), "{}", out(&o));
    let o = yishu(&dir, &["backup", "--to", "/proc/yishu-backup"], None);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("cannot write the backup to /proc/yishu-backup"),
        "{}",
        out(&o)
    );
}
