//! Linking person records to subjects (R18): by key where the key is valid, otherwise by the
//! Fellegi–Sunter model over candidates found through several blocking keys (halves of the ID
//! number, name sound with birth year, name sound with county), so finding a record's person
//! never depends on one field being right. A valid key that two clearly different people share is
//! a collision and goes to review — never merged silently; so does a record that would link to two
//! subjects.

use crate::address::{Address, AddressLevel, address_level};
use crate::compare::{DateLevel, NameLevel, date_level, fold_name, name_level, pinyin_of};
use crate::fellegi_sunter::{Decision, FieldSpec, Model, Patterns, Thresholds};
use crate::key::{SubjectKind, normalize_key};
use chrono::{Datelike, NaiveDate};
use std::collections::{HashMap, HashSet};

/// What linking reads of a person record.
#[derive(Debug, Clone, Default)]
pub struct PersonRecord {
    /// 公民身份号码 as written (may be empty or wrong).
    pub id: String,
    pub name: String,
    /// Sex code (GB/T 2261.1: 1 male, 2 female), if the source has it.
    pub sex: Option<String>,
    pub birth: Option<NaiveDate>,
    pub address: Option<Address>,
}

/// What linking decided.
#[derive(Debug, Clone, Default)]
pub struct Linked {
    /// Per record: the subject it belongs to.
    pub subject: Vec<Option<usize>>,
    /// Each subject's key (its canonical 公民身份号码).
    pub keys: Vec<String>,
    /// (record, subject, probability) pairs for a person to decide.
    pub review: Vec<(usize, usize, f64)>,
    /// Records whose valid key belongs to a clearly different person.
    pub collisions: Vec<usize>,
    /// The fitted model, when any record needed it.
    pub model: Option<Model>,
}

/// The attributes a subject is compared by: from its first record that has each.
#[derive(Default)]
struct Rep {
    name: String,
    sex: Option<String>,
    birth: Option<NaiveDate>,
    address: Option<Address>,
}

/// The comparison fields, their level counts and their "missing" level.
fn specs() -> Vec<FieldSpec> {
    [
        ("id", 4, 3),
        ("name", 5, 4),
        ("birth", 5, 4),
        ("sex", 3, 2),
        ("address", 5, 4),
    ]
    .iter()
    .map(|(n, l, neutral)| FieldSpec {
        name: n.to_string(),
        levels: *l,
        neutral: Some(*neutral),
    })
    .collect()
}

/// The name level of two wholly different names.
const NAME_DIFFERENT: u8 = 3;

/// How much better (log₂ Bayes factor) the best subject must be than the next to be linked
/// without a person: 64 times likelier.
const MARGIN: f64 = 6.0;

/// Random pairs that estimate how often each level occurs among non-matches.
const RANDOM_PAIRS: usize = 50_000;

/// Pairs of records sharing a valid key that m is counted from, at most (plenty for a few
/// levels per field) and at least (fewer, and EM estimates m alone).
const KNOWN_PAIRS: usize = 200_000;
const MIN_KNOWN_PAIRS: u64 = 200;
/// How many pairs' worth of the generic start the known pairs' m is smoothed with.
const PSEUDO_PAIRS: f64 = 100.0;

/// Candidates per blocking key at most: a bigger block says too little to be worth comparing.
const BLOCK_LIMIT: usize = 64;

fn id_level(raw: &str, key: &str) -> u8 {
    // A second person on a shared number is keyed `number#name sound`.
    let key = key.split('#').next().unwrap_or(key);
    let folded: String = yishu_types::text::fold_width(raw)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if folded.is_empty() {
        return 3;
    }
    if folded.len() != key.len() {
        return 2;
    }
    match folded
        .bytes()
        .zip(key.bytes())
        .filter(|(a, b)| a != b)
        .count()
    {
        0 | 1 => 0,
        2 => 1,
        _ => 2,
    }
}

fn name_code(l: NameLevel) -> u8 {
    match l {
        NameLevel::Exact | NameLevel::Folded => 0,
        NameLevel::Pinyin => 1,
        NameLevel::Similar => 2,
        NameLevel::Different => 3,
        NameLevel::Missing => 4,
    }
}

fn birth_code(l: DateLevel) -> u8 {
    match l {
        DateLevel::Exact => 0,
        DateLevel::Slip => 1,
        DateLevel::Near => 2,
        DateLevel::Different => 3,
        DateLevel::Missing => 4,
    }
}

/// Birth dates this many days apart are "near" (a slipped registration), further apart
/// "different".
const BIRTH_NEAR_DAYS: i64 = 31;

fn address_code(l: AddressLevel) -> u8 {
    match l {
        AddressLevel::Exact => 0,
        AddressLevel::Street => 1,
        AddressLevel::Division => 2,
        AddressLevel::Different => 3,
        AddressLevel::Missing => 4,
    }
}

fn compare(r: &PersonRecord, key: &str, s: &Rep) -> Vec<u8> {
    let sex = match (&r.sex, &s.sex) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => u8::from(a != b),
        _ => 2,
    };
    let address = match (&r.address, &s.address) {
        (Some(a), Some(b)) => address_code(address_level(a, b)),
        _ => 4,
    };
    vec![
        id_level(&r.id, key),
        name_code(name_level(&r.name, &s.name)),
        birth_code(date_level(r.birth, s.birth, BIRTH_NEAR_DAYS)),
        sex,
        address,
    ]
}

/// The comparison vector of two records (id, name, birth, sex, address levels), as the model
/// sees it.
pub fn compare_records(a: &PersonRecord, b: &PersonRecord) -> Vec<u8> {
    let rep = Rep {
        name: b.name.clone(),
        sex: b.sex.clone().filter(|s| !s.is_empty()),
        birth: b.birth,
        address: b.address.clone(),
    };
    let mut v = compare(a, &b.id, &rep);
    if b.id.trim().is_empty() {
        v[0] = 3;
    }
    v
}

/// Blocking keys of a record (or of a subject's representative with its key).
pub fn record_blocks(r: &PersonRecord) -> Vec<String> {
    blocks(&r.id, &r.name, r.birth, r.address.as_ref())
}

fn blocks(
    id: &str,
    name: &str,
    birth: Option<NaiveDate>,
    address: Option<&Address>,
) -> Vec<String> {
    let mut out = Vec::new();
    let id: String = yishu_types::text::fold_width(id)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    // Three parts of the number (division, birth date, sequence and check), blocked two at a
    // time: one mistyped digit leaves one pair whole.
    if id.len() == 18 && id.is_ascii() {
        let (d, b, q) = (&id[..6], &id[6..14], &id[14..]);
        out.push(format!("db:{d}{b}"));
        out.push(format!("dq:{d}{q}"));
        out.push(format!("bq:{b}{q}"));
    }
    let sound = pinyin_of(&fold_name(name));
    if !sound.is_empty() {
        if let Some(b) = birth {
            out.push(format!("n:{sound}:{}", b.year()));
        }
        if let Some(d) = address.and_then(|a| a.division.as_deref()) {
            out.push(format!("c:{sound}:{d}"));
        }
    }
    out
}

/// Links the records: by valid key first, then by the model for the rest.
pub fn link_people(records: &[PersonRecord], thresholds: Thresholds) -> Linked {
    link_people_with(records, thresholds, None, 0)
}

/// Links the records with a model fitted before (an incremental run uses the one the last full
/// run fitted on the whole library: a batch says too little to fit one), or fits one. The first
/// `settled` records stand for existing subjects (one record each, an incremental run's
/// anchors): new records join them, but they never move to another subject or merge.
pub fn link_people_with(
    records: &[PersonRecord],
    thresholds: Thresholds,
    fitted: Option<&Model>,
    settled: usize,
) -> Linked {
    let mut linked = Linked {
        subject: vec![None; records.len()],
        ..Default::default()
    };
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut reps: Vec<Rep> = Vec::new();
    let mut first: Vec<usize> = Vec::new();
    let mut known = Patterns::default();
    let mut pool = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let Ok(key) = normalize_key(SubjectKind::Person, &r.id) else {
            pool.push(i);
            continue;
        };
        let s = *by_key.entry(key.clone()).or_insert_with(|| {
            linked.keys.push(key.clone());
            reps.push(Rep::default());
            first.push(i);
            reps.len() - 1
        });
        let rep = &mut reps[s];
        // The same number on a clearly different name: two people given one number (重号, born
        // the same day in the same county, so the birth date cannot tell them apart) or a
        // renamed person — a person decides; never merged.
        if !rep.name.is_empty() && name_level(&r.name, &rep.name) == NameLevel::Different {
            linked.collisions.push(i);
            // The other person's records still belong together, as their own subject.
            let other = format!("{key}#{}", pinyin_of(&fold_name(&r.name)));
            let s = *by_key.entry(other.clone()).or_insert_with(|| {
                linked.keys.push(other);
                reps.push(Rep {
                    name: r.name.clone(),
                    sex: r.sex.clone().filter(|s| !s.is_empty()),
                    birth: r.birth,
                    address: r.address.clone(),
                });
                first.push(i);
                reps.len() - 1
            });
            linked.subject[i] = Some(s);
            continue;
        }
        linked.subject[i] = Some(s);
        // Records that share a valid key show how a person's records differ between sources:
        // the model's m for everything but the key.
        if first[s] != i && known.pairs() < KNOWN_PAIRS as u64 {
            known.add(&compare_records(&records[first[s]], r));
        }
        if rep.name.is_empty() {
            rep.name = r.name.clone();
        }
        if rep.sex.is_none() {
            rep.sex = r.sex.clone().filter(|s| !s.is_empty());
        }
        if rep.birth.is_none() {
            rep.birth = r.birth;
        }
        if rep.address.is_none() {
            rep.address = r.address.clone();
        }
    }
    if pool.is_empty() && fitted.is_none() {
        return linked;
    }
    // Blocks over the subjects.
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (s, rep) in reps.iter().enumerate() {
        for b in blocks(&linked.keys[s], &rep.name, rep.birth, rep.address.as_ref()) {
            index.entry(b).or_default().push(s);
        }
    }
    // Candidate pairs and their comparison vectors.
    let mut pairs: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    let mut patterns = Patterns::default();
    for &i in pool.iter().filter(|&&i| i >= settled) {
        let r = &records[i];
        let mut seen = HashSet::new();
        for b in blocks(&r.id, &r.name, r.birth, r.address.as_ref()) {
            let Some(cands) = index.get(&b) else {
                continue;
            };
            if cands.len() > BLOCK_LIMIT {
                continue;
            }
            for &s in cands {
                if seen.insert(s) {
                    let v = compare(r, &linked.keys[s], &reps[s]);
                    patterns.add(&v);
                    pairs.push((i, s, v));
                }
            }
        }
    }
    if pairs.is_empty() && fitted.is_none() {
        return linked;
    }
    let model = match fitted {
        Some(m) => m.clone(),
        None => fit_model(
            records,
            &pool,
            &linked.keys,
            &reps,
            &known,
            &pairs,
            &patterns,
        ),
    };
    decide_pool(&pairs, &model, thresholds, &mut linked);
    relink_lone_keys(
        records,
        &reps,
        &index,
        &model,
        (thresholds, settled),
        &mut linked,
    );
    link_leftovers(records, &pool, &model, (thresholds, settled), &mut linked);
    linked.model = Some(model);
    linked
}

/// Fits the model: u from random pairs, m from records sharing a valid key, EM for the rest.
fn fit_model(
    records: &[PersonRecord],
    pool: &[usize],
    keys: &[String],
    reps: &[Rep],
    known: &Patterns,
    pairs: &[(usize, usize, Vec<u8>)],
    patterns: &Patterns,
) -> Model {
    // u from random pairs of pool records and subjects (almost all of them non-matches).
    let mut random = Patterns::default();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for _ in 0..RANDOM_PAIRS.min(pool.len() * reps.len()) {
        let i = pool[next(pool.len())];
        let s = next(reps.len());
        random.add(&compare(&records[i], &keys[s], &reps[s]));
    }
    // At most one match per record among its candidates; most records that found candidates
    // found their match.
    let with_candidates = pairs.iter().map(|p| p.0).collect::<HashSet<_>>().len();
    let prior = 0.9 * with_candidates as f64 / pairs.len() as f64;
    let mut model = Model::start(&specs(), prior).with_u_from(&random);
    if known.pairs() >= MIN_KNOWN_PAIRS {
        model = model.with_m_from(known, &[1, 2, 3, 4], PSEUDO_PAIRS);
    }
    model.with_fixed_prior(prior).fit(patterns, 200, 1e-6)
}

/// Each pool record: its best subject, linked, sent to review or left alone.
fn decide_pool(
    pairs: &[(usize, usize, Vec<u8>)],
    model: &Model,
    thresholds: Thresholds,
    linked: &mut Linked,
) {
    // Each pool record: its best subject, unless another is nearly as good (then a person
    // decides which, if either).
    let mut best: HashMap<usize, Vec<(usize, f64, u8, u8)>> = HashMap::new();
    for (i, s, v) in pairs {
        best.entry(*i)
            .or_default()
            .push((*s, model.weight(v), v[0], v[1]));
    }
    for (i, mut cands) in best {
        cands.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (s, w, id, name) = cands[0];
        let p = model.probability_of_weight(w);
        let clear = cands.get(1).is_none_or(|c| w - c.1 >= MARGIN);
        // A wholly different name is never linked without a person: the ID, birth date and
        // county all encode the same facts, so two neighbours born the same day in one county
        // (numbers two digits apart) would otherwise look alike. One digit off (a typo of this
        // very number) is worth a look; more is another person.
        let decision = match (name == NAME_DIFFERENT, id) {
            (true, 0) => Decision::Review.min_with(thresholds.decide(p)),
            (true, _) => Decision::NoLink,
            (false, _) => thresholds.decide(p),
        };
        match decision {
            Decision::Link if clear => linked.subject[i] = Some(s),
            Decision::Link | Decision::Review => linked.review.push((i, s, p)),
            Decision::NoLink => {}
        }
    }
    linked.review.sort_by_key(|r| r.0);
}

/// A mistyped number can still pass its check digit (one typo in ten): its record then has a key
/// nobody else has. A subject of one record whose number is within two digits of another
/// subject's, and that the model links clearly to it, joins that subject.
fn relink_lone_keys(
    records: &[PersonRecord],
    reps: &[Rep],
    index: &HashMap<String, Vec<usize>>,
    model: &Model,
    (thresholds, settled): (Thresholds, usize),
    linked: &mut Linked,
) {
    let mut size = vec![0usize; linked.keys.len()];
    for s in linked.subject.iter().flatten() {
        size[*s] += 1;
    }
    // Subjects of the settled records: those an incremental run found in the library.
    let mut existing = vec![false; linked.keys.len()];
    for s in linked.subject[..settled.min(linked.subject.len())]
        .iter()
        .flatten()
    {
        existing[*s] = true;
    }
    let lone: Vec<(usize, usize)> = linked
        .subject
        .iter()
        .enumerate()
        .skip(settled)
        .filter_map(|(i, s)| s.filter(|s| size[*s] == 1).map(|s| (i, s)))
        .collect();
    // Merges are decided first and applied as unions, so two lone subjects that point at each
    // other end up as one.
    let mut parent: Vec<usize> = (0..linked.keys.len()).collect();
    for (i, own) in lone {
        let r = &records[i];
        let mut cands: Vec<(usize, f64)> = Vec::new();
        for b in blocks(&r.id, &r.name, r.birth, r.address.as_ref()) {
            let Some(list) = index.get(&b) else {
                continue;
            };
            if list.len() > BLOCK_LIMIT {
                continue;
            }
            for &s in list {
                if s == own || s >= reps.len() || cands.iter().any(|c| c.0 == s) {
                    continue;
                }
                let v = compare(r, &linked.keys[s], &reps[s]);
                if v[0] <= 1 && v[1] != NAME_DIFFERENT {
                    cands.push((s, model.weight(&v)));
                }
            }
        }
        cands.sort_by(|a, b| b.1.total_cmp(&a.1));
        let Some(&(s, w)) = cands.first() else {
            continue;
        };
        let clear = cands.get(1).is_none_or(|c| w - c.1 >= MARGIN);
        if clear && thresholds.decide(model.probability_of_weight(w)) == Decision::Link {
            let (a, b) = (root(&mut parent, own), root(&mut parent, s));
            // The subject with more records stays, else an existing one, else the smaller
            // number: never the order the records came in, which a full run takes from the
            // table's files and which changes as batches arrive.
            let rank = |s: usize| (std::cmp::Reverse(size[s]), !existing[s], &linked.keys[s]);
            let keep = if rank(a) <= rank(b) { a } else { b };
            let other = if keep == a { b } else { a };
            parent[other] = keep;
        }
    }
    for s in linked.subject.iter_mut().flatten() {
        *s = root(&mut parent, *s);
    }
}

/// Records that found no subject are linked among themselves: a person whose number is wrong or
/// missing in every source still becomes one subject (keyed `~` + the record's position).
fn link_leftovers(
    records: &[PersonRecord],
    pool: &[usize],
    model: &Model,
    (thresholds, settled): (Thresholds, usize),
    linked: &mut Linked,
) {
    let reviewed: HashSet<usize> = linked.review.iter().map(|r| r.0).collect();
    let left: Vec<usize> = pool
        .iter()
        .copied()
        .filter(|&i| linked.subject[i].is_none() && !reviewed.contains(&i))
        .collect();
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (p, &i) in left.iter().enumerate() {
        let r = &records[i];
        for b in blocks(&r.id, &r.name, r.birth, r.address.as_ref()) {
            index.entry(b).or_default().push(p);
        }
    }
    // Union–find over the leftovers.
    let mut parent: Vec<usize> = (0..left.len()).collect();
    let mut done: HashSet<(usize, usize)> = HashSet::new();
    for members in index.values() {
        if members.len() < 2 || members.len() > BLOCK_LIMIT {
            continue;
        }
        for (k, &p) in members.iter().enumerate() {
            for &q in &members[k + 1..] {
                // Two existing subjects never merge here.
                if !done.insert((p.min(q), p.max(q))) || (left[p] < settled && left[q] < settled) {
                    continue;
                }
                let v = compare_records(&records[left[p]], &records[left[q]]);
                if v[1] != NAME_DIFFERENT
                    && thresholds.decide(model.probability(&v)) == Decision::Link
                {
                    let (x, y) = (root(&mut parent, p), root(&mut parent, q));
                    parent[x.max(y)] = x.min(y);
                }
            }
        }
    }
    let mut subject_of_root: HashMap<usize, usize> = HashMap::new();
    let mut size: HashMap<usize, usize> = HashMap::new();
    for p in 0..left.len() {
        *size.entry(root(&mut parent, p)).or_default() += 1;
    }
    for p in 0..left.len() {
        let r = root(&mut parent, p);
        if size[&r] < 2 {
            continue;
        }
        let s = *subject_of_root.entry(r).or_insert_with(|| {
            linked.keys.push(format!("~{}", left[r]));
            linked.keys.len() - 1
        });
        linked.subject[left[p]] = Some(s);
    }
}

/// The representative of `x` in a union–find forest (halving the path on the way).
fn root(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}
