//! Measuring fusion against the synthetic city's truth: person linkage precision and recall,
//! golden values, injected conflicts found, and the same per injected problem kind.

use super::plan::attr;
use anyhow::{Context, Result, anyhow};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use yishu_fusion::plan::Plan;
use yishu_lake::arrow::array::{Array, StringArray};
use yishu_lake::lineage::ODS_REF;
use yishu_lake::{Lake, Layer};
use yishu_meta::Store;

/// Linkage and golden-record accuracy against the city's truth.
pub struct Accuracy {
    /// Over every person record.
    pub all: Measure,
    /// Per attribute: (compared, right).
    pub per_attribute: BTreeMap<String, (u64, u64)>,
    /// Per injected conflict kind: (injected, another department gives the attribute, found).
    pub conflicts: BTreeMap<String, (u64, u64, u64)>,
    /// Per injected problem kind: linkage of the pairs that involve a record with the problem,
    /// and golden values of the people who have such a record.
    pub per_kind: BTreeMap<String, Measure>,
    /// Golden values that differ from the truth: person, attribute, truth, golden value, and the
    /// problems injected into the person's records.
    pub misses: Vec<String>,
}

/// Linkage and golden-value counts: over the whole city, or where one kind of problem was
/// injected.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Measure {
    /// Linked person records (that carry the problem, for a kind).
    pub records: u64,
    pub pairs_true: u64,
    pub pairs_made: u64,
    pub pairs_right: u64,
    pub attributes_compared: u64,
    pub attributes_right: u64,
}

impl Measure {
    /// `None` where there is no pair (nothing to judge).
    pub fn precision(&self) -> Option<f64> {
        (self.pairs_made > 0).then(|| self.pairs_right as f64 / self.pairs_made as f64)
    }
    pub fn recall(&self) -> Option<f64> {
        (self.pairs_true > 0).then(|| self.pairs_right as f64 / self.pairs_true as f64)
    }
    pub fn golden(&self) -> Option<f64> {
        (self.attributes_compared > 0)
            .then(|| self.attributes_right as f64 / self.attributes_compared as f64)
    }
}

impl Accuracy {
    pub fn precision(&self) -> f64 {
        self.all.precision().unwrap_or(0.0)
    }
    pub fn recall(&self) -> f64 {
        self.all.recall().unwrap_or(0.0)
    }
    pub fn golden(&self) -> f64 {
        self.all.golden().unwrap_or(0.0)
    }
    pub fn meets(&self) -> bool {
        self.precision() >= 0.99
            && self.recall() >= 0.99
            && self.golden() >= 0.995
            && self
                .conflicts
                .values()
                .all(|(_, checkable, found)| found >= checkable)
    }
}

fn text_col(b: &yishu_lake::arrow::array::RecordBatch, name: &str) -> Result<StringArray> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| anyhow!("no column {name}"))?;
    let c = yishu_lake::arrow::compute::cast(c, &yishu_lake::arrow::datatypes::DataType::Utf8)?;
    c.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| anyhow!("column {name} is not text"))
}

async fn read_all(lake: &Lake, table: &str) -> Result<Vec<yishu_lake::arrow::array::RecordBatch>> {
    let frame = lake
        .frame(Layer::Base, table)
        .await?
        .ok_or_else(|| anyhow!("base.{table} does not exist: run `yishu fusion run` first"))?;
    Ok(frame.collect().await?)
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Measures the base libraries against `city/truth`.
pub async fn accuracy(store: &Store, lake: &Lake, city: &Path) -> Result<Accuracy> {
    let truth_dir = city.join("truth");
    // (file, location) → true person.
    let mut truth: HashMap<(String, String), String> = HashMap::new();
    let mut rd = csv::Reader::from_path(truth_dir.join("record_subjects.csv"))
        .with_context(|| format!("cannot read {}", truth_dir.display()))?;
    for x in rd.records() {
        let x = x?;
        if &x[2] == "person" {
            truth.insert((x[0].to_string(), x[1].to_string()), x[3].to_string());
        }
    }
    // The roles that describe the row's own person (the truth maps a row to one person; a
    // birth record's mother is another person on the same row).
    let primary = |role: &str| matches!(role, "本人" | "子女" | "接种者");
    // (resource, column) → the attributes it gives, to tell which injected values the plan reads.
    let plan: Plan = serde_json::from_value(
        store
            .fusion_plan()
            .await?
            .ok_or_else(|| anyhow!("no fusion plan has been saved"))?
            .body,
    )?;
    let mut reads: HashMap<(String, String), Vec<String>> = HashMap::new();
    for src in &plan.sources {
        for at in &src.attributes {
            if let yishu_fusion::plan::ValueOf::Column { column } = &at.value {
                reads
                    .entry((src.resource.clone(), column.clone()))
                    .or_default()
                    .push(at.attribute.clone());
            }
        }
    }
    let mut resource_of: HashMap<String, String> = HashMap::new(); // ods_ref → resource
    let mut predicted: HashMap<String, String> = HashMap::new(); // ods_ref → subject
    for b in read_all(lake, yishu_fusion::schema::RECORDS_TABLE).await? {
        let (kind, key, role, res, r) = (
            text_col(&b, "subject_kind")?,
            text_col(&b, "subject_key")?,
            text_col(&b, "role")?,
            text_col(&b, "resource")?,
            text_col(&b, ODS_REF)?,
        );
        for i in 0..b.num_rows() {
            if kind.value(i) != "person" || !primary(role.value(i)) {
                continue;
            }
            predicted.insert(r.value(i).to_string(), key.value(i).to_string());
            resource_of.insert(r.value(i).to_string(), res.value(i).to_string());
        }
    }
    let mut a = Accuracy {
        all: Measure::default(),
        per_attribute: BTreeMap::new(),
        conflicts: BTreeMap::new(),
        per_kind: BTreeMap::new(),
        misses: Vec::new(),
    };
    let split = |r: &str| -> Option<(String, String)> {
        r.split_once(':')
            .map(|(f, l)| (f.to_string(), l.to_string()))
    };
    let mut by_truth: HashMap<&str, u64> = HashMap::new();
    let mut by_pred: HashMap<&str, u64> = HashMap::new();
    let mut by_both: HashMap<(&str, &str), u64> = HashMap::new();
    for (r, s) in &predicted {
        let Some(t) = split(r).and_then(|k| truth.get(&k)) else {
            continue;
        };
        a.all.records += 1;
        *by_truth.entry(t).or_default() += 1;
        *by_pred.entry(s).or_default() += 1;
        *by_both.entry((t, s)).or_default() += 1;
    }
    a.all.pairs_true = by_truth.values().map(|n| pairs(*n)).sum();
    a.all.pairs_made = by_pred.values().map(|n| pairs(*n)).sum();
    a.all.pairs_right = by_both.values().map(|n| pairs(*n)).sum();
    // Each true person's subject: the one most of their records went to.
    let mut subject_of: HashMap<&str, (&str, u64)> = HashMap::new();
    for ((t, s), n) in &by_both {
        let e = subject_of.entry(t).or_insert((s, 0));
        if *n > e.1 {
            *e = (s, *n);
        }
    }
    // Golden values.
    let mut golden: HashMap<String, HashMap<String, String>> = HashMap::new();
    // (subject, attribute) → (another department gives a value, flagged as a conflict).
    let mut checked: HashMap<(String, String), (bool, bool)> = HashMap::new();
    let attrs = [
        (attr::NAME, "name"),
        (attr::SEX, "sex"),
        (attr::ETHNICITY, "ethnicity"),
        (attr::BIRTH, "birth_date"),
        (attr::DIVISION, "division"),
        (attr::ADDRESS, "address"),
        (attr::MARITAL, "marital_status"),
        (attr::DEATH, "death_date"),
    ];
    for b in read_all(lake, "population").await? {
        let key = text_col(&b, "subject_key")?;
        let prov = text_col(&b, "_provenance")?;
        for i in 0..b.num_rows() {
            let p: serde_json::Value = serde_json::from_str(prov.value(i)).unwrap_or_default();
            for (attr, v) in p.as_object().into_iter().flatten() {
                // A conflict is a disagreement with the authority: checkable only where the
                // authority gave the value (not where its row was kept out of std, e.g. for a bad
                // ID, and a fallback decided among the others).
                let others = v["by"] == "authority"
                    && (v["agree"].as_array().is_some_and(|a| !a.is_empty())
                        || v["disagree"].as_array().is_some_and(|a| !a.is_empty()));
                let conflict = v["conflict"].as_bool().unwrap_or(false);
                checked.insert((key.value(i).to_string(), attr.clone()), (others, conflict));
            }
        }
        let cols: Vec<(&str, Option<StringArray>)> = attrs
            .iter()
            .map(|(a, _)| (*a, text_col(&b, a).ok()))
            .collect();
        for i in 0..b.num_rows() {
            let m = golden.entry(key.value(i).to_string()).or_default();
            for (a, c) in &cols {
                if let Some(c) = c
                    && !c.is_null(i)
                {
                    m.insert(a.to_string(), c.value(i).to_string());
                }
            }
        }
    }
    // Per true person: (attributes compared, right), for the per-kind figures.
    let mut person_golden: HashMap<String, (u64, u64)> = HashMap::new();
    let mut rd = csv::Reader::from_path(truth_dir.join("people.csv"))?;
    let headers = rd.headers()?.clone();
    for x in rd.records() {
        let x = x?;
        let id = &x[0];
        let Some((s, _)) = subject_of.get(id) else {
            continue;
        };
        let Some(g) = golden.get(*s) else {
            continue;
        };
        for (attr, col) in attrs {
            let Some(k) = headers.iter().position(|h| h == col) else {
                continue;
            };
            let want = x[k].trim();
            let got = g.get(attr).map(|v| v.trim()).unwrap_or("");
            let e = a.per_attribute.entry(attr.to_string()).or_default();
            e.0 += 1;
            a.all.attributes_compared += 1;
            let p = person_golden.entry(id.to_string()).or_default();
            p.0 += 1;
            if want == got {
                e.1 += 1;
                a.all.attributes_right += 1;
                p.1 += 1;
            } else if a.misses.len() < 1000 {
                a.misses
                    .push(format!("{id} {attr}: truth {want:?}, golden {got:?}"));
            }
        }
    }
    // Injected conflicts: the record's subject has the attribute flagged as a conflict (which
    // is what opens the work order), when another department gives the attribute at all.
    let truth_of_record = |r: &str| -> Option<String> {
        r.split_once(':')
            .and_then(|(f, l)| truth.get(&(f.to_string(), l.to_string())))
            .cloned()
    };
    let mut rd = csv::Reader::from_path(truth_dir.join("problems.csv"))?;
    // Record → the kinds injected into it, for the per-kind figures.
    let mut kinds_of: HashMap<String, Vec<String>> = HashMap::new();
    for x in rd.records() {
        let x = x?;
        let kind = &x[3];
        kinds_of
            .entry(format!("{}:{}", &x[0], &x[1]))
            .or_default()
            .push(kind.to_string());
        let attribute = match kind {
            "conflict_marital_status" => attr::MARITAL,
            "death_not_reported" => attr::HOUSEHOLD_STATUS,
            "name_traditional" | "name_homophone" => attr::NAME,
            _ => continue,
        };
        let r = format!("{}:{}", &x[0], &x[1]);
        let e = a.conflicts.entry(kind.to_string()).or_default();
        e.0 += 1;
        let seen = predicted
            .get(&r)
            .and_then(|s| checked.get(&(s.clone(), attribute.to_string())))
            .copied()
            .unwrap_or_default();
        // The plan reads the injected value (a column it maps to the attribute, or a status).
        let read = attribute != attr::NAME
            || resource_of
                .get(&r)
                .and_then(|res| reads.get(&(res.clone(), x[2].to_string())))
                .is_some_and(|a| a.iter().any(|a| a == attribute));
        if seen.0 && read {
            e.1 += 1;
        }
        // A traditional spelling that cleaning turned into the simplified one (the `simplify`
        // fix) is mended, not a conflict left to find.
        let mended = kind == "name_traditional"
            && predicted
                .get(&r)
                .and_then(|s| golden.get(s))
                .and_then(|g| g.get(attribute))
                .is_some_and(|v| v.trim() == x[4].trim());
        if seen.1 || mended {
            e.2 += 1;
        } else if seen.0 && read {
            a.misses.push(format!(
                "{} {attribute}: {kind} at {r} not flagged (given {:?}, truth {:?})",
                truth_of_record(&r).unwrap_or_default(),
                &x[5],
                &x[4]
            ));
        }
    }
    a.per_kind = per_kind(&predicted, &truth, &kinds_of, &person_golden, &a.all);
    // Name the problems behind each miss: the kinds injected into the person's records.
    let mut kinds_of_person: HashMap<&str, Vec<String>> = HashMap::new();
    for (r, kinds) in &kinds_of {
        let t = r
            .split_once(':')
            .and_then(|(f, l)| truth.get(&(f.to_string(), l.to_string())));
        if let Some(t) = t {
            for k in kinds {
                kinds_of_person
                    .entry(t)
                    .or_default()
                    .push(format!("{k}@{r}"));
            }
        }
    }
    for m in &mut a.misses {
        let id = m.split(' ').next().unwrap_or_default().to_string();
        let kinds = kinds_of_person
            .get(id.as_str())
            .cloned()
            .unwrap_or_default();
        m.push_str(&format!(" — injected: {}", kinds.join(", ")));
    }
    Ok(a)
}

/// Linkage and golden values where each kind of problem was injected. The pairs that involve a
/// record with the kind are all pairs less those among the records without it.
fn per_kind(
    predicted: &HashMap<String, String>,
    truth: &HashMap<(String, String), String>,
    kinds_of: &HashMap<String, Vec<String>>,
    person_golden: &HashMap<String, (u64, u64)>,
    all: &Measure,
) -> BTreeMap<String, Measure> {
    let truth_of = |r: &str| {
        r.split_once(':')
            .and_then(|(f, l)| truth.get(&(f.to_string(), l.to_string())))
    };
    let kinds: std::collections::BTreeSet<&String> = kinds_of.values().flatten().collect();
    let mut out = BTreeMap::new();
    for kind in kinds {
        let has = |r: &str| kinds_of.get(r).is_some_and(|k| k.contains(kind));
        let mut x = Measure::default();
        let mut by_truth: HashMap<&str, u64> = HashMap::new();
        let mut by_pred: HashMap<&str, u64> = HashMap::new();
        let mut by_both: HashMap<(&str, &str), u64> = HashMap::new();
        let mut people: std::collections::HashSet<&str> = Default::default();
        for (r, s) in predicted {
            let Some(t) = truth_of(r) else { continue };
            if has(r) {
                x.records += 1;
                people.insert(t);
                continue;
            }
            *by_truth.entry(t).or_default() += 1;
            *by_pred.entry(s).or_default() += 1;
            *by_both.entry((t, s)).or_default() += 1;
        }
        x.pairs_true = all.pairs_true - by_truth.values().map(|n| pairs(*n)).sum::<u64>();
        x.pairs_made = all.pairs_made - by_pred.values().map(|n| pairs(*n)).sum::<u64>();
        x.pairs_right = all.pairs_right - by_both.values().map(|n| pairs(*n)).sum::<u64>();
        for p in people {
            let (n, r) = person_golden.get(p).copied().unwrap_or_default();
            x.attributes_compared += n;
            x.attributes_right += r;
        }
        out.insert(kind.clone(), x);
    }
    out
}

impl std::fmt::Display for Accuracy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "person linkage over {} records: pairs true {}, made {}, right {} → precision {:.4}, recall {:.4} (target ≥ 0.99 each)",
            self.all.records,
            self.all.pairs_true,
            self.all.pairs_made,
            self.all.pairs_right,
            self.precision(),
            self.recall()
        )?;
        writeln!(
            f,
            "golden values equal to the truth: {} of {} = {:.4} (target ≥ 0.995)",
            self.all.attributes_right,
            self.all.attributes_compared,
            self.golden()
        )?;
        for (a, (n, r)) in &self.per_attribute {
            writeln!(
                f,
                "  {a:<8} {r:>7} / {n:<7} {:.4}",
                *r as f64 / (*n).max(1) as f64
            )?;
        }
        writeln!(
            f,
            "injected conflicts flagged (each opens a work order) or mended by cleaning: found / cross-checked by another department / injected"
        )?;
        for (k, (n, checkable, found)) in &self.conflicts {
            writeln!(f, "  {k:<24} {found} / {checkable} / {n}")?;
        }
        writeln!(
            f,
            "per injected problem kind (pairs with a record that has it; golden values of its people):"
        )?;
        writeln!(
            f,
            "  {:<24} {:>8} {:>9} {:>9} {:>9}",
            "kind", "records", "precision", "recall", "golden"
        )?;
        let show = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
        for (k, x) in &self.per_kind {
            writeln!(
                f,
                "  {k:<24} {:>8} {:>9} {:>9} {:>9}",
                x.records,
                show(x.precision()),
                show(x.recall()),
                show(x.golden())
            )?;
        }
        Ok(())
    }
}
