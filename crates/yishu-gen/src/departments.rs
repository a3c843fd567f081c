//! One writer per department, each in the shape that department hands over.

use crate::city::datasets::{
    canbao, dibao, fangwu, gongjijin, huji, hunyin, qiye, siwang, weijian,
};
use crate::inject::{self, Cols, Injected};
use crate::names::{ETHNICITIES, HOSPITALS};
use crate::out::{Cell, ColKind, CsvOut, Encoding, NdjsonOut, ParquetOut, XlsxOut};
use crate::{City, GenError, Truth, today};
use chrono::{Duration, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use sqlx::Connection;
use std::path::Path;

/// Somewhere rows go: a CSV file, an XLSX sheet or an NDJSON file.
trait Sink {
    fn put(&mut self, cells: &[Cell]) -> Result<String, GenError>;
}

impl Sink for ParquetOut {
    fn put(&mut self, cells: &[Cell]) -> Result<String, GenError> {
        self.row(cells)
    }
}

impl Sink for CsvOut {
    fn put(&mut self, cells: &[Cell]) -> Result<String, GenError> {
        self.row(cells)
    }
}

struct Sheet<'a> {
    book: &'a mut XlsxOut,
    idx: usize,
}

impl Sink for Sheet<'_> {
    fn put(&mut self, cells: &[Cell]) -> Result<String, GenError> {
        self.book.row(self.idx, cells)
    }
}

struct Json<'a> {
    w: &'a mut NdjsonOut,
    kind: &'static str,
    keys: &'static [&'static str],
}

impl Sink for Json<'_> {
    fn put(&mut self, cells: &[Cell]) -> Result<String, GenError> {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(self.kind.into()));
        for (k, c) in self.keys.iter().zip(cells) {
            let v = match c {
                Cell::Num(n) => json!(n),
                Cell::S(s) if s.is_empty() => Value::Null,
                other => Value::String(other.text()),
            };
            m.insert((*k).into(), v);
        }
        self.w.row(&Value::Object(m))
    }
}

/// Writes an injected row (and its duplicate), logging problems and subjects at their locations.
fn emit(
    sink: &mut dyn Sink,
    truth: &mut Truth,
    file: &str,
    inj: Injected,
    subject: Option<(&str, &str)>,
) -> Result<String, GenError> {
    let loc = sink.put(&inj.row)?;
    if let Some(p) = &inj.problem {
        truth.problem(file, &loc, p.column, p.kind, &p.true_value, &p.given)?;
    }
    if let Some((k, id)) = subject {
        truth.subject(file, &loc, k, id)?;
    }
    if let Some((row, p)) = inj.dup {
        let l = sink.put(&row)?;
        truth.problem(file, &l, p.column, p.kind, &p.true_value, &p.given)?;
        if let Some((k, id)) = subject {
            truth.subject(file, &l, k, id)?;
        }
    }
    Ok(loc)
}

fn d(date: NaiveDate) -> Cell {
    Cell::S(date.format("%Y-%m-%d").to_string())
}

impl City {
    /// 公安 household register: CSV in GB18030 with codes for sex (GB/T 2261.1), ethnicity
    /// (GB 3304) and marital status (GB/T 2261.2).
    pub(crate) fn write_gongan(
        &mut self,
        out: &Path,
        rate: f64,
        rng: &mut ChaCha8Rng,
        truth: &mut Truth,
    ) -> Result<usize, GenError> {
        const FILE: &str = huji::FILE;
        let mut w = CsvOut::create(&out.join(FILE), Encoding::Gb18030, &huji::DATASET.header())?;
        let cols = Cols {
            id: Some((0, huji::ID)),
            name: Some((1, huji::NAME)),
            date: Some((4, huji::BIRTH)),
            text: Some((6, huji::ADDRESS)),
            number: None,
        };
        for i in 0..self.people.len() {
            let p = &self.people[i];
            let unreported = self.unreported_deaths.contains(&i);
            let death = p.death.filter(|_| !unreported);
            let true_marital = p.marital(&self.people);
            // 公安 sometimes keeps a stale marital status that 民政's registrations contradict.
            let conflict = p.spouse.is_some() && rng.random_bool((rate / 2.0).min(1.0));
            let marital = if conflict {
                if true_marital == "20" { "10" } else { "20" }
            } else {
                true_marital
            };
            let row = vec![
                p.id.clone().into(),
                p.name.clone().into(),
                (if p.sex == 1 { "1" } else { "2" }).into(),
                ETHNICITIES[p.ethnicity].0.into(),
                d(p.birth),
                marital.into(),
                p.address.clone().into(),
                p.division.into(),
                (if death.is_some() { "注销" } else { "正常" }).into(),
                (if death.is_some() { "死亡" } else { "" }).into(),
                Cell::S(
                    death
                        .map(|x| x.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                ),
            ];
            let inj = if conflict || unreported {
                Injected {
                    row,
                    problem: None,
                    dup: None,
                }
            } else {
                inject::maybe(rng, rate, row, cols)
            };
            let id = self.people[i].id.clone();
            let loc = emit(&mut w, truth, FILE, inj, Some(("person", &id)))?;
            if conflict {
                truth.problem(
                    FILE,
                    &loc,
                    huji::MARITAL,
                    "conflict_marital_status",
                    true_marital,
                    marital,
                )?;
            }
            if unreported {
                truth.problem(
                    FILE,
                    &loc,
                    huji::STATUS,
                    "death_not_reported",
                    "注销",
                    "正常",
                )?;
            }
        }
        w.finish()
    }

    /// 民政 registrations: marriages/divorces and deaths, two sheets of one workbook.
    pub(crate) fn write_minzheng(
        &mut self,
        out: &Path,
        rate: f64,
        rng: &mut ChaCha8Rng,
        truth: &mut Truth,
    ) -> Result<usize, GenError> {
        const FILE: &str = hunyin::FILE;
        let mut book = XlsxOut::new();
        let marriages = book.sheet(hunyin::SHEET, &hunyin::DATASET.header())?;
        let deaths = book.sheet(siwang::SHEET, &siwang::DATASET.header())?;
        let cols = Cols {
            id: Some((1, hunyin::HUSBAND_ID)),
            name: Some((2, hunyin::HUSBAND_NAME)),
            date: Some((5, hunyin::DATE)),
            text: Some((6, hunyin::OFFICE)),
            number: None,
        };
        let mut rows = 0;
        let mut formula_done = false;
        for i in 0..self.people.len() {
            let p = &self.people[i];
            let (Some(s), Some(on)) = (p.spouse, p.married_on) else {
                continue;
            };
            if p.sex != 1 {
                continue;
            }
            let w = &self.people[s];
            let office = format!("成都市{}民政局婚姻登记处", self.division_name(p.division));
            let mk = |kind: &str, date: NaiveDate| -> Vec<Cell> {
                vec![
                    kind.into(),
                    p.id.clone().into(),
                    p.name.clone().into(),
                    w.id.clone().into(),
                    w.name.clone().into(),
                    Cell::Date(date),
                    office.clone().into(),
                ]
            };
            let pair = format!("{}+{}", p.id, w.id);
            let row = mk("结婚", on);
            let divorced = p.divorced_on;
            let inj = inject::maybe(rng, rate, row, cols);
            emit(
                &mut Sheet {
                    book: &mut book,
                    idx: marriages,
                },
                truth,
                FILE,
                inj,
                Some(("marriage", &pair)),
            )?;
            rows += 1;
            if let Some(dv) = divorced {
                let row = mk("离婚", dv);
                emit(
                    &mut Sheet {
                        book: &mut book,
                        idx: marriages,
                    },
                    truth,
                    FILE,
                    Injected {
                        row,
                        problem: None,
                        dup: None,
                    },
                    Some(("marriage", &pair)),
                )?;
                rows += 1;
            }
            if !formula_done && rate > 0.0 {
                // A hand-edited cell whose formula lost its reference (#REF!).
                book.formula_error(marriages, 7)?;
                truth.problem(
                    FILE,
                    &format!("婚姻登记!{}", rows + 1),
                    "H",
                    "formula_error",
                    "",
                    "#REF!",
                )?;
                formula_done = true;
            }
        }
        let dcols = Cols {
            id: Some((0, siwang::ID)),
            name: Some((1, siwang::NAME)),
            date: Some((2, siwang::DATE)),
            text: None,
            number: None,
        };
        for p in &self.people {
            let Some(dd) = p.death else { continue };
            let row = vec![
                p.id.clone().into(),
                p.name.clone().into(),
                Cell::Date(dd),
                format!("成都市{}民政局", self.division_name(p.division)).into(),
            ];
            let inj = inject::maybe(rng, rate, row, dcols);
            emit(
                &mut Sheet {
                    book: &mut book,
                    idx: deaths,
                },
                truth,
                FILE,
                inj,
                Some(("person", &p.id)),
            )?;
            rows += 1;
        }
        let counts = book.save(&out.join(FILE))?;
        Ok(counts.iter().sum::<usize>().max(rows))
    }

    /// 人社 social-insurance enrolment: UTF-8 CSV with the employer's credit code.
    pub(crate) fn write_renshe(
        &mut self,
        out: &Path,
        rate: f64,
        rng: &mut ChaCha8Rng,
        truth: &mut Truth,
    ) -> Result<usize, GenError> {
        const FILE: &str = canbao::FILE;
        let mut w = CsvOut::create(&out.join(FILE), Encoding::Utf8, &canbao::DATASET.header())?;
        let cols = Cols {
            id: Some((0, canbao::ID)),
            name: Some((1, canbao::NAME)),
            date: Some((5, canbao::SINCE)),
            text: Some((3, canbao::EMPLOYER)),
            number: None,
        };
        let t = today();
        for k in 0..self.employment.len() {
            let (pi, ei, since) = self.employment[k];
            let (p, e) = (&self.people[pi], &self.entities[ei]);
            let stale = rng.random_bool((rate / 2.0).min(1.0));
            let updated = if stale {
                since.min(t - Duration::days(800))
            } else {
                t - Duration::days(rng.random_range(0..60))
            };
            let row = vec![
                p.id.clone().into(),
                p.name.clone().into(),
                e.code.clone().into(),
                e.name.clone().into(),
                "城镇职工基本养老保险".into(),
                d(since),
                "正常缴费".into(),
                d(updated),
            ];
            let inj = if stale {
                Injected {
                    row,
                    problem: None,
                    dup: None,
                }
            } else {
                inject::maybe(rng, rate, row, cols)
            };
            let loc = emit(
                &mut w,
                truth,
                FILE,
                inj,
                Some(("person", &self.people[pi].id)),
            )?;
            if stale {
                truth.problem(
                    FILE,
                    &loc,
                    canbao::UPDATED,
                    "stale_record",
                    "",
                    &updated.to_string(),
                )?;
            }
        }
        w.finish()
    }

    /// 公积金中心 housing-fund accounts: a Parquet file with typed columns (dates as dates,
    /// amounts as numbers), the shape a data warehouse export has.
    pub(crate) fn write_gongjijin(
        &mut self,
        out: &Path,
        rate: f64,
        rng: &mut ChaCha8Rng,
        truth: &mut Truth,
    ) -> Result<usize, GenError> {
        const FILE: &str = gongjijin::FILE;
        let mut w = ParquetOut::create(
            &out.join(FILE),
            &[
                (gongjijin::ID, ColKind::Text),
                (gongjijin::NAME, ColKind::Text),
                (gongjijin::EMPLOYER, ColKind::Text),
                (gongjijin::BASE, ColKind::Num),
                (gongjijin::MONTHLY, ColKind::Num),
                (gongjijin::OPENED, ColKind::Date),
                (gongjijin::STATUS, ColKind::Text),
            ],
        )?;
        let cols = Cols {
            id: Some((0, gongjijin::ID)),
            name: Some((1, gongjijin::NAME)),
            date: None,
            text: Some((2, gongjijin::EMPLOYER)),
            number: None,
        };
        for k in 0..self.employment.len() {
            let (pi, ei, since) = self.employment[k];
            let (p, e) = (&self.people[pi], &self.entities[ei]);
            let base = (rng.random_range(3000..30000) / 10 * 10) as f64;
            let row = vec![
                p.id.clone().into(),
                p.name.clone().into(),
                e.name.clone().into(),
                Cell::Num(base),
                Cell::Num((base * 0.24 * 100.0).round() / 100.0),
                Cell::Date(since),
                (if rng.random_bool(0.9) {
                    "正常"
                } else {
                    "封存"
                })
                .into(),
            ];
            let inj = inject::maybe(rng, rate, row, cols);
            emit(
                &mut w,
                truth,
                FILE,
                inj,
                Some(("person", &self.people[pi].id)),
            )?;
        }
        w.finish()
    }

    /// 卫健 births and vaccinations as NDJSON events.
    pub(crate) fn write_weijian(
        &mut self,
        out: &Path,
        rate: f64,
        rng: &mut ChaCha8Rng,
        truth: &mut Truth,
    ) -> Result<usize, GenError> {
        const FILE: &str = weijian::FILE;
        let mut w = NdjsonOut::create(&out.join(FILE))?;
        const BIRTH_KEYS: &[&str] = weijian::BIRTH_KEYS;
        let bcols = Cols {
            id: Some((0, weijian::CHILD_ID)),
            name: Some((1, weijian::CHILD_NAME)),
            date: Some((3, weijian::BIRTH_DATE)),
            text: Some((6, weijian::HOSPITAL)),
            number: None,
        };
        for i in 0..self.people.len() {
            let Some(m) = self.people[i].mother else {
                continue;
            };
            let (c, mo) = (&self.people[i], &self.people[m]);
            let row = vec![
                c.id.clone().into(),
                c.name.clone().into(),
                (if c.sex == 1 { "1" } else { "2" }).into(),
                d(c.birth),
                mo.id.clone().into(),
                mo.name.clone().into(),
                HOSPITALS[i % HOSPITALS.len()].into(),
            ];
            let inj = inject::maybe(rng, rate, row, bcols);
            let id = self.people[i].id.clone();
            emit(
                &mut Json {
                    w: &mut w,
                    kind: weijian::BIRTH_EVENT,
                    keys: BIRTH_KEYS,
                },
                truth,
                FILE,
                inj,
                Some(("person", &id)),
            )?;
        }
        const VAC_KEYS: &[&str] = weijian::VACCINATION_KEYS;
        let vcols = Cols {
            id: Some((0, weijian::PERSON_ID)),
            name: Some((1, weijian::PERSON_NAME)),
            date: Some((3, weijian::DATE)),
            text: None,
            number: None,
        };
        for k in 0..self.vaccinations.len() {
            let (pi, v, dt) = self.vaccinations[k];
            let p = &self.people[pi];
            let row = vec![
                p.id.clone().into(),
                p.name.clone().into(),
                v.into(),
                d(dt),
                Cell::Num(1.0),
            ];
            let inj = inject::maybe(rng, rate, row, vcols);
            let id = p.id.clone();
            emit(
                &mut Json {
                    w: &mut w,
                    kind: weijian::VACCINATION_EVENT,
                    keys: VAC_KEYS,
                },
                truth,
                FILE,
                inj,
                Some(("person", &id)),
            )?;
        }
        w.finish()
    }

    /// 市场监管 legal entities: XLSX with real Excel dates and the legal representative's ID.
    pub(crate) fn write_shichang(
        &mut self,
        out: &Path,
        rate: f64,
        rng: &mut ChaCha8Rng,
        truth: &mut Truth,
    ) -> Result<usize, GenError> {
        const FILE: &str = qiye::FILE;
        let mut book = XlsxOut::new();
        let s = book.sheet(qiye::SHEET, &qiye::DATASET.header())?;
        let cols = Cols {
            id: Some((0, qiye::CODE)),
            name: None,
            date: Some((5, qiye::FOUNDED)),
            text: Some((6, qiye::SEAT)),
            number: Some((4, qiye::CAPITAL, -500.0)),
        };
        let mut used = std::collections::HashSet::new();
        for e in 0..self.entities.len() {
            // Orphan reference: the representative is not in the register.
            let orphan = rng.random_bool((rate / 2.0).min(1.0));
            if orphan {
                // Spread over ten years: one birth date has only 500 numbers a sex, and a big
                // city has more orphans than that (a 2M city looped for ever on one date).
                let birth = NaiveDate::from_ymd_opt(1970, 5, 5).unwrap_or_default()
                    + chrono::Days::new(e as u64 % 3650);
                let id = crate::make_id(rng, "510104", birth, 1, &mut used);
                let ent = &mut self.entities[e];
                ent.rep = None;
                ent.rep_id = id;
            }
            let ent = &self.entities[e];
            let row = vec![
                ent.code.clone().into(),
                ent.name.clone().into(),
                ent.rep_name.clone().into(),
                ent.rep_id.clone().into(),
                Cell::Num(ent.capital),
                Cell::Date(ent.founded),
                ent.address.clone().into(),
                ent.status.into(),
                ent.division.into(),
            ];
            let inj = if orphan {
                Injected {
                    row,
                    problem: None,
                    dup: None,
                }
            } else {
                inject::maybe(rng, rate, row, cols)
            };
            let code = self.entities[e].code.clone();
            let loc = emit(
                &mut Sheet {
                    book: &mut book,
                    idx: s,
                },
                truth,
                FILE,
                inj,
                Some(("entity", &code)),
            )?;
            if orphan {
                truth.problem(
                    FILE,
                    &loc,
                    qiye::LEGAL_REP_ID,
                    "orphan_reference",
                    "",
                    &self.entities[e].rep_id,
                )?;
            }
        }
        let counts = book.save(&out.join(FILE))?;
        Ok(counts.iter().sum())
    }

    /// 住建 houses and owners: UTF-8 CSV.
    pub(crate) fn write_zhujian(
        &mut self,
        out: &Path,
        rate: f64,
        rng: &mut ChaCha8Rng,
        truth: &mut Truth,
    ) -> Result<usize, GenError> {
        const FILE: &str = fangwu::FILE;
        let mut w = CsvOut::create(&out.join(FILE), Encoding::Utf8, &fangwu::DATASET.header())?;
        let cols = Cols {
            id: Some((3, fangwu::OWNER_ID)),
            name: Some((4, fangwu::OWNER_NAME)),
            date: Some((5, fangwu::REGISTERED)),
            text: Some((1, fangwu::LOCATION)),
            number: Some((2, fangwu::AREA, -12.5)),
        };
        for k in 0..self.houses.len() {
            let h = &self.houses[k];
            let o = &self.people[h.owner];
            let row = vec![
                h.code.clone().into(),
                h.address.clone().into(),
                Cell::Num(h.area),
                o.id.clone().into(),
                o.name.clone().into(),
                d(h.registered),
            ];
            let inj = inject::maybe(rng, rate, row, cols);
            let code = h.code.clone();
            emit(&mut w, truth, FILE, inj, Some(("house", &code)))?;
        }
        w.finish()
    }

    /// 民政's front-end database (前置库): a SQLite table of minimum-living-allowance (低保)
    /// recipients with an `updated_at` watermark for incremental pulls.
    pub(crate) async fn write_frontend_db(
        &mut self,
        out: &Path,
        rng: &mut ChaCha8Rng,
        truth: &mut Truth,
    ) -> Result<usize, GenError> {
        const FILE: &str = dibao::FILE;
        let path = out.join(FILE);
        let _ = std::fs::remove_file(&path);
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .map_err(|e| GenError::Io(format!("{FILE}: {e}")))?;
        let dberr = |e: sqlx::Error| GenError::Io(format!("{FILE}: {e}"));
        // The table and column names are the department table's (identifiers, not values).
        use dibao::{AMOUNT, HOUSEHOLD, ID, NAME, START, STATUS, TABLE, UPDATED};
        let create = format!(
            "CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, {ID} TEXT NOT NULL, {NAME} TEXT NOT NULL, {HOUSEHOLD} INTEGER NOT NULL, {AMOUNT} REAL NOT NULL, {START} TEXT NOT NULL, {STATUS} TEXT NOT NULL, {UPDATED} TEXT NOT NULL)"
        );
        let insert = format!(
            "INSERT INTO {TABLE} (id, {ID}, {NAME}, {HOUSEHOLD}, {AMOUNT}, {START}, {STATUS}, {UPDATED}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        );
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await
            .map_err(dberr)?;
        let mut tx = conn.begin().await.map_err(dberr)?;
        let mut n = 0;
        let base =
            chrono::NaiveDateTime::new(today() - Duration::days(365), chrono::NaiveTime::MIN);
        for p in self.people.iter().filter(|p| p.death.is_none()) {
            if !rng.random_bool(0.01) {
                continue;
            }
            n += 1;
            let updated = base + Duration::minutes(i64::from(n) * 7);
            sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                .bind(n)
                .bind(&p.id)
                .bind(&p.name)
                .bind(rng.random_range(1..6))
                .bind(f64::from(rng.random_range(300..900)))
                .bind(
                    (today() - Duration::days(rng.random_range(30..2000)))
                        .format("%Y-%m")
                        .to_string(),
                )
                .bind("在保")
                .bind(updated.format("%Y-%m-%d %H:%M:%S").to_string())
                .execute(&mut *tx)
                .await
                .map_err(dberr)?;
            truth.subject(FILE, &format!("{TABLE}:{n}"), "person", &p.id)?;
        }
        tx.commit().await.map_err(dberr)?;
        conn.close().await.map_err(dberr)?;
        Ok(n as usize)
    }

    /// The true tables, for tests and accuracy benchmarks.
    pub(crate) fn write_truth(&self, out: &Path) -> Result<(), GenError> {
        let mut w = CsvOut::create(
            &out.join("truth/people.csv"),
            Encoding::Utf8,
            &[
                "id",
                "name",
                "sex",
                "ethnicity",
                "birth_date",
                "division",
                "address",
                "marital_status",
                "spouse_id",
                "mother_id",
                "death_date",
            ],
        )?;
        for p in &self.people {
            let opt = |i: Option<usize>| i.map(|i| self.people[i].id.clone()).unwrap_or_default();
            w.row(&[
                p.id.clone().into(),
                p.name.clone().into(),
                p.sex.to_string().into(),
                ETHNICITIES[p.ethnicity].0.into(),
                d(p.birth),
                p.division.into(),
                p.address.clone().into(),
                p.marital(&self.people).into(),
                opt(p.spouse).into(),
                opt(p.mother).into(),
                Cell::S(p.death.map(|x| x.to_string()).unwrap_or_default()),
            ])?;
        }
        w.finish()?;
        let mut w = CsvOut::create(
            &out.join("truth/entities.csv"),
            Encoding::Utf8,
            &[
                "credit_code",
                "name",
                "legal_rep_id",
                "legal_rep_in_register",
                "capital_wan",
                "founded",
                "address",
                "status",
                "division",
            ],
        )?;
        for e in &self.entities {
            w.row(&[
                e.code.clone().into(),
                e.name.clone().into(),
                e.rep_id.clone().into(),
                (if e.rep.is_some() { "1" } else { "0" }).into(),
                Cell::Num(e.capital),
                d(e.founded),
                e.address.clone().into(),
                e.status.into(),
                e.division.into(),
            ])?;
        }
        w.finish()?;
        let mut w = CsvOut::create(
            &out.join("truth/houses.csv"),
            Encoding::Utf8,
            &["house_code", "address", "area", "owner_id", "registered"],
        )?;
        for h in &self.houses {
            w.row(&[
                h.code.clone().into(),
                h.address.clone().into(),
                Cell::Num(h.area),
                self.people[h.owner].id.clone().into(),
                d(h.registered),
            ])?;
        }
        w.finish()?;
        Ok(())
    }
}
