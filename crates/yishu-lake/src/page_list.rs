//! Where each page of a data file starts, kept beside the file in fixed-width entries a pick
//! searches in place.
//!
//! A pick reads a few rows through the offset index. Parquet keeps that index as Thrift compact
//! bytes, which only a walk over every page location can decode: ~250,000 locations for the
//! `_provenance` column of the 2M city's population file, 35–45 ms each run — a cost that grows
//! with the library, not with the batch. So each data file of a table with hash columns gets,
//! when it is written, a page list: every column's page locations as fixed-width entries.
//! A pick binary-searches it for the pages holding its rows and gives the reader an offset
//! index of just those ([`PageList::offset_index`]).
//!
//! Like the key indexes it sits under `_yishu_index/` and is never the only truth: a file
//! without one, or whose list does not match it, is read through its own offset index.

use deltalake::parquet::arrow::arrow_reader::RowSelection;
use deltalake::parquet::file::metadata::{ParquetMetaData, ParquetOffsetIndex};
use deltalake::parquet::file::page_index::offset_index::{OffsetIndexMetaData, PageLocation};
use deltalake::{ObjectStore, Path};
use std::sync::Arc;
use yishu_types::{Error, ErrorCode};

const MAGIC: &[u8; 4] = b"YSPL";
const VERSION: u32 = 1;
/// Magic, version, data file size, row groups, columns.
const PRELUDE: usize = 4 + 4 + 8 + 4 + 4;
/// A page: its offset (i64), compressed size (i32) and first row in its row group (i64).
const ENTRY: usize = 20;

/// Where the page list of the data file at `data` is kept.
pub(crate) fn list_path(data: &Path) -> Path {
    Path::from(format!("_yishu_index/{data}.pages"))
}

/// The bytes of the page list of a data file of `size` bytes, from its footer with the offset
/// index; `None` for a file without one (or with nested columns, whose pages are not a root's).
pub(crate) fn encode(size: u64, metadata: &ParquetMetaData) -> Option<Vec<u8>> {
    let index = metadata.offset_index()?;
    let schema = metadata.file_metadata().schema_descr();
    let columns = schema.num_columns();
    if columns != schema.root_schema().get_fields().len()
        || index.len() != metadata.num_row_groups()
    {
        return None;
    }
    let pages: usize = index.iter().flatten().map(|c| c.page_locations.len()).sum();
    let directory = index.len() * columns + 1;
    let mut out = Vec::with_capacity(PRELUDE + directory * 8 + pages * ENTRY);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(index.len() as u32).to_le_bytes());
    out.extend_from_slice(&(columns as u32).to_le_bytes());
    // The directory: where the pages of (row group, column) begin, and where the last end.
    let mut at = 0u64;
    for group in index {
        if group.len() != columns {
            return None;
        }
        for c in group {
            out.extend_from_slice(&at.to_le_bytes());
            at += c.page_locations.len() as u64;
        }
    }
    out.extend_from_slice(&at.to_le_bytes());
    for p in index.iter().flatten().flat_map(|c| &c.page_locations) {
        out.extend_from_slice(&p.offset.to_le_bytes());
        out.extend_from_slice(&p.compressed_page_size.to_le_bytes());
        out.extend_from_slice(&p.first_row_index.to_le_bytes());
    }
    Some(out)
}

/// Writes the page list of the data file at `data`, of `size` bytes (nothing for a file
/// [`encode`] gives none).
pub(crate) async fn write(
    store: &Arc<dyn ObjectStore>,
    data: &Path,
    size: u64,
) -> Result<(), Error> {
    use deltalake::logstore::object_store::ObjectStoreExt;
    use deltalake::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    #[allow(deprecated)] // the object-store reader delta-rs itself reads with
    use deltalake::parquet::arrow::async_reader::ParquetObjectReader;
    use deltalake::parquet::file::metadata::PageIndexPolicy;
    let what = format!("the data file {data}");
    #[allow(deprecated)]
    let mut reader = ParquetObjectReader::new(store.clone(), data.clone()).with_file_size(size);
    let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
    let metadata = ArrowReaderMetadata::load_async(&mut reader, options)
        .await
        .map_err(|e| {
            Error::new(
                ErrorCode::LakeError,
                format!("cannot read the footer of {what} to list its pages: {e}"),
            )
        })?;
    let Some(bytes) = encode(size, metadata.metadata()) else {
        return Ok(());
    };
    store
        .put(&list_path(data), bytes.into())
        .await
        .map_err(|e| {
            Error::new(
                ErrorCode::LakeError,
                format!("cannot write the page list of {what}: {e}"),
            )
        })?;
    Ok(())
}

/// A data file's page list, checked against its footer.
pub(crate) struct PageList {
    bytes: bytes::Bytes,
    columns: usize,
    /// Where the entries begin, after the directory.
    pages_at: usize,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

impl PageList {
    /// The page list in `bytes` of a data file of `size` bytes whose footer is `metadata`; an
    /// error says why it cannot be used.
    pub(crate) fn open(
        bytes: bytes::Bytes,
        size: u64,
        metadata: &ParquetMetaData,
    ) -> Result<Self, String> {
        if bytes.len() < PRELUDE {
            return Err("shorter than its header".into());
        }
        if &bytes[..4] != MAGIC || u32_at(&bytes, 4) != VERSION {
            return Err("not a page list of this version".into());
        }
        if u64_at(&bytes, 8) != size {
            return Err(format!(
                "made for a file of {} bytes, the file has {size}",
                u64_at(&bytes, 8)
            ));
        }
        let (groups, columns) = (u32_at(&bytes, 16) as usize, u32_at(&bytes, 20) as usize);
        if groups != metadata.num_row_groups()
            || columns != metadata.file_metadata().schema_descr().num_columns()
        {
            return Err(format!(
                "made for {groups} row groups of {columns} columns, the file has {} of {}",
                metadata.num_row_groups(),
                metadata.file_metadata().schema_descr().num_columns()
            ));
        }
        let directory = groups * columns + 1;
        let pages = u64_at(&bytes, PRELUDE + (directory - 1) * 8) as usize;
        let expected = PRELUDE + directory * 8 + pages * ENTRY;
        if bytes.len() != expected {
            return Err(format!(
                "{} bytes where its header says {expected}",
                bytes.len()
            ));
        }
        let list = PageList {
            bytes,
            columns,
            pages_at: PRELUDE + directory * 8,
        };
        // Each column's pages lie inside the list and start at row 0 of their row group.
        for g in 0..groups {
            for c in 0..columns {
                let (from, to) = list.span(g, c);
                if from > to || to > pages || (from < to && list.page(from).first_row_index != 0) {
                    return Err(format!("row group {g}, column {c}: pages out of order"));
                }
            }
        }
        Ok(list)
    }

    /// The entries of column `c` in row group `g`: [from, to).
    fn span(&self, g: usize, c: usize) -> (usize, usize) {
        let d = PRELUDE + (g * self.columns + c) * 8;
        (
            u64_at(&self.bytes, d) as usize,
            u64_at(&self.bytes, d + 8) as usize,
        )
    }

    fn page(&self, k: usize) -> PageLocation {
        let at = self.pages_at + k * ENTRY;
        let b = &self.bytes;
        PageLocation {
            offset: u64_at(b, at) as i64,
            compressed_page_size: u32_at(b, at + 8) as i32,
            first_row_index: u64_at(b, at + 12) as i64,
        }
    }

    /// An offset index for reading the root columns `roots` by `selection` (rows of the whole
    /// file): of each column, the pages holding a selected row, each followed by the page after
    /// it, and the first page. The reader takes a page's rows to run up to the next listed
    /// page, so a page listed only as a follower stands for it and the unlisted pages after it
    /// — rows none of which is selected, which the reader skips without reading. Other
    /// columns get no pages.
    pub(crate) fn offset_index(
        &self,
        metadata: &ParquetMetaData,
        roots: &[usize],
        selection: &RowSelection,
    ) -> ParquetOffsetIndex {
        let ranges = selected_ranges(selection);
        let empty = OffsetIndexMetaData {
            page_locations: Vec::new(),
            unencoded_byte_array_data_bytes: None,
        };
        let mut group_start = 0u64;
        let mut out = Vec::with_capacity(metadata.num_row_groups());
        for (g, rg) in metadata.row_groups().iter().enumerate() {
            let group_end = group_start + rg.num_rows() as u64;
            // This group's selected rows, as rows of the group.
            let first = ranges.partition_point(|r| r.1 <= group_start);
            let last = ranges.partition_point(|r| r.0 < group_end);
            let local: Vec<(i64, i64)> = ranges[first..last.max(first)]
                .iter()
                .map(|r| {
                    (
                        (r.0.max(group_start) - group_start) as i64,
                        (r.1.min(group_end) - group_start) as i64,
                    )
                })
                .collect();
            let mut of_group = vec![empty.clone(); rg.num_columns()];
            for &c in roots {
                let Some(slot) = of_group.get_mut(c) else {
                    continue;
                };
                let (from, to) = self.span(g, c);
                let n = to - from;
                if n == 0 {
                    continue;
                }
                // The last page starting at or before `row` (page 0 starts at row 0).
                let holding = |row: i64| {
                    let (mut a, mut b) = (0, n);
                    while a < b {
                        let mid = (a + b) / 2;
                        if self.page(from + mid).first_row_index <= row {
                            a = mid + 1;
                        } else {
                            b = mid;
                        }
                    }
                    a.saturating_sub(1)
                };
                let mut listed: Vec<usize> = vec![0];
                for &(a, b) in &local {
                    let (i, j) = (holding(a), holding(b - 1));
                    let from_k = match listed.last() {
                        Some(&l) if l >= i => l + 1,
                        _ => i,
                    };
                    listed.extend(from_k..=(j + 1).min(n - 1));
                }
                slot.page_locations = listed.into_iter().map(|k| self.page(from + k)).collect();
            }
            out.push(of_group);
            group_start = group_end;
        }
        out
    }
}

/// The selected rows of `selection` as ranges of file rows, ascending.
pub(crate) fn selected_ranges(selection: &RowSelection) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    let mut at = 0u64;
    for s in selection.iter() {
        let end = at + s.row_count as u64;
        if !s.skip && s.row_count > 0 {
            ranges.push((at, end));
        }
        at = end;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::footers::Footer;
    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::compute::concat_batches;
    use deltalake::parquet::arrow::ArrowWriter;
    use deltalake::parquet::arrow::ProjectionMask;
    use deltalake::parquet::arrow::arrow_reader::{
        ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
        RowSelectionPolicy, RowSelector,
    };
    use deltalake::parquet::file::metadata::PageIndexPolicy;
    use deltalake::parquet::file::properties::WriterProperties;

    /// A file of three row groups: long strings in many small pages, numbers in few, and a
    /// dictionary-encoded column (a dictionary page before the first data page).
    fn file() -> bytes::Bytes {
        let n = 7000i64;
        let batch = RecordBatch::try_from_iter([
            (
                "text",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("第{i}行 {}", "数".repeat(i as usize % 40))),
                )) as _,
            ),
            ("number", Arc::new(Int64Array::from_iter_values(0..n)) as _),
            (
                "kind",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("类{}", i % 7)),
                )) as _,
            ),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_data_page_size_limit(1024)
            .set_dictionary_enabled(false)
            .set_column_dictionary_enabled("kind".into(), true)
            .set_write_batch_size(64)
            .set_max_row_group_row_count(Some(3000))
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out.into()
    }

    fn footer(file: &bytes::Bytes, policy: PageIndexPolicy) -> ArrowReaderMetadata {
        let options = ArrowReaderOptions::new().with_offset_index_policy(policy);
        ArrowReaderMetadata::load(file, options).unwrap()
    }

    /// Rows `selection` picks of columns `roots`, read with `metadata`, as one batch.
    fn read(
        file: &bytes::Bytes,
        metadata: ArrowReaderMetadata,
        roots: &[usize],
        selection: &RowSelection,
    ) -> RecordBatch {
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file.clone(), metadata);
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
        let batches: Vec<RecordBatch> = builder
            .with_projection(mask)
            .with_row_selection(selection.clone())
            .with_row_selection_policy(RowSelectionPolicy::Selectors)
            .with_batch_size(100)
            .build()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        concat_batches(&batches[0].schema(), &batches).unwrap()
    }

    /// A selection of the rows `rows` (ascending) of a file of `n` rows.
    fn selecting(rows: &[usize], n: usize) -> RowSelection {
        let mut s = Vec::new();
        let mut at = 0;
        for &r in rows {
            if r > at {
                s.push(RowSelector::skip(r - at));
            }
            s.push(RowSelector::select(1));
            at = r + 1;
        }
        if n > at {
            s.push(RowSelector::skip(n - at));
        }
        RowSelection::from(s)
    }

    #[test]
    fn rows_read_through_the_page_list_are_the_rows_the_offset_index_reads() {
        let file = file();
        let full = footer(&file, PageIndexPolicy::Optional);
        let bare = footer(&file, PageIndexPolicy::Skip);
        let bytes = encode(file.len() as u64, full.metadata()).unwrap();
        let list = PageList::open(bytes.into(), file.len() as u64, bare.metadata()).unwrap();
        let footer = Footer::new(bare.clone(), Some(list));
        let total: usize = full
            .metadata()
            .offset_index()
            .unwrap()
            .iter()
            .map(|g| g[0].page_locations.len())
            .sum();
        assert!(total > 60, "many text pages: {total}");
        let cases: Vec<Vec<usize>> = vec![
            vec![0],
            vec![6999],
            vec![2999, 3000],
            vec![5, 6, 7, 1500, 4000, 4001, 6998],
            (0..7000).step_by(997).collect(),
            // Neighbouring pages: a page's follower is itself wanted.
            (100..400).step_by(20).collect(),
            vec![3000, 5999, 6000],
        ];
        for rows in cases {
            let selection = selecting(&rows, 7000);
            for roots in [vec![0], vec![1, 2], vec![0, 1, 2]] {
                let sparse = footer.for_columns(&file, &roots, &selection).unwrap();
                let index = sparse.metadata().offset_index().unwrap();
                let listed: usize = index.iter().map(|g| g[roots[0]].page_locations.len()).sum();
                if roots[0] == 0 && rows.len() < 10 {
                    assert!(listed < total / 3, "{rows:?}: {listed} of {total} pages");
                }
                let got = read(&file, sparse, &roots, &selection);
                let expected = read(&file, full.clone(), &roots, &selection);
                assert_eq!(got.num_rows(), rows.len(), "{rows:?} {roots:?}");
                assert_eq!(got, expected, "{rows:?} {roots:?}");
            }
        }
    }

    #[test]
    fn a_page_list_that_does_not_match_its_file_is_refused_in_words() {
        let file = file();
        let full = footer(&file, PageIndexPolicy::Optional);
        let size = file.len() as u64;
        let bytes = encode(size, full.metadata()).unwrap();
        let open = |b: &[u8], size| {
            PageList::open(bytes::Bytes::copy_from_slice(b), size, full.metadata())
                .err()
                .unwrap_or_default()
        };
        assert_eq!(open(&bytes[..10], size), "shorter than its header");
        assert!(open(&bytes, size + 1).contains("made for a file of"));
        assert!(open(&bytes[..bytes.len() - 1], size).contains("where its header says"));
        let mut other = bytes.clone();
        other[0] = b'X';
        assert_eq!(open(&other, size), "not a page list of this version");
        assert!(PageList::open(bytes.into(), size, full.metadata()).is_ok());
        let bare = footer(&file, PageIndexPolicy::Skip);
        assert!(encode(size, bare.metadata()).is_none(), "no offset index");
    }
}
