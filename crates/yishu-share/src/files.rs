//! Downloads of a grant's rows as files: a workbook (XLSX, written in constant memory) or
//! Parquet, filled chunk by chunk from the masked row stream into a temporary file, so a
//! million-row download never sits in memory. CSV and JSON stream straight to the caller.

use futures::{Stream, StreamExt};
use std::path::Path;
use std::sync::Arc;
use yishu_lake::arrow::array::{ArrayRef, RecordBatch, StringArray};
use yishu_lake::arrow::datatypes::{DataType, Field, Schema};
use yishu_lake::datafusion::parquet::arrow::ArrowWriter;
use yishu_types::{Error, ErrorCode};

/// The file formats a grant's rows download as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Xlsx,
    Parquet,
}

impl FileFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            FileFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileFormat::Parquet => "application/vnd.apache.parquet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Xlsx => "xlsx",
            FileFormat::Parquet => "parquet",
        }
    }
}

/// Rows a worksheet holds below its heading.
pub const XLSX_ROWS: usize = 1_048_575;

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Internal,
        format!("cannot write the {what} file: {e}"),
    )
}

/// Writes the rows of `chunks` under `items` to `path`; returns how many rows.
pub async fn write(
    format: FileFormat,
    items: &[String],
    chunks: impl Stream<Item = Result<Vec<Vec<String>>, Error>>,
    path: &Path,
) -> Result<u64, Error> {
    let mut chunks = std::pin::pin!(chunks);
    let mut n = 0u64;
    match format {
        FileFormat::Xlsx => {
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book
                .add_worksheet_with_constant_memory()
                .map_err(|e| failed("xlsx", e))?;
            for (c, h) in items.iter().enumerate() {
                sheet
                    .write_string(0, c as u16, h)
                    .map_err(|e| failed("xlsx", e))?;
            }
            'rows: while let Some(chunk) = chunks.next().await {
                for row in chunk? {
                    if n as usize >= XLSX_ROWS {
                        break 'rows;
                    }
                    n += 1;
                    for (c, v) in row.iter().enumerate() {
                        sheet
                            .write_string(n as u32, c as u16, v)
                            .map_err(|e| failed("xlsx", e))?;
                    }
                }
            }
            book.save(path).map_err(|e| failed("xlsx", e))?;
        }
        FileFormat::Parquet => {
            let schema = Arc::new(Schema::new(
                items
                    .iter()
                    .map(|i| Field::new(i, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ));
            let file = std::fs::File::create(path).map_err(|e| failed("parquet", e))?;
            let mut w = ArrowWriter::try_new(file, schema.clone(), None)
                .map_err(|e| failed("parquet", e))?;
            while let Some(chunk) = chunks.next().await {
                let rows = chunk?;
                if rows.is_empty() {
                    continue;
                }
                n += rows.len() as u64;
                let columns: Vec<ArrayRef> = (0..items.len())
                    .map(|c| {
                        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r[c])))
                            as ArrayRef
                    })
                    .collect();
                let batch = RecordBatch::try_new(schema.clone(), columns)
                    .map_err(|e| failed("parquet", e))?;
                w.write(&batch).map_err(|e| failed("parquet", e))?;
            }
            w.close().map_err(|e| failed("parquet", e))?;
        }
    }
    Ok(n)
}
