//! The console in a real headless Chromium (Debian's chromium + chromedriver, over WebDriver):
//! sign in, create a department and a user, see them listed, and as the auditor see and verify the
//! audit records. Screenshots of every page go to `test-artifacts/console/`.

mod common;

use common::{PASSWORD, TestServer};
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromedriver ({e}); scripts/test installs chromium and chromium-driver"));
    Driver { child, port }
}

async fn browser(port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    let profile = tempfile::tempdir().unwrap().keep();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900", "--lang=zh-CN", format!("--user-data-dir={}", profile.display())]
        }),
    );
    for _ in 0..50 {
        if let Ok(c) = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("chromedriver on port {port} did not accept a session");
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts/console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

async fn text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn login(c: &Client, s: &TestServer, user: &str) {
    c.goto(&s.url("/console/login")).await.unwrap();
    c.find(Locator::Id("name"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("[data-testid=who]"))
        .await
        .unwrap();
}

/// Catalogues and publishes one resource of 公安 through the store.
async fn publish_one(s: &TestServer) {
    use yishu_meta::catalog::*;
    use yishu_types::Role;
    let bureau = s
        .store
        .create_org(&yishu_meta::NewOrg {
            code: "DSJ".into(),
            name: "大数据局".into(),
            parent_id: Some(s.city),
            ..Default::default()
        })
        .await
        .unwrap();
    let admin = s.store.get_user_by_name("admin").await.unwrap();
    let by = Actor {
        user: admin.id,
        org: admin.org_id,
        roles: &[Role::Admin],
    };
    let mgr = s.store.get_user_by_name("data_manager").await.unwrap();
    let reviewer = Actor {
        user: mgr.id,
        org: bureau.id,
        roles: &[Role::DataManager],
    };
    let item = |n: &str, t: &str, l: Option<i64>| Item {
        name: n.into(),
        item_type: t.into(),
        length: l,
        data_element: None,
        description: String::new(),
    };
    let d = ResourceDraft {
        class_kind: ClassKind::Department,
        class_path: "01001001".into(),
        name: "户籍人口信息".into(),
        provider_org_id: s.dept,
        summary: "公安局户籍人口基本信息".into(),
        format: ResourceFormat::Database,
        share_type: ShareType::Conditional,
        share_condition: "《居民身份证法》".into(),
        open_type: OpenType::Never,
        open_condition: String::new(),
        update_cycle: UpdateCycle::Daily,
        related_codes: vec![],
        extended: Extended::default(),
        items: vec![
            item("公民身份号码", "C", Some(18)),
            item("姓名", "C", Some(50)),
            item("出生日期", "D", None),
        ],
    };
    let r = s.store.create_resource(&d, &by).await.unwrap();
    s.store.submit_resource(r.id, &by).await.unwrap();
    s.store
        .review_resource(r.id, true, "", &reviewer)
        .await
        .unwrap();
    s.store.publish_resource(r.id, &reviewer).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_chromium() {
    let s = TestServer::start().await;
    let driver = start_driver();
    let c = browser(driver.port).await;

    // The portal and the login page.
    c.goto(&s.url("/")).await.unwrap();
    assert!(text(&c).await.contains("公共数据开放门户"));
    shot(&c, "01-portal").await;
    c.goto(&s.url("/console/login")).await.unwrap();
    shot(&c, "02-login").await;
    // A wrong password says so in Chinese.
    c.find(Locator::Id("name"))
        .await
        .unwrap()
        .send_keys("admin")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("not the password")
        .await
        .unwrap();
    c.find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let err = c
        .wait()
        .for_element(Locator::Css("[data-testid=error]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(err.contains("用户名或密码错误"), "{err}");

    login(&c, &s, "admin").await;
    let body = text(&c).await;
    assert!(
        body.contains("平台概览") && body.contains("目录") && body.contains("审计")
            || body.contains("系统管理"),
        "{body}"
    );
    shot(&c, "03-overview").await;

    // Create a department under the city.
    c.goto(&s.url("/console/orgs")).await.unwrap();
    c.find(Locator::Id("org-code"))
        .await
        .unwrap()
        .send_keys("CD-TJ")
        .await
        .unwrap();
    c.find(Locator::Id("org-name"))
        .await
        .unwrap()
        .send_keys("成都市统计局")
        .await
        .unwrap();
    let parent = c.find(Locator::Id("org-parent")).await.unwrap();
    parent.select_by_label("成都市").await.unwrap();
    c.find(Locator::Id("org-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::XPath(
            "//table[@id='orgs']//td[contains(., '成都市统计局')]",
        ))
        .await
        .unwrap();
    shot(&c, "04-orgs").await;

    // Create a user in it.
    c.goto(&s.url("/console/users")).await.unwrap();
    c.find(Locator::Id("user-name"))
        .await
        .unwrap()
        .send_keys("tongji")
        .await
        .unwrap();
    c.find(Locator::Id("user-display"))
        .await
        .unwrap()
        .send_keys("统计局专员")
        .await
        .unwrap();
    c.find(Locator::Id("user-org"))
        .await
        .unwrap()
        .select_by_label("成都市统计局")
        .await
        .unwrap();
    c.find(Locator::Id("user-password"))
        .await
        .unwrap()
        .send_keys("a long enough password")
        .await
        .unwrap();
    c.find(Locator::Id("new-role-provider_officer"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("user-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::XPath(
            "//table[@id='users']//td[contains(., '统计局专员')]",
        ))
        .await
        .unwrap();
    assert!(text(&c).await.contains("数据提供方专员"));
    shot(&c, "05-users").await;

    // My API keys: the secret is shown once.
    c.goto(&s.url("/console/keys")).await.unwrap();
    c.find(Locator::Id("key-name"))
        .await
        .unwrap()
        .send_keys("数据同步")
        .await
        .unwrap();
    c.find(Locator::Id("key-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let secret = c
        .wait()
        .for_element(Locator::Id("new-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(secret.starts_with("ysk_"));
    shot(&c, "06-keys").await;

    // The English switch.
    c.goto(&s.url("/console/lang?to=en&back=/console/orgs"))
        .await
        .unwrap();
    assert!(text(&c).await.contains("Organisations"));
    shot(&c, "07-orgs-en").await;
    c.goto(&s.url("/console/lang?to=zh&back=/console"))
        .await
        .unwrap();

    // The catalog: an entry published by the bureau, its items and versions.
    publish_one(&s).await;
    // Published through the store, not this server: the index catches up within a second or so.
    let mut found = false;
    for _ in 0..40 {
        c.goto(&s.url("/console/catalog")).await.unwrap();
        if text(&c).await.contains("户籍人口信息") {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        found,
        "the catalog page never listed the entry published through the store"
    );
    // Search by typing Chinese words: highlighted results and facets with counts.
    let input = c.find(Locator::Css("input[type=search]")).await.unwrap();
    input.send_keys("户籍 人口").await.unwrap();
    c.find(Locator::Css(".searchbar button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let hit = c
        .wait()
        .for_element(Locator::Css("#catalog td.hit b"))
        .await
        .unwrap();
    assert_eq!(hit.text().await.unwrap(), "户籍");
    let facets = c
        .find(Locator::Css(".facets"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        facets.contains("有条件共享") && facets.contains("成都市公安局"),
        "{facets}"
    );
    shot(&c, "08b-catalog-search").await;
    c.find(Locator::LinkText("不予开放"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .as_str()
            .contains("open=never")
    );
    c.find(Locator::Css("td.hit a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let body = c
        .wait()
        .for_element(Locator::Id("items"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("公民身份号码") && body.contains("C 字符型"),
        "{body}"
    );
    assert!(text(&c).await.contains("有条件共享"));
    shot(&c, "09-resource").await;

    // The admin has no audit page (三员分立); the auditor does.
    c.goto(&s.url("/console/audit")).await.unwrap();
    assert!(text(&c).await.contains("您没有执行此操作的权限"));
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "auditor").await;
    c.goto(&s.url("/console/audit")).await.unwrap();
    let body = text(&c).await;
    for action in [
        "org.create",
        "user.create",
        "auth.login",
        "auth.login_failed",
        "api_key.create",
        "access.denied",
    ] {
        assert!(body.contains(action), "audit page lacks {action}");
    }
    c.find(Locator::Id("verify"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let v = c
        .wait()
        .for_element(Locator::Css("[data-testid=verify]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(v.contains("审计链完整"), "{v}");
    shot(&c, "08-audit").await;

    c.close().await.unwrap();
    drop(driver);
    s.stop().await;
}
