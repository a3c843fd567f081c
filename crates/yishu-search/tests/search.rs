//! Search behaviour over a small catalog: Chinese words, ranking, filters, facets, visibility,
//! highlighting, keeping in step, and rebuilding from a real metadata store.

use yishu_search::*;

fn doc(
    id: i64,
    name: &str,
    summary: &str,
    items: &[&str],
    provider: (i64, &str),
    share: &str,
    status: &str,
) -> ResourceDoc {
    ResourceDoc {
        id,
        code: format!("301001001/{id:06}"),
        name: name.into(),
        summary: summary.into(),
        items: items.iter().map(|s| s.to_string()).collect(),
        keywords: vec![],
        provider_id: provider.0,
        provider: provider.1.into(),
        class: "department".into(),
        share: share.into(),
        open: "never".into(),
        format: "database".into(),
        cycle: "daily".into(),
        status: status.into(),
        attachments: String::new(),
        version: 1,
        updated_at: id,
    }
}

const GA: (i64, &str) = (10, "成都市公安局");
const MZ: (i64, &str) = (11, "成都市民政局");
const SJ: (i64, &str) = (12, "成都市市场监督管理局");

fn catalog() -> SearchIndex {
    let docs = [
        doc(
            1,
            "户籍人口信息",
            "公安局登记的常住户籍人口基本信息",
            &["公民身份号码", "姓名", "户籍地址"],
            GA,
            "conditional",
            "published",
        ),
        doc(
            2,
            "婚姻登记信息",
            "民政部门办理的结婚、离婚登记",
            &["男方姓名", "女方姓名", "登记日期"],
            MZ,
            "conditional",
            "published",
        ),
        doc(
            3,
            "死亡登记信息",
            "殡葬与死亡人口登记",
            &["公民身份号码", "死亡日期"],
            MZ,
            "unconditional",
            "published",
        ),
        doc(
            4,
            "企业登记信息",
            "市场主体登记注册信息",
            &["统一社会信用代码", "企业名称", "法定代表人"],
            SJ,
            "unconditional",
            "published",
        ),
        doc(
            5,
            "流动人口居住登记",
            "流动人口居住证办理情况",
            &["公民身份号码", "居住地址"],
            GA,
            "conditional",
            "draft",
        ),
        doc(
            6,
            "低保救助对象",
            "最低生活保障对象名单 <script>",
            &["姓名", "救助金额"],
            MZ,
            "never",
            "published",
        ),
    ];
    let index = SearchIndex::in_memory().unwrap();
    assert_eq!(index.replace_all(docs.iter()).unwrap(), 6);
    index
}

fn query(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        filters: Filters::new(),
        visibility: Visibility::All,
        limit: 10,
        offset: 0,
    }
}

fn ids(r: &SearchResults) -> Vec<i64> {
    r.hits.iter().map(|h| h.id).collect()
}

#[test]
fn chinese_words_find_and_rank() {
    let index = catalog();
    let r = index.search(&query("人口")).unwrap();
    let found = ids(&r);
    assert_eq!(found.len(), 3, "{found:?}");
    // A word in the name outweighs one in the summary only.
    assert!(
        found.contains(&1) && found.contains(&5) && found.contains(&3),
        "{found:?}"
    );
    assert_ne!(
        found[0], 3,
        "死亡登记 has 人口 only in its summary: {found:?}"
    );

    // Two words: both must match (婚姻 and 登记 → only the marriage register).
    let r = index.search(&query("婚姻 登记")).unwrap();
    assert_eq!(ids(&r), vec![2]);
    assert_eq!(r.words, vec!["婚姻", "登记"]);

    // Words glued together are cut by jieba.
    let r = index.search(&query("户籍人口")).unwrap();
    assert_eq!(ids(&r)[0], 1);

    // Item names are searched; provider names are searched.
    assert_eq!(ids(&index.search(&query("法定代表人")).unwrap()), vec![4]);
    let by_provider = ids(&index.search(&query("民政局")).unwrap());
    assert_eq!(by_provider.len(), 3, "{by_provider:?}");

    // A code finds its resource.
    assert_eq!(
        ids(&index.search(&query("301001001/000004")).unwrap()),
        vec![4]
    );

    // Nothing matches: an empty page, not an error.
    let r = index.search(&query("航天飞机")).unwrap();
    assert_eq!(r.total, 0);
    assert!(r.hits.is_empty());
}

#[test]
fn filters_and_facets() {
    let index = catalog();
    let mut q = query("登记");
    let r = index.search(&q).unwrap();
    // 户籍 mentions 登记 in its summary; the 公安 draft counts for the bureau.
    assert_eq!(r.total, 5, "{:?}", ids(&r));
    let share = &r.facets["share"];
    let count = |v: &str| share.iter().find(|f| f.value == v).map(|f| f.count);
    assert_eq!(count("conditional"), Some(3));
    assert_eq!(count("unconditional"), Some(2));
    assert_eq!(count("never"), None);
    let providers: Vec<(&str, u64)> = r.facets["provider"]
        .iter()
        .map(|f| (f.value.as_str(), f.count))
        .collect();
    assert_eq!(providers, vec![("10", 2), ("11", 2), ("12", 1)]);

    q.filters.insert("share".into(), "unconditional".into());
    let r = index.search(&q).unwrap();
    let mut got = ids(&r);
    got.sort();
    assert_eq!(got, vec![3, 4]);
    q.filters.insert("provider".into(), "12".into());
    assert_eq!(ids(&index.search(&q).unwrap()), vec![4]);

    // Filters without words list the newest first.
    let mut q = query("");
    q.filters.insert("provider".into(), "11".into());
    assert_eq!(ids(&index.search(&q).unwrap()), vec![6, 3, 2]);

    // An unknown filter is an error naming it.
    let mut q = query("登记");
    q.filters.insert("colour".into(), "red".into());
    let e = index.search(&q).unwrap_err();
    assert_eq!(e.code.as_str(), "invalid_input");
    assert!(e.message.contains("colour"), "{}", e.message);
}

#[test]
fn drafts_only_for_their_department() {
    let index = catalog();
    let mut q = query("流动人口");
    q.visibility = Visibility::Org(MZ.0);
    assert!(
        ids(&index.search(&q).unwrap()).is_empty(),
        "民政 must not see 公安's draft"
    );
    q.visibility = Visibility::Org(GA.0);
    assert_eq!(ids(&index.search(&q).unwrap()), vec![5]);
    q.visibility = Visibility::All;
    assert_eq!(ids(&index.search(&q).unwrap()), vec![5]);
    // Facet counts respect visibility too.
    let mut q = query("");
    q.visibility = Visibility::Org(MZ.0);
    let r = index.search(&q).unwrap();
    assert_eq!(r.total, 5);
    assert!(!r.facets["status"].iter().any(|f| f.value == "draft"));
}

#[test]
fn highlights_are_escaped_html() {
    let index = catalog();
    let r = index.search(&query("户籍")).unwrap();
    let h = &r.hits[0];
    assert_eq!(h.id, 1);
    assert!(h.name_html.contains("<b>户籍</b>"), "{}", h.name_html);
    assert!(h.summary_html.contains("<b>户籍</b>"), "{}", h.summary_html);
    assert!(h.items_html.contains("<b>户籍</b>"), "{}", h.items_html);
    let r = index.search(&query("低保")).unwrap();
    assert!(
        r.hits[0].summary_html.contains("&lt;script&gt;"),
        "{}",
        r.hits[0].summary_html
    );
    assert!(!r.hits[0].summary_html.contains("<script>"));
}

#[test]
fn pages_and_keeping_in_step() {
    let index = catalog();
    let mut q = query("登记");
    q.limit = 2;
    let mut all = Vec::new();
    for (offset, len) in [(0, 2), (2, 2), (4, 1), (6, 0)] {
        q.offset = offset;
        let page = index.search(&q).unwrap();
        assert_eq!(page.total, 5);
        assert_eq!(page.hits.len(), len, "page at {offset}");
        all.extend(ids(&page));
    }
    all.sort();
    all.dedup();
    assert_eq!(all, vec![1, 2, 3, 4, 5]);

    // A renamed resource is found by its new name only.
    index
        .upsert(&doc(
            4,
            "市场主体信息",
            "市场主体注册信息",
            &["统一社会信用代码"],
            SJ,
            "unconditional",
            "published",
        ))
        .unwrap();
    assert_eq!(index.len(), 6);
    assert!(!ids(&index.search(&query("企业")).unwrap()).contains(&4));
    assert_eq!(ids(&index.search(&query("市场主体")).unwrap()), vec![4]);
    index.remove(4).unwrap();
    assert!(index.search(&query("市场主体")).unwrap().hits.is_empty());
    assert_eq!(index.len(), 5);
}

#[test]
fn survives_reopen_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search");
    {
        let index = SearchIndex::open(&path).unwrap();
        assert!(index.is_empty());
        index
            .upsert(&doc(
                1,
                "户籍人口信息",
                "",
                &[],
                GA,
                "conditional",
                "published",
            ))
            .unwrap();
    }
    let index = SearchIndex::open(&path).unwrap();
    assert_eq!(index.len(), 1);
    assert_eq!(ids(&index.search(&query("户籍")).unwrap()), vec![1]);
}

#[tokio::test]
async fn rebuilds_from_the_store() {
    use yishu_meta::catalog::*;
    use yishu_meta::{NewOrg, NewUser};
    use yishu_types::Role;
    let db = yishu_meta::testing::TestDb::sqlite();
    let s = db.open().await;
    let city = s
        .create_org(&NewOrg {
            code: "CD".into(),
            name: "成都市".into(),
            level: Some(yishu_meta::OrgLevel::City),
            ..Default::default()
        })
        .await
        .unwrap();
    let ga = s
        .create_org(&NewOrg {
            code: "GA".into(),
            name: "公安局".into(),
            parent_id: Some(city.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let officer = s
        .create_user(&NewUser {
            name: "officer".into(),
            display_name: None,
            org_id: ga.id,
            password: "correct horse battery".into(),
            roles: vec![Role::ProviderOfficer],
        })
        .await
        .unwrap();
    let actor = Actor {
        user: officer.id,
        org: ga.id,
        roles: &[Role::ProviderOfficer],
    };
    for name in ["户籍人口信息", "机动车登记信息"] {
        let draft = ResourceDraft {
            class_kind: ClassKind::Department,
            class_path: "01001001".into(),
            name: name.into(),
            provider_org_id: ga.id,
            summary: "公安局的数据".into(),
            format: ResourceFormat::Database,
            share_type: ShareType::Unconditional,
            share_condition: String::new(),
            open_type: OpenType::Never,
            open_condition: String::new(),
            update_cycle: UpdateCycle::Daily,
            related_codes: vec![],
            extended: Extended {
                keywords: vec!["交通".into()],
                ..Default::default()
            },
            items: vec![Item {
                name: "号牌号码".into(),
                item_type: "C".into(),
                length: Some(20),
                data_element: None,
                description: String::new(),
            }],
        };
        s.create_resource(&draft, &actor).await.unwrap();
    }
    let index = SearchIndex::in_memory().unwrap();
    assert_eq!(rebuild_from_store(&s, &index).await.unwrap(), 2);
    let r = index.search(&query("机动车")).unwrap();
    assert_eq!(r.hits.len(), 1);
    assert_eq!(r.hits[0].code, "301001001/000002");
    // Keywords and the provider's name are searchable.
    assert_eq!(index.search(&query("交通")).unwrap().total, 2);
    assert_eq!(index.search(&query("公安局 户籍")).unwrap().total, 1);
    assert_eq!(r.facets["status"][0].value, "draft");
    assert_eq!(index.len(), 2);

    // A change made through the store (by another process, say) is caught up; unchanged
    // entries are not re-indexed.
    assert_eq!(catch_up(&s, &index).await.unwrap(), 0);
    let first = s.get_resource(1).await.unwrap();
    let mut d = first.meta.clone();
    d.name = "常住人口信息".into();
    s.update_resource(1, &d, first.version, &actor)
        .await
        .unwrap();
    assert_eq!(catch_up(&s, &index).await.unwrap(), 1);
    assert_eq!(index.search(&query("常住")).unwrap().total, 1);
    assert_eq!(index.search(&query("户籍")).unwrap().total, 0);
    assert_eq!(catch_up(&s, &index).await.unwrap(), 0);
    assert!(index.watermark() > 0);
}
