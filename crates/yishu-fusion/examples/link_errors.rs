//! Where linking goes wrong on the generated two-source task: precision, recall, and a sample of
//! false links, misses and reviews with their comparison vectors. For tuning the model:
//! `cargo run --release -p yishu-fusion --example link_errors -- 200000`.

use std::collections::HashMap;
use yishu_fusion::fellegi_sunter::Thresholds;
use yishu_fusion::link::{compare_records, link_people};
use yishu_gen::city::linkage::two_sources;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let t = two_sources(n, 2026);
    let mut all = t.a.clone();
    all.extend(t.b.iter().cloned());
    let started = std::time::Instant::now();
    let linked = link_people(&all, Thresholds::default());
    eprintln!("linked in {:.2}s", started.elapsed().as_secs_f64());
    let model = linked.model.clone().expect("model");
    // Person of each record.
    let person = |i: usize| if i < n { i } else { t.order[i - n] };
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, s) in linked.subject.iter().enumerate() {
        if let Some(s) = s {
            members.entry(*s).or_default().push(i);
        }
    }
    let (mut made, mut right) = (0u64, 0u64);
    let mut wrong = Vec::new();
    for m in members.values() {
        for &x in m.iter().filter(|&&x| x < n) {
            for &y in m.iter().filter(|&&y| y >= n) {
                made += 1;
                if person(y) == x {
                    right += 1;
                } else {
                    wrong.push((x, y));
                }
            }
        }
    }
    // Misses: A row k and its B row not in one subject.
    let mut b_of = vec![0; n];
    for (k, &p) in t.order.iter().enumerate() {
        b_of[p] = n + k;
    }
    let reviewed: HashMap<usize, (usize, f64)> =
        linked.review.iter().map(|r| (r.0, (r.1, r.2))).collect();
    let mut missed = Vec::new();
    for (x, &y) in b_of.iter().enumerate() {
        if linked.subject[x].is_none() || linked.subject[x] != linked.subject[y] {
            missed.push((x, y));
        }
    }
    let p = right as f64 / made.max(1) as f64;
    let r = right as f64 / n as f64;
    println!(
        "made {made} right {right} P {p:.4} R {r:.4} F1 {:.4} review {} collisions {}",
        2.0 * p * r / (p + r),
        linked.review.len(),
        linked.collisions.len()
    );
    let show = |label: &str, pairs: &[(usize, usize)]| {
        let mut kinds: HashMap<String, usize> = HashMap::new();
        for &(x, y) in pairs {
            let v = compare_records(&all[x], &all[y]);
            let why = format!(
                "{v:?} ax={} ay={} rev={}",
                linked.subject[x].is_some(),
                linked.subject[y].is_some(),
                reviewed.contains_key(&x) || reviewed.contains_key(&y)
            );
            *kinds.entry(why).or_default() += 1;
        }
        let mut kinds: Vec<_> = kinds.into_iter().collect();
        kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
        println!("{label}: {}", pairs.len());
        for (k, c) in kinds.iter().take(15) {
            println!("  {c:>6}  {k}");
        }
        for &(x, y) in pairs.iter().take(6) {
            let v = compare_records(&all[x], &all[y]);
            println!(
                "    {:?} w={:.1}\n      {:?}\n      {:?}",
                v,
                model.weight(&v),
                all[x],
                all[y]
            );
        }
    };
    show("false links", &wrong);
    show("missed", &missed);
    println!("model: {model:?}");
}
