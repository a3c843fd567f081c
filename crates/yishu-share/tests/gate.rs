//! The gate's promise, tried on random grants, filters, requests and rows against both metadata
//! backends: nothing outside a grant's items, no row outside its filter, no value unmasked under
//! a mask, and every refusal where one is due. A second property holds the lake's path to the
//! same answer: a filter run by DataFusion keeps exactly the rows `Filter::matches` keeps.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::sync::Arc;
use yishu_lake::datafusion::arrow::array::{RecordBatch, StringArray};
use yishu_lake::datafusion::arrow::datatypes::{DataType, Field, Schema};
use yishu_lake::datafusion::prelude::SessionContext;
use yishu_meta::share::{Grant, NewGrant};
use yishu_meta::{Store, now_ms};

mod common;
use common::{departments, person};
use yishu_share::filter::{Filter, ItemKind, Op, Value};
use yishu_share::gate::Row;
use yishu_share::{Mask, ReadRequest, Source, masker_for, plan};
use yishu_types::{ErrorCode, OrgId, Role};

yishu_meta::both_backends!(random_grants_never_leak);
yishu_meta::both_backends!(the_active_grant_follows_every_change);

/// The items of the target, with a generator of realistic values for each.
const ITEMS: &[(&str, ItemKind, &str)] = &[
    ("姓名", ItemKind::Text, "[张李王欧阳明月小三]{1,4}"),
    ("公民身份号码", ItemKind::Text, "5101[0-9]{13}[0-9X]"),
    ("联系电话", ItemKind::Text, "1[3-9][0-9]{9}"),
    (
        "住址",
        ItemKind::Text,
        "四川省成都市[锦武]区[红人]星路[0-9]{1,3}号",
    ),
    ("出生日期", ItemKind::Text, "19[5-9][0-9]-0[1-9]-[12][0-9]"),
    ("年龄", ItemKind::Number, "[1-9][0-9]?"),
    ("行政区划代码", ItemKind::Text, "5101(0[4-8]|1[2-5])"),
    ("婚姻状况", ItemKind::Text, "(10|20|21|30|40)"),
];

fn value_of(i: usize) -> BoxedStrategy<String> {
    prop_oneof![
        9 => proptest::string::string_regex(ITEMS[i].2).unwrap(),
        1 => Just(String::new()),
    ]
    .boxed()
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    let row = (0..ITEMS.len())
        .map(value_of)
        .collect::<Vec<_>>()
        .prop_map(|vs| {
            ITEMS
                .iter()
                .zip(vs)
                .map(|((n, _, _), v)| (n.to_string(), v))
                .collect::<Row>()
        });
    proptest::collection::vec(row, 0..25)
}

/// A literal for item `i`: a value it may hold, typed as the item is.
fn literal(i: usize) -> BoxedStrategy<Value> {
    let number = ITEMS[i].1 == ItemKind::Number;
    value_of(i)
        .prop_map(move |v| {
            if number {
                Value::Number(v.parse().unwrap_or(0.0))
            } else {
                Value::Text(v)
            }
        })
        .boxed()
}

/// A filter over the items `among` (indexes into ITEMS).
fn filter(among: Vec<usize>) -> BoxedStrategy<Filter> {
    let name = |i: usize| ITEMS[i].0.to_string();
    let leaf = proptest::sample::select(among)
        .prop_flat_map(move |i| {
            let ops =
                proptest::sample::select(vec![Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge]);
            let cmp = (ops, literal(i)).prop_map(move |(op, value)| Filter::Cmp {
                item: name(i),
                op,
                value,
            });
            let list =
                proptest::collection::vec(literal(i), 1..4).prop_map(move |values| Filter::In {
                    item: name(i),
                    values,
                });
            let between = (literal(i), literal(i)).prop_map(move |(low, high)| Filter::Between {
                item: name(i),
                low,
                high,
            });
            if ITEMS[i].1 == ItemKind::Number {
                prop_oneof![cmp, list, between].boxed()
            } else {
                let prefix = value_of(i).prop_map(move |v| Filter::Prefix {
                    item: name(i),
                    prefix: v.chars().take(4).collect(),
                });
                prop_oneof![cmp, list, between, prefix].boxed()
            }
        })
        .boxed();
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        ]
    })
    .boxed()
}

fn subset() -> impl Strategy<Value = Vec<usize>> {
    proptest::sample::subsequence((0..ITEMS.len()).collect::<Vec<_>>(), 0..=ITEMS.len())
}

/// One trial: a grant's terms, a request and the rows.
#[derive(Debug, Clone)]
struct Case {
    items: Vec<usize>,
    grant_filter: Option<Filter>,
    masks: Vec<Option<Mask>>,
    status: &'static str,
    expired: bool,
    other_department: bool,
    asked: Vec<usize>,
    /// The request's filter as text: a generated filter, or text an attacker typed.
    asked_filter: Option<String>,
    limit: usize,
    rows: Vec<Row>,
}

fn case() -> impl Strategy<Value = Case> {
    let all: Vec<usize> = (0..ITEMS.len()).collect();
    let masks = proptest::collection::vec(
        proptest::option::of(proptest::sample::select(Mask::ALL.to_vec())),
        ITEMS.len(),
    );
    let injected = proptest::sample::select(vec![
        "婚姻状况 = '20' or 1=1".to_string(),
        "姓名 = '' ; DROP TABLE grants".to_string(),
        "`姓名` = 'x') or ('1' = '1'".to_string(),
        "年龄 > 0 --".to_string(),
    ]);
    let asked_filter = prop_oneof![
        3 => Just(None),
        4 => filter(all.clone()).prop_map(|f| Some(f.to_string())),
        1 => injected.prop_map(Some),
    ];
    (
        (subset(), proptest::option::of(filter(all)), masks),
        (
            proptest::sample::select(vec!["active", "active", "active", "suspended", "revoked"]),
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.1),
        ),
        (subset(), asked_filter, 1usize..40, rows()),
    )
        .prop_map(
            |(
                (items, grant_filter, masks),
                (status, expired, other_department),
                (asked, asked_filter, limit, rows),
            )| Case {
                items,
                grant_filter,
                masks,
                status,
                expired,
                other_department,
                asked,
                asked_filter,
                limit,
                rows,
            },
        )
}

fn source() -> Source {
    Source {
        target: "resource:1".into(),
        provider_org: OrgId(0),
        items: ITEMS.iter().map(|(n, k, _)| (n.to_string(), *k)).collect(),
        levels: BTreeMap::new(),
    }
}

async fn random_grants_never_leak(s: &Store) {
    let orgs = departments(s, &[("GA", "公安局"), ("RS", "人社局"), ("MZ", "民政局")]).await;
    let (provider, consumer, other) = (orgs[0], orgs[1], orgs[2]);
    let who = person(s, consumer, "officer", Role::Consumer).await;
    let mut src = source();
    src.provider_org = provider;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = case();
    let (mut refused, mut read) = (0, 0);
    for _ in 0..240 {
        let c = strategy.new_tree(&mut runner).unwrap().current();
        let name = |i: &usize| ITEMS[*i].0.to_string();
        let stored = s
            .create_grant(&NewGrant {
                application_id: None,
                consumer_org_id: if c.other_department { other } else { consumer },
                provider_org_id: provider,
                target: src.target.clone(),
                resource_id: None,
                items: c.items.iter().map(name).collect(),
                row_filter: c
                    .grant_filter
                    .as_ref()
                    .map(|f| f.to_string())
                    .unwrap_or_default(),
                masks: c
                    .items
                    .iter()
                    .filter_map(|i| c.masks[*i].map(|m| (name(i), m.as_str().to_string())))
                    .collect(),
                per_minute: 60,
                rows_per_day: 1_000_000,
                purpose: "测试".into(),
                expires_at: now_ms() + if c.expired { -1000 } else { 86_400_000 },
                created_by: None,
            })
            .await
            .unwrap();
        let g: Grant = if c.status == "active" {
            stored
        } else {
            s.set_grant_status(stored.id, c.status, "测试")
                .await
                .unwrap()
        };
        // What the backend gave back is what is checked.
        let g = s.grant(g.id).await.unwrap();
        let req = ReadRequest {
            items: c.asked.iter().map(name).collect(),
            filter: c.asked_filter.clone(),
            limit: c.limit,
        };
        let got = plan(
            &who,
            Some(&g),
            &src,
            &req,
            now_ms(),
            masker_for(s, consumer),
        );
        let asked_outside = c.asked.iter().any(|i| !c.items.contains(i));
        let asked_filter = c
            .asked_filter
            .as_deref()
            .map(|t| {
                // Only items shown in clear may be filtered on: a masked one would be an oracle.
                let kinds = c
                    .items
                    .iter()
                    .filter(|i| {
                        c.masks[**i].unwrap_or_else(|| Mask::default_for(&name(i), ""))
                            == Mask::Keep
                    })
                    .map(|i| (name(i), ITEMS[*i].1))
                    .collect();
                Filter::parse(t).and_then(|f| f.check(&kinds))
            })
            .transpose();
        let must_refuse = c.other_department
            || c.status != "active"
            || c.expired
            || asked_outside
            || asked_filter.is_err();
        let p = match got {
            Err(e) => {
                assert!(must_refuse, "refused without cause: {e:?}\n{c:?}");
                if c.other_department {
                    assert_eq!(e.code, ErrorCode::GrantNotFound, "{c:?}");
                }
                refused += 1;
                continue;
            }
            Ok(p) => {
                assert!(!must_refuse, "read allowed that must be refused: {c:?}");
                p
            }
        };
        read += 1;
        let asked_filter = asked_filter.unwrap();
        for i in &p.items {
            assert!(g.items.contains(i), "item {i} outside the grant: {c:?}");
            assert!(c.asked.is_empty() || req.items.contains(i));
        }
        let masker = masker_for(s, consumer);
        let out: Vec<Row> = c
            .rows
            .iter()
            .filter_map(|r| p.apply(r))
            .take(p.limit)
            .collect();
        let expected: Vec<&Row> = c
            .rows
            .iter()
            .filter(|r| c.grant_filter.as_ref().is_none_or(|f| f.matches(r)))
            .filter(|r| asked_filter.as_ref().is_none_or(|f| f.matches(r)))
            .take(c.limit)
            .collect();
        assert_eq!(out.len(), expected.len(), "rows outside the filters: {c:?}");
        for (o, clear) in out.iter().zip(expected) {
            let mut planned: Vec<&String> = p.items.iter().collect();
            planned.sort();
            assert_eq!(o.keys().collect::<Vec<_>>(), planned);
            for (item, shown) in o {
                let i = ITEMS.iter().position(|(n, _, _)| n == item).unwrap();
                let mask = c.masks[i].unwrap_or_else(|| Mask::default_for(item, ""));
                let v = &clear[item];
                assert_eq!(shown, &masker.apply(mask, item, v), "{item} under {mask:?}");
                if matches!(mask, Mask::Hash | Mask::Token) && v.chars().count() >= 6 {
                    assert_ne!(shown, v, "{item} came out in clear under {mask:?}");
                }
                if mask == Mask::Partial && item == "公民身份号码" && !v.is_empty() {
                    assert_ne!(shown, v);
                }
            }
        }
    }
    assert!(refused > 10 && read > 10, "refused {refused}, read {read}");
}

/// The filter DataFusion runs over a table keeps exactly the rows `matches` keeps.
#[tokio::test]
async fn lake_filters_agree_with_row_filters() {
    let all: Vec<usize> = (0..ITEMS.len()).collect();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = (filter(all), rows());
    let schema = Arc::new(Schema::new(
        ITEMS
            .iter()
            .map(|(n, _, _)| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    for _ in 0..150 {
        let (f, rows) = strategy.new_tree(&mut runner).unwrap().current();
        if rows.is_empty() {
            continue;
        }
        let columns = ITEMS
            .iter()
            .map(|(n, _, _)| {
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r[*n].clone()),
                )) as _
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let ctx = SessionContext::new();
        let out = ctx
            .read_batch(batch)
            .unwrap()
            .filter(f.to_expr())
            .unwrap()
            .collect()
            .await
            .unwrap();
        let got: usize = out.iter().map(|b| b.num_rows()).sum();
        let want = rows.iter().filter(|r| f.matches(r)).count();
        assert_eq!(got, want, "{f}");
    }
}

/// The grant a read rests on is the newest active one at that moment: a suspension, a
/// revocation, an expiry or a newer grant shows on the very next question (SQLite answers it
/// on the calling thread and keeps grants' terms; neither may hide a change).
async fn the_active_grant_follows_every_change(s: &Store) {
    let orgs = departments(s, &[("GA", "公安局"), ("RS", "人社局")]).await;
    let (provider, consumer) = (orgs[0], orgs[1]);
    let target = "base:population";
    let grant = |expires_at: i64| NewGrant {
        application_id: None,
        consumer_org_id: consumer,
        provider_org_id: provider,
        target: target.into(),
        resource_id: None,
        items: vec!["姓名".into()],
        row_filter: String::new(),
        masks: BTreeMap::new(),
        per_minute: 60,
        rows_per_day: 1_000,
        purpose: "测试".into(),
        expires_at,
        created_by: None,
    };
    let active = |at: i64| async move {
        s.active_grant(consumer, target, at)
            .await
            .unwrap()
            .map(|g| (g.id, g.status))
    };
    let now = now_ms();
    assert_eq!(active(now).await, None);
    let g1 = s.create_grant(&grant(now + 86_400_000)).await.unwrap();
    for _ in 0..2 {
        assert_eq!(active(now_ms()).await, Some((g1.id, "active".into())));
    }
    s.set_grant_status(g1.id, "suspended", "核查")
        .await
        .unwrap();
    assert_eq!(active(now_ms()).await, None);
    // Resumed within the same millisecond as a check or not, the status read is the new one.
    s.set_grant_status(g1.id, "active", "核查完毕")
        .await
        .unwrap();
    let back = s
        .active_grant(consumer, target, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((back.id, back.status_reason.as_str()), (g1.id, "核查完毕"));
    let g2 = s.create_grant(&grant(now + 86_400_000)).await.unwrap();
    assert_eq!(active(now_ms()).await, Some((g2.id, "active".into())));
    s.set_grant_status(g2.id, "revoked", "不再需要")
        .await
        .unwrap();
    assert_eq!(active(now_ms()).await, Some((g1.id, "active".into())));
    let g3 = s.create_grant(&grant(now_ms() + 60_000)).await.unwrap();
    assert_eq!(active(now_ms()).await, Some((g3.id, "active".into())));
    assert_eq!(
        active(now_ms() + 120_000).await,
        Some((g1.id, "active".into())),
        "an expired grant is no basis"
    );
    // Another department's grant is never the consumer's.
    assert_eq!(
        s.active_grant(provider, target, now_ms()).await.unwrap(),
        None
    );
}
