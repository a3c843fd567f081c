//! The console in a real headless Chromium (Debian's chromium + chromedriver, over WebDriver):
//! sign in, create a department and a user, see them listed, and as the auditor see and verify the
//! audit records. Screenshots of every page go to `test-artifacts/console/`.

mod common;

use common::{PASSWORD, TestServer, bureau_users, published, push_csv};
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

/// Clicks button `id` and waits until the page answers with a message (flash or error)
/// containing `expect`; returns that message.
/// The text of the element `css` once it contains `expect` (the page may still be the one before
/// a form's answer: its elements go stale).
async fn css_text_once(c: &Client, css: &str, expect: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if t.contains(expect) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never said '{expect}'; last: {last}");
}

/// The text of the element with `id`.
async fn id_text(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
}

async fn answer(c: &Client, id: &str, expect: &str) -> String {
    click(c, id).await;
    let mut last = String::new();
    for _ in 0..100 {
        for css in ["[data-testid=flash]", "[data-testid=error]"] {
            if let Ok(e) = c.find(Locator::Css(css)).await
                && let Ok(t) = e.text().await
            {
                if t.contains(expect) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("after clicking {id}, no message with '{expect}'; last: {last}");
}

async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn type_in(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_page_forms_in_chromium() {
    use yishu_meta::catalog::*;
    use yishu_types::Role;
    let s = TestServer::start().await;
    s.department("DSJ", "大数据局", "reviewer", Role::DataManager)
        .await;
    let officer = s.store.get_user_by_name("provider_officer").await.unwrap();
    let item = |n: &str, l: Option<i64>| Item {
        name: n.into(),
        item_type: "C".into(),
        length: l,
        data_element: None,
        description: String::new(),
    };
    let r = s
        .store
        .create_resource(
            &ResourceDraft {
                class_kind: ClassKind::Department,
                class_path: "01001001".into(),
                name: "流动人口登记".into(),
                provider_org_id: s.dept,
                summary: "流动人口居住登记".into(),
                format: ResourceFormat::Database,
                share_type: ShareType::Unconditional,
                share_condition: String::new(),
                open_type: OpenType::Never,
                open_condition: String::new(),
                update_cycle: UpdateCycle::Daily,
                related_codes: vec![],
                extended: Extended::default(),
                items: vec![item("公民身份号码", Some(18)), item("姓名", Some(50))],
            },
            &Actor {
                user: officer.id,
                org: officer.org_id,
                roles: &[Role::ProviderOfficer],
            },
        )
        .await
        .unwrap();
    let page = s.url(&format!("/console/catalog/{}", r.id));
    let driver = start_driver();
    let c = browser(driver.port).await;

    // The officer submits the draft; the bureau's reviewer approves and publishes it.
    login(&c, &s, "provider_officer").await;
    // A new entry typed in the form: a bad item line is named, the form keeps what was typed.
    c.goto(&s.url("/console/catalog")).await.unwrap();
    click(&c, "new-resource").await;
    type_in(&c, "#f-name", "出租房屋登记").await;
    type_in(&c, "#f-class-path", "01002003").await;
    type_in(&c, "#f-summary", "出租房屋及承租人登记信息").await;
    type_in(&c, "#f-keywords", "出租、房屋").await;
    type_in(&c, "#f-items", "房屋编码,C,30\n月租金,N,十二").await;
    answer(&c, "f-save", "第 2 行").await;
    let items = c.find(Locator::Id("f-items")).await.unwrap();
    assert!(
        items
            .prop("value")
            .await
            .unwrap()
            .unwrap()
            .contains("月租金")
    );
    items.clear().await.unwrap();
    items.send_keys("房屋编码,C,30\n月租金,N,12").await.unwrap();
    click(&c, "f-save").await;
    let made = c
        .wait()
        .for_element(Locator::Id("items"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        made.contains("月租金") && made.contains("N 数值型"),
        "{made}"
    );
    assert!(text(&c).await.contains("草稿"));

    // The store-made draft, changed in the form: a new version with what changed.
    c.goto(&page).await.unwrap();
    click(&c, "edit-link").await;
    type_in(&c, "#f-items", "\n居住地址,C,200").await;
    answer(&c, "f-save", "已保存").await;
    let versions = id_text(&c, "items").await;
    assert!(versions.contains("居住地址"), "{versions}");
    assert!(c.find(Locator::Id("do-approve")).await.is_err());
    answer(&c, "do-submit", "待审核").await;
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "reviewer").await;
    c.goto(&page).await.unwrap();
    answer(&c, "do-approve", "审核通过").await;
    answer(&c, "do-publish", "已发布").await;
    // A reviewer cannot feed another department's data: no filling form.
    assert!(c.find(Locator::Id("fill-form")).await.is_err());

    // The officer types one row in the form.
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "provider_officer").await;
    c.goto(&page).await.unwrap();
    type_in(&c, "input[name=v0]", "510104199001011234").await;
    type_in(&c, "input[name=v1]", "张三").await;
    answer(&c, "fill-submit", "入库行数 1").await;

    // The filling template has the items as its header; filled in and uploaded, it is stored.
    let key = s.key("provider_officer").await;
    let book = reqwest::Client::new()
        .get(s.url(&format!("/api/v1/resources/{}/template.xlsx", r.id)))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(book.status(), reqwest::StatusCode::OK);
    let bytes = book.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let filled = dir.path().join("流动人口-填报.xlsx");
    {
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
        assert_eq!(wb.sheet_names(), vec!["数据", "填写说明"]);
        let sheet = wb.worksheet_range("数据").unwrap();
        let header: Vec<String> = sheet
            .rows()
            .next()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(header, vec!["公民身份号码", "姓名", "居住地址"]);
        let mut out = rust_xlsxwriter::Workbook::new();
        let ws = out.add_worksheet().set_name("数据").unwrap();
        for (i, row) in [
            ["公民身份号码", "姓名"],
            ["510104199202022345", "李四"],
            ["510104199303033456", "王五"],
        ]
        .iter()
        .enumerate()
        {
            for (j, v) in row.iter().enumerate() {
                ws.write(i as u32, j as u16, *v).unwrap();
            }
        }
        out.save(&filled).unwrap();
    }
    c.find(Locator::Id("upload-file"))
        .await
        .unwrap()
        .send_keys(filled.to_str().unwrap())
        .await
        .unwrap();
    answer(&c, "upload-submit", "入库行数 2").await;

    // Columns named in pinyin initials: refused with proposed pairs for the person to confirm.
    let pinyin = dir.path().join("拼音列名.csv");
    std::fs::write(&pinyin, "sfzh,xm\n510104199505055678,孙七\n").unwrap();
    c.find(Locator::Id("upload-file"))
        .await
        .unwrap()
        .send_keys(pinyin.to_str().unwrap())
        .await
        .unwrap();
    answer(&c, "upload-submit", "系统建议的对应关系").await;
    let proposed = c
        .find(Locator::Id("upload-mapping"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(proposed.trim(), "xm=姓名");
    // The person confirms it and adds the pair the platform could not guess (身份证号 ≠ 公民身份号码).
    type_in(&c, "#upload-mapping", "\nsfzh=公民身份号码").await;
    c.find(Locator::Id("upload-file"))
        .await
        .unwrap()
        .send_keys(pinyin.to_str().unwrap())
        .await
        .unwrap();
    answer(&c, "upload-submit", "入库行数 1").await;

    // A drop directory as a source, set up on the page; bad settings are refused in words.
    type_in(&c, "#source-config", "{\"dir\": \"/no/such/dir\"}").await;
    c.find(Locator::Id("source-kind"))
        .await
        .unwrap()
        .select_by_value("drop_dir")
        .await
        .unwrap();
    answer(&c, "source-submit", "/no/such/dir").await;
    let drop = dir.path().join("drop");
    std::fs::create_dir(&drop).unwrap();
    type_in(
        &c,
        "#source-config",
        &format!("{{\"dir\": \"{}\"}}", drop.display()),
    )
    .await;
    c.find(Locator::Id("source-kind"))
        .await
        .unwrap()
        .select_by_value("drop_dir")
        .await
        .unwrap();
    answer(&c, "source-submit", "数据源已添加").await;
    let sources = id_text(&c, "sources").await;
    assert!(sources.contains("drop_dir"), "{sources}");
    // A Word document attached on the page: listed, and its words found by the search.
    let docx = dir.path().join("登记须知.docx");
    std::fs::write(
        &docx,
        common::write_docx(&["流动人口居住登记须知", "须提供房屋租赁备案证明。"]),
    )
    .unwrap();
    c.find(Locator::Id("attach-file"))
        .await
        .unwrap()
        .send_keys(docx.to_str().unwrap())
        .await
        .unwrap();
    type_in(&c, "#attach-description", "办事指南").await;
    answer(&c, "attach-submit", "附件已添加").await;
    let files = id_text(&c, "attachments").await;
    assert!(
        files.contains("登记须知.docx") && files.contains("办事指南"),
        "{files}"
    );
    c.goto(&s.url("/console/catalog?q=租赁备案")).await.unwrap();
    assert!(text(&c).await.contains("流动人口登记"));
    c.goto(&page).await.unwrap();
    shot(&c, "10-resource-forms").await;

    // A file with a bad line: the batch page shows the job log and the rejected row, and the
    // rejected rows download as a workbook.
    let bad = dir.path().join("补录.json");
    std::fs::write(
        &bad,
        "{\"公民身份号码\":\"510104199404044567\",\"姓名\":\"赵六\"}\n{\"姓名\": 坏\n",
    )
    .unwrap();
    c.find(Locator::Id("upload-file"))
        .await
        .unwrap()
        .send_keys(bad.to_str().unwrap())
        .await
        .unwrap();
    answer(&c, "upload-submit", "隔离行数 1").await;
    let link = c
        .find(Locator::XPath(
            "//table[@id='batches']//tr[contains(., 'upload')][1]//a",
        ))
        .await
        .unwrap();
    link.click().await.unwrap();
    let log = c
        .wait()
        .for_element(Locator::Id("log"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        log.contains("不是有效的 JSON（ingest_bad_json）× 1")
            && log.contains("读取行数 2 = 入库行数 1 + 隔离行数 1"),
        "{}",
        text(&c).await
    );
    let rejected = id_text(&c, "rejected").await;
    assert!(rejected.contains("坏"), "{rejected}");
    shot(&c, "11-batch").await;
    let href = c
        .find(Locator::Id("download-xlsx"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let xlsx = reqwest::Client::new()
        .get(s.url(&href))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    {
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
        let sheet = wb.worksheet_range("隔离数据").unwrap();
        let rows: Vec<Vec<String>> = sheet
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(rows[0][0], "行号");
        assert_eq!(
            (
                rows[1][0].as_str(),
                rows[1][1].as_str(),
                rows[1][2].as_str()
            ),
            ("2", "ingest_bad_json", "不是有效的 JSON")
        );
    }

    // The duty list: a matter of 公安 that produces this resource, and its page.
    let m = s
        .store
        .create_matter("GA-XK-001", "居住证签发", s.dept, "行政许可")
        .await
        .unwrap();
    s.store
        .link_matter(m.id, r.id, &["姓名".to_string()])
        .await
        .unwrap();
    c.goto(&page).await.unwrap();
    c.find(Locator::LinkText("居住证签发"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let produces = c
        .wait()
        .for_element(Locator::Id("produces"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        produces.contains("流动人口登记") && produces.contains("姓名"),
        "{produces}"
    );
    shot(&c, "12-matter").await;
    c.goto(&s.url("/console/matters")).await.unwrap();
    assert!(text(&c).await.contains("GA-XK-001"));
    c.goto(&page).await.unwrap();
    let batches = id_text(&c, "batches").await;
    assert!(
        batches.contains("form:") && batches.contains("upload"),
        "{batches}"
    );
    c.close().await.unwrap();
    s.stop().await;
}

/// The quality pages: a resource's profile and rules, a rule approved by the second owner in the
/// browser, a refused rule form that keeps what was typed, the ranking, and a work order handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_pages_in_chromium() {
    use serde_json::{Value, json};
    let s = TestServer::start().await;
    common::bureau_users(&s).await;
    yishu_quality::standard::seed(&s.store).await.unwrap();
    let http = reqwest::Client::new();
    let (officer, reviewer) = (s.key("provider_officer").await, s.key("reviewer").await);
    let res = common::published(
        &s,
        &http,
        &officer,
        &reviewer,
        json!({
            "class_kind": "department", "class_path": "01001001", "name": "户籍人口信息", "provider_org_id": s.dept.0,
            "summary": "户籍人口", "format": "database", "share_type": "unconditional",
            "open_type": "never", "update_cycle": "daily",
            "items": [{"name": "公民身份号码", "item_type": "C", "length": 18, "data_element": "citizen_id"},
                      {"name": "姓名", "item_type": "C", "length": 50}]
        }),
    )
    .await;
    let rule: Value = http
        .post(s.url("/api/v1/rules"))
        .bearer_auth(&officer)
        .json(&json!({"resource_id": res, "name": "姓名不能为空", "definition": {"kind": "not_null", "column": "姓名"}, "dimension": "completeness", "importance": "high", "severity": "high"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rid = rule["id"].as_i64().unwrap();
    let r = http
        .post(s.url(&format!("/api/v1/rules/{rid}/versions/1/approve")))
        .bearer_auth(&officer)
        .json(&json!({"side": "business"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let good = |b: &str| format!("{b}{}", yishu_types::citizen_id::check_char(b.as_bytes()));
    let csv = format!(
        "公民身份号码,姓名\n{},张三\n{},\n123,王五\n",
        good("51010719900101001"),
        good("51010719920202002")
    );
    let pushed: Value = http
        .post(s.url(&format!("/api/v1/resources/{res}/rows")))
        .bearer_auth(&officer)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let batch = pushed["batch"]["id"].as_str().unwrap().to_string();

    let driver = start_driver();
    let c = browser(driver.port).await;
    login(&c, &s, "reviewer").await;
    let page = s.url(&format!("/console/catalog/{res}/quality"));
    // The scheduler profiles the batch within a few ticks.
    let mut body = String::new();
    for _ in 0..50 {
        c.goto(&page).await.unwrap();
        body = text(&c).await;
        if body.contains("数据元符合性") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        body.contains("数据探查") && body.contains("公民身份号码"),
        "{body}"
    );
    let profile = id_text(&c, "field-profile").await;
    assert!(
        profile.contains("1 (33.33%)"),
        "one name of three missing: {profile}"
    );
    let conformance = id_text(&c, "conformance").await;
    assert!(conformance.contains("citizen_id"), "{conformance}");
    // The second owner approves the pending version in the page.
    let rules = id_text(&c, "rules").await;
    assert!(
        rules.contains("业务负责人：✓") && rules.contains("技术负责人：—"),
        "{rules}"
    );
    c.find(Locator::Css(
        "form.review select[name=decision] option[value=technical]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    c.find(Locator::Css("form.review button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("[data-testid=flash]"))
        .await
        .unwrap();
    let rules = id_text(&c, "rules").await;
    assert!(
        rules.contains("v1") && !rules.contains("技术负责人：—"),
        "{rules}"
    );
    // A rule that is not JSON is refused and the form keeps it.
    type_in(&c, "#new-rule input[name=name]", "号码格式").await;
    type_in(&c, "#new-rule textarea[name=definition]", "{kind: format").await;
    c.find(Locator::Css("#new-rule button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let e = c
        .wait()
        .for_element(Locator::Css("[data-testid=error]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(e.contains("not JSON"), "{e}");
    let kept = c
        .find(Locator::Css("#new-rule textarea[name=definition]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(kept, "{kind: format");
    shot(&c, "13-resource-quality").await;

    // Checking the batch again under the approved rule opens a work order for 公安.
    let r = http
        .post(s.url(&format!("/api/v1/batches/{batch}/check")))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    c.goto(&s.url("/console/quality")).await.unwrap();
    let ranking = id_text(&c, "ranking").await;
    assert!(ranking.contains("成都市公安局"), "{ranking}");
    shot(&c, "14-quality-overview").await;

    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "provider_officer").await;
    c.goto(&s.url("/console/work-orders")).await.unwrap();
    let orders = id_text(&c, "orders").await;
    assert!(
        orders.contains("户籍人口信息：姓名不能为空") && orders.contains("待处理"),
        "{orders}"
    );
    c.find(Locator::Css("#orders a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let samples = c
        .wait()
        .for_element(Locator::Id("samples"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(samples.contains(":3"), "the row without a name: {samples}");
    c.find(Locator::Css(
        "#advance select[name=status] option[value=fixed]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    type_in(&c, "#advance input[name=note]", "已补录姓名").await;
    c.find(Locator::Css("#advance button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The form posts and the page is drawn again: read the status once the new page says it.
    let status = css_text_once(&c, "[data-testid=order-status]", "已整改待验证").await;
    assert_eq!(status, "已整改待验证");
    let events = id_text(&c, "events").await;
    assert!(events.contains("已补录姓名"), "{events}");
    shot(&c, "15-work-order").await;

    // The department's report: reached from the overview, its own department only.
    c.goto(&s.url("/console/quality")).await.unwrap();
    c.find(Locator::Id("report-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let orders = c
        .wait()
        .for_element(Locator::Id("report-orders"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(orders.contains("新开工单 1"), "{orders}");
    let rules = id_text(&c, "report-rules").await;
    assert!(rules.contains("姓名不能为空"), "{rules}");
    let options = c
        .find_all(Locator::Css("#report-period select[name=org] option"))
        .await
        .unwrap();
    assert_eq!(options.len(), 1, "a department chooses only itself");
    let xlsx = c
        .find(Locator::Id("report-xlsx"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        xlsx.starts_with("/api/v1/quality/report.xlsx?org="),
        "{xlsx}"
    );
    shot(&c, "16-quality-report").await;

    // A department imports its own sex codes; those not matched by name are listed to check.
    c.goto(&s.url("/console/standards")).await.unwrap();
    type_in(&c, "#import-codes input[name=id]", "ga_xb").await;
    type_in(&c, "#import-codes input[name=name]", "公安性别代码").await;
    c.find(Locator::Css(
        "#import-codes select[name=national] option[value=sex]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("性别代码.csv");
    std::fs::write(&codes, "代码,名称\n1,男性\n2,女性\n9,不详\nX,其他\n").unwrap();
    c.find(Locator::Id("codes-file"))
        .await
        .unwrap()
        .send_keys(codes.to_str().unwrap())
        .await
        .unwrap();
    answer(&c, "codes-submit", "已导入代码 4").await;
    let check = id_text(&c, "to-check").await;
    assert!(
        check.contains("不详") && check.contains("其他") && !check.contains("男性"),
        "{check}"
    );
    let local = id_text(&c, "local-tables").await;
    assert!(local.contains("公安性别代码"), "{local}");
    shot(&c, "17-code-table-import").await;

    c.close().await.unwrap();
    drop(driver);
    s.stop().await;
}

/// Sharing in the console: 人社 applies from the catalog page, 公安 approves with a filter and
/// masks, the bureau confirms, the grant appears and the bureau suspends it; the English switch
/// works. Screenshots of each page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_pages_in_chromium() {
    use yishu_types::Role;
    let s = TestServer::start().await;
    publish_one(&s).await;
    let dsj = s.store.get_org_by_code("DSJ").await.unwrap().id;
    s.user("reviewer", dsj, Role::DataManager).await;
    s.store.set_bureau(dsj).await.unwrap();
    s.department("CD-RS", "成都市人社局", "rs", Role::Consumer)
        .await;
    let id = s
        .store
        .list_resources(None, None, 10, 0)
        .await
        .unwrap()
        .items[0]
        .id;
    let driver = start_driver();
    let c = browser(driver.port).await;

    // 人社 finds the entry and applies for two of its items.
    login(&c, &s, "rs").await;
    c.goto(&s.url(&format!("/console/catalog/{id}")))
        .await
        .unwrap();
    click(&c, "do-apply").await;
    c.wait().for_element(Locator::Id("apply")).await.unwrap();
    for item in ["公民身份号码", "姓名"] {
        c.find(Locator::Css(&format!("input[name=items][value='{item}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    type_in(&c, "input[name=purpose]", "核定养老保险待遇").await;
    type_in(&c, "input[name=legal_basis]", "《社会保险法》第七十三条").await;
    type_in(&c, "input[name=scenario]", "养老金资格认证").await;
    type_in(&c, "input[name=contact]", "人社局信息中心 028-12345678").await;
    shot(&c, "share-01-apply").await;
    c.find(Locator::Css("#apply button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = css_text_once(&c, "[data-testid=application-status]", "待提供部门审核").await;
    assert!(status.contains("待提供部门审核"));
    shot(&c, "share-02-application").await;
    let url = c.current_url().await.unwrap().to_string();

    // 公安 sees it waiting and approves it with a district filter and a token for the number.
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "provider_officer").await;
    c.goto(&s.url("/console/share?list=to_decide"))
        .await
        .unwrap();
    assert!(text(&c).await.contains("户籍人口信息"));
    shot(&c, "share-03-to-decide").await;
    c.goto(&url).await.unwrap();
    type_in(&c, "input[name=row_filter]", "公民身份号码 prefix '510107'").await;
    c.find(Locator::Css("select[name='mask.公民身份号码']"))
        .await
        .unwrap()
        .select_by_value("token")
        .await
        .unwrap();
    shot(&c, "share-04-decide").await;
    c.find(Locator::Css("#decide button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(
        &c,
        "[data-testid=application-status]",
        "待大数据主管部门确认",
    )
    .await;

    // The bureau confirms; the grant carries the terms; one click suspends it.
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "reviewer").await;
    c.goto(&s.url("/console/share?list=all")).await.unwrap();
    assert!(text(&c).await.contains("办理用时"));
    shot(&c, "share-05-overview").await;
    c.goto(&url).await.unwrap();
    c.find(Locator::Css("#decide button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "[data-testid=application-status]", "已授权").await;
    // 人社 sees its grant on the entry's page, with the way to read through it.
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "rs").await;
    c.goto(&s.url(&format!("/console/catalog/{id}")))
        .await
        .unwrap();
    assert!(id_text(&c, "granted").await.contains("本部门已获授权"));
    click(&c, "granted-sample").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/sample"));
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "reviewer").await;
    c.goto(&s.url("/console/share/grants")).await.unwrap();
    let grants = id_text(&c, "grants").await;
    assert!(
        grants.contains("公民身份号码 prefix '510107'") && grants.contains("有效"),
        "{grants}"
    );
    shot(&c, "share-06-grants").await;
    c.find(Locator::Css("#grants input[name=reason]"))
        .await
        .unwrap()
        .send_keys("核查用途")
        .await
        .unwrap();
    c.find(Locator::Css("#grants button[value=suspended]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "#grants", "已暂停").await;
    shot(&c, "share-07-suspended").await;
    // Who used the data: the grant with its calls and trend; who read one person (audited).
    c.goto(&s.url("/console/share/usage")).await.unwrap();
    let usage = id_text(&c, "usage").await;
    assert!(
        usage.contains("成都市人社局") && usage.contains("已暂停"),
        "{usage}"
    );
    assert!(
        c.find(Locator::Css("#usage svg.spark")).await.is_ok(),
        "a trend per grant"
    );
    type_in(&c, "#key", "510107199001011234").await;
    c.find(Locator::Css("#who-read ~ form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "#no-reads", "无人读取").await;
    shot(&c, "share-09-usage").await;
    let asked = s
        .store
        .list_audit(
            &yishu_meta::AuditFilter {
                action: Some("share.who_read".into()),
                ..Default::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
    assert_eq!(asked.items.len(), 1, "the question is in the audit log");
    assert!(!asked.items[0].detail.contains("510107199001011234"));

    // The same pages in English.
    c.goto(&s.url("/console/lang?to=en&back=/console/share"))
        .await
        .unwrap();
    assert!(text(&c).await.contains("Data sharing"));
    shot(&c, "share-08-english").await;
    c.close().await.unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_pages_in_chromium() {
    use yishu_types::Role;
    let s = TestServer::start().await;
    common::bureau_users(&s).await;
    let dsj = s.store.get_org_by_code("DSJ").await.unwrap().id;
    s.store.set_bureau(dsj).await.unwrap();
    s.user("reviewer2", dsj, Role::DataManager).await;
    common::population(&s).await;
    let driver = start_driver();
    let c = browser(driver.port).await;

    // The bureau's data manager writes the service in SQL (the parameter is pre-declared).
    login(&c, &s, "reviewer").await;
    c.goto(&s.url("/console/services")).await.unwrap();
    type_in(&c, "#define input[name=name]", "marriage-status").await;
    type_in(&c, "#define input[name=title]", "婚姻状况查询").await;
    type_in(
        &c,
        "#define textarea[name=sql]",
        "SELECT 姓名, 婚姻状况 FROM base.population WHERE 公民身份号码 = :id",
    )
    .await;
    shot(&c, "services-01-define").await;
    c.find(Locator::Css("#define button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "[data-testid=service-status]", "草稿").await;
    // A test run on real data shows the rows.
    type_in(&c, "input[name='p.id']", common::ID).await;
    c.find(Locator::Css("#test button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "[data-testid=service-status]", "已测试").await;
    assert!(id_text(&c, "preview").await.contains("张小三"));
    shot(&c, "services-02-tested").await;
    let url = c.current_url().await.unwrap().to_string();

    // The second data manager approves it; the author publishes it.
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "reviewer2").await;
    c.goto(&url).await.unwrap();
    type_in(&c, "#review input[name=note]", "口径清晰").await;
    c.find(Locator::Css("#review button[value=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "[data-testid=service-status]", "已审核").await;
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "reviewer").await;
    c.goto(&url).await.unwrap();
    c.find(Locator::Css("#lifecycle button[value=publish]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "[data-testid=service-status]", "已发布").await;
    shot(&c, "services-03-published").await;
    // Published, the page shows its operation: calls, the SLA form, the cut-off switch.
    assert!(id_text(&c, "ops-total").await.contains("调用次数"));
    c.find(Locator::Css("#sla button[value=sla]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "#ops-total", "99.9%").await;
    shot(&c, "services-05-operation").await;
    c.goto(&s.url("/console/services")).await.unwrap();
    assert!(
        id_text(&c, "services")
            .await
            .contains("/api/v1/services/marriage-status/v1")
    );
    shot(&c, "services-04-list").await;

    // A function API over the published service, declared as steps in the same form.
    type_in(&c, "#define input[name=name]", "marriage-lookup").await;
    type_in(&c, "#define input[name=title]", "婚姻状况组合查询").await;
    type_in(
        &c,
        "#define-steps",
        r#"[{"name": "marriage", "call": "service:marriage-status", "with": {"id": ":id"}}]"#,
    )
    .await;
    c.find(Locator::Css("#define button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "[data-testid=service-status]", "草稿").await;
    let steps = id_text(&c, "steps").await;
    assert!(
        steps.contains("service:marriage-status") && steps.contains("id ← :id"),
        "{steps}"
    );
    shot(&c, "services-06-function").await;
    c.close().await.unwrap();
    s.stop().await;
}

/// A consumer department registers its 低保 system as an app, makes its key (the secret shown
/// once), the bureau's data manager suspends it with a reason and the key stops; the pages in
/// Chinese.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_pages_in_chromium() {
    use yishu_types::Role;
    let s = TestServer::start().await;
    common::bureau_users(&s).await;
    s.department("CD-RS", "成都市人社局", "rs", Role::Consumer)
        .await;
    let driver = start_driver();
    let c = browser(driver.port).await;

    login(&c, &s, "rs").await;
    c.goto(&s.url("/console/apps")).await.unwrap();
    type_in(&c, "#app-name", "低保审核系统").await;
    type_in(&c, "#app-ips", "10.1.0.0/16\n192.0.2.7").await;
    type_in(&c, "#app-rate", "600").await;
    shot(&c, "apps-01-register").await;
    c.find(Locator::Css("#app-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "[data-testid=app-status]", "启用").await;
    assert!(id_text(&c, "app").await.contains("192.0.2.7/32"));
    type_in(&c, "#key-name", "生产环境").await;
    c.find(Locator::Css("#key-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The next page shows the secret once (waited for: the form posts and the page loads).
    let secret = css_text_once(&c, "#new-secret", "ysk_").await;
    assert!(id_text(&c, "app-keys").await.contains("生产环境"));
    shot(&c, "apps-02-key").await;
    let url = c.current_url().await.unwrap().to_string();

    // The bureau suspends it; the page says why and the key is refused.
    c.delete_all_cookies().await.unwrap();
    login(&c, &s, "reviewer").await;
    c.goto(&url).await.unwrap();
    type_in(&c, "#suspend-reason", "调用异常").await;
    c.find(Locator::Css("#suspend"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css_text_once(&c, "[data-testid=app-status]", "调用异常").await;
    shot(&c, "apps-03-suspended").await;
    let r = reqwest::Client::new()
        .get(s.url("/api/v1/grants"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::FORBIDDEN);
    assert_eq!(common::error_code(r).await, "app_suspended");
    c.close().await.unwrap();
    s.stop().await;
}

/// A population library as fusion writes it (subject ids and versions' times), of `n` people.
async fn library(s: &TestServer, n: usize) {
    use std::sync::Arc;
    use yishu_lake::datafusion::arrow::array::{
        RecordBatch, StringArray, TimestampMicrosecondArray,
    };
    use yishu_lake::datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let tz = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("subject_key", DataType::Utf8, false),
        Field::new("subject_id", DataType::Utf8, false),
        Field::new("姓名", DataType::Utf8, true),
        Field::new("婚姻状况", DataType::Utf8, true),
        Field::new("_valid_from", tz, false),
    ]));
    let keys: Vec<String> = (0..n).map(|i| format!("5101071990{i:08}")).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(keys.iter())),
            Arc::new(StringArray::from_iter_values(
                keys.iter().map(|k| format!("s{k}")),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("张{i}三")),
            )),
            Arc::new(StringArray::from_iter_values((0..n).map(|_| "20"))),
            Arc::new(TimestampMicrosecondArray::from(vec![1_000_000i64; n]).with_timezone("UTC")),
        ],
    )
    .unwrap();
    let meta =
        std::collections::HashMap::from([("valid_at".to_string(), serde_json::json!(1_000_000))]);
    s.lake()
        .overwrite(yishu_lake::Layer::Base, "population", vec![batch], meta)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_pages_in_chromium() {
    use yishu_types::Role;
    let s = TestServer::start().await;
    common::bureau_users(&s).await;
    let dsj = s.store.get_org_by_code("DSJ").await.unwrap().id;
    s.store.set_bureau(dsj).await.unwrap();
    let rs = s
        .department("CD-RS", "成都市人社局", "rs", Role::Consumer)
        .await;
    library(&s, 40).await;
    let grant = s
        .store
        .create_grant(&yishu_meta::share::NewGrant {
            application_id: None,
            consumer_org_id: rs,
            provider_org_id: dsj,
            target: "base:population".into(),
            resource_id: None,
            items: vec!["姓名".into(), "婚姻状况".into()],
            row_filter: String::new(),
            masks: [
                ("姓名".to_string(), "partial".to_string()),
                ("婚姻状况".to_string(), "keep".to_string()),
            ]
            .into(),
            per_minute: 600,
            rows_per_day: 10_000,
            purpose: "社会救助对象资格核查".into(),
            expires_at: yishu_meta::now_ms() + 86_400_000,
            created_by: None,
        })
        .await
        .unwrap();
    let driver = start_driver();
    let c = browser(driver.port).await;

    // 人社 subscribes its grant into a drop directory; a path outside the drop root is refused.
    login(&c, &s, "rs").await;
    c.goto(&s.url("/console/subscriptions")).await.unwrap();
    type_in(&c, "#sub-name", "人口库文件交换").await;
    c.find(Locator::Css("#sub-kind option[value=directory]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_in(&c, "#sub-path", "../elsewhere").await;
    click(&c, "sub-submit").await;
    let refused = css_text_once(&c, "[data-testid=error]", "..").await;
    assert!(refused.contains("drop root"), "{refused}");
    c.find(Locator::Css("#sub-kind option[value=directory]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#sub-path"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_in(&c, "#sub-path", "rs/population").await;
    shot(&c, "subs-01-subscribe").await;
    click(&c, "sub-submit").await;
    css_text_once(&c, "[data-testid=sub-status]", "启用").await;
    assert!(
        id_text(&c, "subscription")
            .await
            .contains(&format!("#{}", grant.id))
    );

    // Delivered (by the scheduler, it being due at once, or by the button, whichever is
    // first): the page counts the rows once, the file holds them masked.
    click(&c, "deliver").await;
    let done = css_text_once(&c, "#delivered", "/ 0").await;
    assert!(
        done.contains(" 40 / 0") || done.contains(" 0 / 0"),
        "{done}"
    );
    let total = css_text_once(&c, "[data-testid=sub-total]", "40").await;
    assert_eq!(total, "40");
    assert!(id_text(&c, "subscription").await.contains("已同步"));
    shot(&c, "subs-02-delivered").await;
    let dir = s.outbox().join("rs/population");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("a delivered file");
    let body = std::fs::read_to_string(file).unwrap();
    assert_eq!(
        body.lines().filter(|l| l.starts_with("insert,")).count(),
        40
    );
    assert!(!body.contains("张0三"), "names arrive masked");

    // Paused with a reason; the list says so in English too.
    type_in(&c, "#pause-reason", "系统迁移").await;
    click(&c, "pause").await;
    css_text_once(&c, "[data-testid=sub-status]", "系统迁移").await;
    c.goto(&s.url("/console/lang?to=en&back=/console/subscriptions"))
        .await
        .unwrap();
    let list = css_text_once(&c, "#subscriptions", "Paused").await;
    assert!(list.contains("人口库文件交换"), "{list}");
    shot(&c, "subs-03-list-en").await;
    c.close().await.unwrap();
    s.stop().await;
}

/// axe-core's source: `YISHU_AXE`, or where `scripts/test` installs it from npm.
fn axe_source() -> String {
    let path = std::env::var_os("YISHU_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/yishu-npm/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core at {} ({e}); scripts/test installs it from npm",
            path.display()
        )
    })
}

/// axe-core's serious and critical violations on the page now (WCAG 2 A and AA rules).
async fn axe_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(axe, vec![]).await.unwrap();
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})
               .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// The open data portal in Chromium: every page type (home, search, dataset, department, a
/// withdrawn dataset, a missing one, requests, showcase, evaluation, English) has no serious or critical axe-core violation,
/// reads without JavaScript (no script on any page), and is photographed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_pages_are_accessible_in_chromium() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let http = reqwest::Client::new();
    let (officer, reviewer) = (s.key("provider_officer").await, s.key("reviewer").await);
    let entry = |name: &str| {
        serde_json::json!({
            "class_kind": "department", "class_path": "01001001", "name": name, "provider_org_id": s.dept.0,
            "summary": format!("{name}：按线路统计的站点数量"), "format": "database",
            "share_type": "unconditional", "open_type": "unconditional", "update_cycle": "monthly",
            "extended": {"keywords": ["公交", "交通"], "contact": "交通数据专员"},
            "items": [{"name": "线路", "item_type": "C", "length": 50}, {"name": "行政区", "item_type": "C", "length": 20},
                      {"name": "站数", "item_type": "N", "length": 10}]
        })
    };
    let csv = "线路,行政区,站数\n1路,锦江区,12\n2路,青羊区,3\n3路,锦江区,5\n4路,武侯区,8\n5路,青羊区,9\n6路,锦江区,7\n";
    let mut names = Vec::new();
    for title in ["公交线路站点统计", "旧版公交线路"] {
        let id = published(&s, &http, &officer, &reviewer, entry(title)).await;
        push_csv(&s, &http, &officer, id, csv, 6).await;
        let r = http
            .put(s.url(&format!("/api/v1/resources/{id}/opening")))
            .bearer_auth(&officer)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        names.push((
            id,
            s.store
                .get_resource(id)
                .await
                .unwrap()
                .code
                .to_ascii_lowercase()
                .replace('/', "-"),
        ));
    }
    let r = http
        .post(s.url(&format!(
            "/api/v1/resources/{}/opening/withdrawal",
            names[1].0
        )))
        .bearer_auth(&officer)
        .json(&serde_json::json!({"reason": "已由新版数据集替代"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let driver = start_driver();
    let c = browser(driver.port).await;
    let axe = axe_source();
    let pages = [
        ("portal-01-home", "/".to_string(), "公共数据开放门户"),
        (
            "portal-02-search",
            "/open/datasets?q=公交".to_string(),
            "公交线路站点统计",
        ),
        (
            "portal-03-dataset",
            format!("/open/datasets/{}", names[0].1),
            "数据预览",
        ),
        (
            "portal-04-department",
            "/open/orgs/cd-ga".to_string(),
            "公交线路站点统计",
        ),
        (
            "portal-05-withdrawn",
            format!("/open/datasets/{}", names[1].1),
            "已由新版数据集替代",
        ),
        (
            "portal-06-not-found",
            "/open/datasets/no-such-dataset".to_string(),
            "未找到",
        ),
    ];
    for (shot_name, path, expect) in &pages {
        c.goto(&s.url(path)).await.unwrap();
        let body = text(&c).await;
        assert!(body.contains(expect), "{path}: {body}");
        let source = c.source().await.unwrap();
        assert!(
            !source.contains("<script"),
            "{path} reads without JavaScript"
        );
        shot(&c, shot_name).await;
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "{path}: {violations:?}");
    }
    // The dataset page draws its chart on the server.
    c.goto(&s.url(&format!("/open/datasets/{}", names[0].1)))
        .await
        .unwrap();
    c.find(Locator::Css("#chart svg")).await.unwrap();
    // English.
    c.goto(&s.url("/console/lang?to=en&back=/")).await.unwrap();
    assert!(text(&c).await.contains("Open data portal"));
    shot(&c, "portal-07-home-en").await;
    assert!(axe_violations(&c, &axe).await.is_empty());

    // The department's side, in the console: its resources and the opening form, accessible;
    // narrowing what is open through the form takes effect for the public at once.
    c.goto(&s.url("/console/lang?to=zh&back=/")).await.unwrap();
    login(&c, &s, "provider_officer").await;
    c.goto(&s.url("/console/open")).await.unwrap();
    let body = text(&c).await;
    assert!(
        body.contains("数据开放管理")
            && body.contains("公交线路站点统计")
            && body.contains("已撤回"),
        "{body}"
    );
    shot(&c, "console-open-01-list").await;
    let violations = axe_violations(&c, &axe).await;
    assert!(violations.is_empty(), "/console/open: {violations:?}");
    c.goto(&s.url(&format!("/console/open/{}", names[0].0)))
        .await
        .unwrap();
    let violations = axe_violations(&c, &axe).await;
    assert!(
        violations.is_empty(),
        "/console/open/{{id}}: {violations:?}"
    );
    c.find(Locator::Css(
        r#"#decide input[name="item"][value="行政区"]"#,
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    c.find(Locator::Css("#decide button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css(r#"[data-testid="flash"]"#))
        .await
        .unwrap();
    let body = text(&c).await;
    assert!(
        body.contains("已保存开放决定") && body.contains("开放中"),
        "{body}"
    );
    shot(&c, "console-open-02-resource").await;
    let v: serde_json::Value = http
        .get(s.url(&format!(
            "/api/3/action/datastore_search?resource_id={}",
            names[0].1
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fields: Vec<&str> = v["result"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(fields, ["线路", "站数"], "{v}");
    c.close().await.unwrap();
    s.stop().await;
}
