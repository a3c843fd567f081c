//! Watermarks on granted downloads (R36): every file carries its download's 64-bit code, one
//! bit per row, so a leaked file names the download it came from — also shuffled, half of it
//! deleted, re-encoded (UTF-8 ↔ GBK) or converted (XLSX → CSV).
//!
//! A row's bit is chosen by a keyed hash of the row's own values (trimmed), so neither the
//! row's place nor its neighbours matter; the hash also picks the carrier cell (a non-empty
//! one) and whitens the bit. The mark is a trailing space on the carrier, or none: invisible,
//! kept by every encoding and by spreadsheets. Reading votes each row into its bit; a file is
//! attributed only when at least [`MIN_KNOWN`] bits are read and a download's code differs in
//! at most one in sixteen of them — for an unmarked file that is a chance below 10⁻⁸ per
//! download, so it is reported unmarked, never misattributed.

use serde::Serialize;
use std::path::Path;
use yishu_types::{Error, ErrorCode};

/// Bits of a download's code.
pub const BITS: usize = 64;
/// Bits a reading must know before it says anything (fewer: too few rows to tell).
pub const MIN_KNOWN: u32 = 48;

/// The installation's marking key (one for every download: reading needs no download yet).
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    pub fn new(secret: &[u8]) -> Key {
        Key(blake3::derive_key("yishu watermark v1", secret))
    }

    /// The row's hash over its trimmed values: which bit it carries (low 6 bits), the whitening
    /// (bit 6) and the carrier among its non-empty cells (the rest).
    fn of_row<S: AsRef<str>>(&self, cells: &[S]) -> u64 {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        for c in cells {
            h.update(c.as_ref().trim().as_bytes());
            h.update(&[0x1f]);
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&h.finalize().as_bytes()[..8]);
        u64::from_le_bytes(b)
    }
}

/// The installation's key, from its secret (the same in every process of one installation).
pub fn key_for(store: &yishu_meta::Store) -> Key {
    Key::new(store.secret_hash("watermark key").as_bytes())
}

/// The carrier cell of a row (the hash's pick among the non-empty cells), if any.
fn carrier<S: AsRef<str>>(cells: &[S], h: u64) -> Option<usize> {
    let filled: Vec<usize> = (0..cells.len())
        .filter(|&i| !cells[i].as_ref().trim().is_empty())
        .collect();
    (!filled.is_empty()).then(|| filled[((h >> 7) % filled.len() as u64) as usize])
}

/// Marks rows with one download's code.
#[derive(Clone)]
pub struct Marker {
    key: Key,
    code: u64,
}

impl Marker {
    pub fn new(key: Key, code: u64) -> Marker {
        Marker { key, code }
    }

    /// The row with its bit: the carrier's trailing whitespace replaced by one space or none.
    pub fn mark(&self, mut cells: Vec<String>) -> Vec<String> {
        let h = self.key.of_row(&cells);
        if let Some(c) = carrier(&cells, h) {
            let bit = ((self.code >> (h % BITS as u64)) ^ (h >> 6)) & 1;
            let v = cells[c].trim_end().to_string();
            cells[c] = if bit == 1 { v + " " } else { v };
        }
        cells
    }
}

/// Votes for each bit of a code, read from rows.
#[derive(Debug, Clone)]
pub struct Reading {
    ones: [u32; BITS],
    zeros: [u32; BITS],
    pub rows: u64,
}

impl Reading {
    pub fn new() -> Reading {
        Reading {
            ones: [0; BITS],
            zeros: [0; BITS],
            rows: 0,
        }
    }

    /// Reads one row's vote.
    pub fn row<S: AsRef<str>>(&mut self, key: &Key, cells: &[S]) {
        let h = key.of_row(cells);
        let Some(c) = carrier(cells, h) else { return };
        self.rows += 1;
        let spaced = cells[c].as_ref().ends_with(' ') as u64;
        let j = (h % BITS as u64) as usize;
        if (spaced ^ (h >> 6)) & 1 == 1 {
            self.ones[j] += 1;
        } else {
            self.zeros[j] += 1;
        }
    }

    /// The bits a majority decided: (which are known, their values).
    pub fn bits(&self) -> (u64, u64) {
        let (mut known, mut value) = (0u64, 0u64);
        for j in 0..BITS {
            if self.ones[j] != self.zeros[j] {
                known |= 1 << j;
                if self.ones[j] > self.zeros[j] {
                    value |= 1 << j;
                }
            }
        }
        (known, value)
    }
}

impl Default for Reading {
    fn default() -> Self {
        Reading::new()
    }
}

/// What a file's marks say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Attribution {
    /// It came from this download: its code differs in `distance` of the `known` bits read.
    Download { id: i64, distance: u32, known: u32 },
    /// Enough bits were read and no download's code is near them.
    Unmarked { known: u32 },
    /// Too few rows carried a bit to tell (fewer than [`MIN_KNOWN`] bits known).
    TooFewRows { rows: u64, known: u32 },
}

/// Attributes a reading to one of `downloads` (id, code), or to none.
pub fn attribute(r: &Reading, downloads: &[(i64, u64)]) -> Attribution {
    let (known, value) = r.bits();
    let k = known.count_ones();
    if k < MIN_KNOWN {
        return Attribution::TooFewRows {
            rows: r.rows,
            known: k,
        };
    }
    let best = downloads
        .iter()
        .map(|&(id, code)| (((code ^ value) & known).count_ones(), id))
        .min();
    match best {
        Some((d, id)) if d <= k / 16 => Attribution::Download {
            id,
            distance: d,
            known: k,
        },
        _ => Attribution::Unmarked { known: k },
    }
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!(
            "cannot read {} as CSV, XLSX or Parquet: {e}",
            path.display()
        ),
    )
}

/// Reads the marks of a file as a download wrote it or as someone made it since: a workbook,
/// a Parquet file, or CSV in UTF-8 (with or without BOM) or GBK; the first row of a workbook or
/// CSV is its heading.
pub fn read_file(key: &Key, path: &Path) -> Result<Reading, Error> {
    let bytes = std::fs::read(path).map_err(|e| unreadable(path, e))?;
    let mut r = Reading::new();
    if bytes.starts_with(b"PK\x03\x04") {
        use calamine::{Reader, open_workbook_auto_from_rs};
        let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e| unreadable(path, e))?;
        let Some(sheet) = book.sheet_names().first().cloned() else {
            return Ok(r);
        };
        let range = book
            .worksheet_range(&sheet)
            .map_err(|e| unreadable(path, e))?;
        for row in range.rows().skip(1) {
            let cells: Vec<String> = row.iter().map(|c| c.to_string()).collect();
            r.row(key, &cells);
        }
    } else if bytes.starts_with(b"PAR1") {
        use yishu_lake::datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let file = std::fs::File::open(path).map_err(|e| unreadable(path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| unreadable(path, e))?;
        for batch in reader {
            let batch = batch.map_err(|e| unreadable(path, e))?;
            for row in yishu_lake::text_rows(&batch) {
                r.row(key, &row);
            }
        }
    } else {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let text = match std::str::from_utf8(body) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => encoding_rs::GBK.decode_without_bom_handling(body).0,
        };
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.as_bytes());
        for rec in csv.records() {
            let rec = rec.map_err(|e| unreadable(path, e))?;
            let cells: Vec<&str> = rec.iter().collect();
            r.row(key, &cells);
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, seq::SliceRandom};

    fn rows(n: usize, rng: &mut impl Rng) -> Vec<Vec<String>> {
        let family = ["张", "李", "王", "刘", "陈"];
        (0..n)
            .map(|i| {
                vec![
                    format!("5101071990{:08}", rng.random_range(0..100_000_000u64)),
                    format!("{}某{i}", family[i % 5]),
                    if i % 3 == 0 {
                        String::new()
                    } else {
                        "20".into()
                    },
                ]
            })
            .collect()
    }

    #[test]
    fn a_thousand_downloads_each_found_and_no_file_misattributed() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let key = Key::new(b"installation secret");
        let downloads: Vec<(i64, u64)> = (1..=1000).map(|id| (id, rng.random())).collect();
        let mut too_few = 0;
        for &(id, code) in &downloads {
            let n = rng.random_range(300..700);
            let plain = rows(n, &mut rng);
            let m = Marker::new(key.clone(), code);
            let mut marked: Vec<Vec<String>> = plain.iter().cloned().map(|r| m.mark(r)).collect();
            // A leak: shuffled, half of it gone.
            marked.shuffle(&mut rng);
            marked.truncate(n / 2);
            let mut r = Reading::new();
            marked.iter().for_each(|row| r.row(&key, row));
            match attribute(&r, &downloads) {
                Attribution::Download { id: got, .. } => assert_eq!(got, id),
                Attribution::TooFewRows { .. } => too_few += 1,
                other => panic!("download {id} read as {other:?}"),
            }
            // The same rows never marked: never attributed.
            let mut r = Reading::new();
            plain.iter().for_each(|row| r.row(&key, row));
            assert!(
                !matches!(attribute(&r, &downloads), Attribution::Download { .. }),
                "an unmarked file was attributed"
            );
        }
        assert!(
            too_few < 10,
            "{too_few} leaks of 150+ rows could not be told"
        );
    }

    #[test]
    fn a_mark_is_a_trailing_space_and_nothing_else() {
        let key = Key::new(b"k");
        let m = Marker::new(key, u64::MAX);
        let rows: Vec<Vec<String>> = (0..50)
            .map(|i| vec![format!("{i}  "), "甲".into(), String::new()])
            .collect();
        for r in rows {
            let out = m.mark(r.clone());
            // Only the carrier changes, and only in its trailing whitespace.
            let changed: Vec<usize> = (0..3).filter(|&c| r[c] != out[c]).collect();
            assert!(changed.len() <= 1, "{r:?} → {out:?}");
            for c in changed {
                assert_eq!(r[c].trim_end(), out[c].trim_end());
                assert!(out[c].len() <= r[c].trim_end().len() + 1);
            }
            assert_eq!(out[2], "", "an empty cell stays empty");
        }
    }
}
