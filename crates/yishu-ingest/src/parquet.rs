//! Parquet files: columns map to items by name, values are kept as text (dates as ISO strings,
//! numbers as written). A value that cannot be turned into text (invalid UTF-8 in a binary
//! column, say) quarantines its row instead of becoming null.

use crate::io_err;
use crate::rows::{ColumnMap, Parsed, RowWriter};
use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;
use yishu_lake::arrow::array::{Array, RecordBatch, StringArray};
use yishu_lake::arrow::compute::{CastOptions, cast_with_options};
use yishu_lake::arrow::datatypes::DataType;
use yishu_lake::arrow::util::display::{ArrayFormatter, FormatOptions};
use yishu_meta::catalog::Item;
use yishu_types::{Error, ErrorCode};

fn bad_file(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!("{} is not a readable Parquet file: {e}", path.display()),
    )
}

/// Reads a Parquet file; ods rows go to `sink` in batches as they are read.
pub fn read(
    path: &Path,
    items: &[Item],
    batch_id: &str,
    mapping: &crate::rows::Mapping,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<Parsed, Error> {
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad_file(path, e))?;
    let header: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().trim().to_string())
        .collect();
    let map = ColumnMap::new(&path.display().to_string(), &header, items, mapping)?;
    let reader = builder
        .with_batch_size(crate::rows::BATCH_ROWS)
        .build()
        .map_err(|e| bad_file(path, e))?;
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut out = RowWriter::new(batch_id, items, map, sink, progress);
    let cast = CastOptions {
        safe: true,
        format_options: FormatOptions::default(),
    };
    let mut row_no: i64 = 0;
    for batch in reader {
        let batch = batch.map_err(|e| bad_file(path, e))?;
        let texts: Vec<StringArray> = batch
            .columns()
            .iter()
            .map(|c| {
                let t =
                    cast_with_options(c, &DataType::Utf8, &cast).map_err(|e| bad_file(path, e))?;
                Ok(t.as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .unwrap_or_else(|| StringArray::new_null(c.len())))
            })
            .collect::<Result<_, Error>>()?;
        for r in 0..batch.num_rows() {
            row_no += 1;
            // A value present in the file but lost by the text conversion: keep the row aside.
            let lost =
                (0..texts.len()).find(|&c| batch.column(c).is_valid(r) && texts[c].is_null(r));
            match lost {
                Some(c) => {
                    let raw = ArrayFormatter::try_new(
                        batch.column(c).as_ref(),
                        &FormatOptions::default(),
                    )
                    .map(|f| f.value(r).to_string())
                    .unwrap_or_default();
                    out.reject(
                        format_args!("{file_name}:{row_no}"),
                        row_no,
                        &raw,
                        "ingest_cast",
                        &format!(
                            "row {row_no}, column {} ({}): the value cannot be read as text",
                            c + 1,
                            header[c]
                        ),
                    );
                }
                None => out.accept(format_args!("{file_name}:{row_no}"), |c| {
                    texts.get(c).filter(|t| t.is_valid(r)).map(|t| t.value(r))
                })?,
            }
        }
    }
    out.finish()
}
