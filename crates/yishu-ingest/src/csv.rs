//! CSV in UTF-8, GBK or GB18030 (declared, or detected from a BOM and the bytes), with delimiter
//! and header detection. Columns map to the resource's items by name; a row with the wrong number
//! of fields or undecodable bytes goes to quarantine with its line and the reason.

use crate::io_err;
use crate::rows::{ColumnMap, Parsed, RowWriter};
use std::path::Path;
use yishu_lake::arrow::array::RecordBatch;
use yishu_meta::catalog::Item;
use yishu_types::{Error, ErrorCode};

/// The text encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Gbk,
    Gb18030,
}

impl std::str::FromStr for TextEncoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "utf8" => Ok(TextEncoding::Utf8),
            "gbk" | "cp936" => Ok(TextEncoding::Gbk),
            "gb18030" => Ok(TextEncoding::Gb18030),
            other => Err(format!(
                "unknown encoding '{other}': use utf-8, gbk or gb18030"
            )),
        }
    }
}

/// Guesses the encoding from a BOM or from whether the bytes are valid UTF-8.
pub fn detect_encoding(head: &[u8]) -> TextEncoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return TextEncoding::Utf8;
    }
    match std::str::from_utf8(head) {
        Ok(_) => TextEncoding::Utf8,
        // A multi-byte character cut at the end of the sample is still UTF-8.
        Err(e) if e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => TextEncoding::Utf8,
        Err(_) => TextEncoding::Gb18030,
    }
}

/// The most frequent of `,` tab `|` `;` in the first line.
pub fn detect_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    [b',', b'\t', b'|', b';']
        .into_iter()
        .max_by_key(|d| line.iter().filter(|b| *b == d).count())
        .unwrap_or(b',')
}

/// Reads a CSV file: ods rows go to `sink` in Arrow batches of [`BATCH_ROWS`] as they are read
/// (so memory stays bounded); quarantined rows and the counts are returned. `progress` is called
/// with rows read so far.
pub fn read(
    path: &Path,
    items: &[Item],
    batch_id: &str,
    opts: &crate::ReadOptions,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<Parsed, Error> {
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut head = vec![0u8; 64 * 1024];
    let n = {
        use std::io::Read;
        let mut f = &file;
        let mut got = 0;
        while got < head.len() {
            let k = f.read(&mut head[got..]).map_err(|e| io_err(path, e))?;
            if k == 0 {
                break;
            }
            got += k;
        }
        got
    };
    head.truncate(n);
    if n == 0 {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("{} is empty: no header, no rows", path.display()),
        ));
    }
    let encoding = opts.encoding.unwrap_or_else(|| detect_encoding(&head));
    let delimiter = opts.delimiter.unwrap_or_else(|| detect_delimiter(&head));
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let buffered = std::io::BufReader::with_capacity(1 << 20, file);
    // UTF-8 is split as bytes and validated once per row; GBK and GB18030 are transcoded to UTF-8
    // first (undecodable bytes become U+FFFD, which marks the row bad).
    let input: Box<dyn std::io::Read> = match encoding {
        TextEncoding::Utf8 => Box::new(buffered),
        TextEncoding::Gbk | TextEncoding::Gb18030 => Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(if encoding == TextEncoding::Gbk {
                    encoding_rs::GBK
                } else {
                    encoding_rs::GB18030
                }))
                .bom_override(true)
                .build(buffered),
        ),
    };
    let transcoded = encoding != TextEncoding::Utf8;
    // The csv reader ends a CRLF record at the `\r` and counts the `\n` with the next record, so
    // its line numbers are one short in CRLF files (Windows, most department exports); lineage
    // must name the physical line.
    let crlf = i64::from(
        head.iter()
            .position(|b| *b == b'\n')
            .is_some_and(|i| i > 0 && head[i - 1] == b'\r'),
    );
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(input);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("{}: cannot read the header line: {e}", path.display()),
            )
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let what = path.display().to_string();
    let map = ColumnMap::new(&what, &header, items, &opts.mapping)?;
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut rows = RowWriter::new(batch_id, items, map, sink, progress);
    let mut record = csv::ByteRecord::new();
    let d = char::from(delimiter).to_string();
    let raw = |r: &csv::ByteRecord| {
        r.iter()
            .map(String::from_utf8_lossy)
            .collect::<Vec<_>>()
            .join(&d)
    };
    loop {
        // A broken quote or I/O error: the rest of the file cannot be split into rows.
        let more = rdr
            .read_byte_record(&mut record)
            .map_err(|e| Error::new(ErrorCode::InvalidInput, format!("{what}: {e}")))?;
        if !more {
            break;
        }
        let line = record.position().map(|p| p.line() as i64).unwrap_or(0) + crlf;
        let text = std::str::from_utf8(record.as_slice())
            .ok()
            .filter(|t| !(transcoded && t.contains('\u{FFFD}')));
        match text {
            _ if record.as_slice().len() > crate::json::MAX_LINE => {
                let head: String = raw(&record).chars().take(200).collect();
                let why = format!(
                    "line {line} has {} bytes, more than {}; its first 200 characters are kept",
                    record.as_slice().len(),
                    crate::json::MAX_LINE
                );
                rows.reject(
                    format_args!("{file_name}:{line}"),
                    line,
                    &head,
                    "ingest_line_too_long",
                    &why,
                );
            }
            _ if record.len() != rows.width() => {
                let why = format!(
                    "line {line} has {} fields, the header has {}",
                    record.len(),
                    rows.width()
                );
                rows.reject(
                    format_args!("{file_name}:{line}"),
                    line,
                    &raw(&record),
                    "ingest_field_count",
                    &why,
                );
            }
            None => {
                let why = format!("line {line} has bytes that are not valid {encoding:?}");
                rows.reject(
                    format_args!("{file_name}:{line}"),
                    line,
                    &raw(&record),
                    "ingest_bad_encoding",
                    &why,
                );
            }
            Some(text) => rows.accept(format_args!("{file_name}:{line}"), |c| {
                record.range(c).and_then(|r| text.get(r))
            })?,
        }
    }
    let parsed = rows.finish()?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yishu_lake::arrow::array::{Array, StringArray};
    use yishu_lake::lineage::SOURCE_REF;

    fn refs_and_lines(text: &str) -> (Vec<String>, Vec<i64>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let items = vec![Item {
            name: "a".into(),
            item_type: "C".into(),
            length: None,
            data_element: None,
            description: String::new(),
        }];
        let mut refs = Vec::new();
        let parsed = read(
            &path,
            &items,
            "b",
            &crate::ReadOptions::default(),
            &mut |_| {},
            &mut |b| {
                let c = b.column_by_name(SOURCE_REF).unwrap();
                let c = c.as_any().downcast_ref::<StringArray>().unwrap();
                refs.extend((0..c.len()).map(|i| c.value(i).to_string()));
                Ok(())
            },
        )
        .unwrap();
        let lines = parsed
            .quarantine
            .iter()
            .flat_map(|b| {
                let l = b.column_by_name("line").unwrap();
                let l = l
                    .as_any()
                    .downcast_ref::<yishu_lake::arrow::array::Int64Array>()
                    .unwrap();
                (0..l.len()).map(|i| l.value(i)).collect::<Vec<_>>()
            })
            .collect();
        (refs, lines)
    }

    /// Lineage names the physical line of the file, whatever its line endings (the first data row
    /// is line 2), including after a field that holds a line break.
    #[test]
    fn source_lines_are_physical_lines_with_lf_and_crlf() {
        for nl in ["\n", "\r\n"] {
            let text = ["a,b", "x,1", "\"two", "lines\",2", "y", "z,3", ""].join(nl);
            let (refs, bad) = refs_and_lines(&text);
            assert_eq!(refs, vec!["t.csv:2", "t.csv:3", "t.csv:6"], "{nl:?}");
            assert_eq!(bad, vec![5], "{nl:?}");
        }
    }
}
