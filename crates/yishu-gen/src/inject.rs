//! Problem injection: each row gets at most one problem, with probability `rate`, chosen from the
//! kinds that make sense for the file. Every injected problem is returned so it can be logged in the
//! ground truth at the row's real location.

use crate::names::{HOMOPHONES, TRADITIONAL, substitute, to_full_width};
use crate::out::Cell;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

/// Which columns of a row hold what, for choosing a problem.
#[derive(Default, Clone, Copy)]
pub struct Cols {
    pub id: Option<(usize, &'static str)>,
    pub name: Option<(usize, &'static str)>,
    pub date: Option<(usize, &'static str)>,
    pub text: Option<(usize, &'static str)>,
    /// A numeric column and an impossible value for it.
    pub number: Option<(usize, &'static str, f64)>,
}

/// One injected problem.
pub struct Problem {
    pub kind: &'static str,
    pub column: &'static str,
    pub true_value: String,
    pub given: String,
}

/// A row after injection, and possibly a duplicate of it to write right after.
pub struct Injected {
    pub row: Vec<Cell>,
    pub problem: Option<Problem>,
    pub dup: Option<(Vec<Cell>, Problem)>,
}

const ROW_KINDS: &[&str] = &[
    "bad_check_digit",
    "mixed_date_format",
    "missing_value",
    "name_homophone",
    "name_traditional",
    "name_stray_space",
    "id_full_width",
    "out_of_range",
    "exact_duplicate",
    "near_duplicate",
];

pub fn maybe(rng: &mut ChaCha8Rng, rate: f64, mut row: Vec<Cell>, cols: Cols) -> Injected {
    if rate <= 0.0 || !rng.random_bool(rate) {
        return Injected {
            row,
            problem: None,
            dup: None,
        };
    }
    let kind = *ROW_KINDS.choose(rng).unwrap_or(&"missing_value");
    match kind {
        "exact_duplicate" => {
            let p = Problem {
                kind,
                column: "*",
                true_value: String::new(),
                given: String::new(),
            };
            let dup = row.clone();
            Injected {
                row,
                problem: None,
                dup: Some((dup, p)),
            }
        }
        "near_duplicate" => {
            let mut dup = row.clone();
            match name_variant(rng, &mut dup, cols) {
                Some(mut p) => {
                    p.kind = "near_duplicate";
                    Injected {
                        row,
                        problem: None,
                        dup: Some((dup, p)),
                    }
                }
                None => Injected {
                    row,
                    problem: None,
                    dup: None,
                },
            }
        }
        _ => {
            let problem = apply(rng, kind, &mut row, cols);
            Injected {
                row,
                problem,
                dup: None,
            }
        }
    }
}

fn name_variant(rng: &mut ChaCha8Rng, row: &mut [Cell], cols: Cols) -> Option<Problem> {
    let kinds = ["name_homophone", "name_traditional", "name_stray_space"];
    let k = *kinds.choose(rng).unwrap_or(&"name_stray_space");
    apply(rng, k, row, cols).or_else(|| apply(rng, "name_stray_space", row, cols))
}

fn apply(
    rng: &mut ChaCha8Rng,
    kind: &'static str,
    row: &mut [Cell],
    cols: Cols,
) -> Option<Problem> {
    match kind {
        "bad_check_digit" => {
            let (i, c) = cols.id?;
            let id = row[i].text();
            let last = id.chars().last()?;
            let alt = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X'];
            let other = alt.iter().filter(|a| **a != last).collect::<Vec<_>>();
            let pick = **other.choose(rng)?;
            let mut bad: String = id.chars().take(id.chars().count() - 1).collect();
            bad.push(pick);
            {
                let g = Cell::S(bad);
                set(row, kind, i, c, g)
            }
        }
        "id_full_width" => {
            let (i, c) = cols.id?;
            {
                let g = Cell::S(to_full_width(&row[i].text()));
                set(row, kind, i, c, g)
            }
        }
        "mixed_date_format" => {
            let (i, c) = cols.date?;
            let d = match &row[i] {
                Cell::Date(d) => *d,
                Cell::S(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?,
                Cell::Num(_) => return None,
            };
            let fmt = ["%Y/%-m/%-d", "%Y%m%d", "%Y年%-m月%-d日", "%Y.%m.%d"]
                .choose(rng)
                .copied()
                .unwrap_or("%Y%m%d");
            let given = Cell::S(d.format(fmt).to_string());
            // Keep the true value in canonical form for the truth file.
            let true_value = d.format("%Y-%m-%d").to_string();
            row[i] = given.clone();
            Some(Problem {
                kind,
                column: c,
                true_value,
                given: given.text(),
            })
        }
        "missing_value" => {
            let (i, c) = cols.text.or(cols.name)?;
            {
                let g = Cell::S(String::new());
                set(row, kind, i, c, g)
            }
        }
        "name_homophone" => {
            let (i, c) = cols.name?;
            {
                let g = Cell::S(substitute(&row[i].text(), HOMOPHONES)?);
                set(row, kind, i, c, g)
            }
        }
        "name_traditional" => {
            let (i, c) = cols.name?;
            {
                let g = Cell::S(substitute(&row[i].text(), TRADITIONAL)?);
                set(row, kind, i, c, g)
            }
        }
        "name_stray_space" => {
            let (i, c) = cols.name?;
            let name = row[i].text();
            let mut chars = name.chars();
            let first = chars.next()?;
            let rest: String = chars.collect();
            let spaced = match rng.random_range(0..3) {
                0 => format!("{first} {rest}"),
                1 => format!("{name} "),
                _ => format!("{first}\u{3000}{rest}"),
            };
            {
                let g = Cell::S(spaced);
                set(row, kind, i, c, g)
            }
        }
        "out_of_range" => {
            if let Some((i, c, bad)) = cols.number {
                return set(row, kind, i, c, Cell::Num(bad));
            }
            let (i, c) = cols.date?;
            let future = chrono::NaiveDate::from_ymd_opt(rng.random_range(2031..2099), 1, 1)?;
            {
                let g = Cell::S(future.format("%Y-%m-%d").to_string());
                set(row, kind, i, c, g)
            }
        }
        _ => None,
    }
}

fn set(
    row: &mut [Cell],
    kind: &'static str,
    idx: usize,
    column: &'static str,
    given: Cell,
) -> Option<Problem> {
    let true_value = row[idx].text();
    let given_text = given.text();
    if given_text == true_value {
        return None;
    }
    row[idx] = given;
    Some(Problem {
        kind,
        column,
        true_value,
        given: given_text,
    })
}
