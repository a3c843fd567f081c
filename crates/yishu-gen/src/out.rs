//! Writers for the departments' file shapes: CSV in UTF-8 or GB18030, XLSX, NDJSON. Each returns
//! the location of every row it writes (CSV line, `Sheet!row`, NDJSON line) for the ground truth.

use chrono::NaiveDate;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::GenError;

/// One cell value. Dates and numbers stay typed for XLSX (Excel serials); CSV writes them as text.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    S(String),
    Date(NaiveDate),
    Num(f64),
}

impl Cell {
    pub fn text(&self) -> String {
        match self {
            Cell::S(s) => s.clone(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Num(n) => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    format!("{}", *n as i64)
                } else {
                    format!("{n:.2}")
                }
            }
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::S(s)
    }
}
impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::S(s.to_string())
    }
}

/// Text encoding of a CSV file.
#[derive(Debug, Clone, Copy)]
pub enum Encoding {
    Utf8,
    Gb18030,
}

/// A CSV file being written.
pub struct CsvOut {
    w: BufWriter<File>,
    enc: Encoding,
    line: usize,
    buf: String,
}

fn quote(s: &str, out: &mut String) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

impl CsvOut {
    pub fn create(path: &Path, enc: Encoding, header: &[&str]) -> Result<Self, GenError> {
        let f = File::create(path).map_err(|e| GenError::io(path, e))?;
        let mut me = CsvOut {
            w: BufWriter::with_capacity(1 << 20, f),
            enc,
            line: 0,
            buf: String::new(),
        };
        let h: Vec<Cell> = header.iter().map(|s| Cell::from(*s)).collect();
        me.row(&h)?;
        Ok(me)
    }

    /// Writes a row and returns its 1-based line number.
    pub fn row(&mut self, cells: &[Cell]) -> Result<String, GenError> {
        self.buf.clear();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            quote(&c.text(), &mut self.buf);
        }
        self.buf.push_str("\r\n");
        let res = match self.enc {
            Encoding::Utf8 => self.w.write_all(self.buf.as_bytes()),
            Encoding::Gb18030 => {
                let (bytes, _, _) = encoding_rs::GB18030.encode(&self.buf);
                self.w.write_all(&bytes)
            }
        };
        res.map_err(|e| GenError::Io(e.to_string()))?;
        self.line += 1;
        Ok(self.line.to_string())
    }

    pub fn finish(mut self) -> Result<usize, GenError> {
        self.w.flush().map_err(|e| GenError::Io(e.to_string()))?;
        Ok(self.line.saturating_sub(1))
    }
}

/// An XLSX workbook with named sheets.
pub struct XlsxOut {
    book: Workbook,
    date: Format,
    rows: Vec<u32>,
    names: Vec<String>,
}

impl XlsxOut {
    pub fn new() -> Self {
        XlsxOut {
            book: Workbook::new(),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            rows: Vec::new(),
            names: Vec::new(),
        }
    }

    /// Adds a sheet with a header row; returns its index.
    pub fn sheet(&mut self, name: &str, header: &[&str]) -> Result<usize, GenError> {
        let ws = self.book.add_worksheet();
        ws.set_name(name).map_err(xerr)?;
        for (c, h) in header.iter().enumerate() {
            ws.write_string(0, c as u16, *h).map_err(xerr)?;
        }
        self.rows.push(1);
        self.names.push(name.to_string());
        Ok(self.rows.len() - 1)
    }

    /// Writes a row to sheet `idx`; returns `Sheet!row` (1-based Excel row).
    pub fn row(&mut self, idx: usize, cells: &[Cell]) -> Result<String, GenError> {
        let r = self.rows[idx];
        let ws: &mut Worksheet = self.book.worksheet_from_index(idx).map_err(xerr)?;
        for (c, cell) in cells.iter().enumerate() {
            let col = c as u16;
            match cell {
                Cell::S(s) => {
                    if !s.is_empty() {
                        ws.write_string(r, col, s).map_err(xerr)?;
                    }
                }
                Cell::Num(n) => {
                    ws.write_number(r, col, *n).map_err(xerr)?;
                }
                Cell::Date(d) => {
                    use chrono::Datelike;
                    let x =
                        ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                            .map_err(xerr)?;
                    ws.write_datetime_with_format(r, col, &x, &self.date)
                        .map_err(xerr)?;
                }
            }
        }
        self.rows[idx] += 1;
        Ok(format!("{}!{}", self.names[idx], r + 1))
    }

    /// Writes a formula that evaluates to an error, as hand-edited sheets contain (`#REF!`).
    pub fn formula_error(&mut self, idx: usize, col: u16) -> Result<(), GenError> {
        let r = self.rows[idx] - 1;
        let ws = self.book.worksheet_from_index(idx).map_err(xerr)?;
        ws.write_formula(r, col, "=#REF!+1").map_err(xerr)?;
        Ok(())
    }

    pub fn save(mut self, path: &Path) -> Result<Vec<usize>, GenError> {
        self.book.save(path).map_err(xerr)?;
        Ok(self.rows.iter().map(|r| *r as usize - 1).collect())
    }
}

fn xerr(e: rust_xlsxwriter::XlsxError) -> GenError {
    GenError::Io(format!("xlsx: {e}"))
}

/// An NDJSON file.
pub struct NdjsonOut {
    w: BufWriter<File>,
    line: usize,
}

impl NdjsonOut {
    pub fn create(path: &Path) -> Result<Self, GenError> {
        let f = File::create(path).map_err(|e| GenError::io(path, e))?;
        Ok(NdjsonOut {
            w: BufWriter::with_capacity(1 << 20, f),
            line: 0,
        })
    }

    pub fn row(&mut self, v: &serde_json::Value) -> Result<String, GenError> {
        serde_json::to_writer(&mut self.w, v).map_err(|e| GenError::Io(e.to_string()))?;
        self.w
            .write_all(b"\n")
            .map_err(|e| GenError::Io(e.to_string()))?;
        self.line += 1;
        Ok(self.line.to_string())
    }

    pub fn finish(mut self) -> Result<usize, GenError> {
        self.w.flush().map_err(|e| GenError::Io(e.to_string()))?;
        Ok(self.line)
    }
}

/// The Arrow type of a Parquet column.
#[derive(Debug, Clone, Copy)]
pub enum ColKind {
    Text,
    Date,
    Num,
}

/// A Parquet file with typed columns, written in row groups of 64k rows.
pub struct ParquetOut {
    schema: std::sync::Arc<arrow::datatypes::Schema>,
    kinds: Vec<ColKind>,
    rows: Vec<Vec<Cell>>,
    w: parquet::arrow::ArrowWriter<File>,
    count: usize,
}

impl ParquetOut {
    pub fn create(path: &Path, columns: &[(&str, ColKind)]) -> Result<Self, GenError> {
        use arrow::datatypes::{DataType, Field, Schema};
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, k)| {
                let t = match k {
                    ColKind::Text => DataType::Utf8,
                    ColKind::Date => DataType::Date32,
                    ColKind::Num => DataType::Float64,
                };
                Field::new(*n, t, true)
            })
            .collect();
        let schema = std::sync::Arc::new(Schema::new(fields));
        let f = File::create(path).map_err(|e| GenError::io(path, e))?;
        let w = parquet::arrow::ArrowWriter::try_new(f, schema.clone(), None)
            .map_err(|e| GenError::Io(format!("parquet: {e}")))?;
        Ok(ParquetOut {
            schema,
            kinds: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
            w,
            count: 0,
        })
    }

    /// Buffers a row; its location is its 1-based row number.
    pub fn row(&mut self, cells: &[Cell]) -> Result<String, GenError> {
        self.rows.push(cells.to_vec());
        self.count += 1;
        if self.rows.len() == 65536 {
            self.flush()?;
        }
        Ok(self.count.to_string())
    }

    fn flush(&mut self) -> Result<(), GenError> {
        use arrow::array::{ArrayRef, Date32Builder, Float64Builder, StringBuilder};
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let cols: Vec<ArrayRef> = self
            .kinds
            .iter()
            .enumerate()
            .map(|(c, k)| -> ArrayRef {
                let cells = self.rows.iter().map(|r| &r[c]);
                match k {
                    ColKind::Text => {
                        let mut b = StringBuilder::new();
                        for v in cells {
                            match v {
                                Cell::S(s) if s.is_empty() => b.append_null(),
                                v => b.append_value(v.text()),
                            }
                        }
                        std::sync::Arc::new(b.finish())
                    }
                    ColKind::Date => {
                        let mut b = Date32Builder::new();
                        for v in cells {
                            match v {
                                Cell::Date(d) => b.append_value((*d - epoch).num_days() as i32),
                                _ => b.append_null(),
                            }
                        }
                        std::sync::Arc::new(b.finish())
                    }
                    ColKind::Num => {
                        let mut b = Float64Builder::new();
                        for v in cells {
                            match v {
                                Cell::Num(n) => b.append_value(*n),
                                _ => b.append_null(),
                            }
                        }
                        std::sync::Arc::new(b.finish())
                    }
                }
            })
            .collect();
        self.rows.clear();
        let batch = arrow::array::RecordBatch::try_new(self.schema.clone(), cols)
            .map_err(|e| GenError::Io(format!("parquet: {e}")))?;
        self.w
            .write(&batch)
            .map_err(|e| GenError::Io(format!("parquet: {e}")))
    }

    pub fn finish(mut self) -> Result<usize, GenError> {
        if !self.rows.is_empty() {
            self.flush()?;
        }
        self.w
            .close()
            .map_err(|e| GenError::Io(format!("parquet: {e}")))?;
        Ok(self.count)
    }
}
