//! A generated two-source person linkage task with known truth, the same people in both sources
//! with each source's own mistakes (IDs missing or mistyped, homophone names, slipped birth dates,
//! moved addresses): what `yishu bench link` measures Yishu and Splink on, and what the linkage
//! tests check precision and recall with.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use yishu_fusion::address::parse_address;
use yishu_fusion::link::PersonRecord;

/// Source A (careful) and source B (twice the mistakes, shuffled): row k of B is person
/// `order[k]`, row k of A is person k.
pub struct TwoSources {
    pub a: Vec<PersonRecord>,
    pub b: Vec<PersonRecord>,
    pub order: Vec<usize>,
}

const SURNAMES: [&str; 30] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: [&str; 40] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "华", "平", "刚", "桂", "兰", "文", "辉", "建", "国", "红", "霞", "峰", "鹏", "燕",
    "宇", "欣", "浩", "婷", "雪", "亮", "琳", "斌",
];
const HOMOPHONE: [(&str, &str); 6] = [
    ("伟", "玮"),
    ("丽", "莉"),
    ("静", "婧"),
    ("军", "君"),
    ("明", "铭"),
    ("华", "桦"),
];
const ROADS: [&str; 8] = [
    "人民南路",
    "天府大道",
    "蜀都大道",
    "春熙路",
    "建设路",
    "红星路",
    "青龙街",
    "总府路",
];
const COUNTIES: [(&str, &str); 8] = [
    ("510104", "锦江区"),
    ("510105", "青羊区"),
    ("510106", "金牛区"),
    ("510107", "武侯区"),
    ("510108", "成华区"),
    ("510112", "龙泉驿区"),
    ("510113", "青白江区"),
    ("510114", "新都区"),
];

struct Person {
    id: String,
    name: String,
    sex: &'static str,
    birth: NaiveDate,
    county: usize,
    street: String,
}

/// A source's copy of a person, with its own mistakes.
fn copy(p: &Person, rng: &mut rand_chacha::ChaCha8Rng, loose: bool) -> PersonRecord {
    let r = |rng: &mut rand_chacha::ChaCha8Rng, p: f64| rng.random_bool(p);
    let factor = if loose { 2.0 } else { 1.0 };
    let id = if r(rng, 0.05 * factor) {
        String::new()
    } else if r(rng, 0.03 * factor) {
        let mut b = p.id.clone().into_bytes();
        let at = rng.random_range(6..17);
        b[at] = b'0' + (b[at] - b'0' + 1 + rng.random_range(0..8)) % 10;
        String::from_utf8(b).unwrap_or_default()
    } else {
        p.id.clone()
    };
    let mut name = p.name.clone();
    if r(rng, 0.02 * factor) {
        for (a, b) in HOMOPHONE {
            if name.contains(a) {
                name = name.replacen(a, b, 1);
                break;
            }
        }
    }
    let birth = if r(rng, 0.01 * factor) {
        p.birth
            .checked_add_days(chrono::Days::new(rng.random_range(1..9)))
            .unwrap_or(p.birth)
    } else {
        p.birth
    };
    let street = if r(rng, 0.05 * factor) {
        format!(
            "{}{}号",
            ROADS[rng.random_range(0..8)],
            rng.random_range(1..500)
        )
    } else {
        p.street.clone()
    };
    PersonRecord {
        id,
        name,
        sex: Some(p.sex.to_string()),
        birth: Some(birth),
        address: Some(parse_address(&format!(
            "四川省成都市{}{street}",
            COUNTIES[p.county].1
        ))),
    }
}

/// `n` people, one record each in A and in B.
pub fn two_sources(n: usize, seed: u64) -> TwoSources {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let people: Vec<Person> = (0..n)
        .map(|k| {
            let given = if rng.random_bool(0.7) {
                format!(
                    "{}{}",
                    GIVEN[rng.random_range(0..40)],
                    GIVEN[rng.random_range(0..40)]
                )
            } else {
                GIVEN[rng.random_range(0..40)].to_string()
            };
            let birth = NaiveDate::from_ymd_opt(
                rng.random_range(1940..2020),
                rng.random_range(1..13),
                rng.random_range(1..29),
            )
            .unwrap_or_default();
            let county = rng.random_range(0..8);
            let seq = format!("{:03}", k % 1000);
            let body = format!("{}{}{seq}", COUNTIES[county].0, birth.format("%Y%m%d"));
            let id = format!(
                "{body}{}",
                yishu_types::citizen_id::check_char(body.as_bytes())
            );
            Person {
                sex: if (seq.as_bytes()[2] - b'0') % 2 == 1 {
                    "1"
                } else {
                    "2"
                },
                id,
                name: format!("{}{given}", SURNAMES[rng.random_range(0..30)]),
                birth,
                county,
                street: format!(
                    "{}{}号",
                    ROADS[rng.random_range(0..8)],
                    rng.random_range(1..500)
                ),
            }
        })
        .collect();
    let src_a: Vec<PersonRecord> = people.iter().map(|p| copy(p, &mut rng, false)).collect();
    // Source B in another order: row k of B is person order[k].
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let src_b: Vec<PersonRecord> = order
        .iter()
        .map(|&p| copy(&people[p], &mut rng, true))
        .collect();
    TwoSources {
        a: src_a,
        b: src_b,
        order,
    }
}
