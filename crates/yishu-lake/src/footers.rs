//! Decoded footers of data files, and the offset indexes of the columns a pick reads.
//!
//! A pick reads a few rows of a data file through its offset index (where each page starts and
//! which row it begins with), so pages without a picked row are neither read nor decoded. The
//! Parquet reader decodes the offset index of every column of a file at once: ~115,000 page
//! locations for one 300,000-row file of the population library, 100,000 of them `_provenance`'s,
//! which most picks do not read (the one that marks a subject's old rows reads only its key).
//! Here the footer is decoded without the page index, and the offset index of a column the
//! first time a read projects it ([`decode`], from its Thrift bytes); both are kept for the
//! next pick from the same file, since a data file never changes once written. A file with a
//! page list ([`crate::page_list`]) decodes no offset index at all: each read looks up only
//! the pages it needs there.

use crate::page_list::PageList;
use deltalake::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection,
};
use deltalake::parquet::errors::ParquetError;
use deltalake::parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetOffsetIndex};
use deltalake::parquet::file::page_index::offset_index::{OffsetIndexMetaData, PageLocation};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

/// Footers of data files by key (table, path and size), up to [`Footers::BYTES`].
#[derive(Default)]
pub(crate) struct Footers {
    by_key: HashMap<String, Arc<Footer>>,
    /// Keys in the order kept: the oldest goes first when the budget is spent.
    order: VecDeque<String>,
}

impl Footers {
    /// What the kept footers may take in memory.
    const BYTES: usize = 256 << 20;

    pub(crate) fn get(&self, key: &str) -> Option<Arc<Footer>> {
        self.by_key.get(key).cloned()
    }

    /// Keeps `footer`, dropping the oldest while the kept ones (their offset indexes grown
    /// since they were kept included) take more than the budget.
    pub(crate) fn keep(&mut self, key: String, footer: Arc<Footer>) {
        if self.by_key.contains_key(&key) {
            return;
        }
        self.order.push_back(key.clone());
        self.by_key.insert(key, footer);
        let mut bytes: usize = self.by_key.values().map(|f| f.bytes()).sum();
        while bytes > Self::BYTES && self.order.len() > 1 {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(f) = self.by_key.remove(&old) {
                bytes -= f.bytes();
            }
        }
    }
}

/// A column's offset index in each row group of a file.
type ColumnOffsets = Arc<Vec<OffsetIndexMetaData>>;

/// A data file's decoded footer, and the offset indexes of its columns decoded so far.
pub(crate) struct Footer {
    /// The footer: with every offset index when it was read through the object store, with
    /// none when the file is mapped ([`Footer::for_columns`] adds them).
    pub(crate) metadata: ArrowReaderMetadata,
    /// By root column: its offset index in each row group.
    offsets: Mutex<HashMap<usize, ColumnOffsets>>,
    /// The footer with the whole page index, for a file whose offset indexes are not decoded
    /// here: read once, like the columns'.
    whole: OnceLock<ArrowReaderMetadata>,
    /// The file's page list, when it has one that matches it: then no offset index is decoded.
    pages: Option<PageList>,
}

impl Footer {
    pub(crate) fn new(metadata: ArrowReaderMetadata, pages: Option<PageList>) -> Self {
        Footer {
            metadata,
            offsets: Mutex::default(),
            whole: OnceLock::new(),
            pages,
        }
    }

    /// About what this takes in memory.
    fn bytes(&self) -> usize {
        let pages: usize = self.offsets.lock().map_or(0, |o| {
            o.values()
                .flat_map(|groups| groups.iter())
                .map(|c| c.page_locations.len())
                .sum()
        });
        let whole = self.whole.get().map_or(0, |w| w.metadata().memory_size());
        self.metadata.metadata().memory_size() + whole + pages * size_of::<PageLocation>()
    }

    /// The footer ready to read the rows `selection` picks of the root columns `roots` of
    /// `file` (the data file's bytes) by page: with an offset index of only the pages they need
    /// when the file has a page list; else with their offset indexes, decoded here the first
    /// time — or, for a file whose
    /// columns nest or whose offset index this cannot decode, with the whole page index as the
    /// Parquet reader decodes it.
    pub(crate) fn for_columns(
        &self,
        file: &bytes::Bytes,
        roots: &[usize],
        selection: &RowSelection,
    ) -> Result<ArrowReaderMetadata, ParquetError> {
        let metadata = self.metadata.metadata();
        if metadata.offset_index().is_some() {
            return Ok(self.metadata.clone());
        }
        if let Some(pages) = &self.pages {
            return with_offset_index(metadata, pages.offset_index(metadata, roots, selection));
        }
        let columns = if is_flat(metadata) {
            self.columns(file, roots)
        } else {
            None
        };
        let Some(columns) = columns else {
            if let Some(whole) = self.whole.get() {
                return Ok(whole.clone());
            }
            let options =
                ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
            let whole = ArrowReaderMetadata::load(file, options)?;
            return Ok(self.whole.get_or_init(|| whole).clone());
        };
        let empty = OffsetIndexMetaData {
            page_locations: Vec::new(),
            unencoded_byte_array_data_bytes: None,
        };
        let index = metadata
            .row_groups()
            .iter()
            .enumerate()
            .map(|(g, rg)| {
                let mut of_group = vec![empty.clone(); rg.num_columns()];
                for (c, groups) in &columns {
                    of_group[*c] = groups[g].clone();
                }
                of_group
            })
            .collect();
        with_offset_index(metadata, index)
    }

    /// The offset indexes of `roots`, decoded the first time they are asked for; `None` when
    /// one is missing or cannot be decoded.
    fn columns(&self, file: &[u8], roots: &[usize]) -> Option<Vec<(usize, ColumnOffsets)>> {
        let missing: Vec<usize> = {
            let kept = self.offsets.lock().ok()?;
            roots
                .iter()
                .copied()
                .filter(|c| !kept.contains_key(c))
                .collect()
        };
        // Decoded outside the lock: the two halves of a parallel read decode their own.
        let metadata = self.metadata.metadata();
        let decoded = missing
            .into_iter()
            .map(|c| {
                let groups = metadata
                    .row_groups()
                    .iter()
                    .map(|rg| {
                        let chunk = rg.columns().get(c)?;
                        let at = usize::try_from(chunk.offset_index_offset()?).ok()?;
                        let len = usize::try_from(chunk.offset_index_length()?).ok()?;
                        decode(file.get(at..at.checked_add(len)?)?).ok()
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some((c, Arc::new(groups)))
            })
            .collect::<Option<Vec<_>>>()?;
        let mut kept = self.offsets.lock().ok()?;
        for (c, groups) in decoded {
            kept.entry(c).or_insert(groups);
        }
        roots
            .iter()
            .map(|c| kept.get(c).map(|g| (*c, g.clone())))
            .collect()
    }
}

/// `metadata` ready to read with `index` as its offset index.
fn with_offset_index(
    metadata: &ParquetMetaData,
    index: ParquetOffsetIndex,
) -> Result<ArrowReaderMetadata, ParquetError> {
    let with = metadata
        .clone()
        .into_builder()
        .set_offset_index(Some(index))
        .build();
    ArrowReaderMetadata::try_new(Arc::new(with), ArrowReaderOptions::new())
}

/// Thrift compact types met in an offset index.
const I32: u8 = 5;
const I64: u8 = 6;
const LIST: u8 = 9;
const STRUCT: u8 = 12;

/// A cursor over Thrift compact bytes.
struct Compact<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.at).ok_or("cut short")?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err("a varint longer than 10 bytes".into())
    }

    fn zigzag(&mut self) -> Result<i64, String> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A field header: (field id, type), `None` at the end of a struct. Ids come as deltas
    /// from the previous field's (`last`), or in full after a zero delta.
    fn field(&mut self, last: i16) -> Result<Option<(i16, u8)>, String> {
        let b = self.byte()?;
        if b == 0 {
            return Ok(None);
        }
        let (delta, kind) = (b >> 4, b & 0x0f);
        let id = if delta == 0 {
            self.zigzag()? as i16
        } else {
            last + i16::from(delta)
        };
        Ok(Some((id, kind)))
    }

    /// A list header: (element type, length).
    fn list(&mut self) -> Result<(u8, usize), String> {
        let b = self.byte()?;
        let n = match b >> 4 {
            15 => self.varint()? as usize,
            n => n as usize,
        };
        Ok((b & 0x0f, n))
    }

    /// Skips a value of a primitive type; a nested one is not expected in an offset index.
    fn skip(&mut self, kind: u8) -> Result<(), String> {
        match kind {
            1 | 2 => {}
            3 => {
                self.byte()?;
            }
            4..=6 => {
                self.varint()?;
            }
            7 => self.at += 8,
            8 => {
                let n = self.varint()? as usize;
                self.at += n;
            }
            _ => return Err(format!("an unexpected field of type {kind}")),
        }
        Ok(())
    }
}

/// The page locations of an offset index, from its Thrift compact bytes (the optional
/// unencoded byte sizes that may follow them are not read). An error says what was wrong;
/// the caller then lets the Parquet reader decode the whole page index.
pub(crate) fn decode(bytes: &[u8]) -> Result<OffsetIndexMetaData, String> {
    let mut c = Compact { bytes, at: 0 };
    let mut last = 0;
    while let Some((id, kind)) = c.field(last)? {
        last = id;
        if id != 1 {
            c.skip(kind)?;
            continue;
        }
        let (element, n) = c.list()?;
        if kind != LIST || element != STRUCT {
            return Err("page locations are not a list of structs".into());
        }
        // Each location takes at least 7 bytes: do not trust a length the bytes cannot hold.
        let mut pages = Vec::with_capacity(n.min(bytes.len() / 7));
        for _ in 0..n {
            let (mut offset, mut size, mut first) = (None, None, None);
            let mut last = 0;
            while let Some((id, kind)) = c.field(last)? {
                last = id;
                match (id, kind) {
                    (1, I64) => offset = Some(c.zigzag()?),
                    (2, I32) => size = Some(c.zigzag()? as i32),
                    (3, I64) => first = Some(c.zigzag()?),
                    _ => c.skip(kind)?,
                }
            }
            match (offset, size, first) {
                (Some(offset), Some(compressed_page_size), Some(first_row_index)) => {
                    pages.push(PageLocation {
                        offset,
                        compressed_page_size,
                        first_row_index,
                    })
                }
                _ => return Err("a page location lacks a required field".into()),
            }
        }
        return Ok(OffsetIndexMetaData {
            page_locations: pages,
            unencoded_byte_array_data_bytes: None,
        });
    }
    Err("no page locations".into())
}

/// Whether each root column of a file is its one leaf: then a root's position is its column
/// chunk's, which is how offset indexes are looked up here.
fn is_flat(metadata: &ParquetMetaData) -> bool {
    let schema = metadata.file_metadata().schema_descr();
    schema.num_columns() == schema.root_schema().get_fields().len()
}

/// How many data pages a read of the root columns `roots` by `selection` decodes: each page
/// holding a selected row, by the offset index of `metadata` — `None` without one (or for a
/// nested schema). Pass 2 of a pick costs about this many pages; the debug line shows it.
pub(crate) fn pages_read(
    metadata: &ParquetMetaData,
    roots: &[usize],
    selection: &RowSelection,
) -> Option<usize> {
    if !is_flat(metadata) {
        return None;
    }
    let index = metadata.offset_index()?;
    let ranges = crate::page_list::selected_ranges(selection);
    let mut pages = 0;
    let mut group_start = 0u64;
    for (g, rg) in metadata.row_groups().iter().enumerate() {
        let group_end = group_start + rg.num_rows() as u64;
        let first = ranges.partition_point(|r| r.1 <= group_start);
        for &c in roots {
            let locations = &index.get(g)?.get(c)?.page_locations;
            // Pages and ranges both ascend: one walk over each.
            let mut k = first;
            for (i, page) in locations.iter().enumerate() {
                let start = group_start + page.first_row_index as u64;
                let end = locations
                    .get(i + 1)
                    .map_or(group_end, |n| group_start + n.first_row_index as u64);
                while ranges.get(k).is_some_and(|r| r.1 <= start) {
                    k += 1;
                }
                if ranges.get(k).is_some_and(|r| r.0 < end) {
                    pages += 1;
                }
            }
        }
        group_start = group_end;
    }
    Some(pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use deltalake::parquet::arrow::ArrowWriter;
    use deltalake::parquet::file::properties::WriterProperties;

    /// A file of two row groups whose columns have pages of different sizes: long strings
    /// (many pages), numbers (few).
    fn file() -> bytes::Bytes {
        let n = 5000i64;
        let batch = RecordBatch::try_from_iter([
            (
                "text",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("第{i}行 {}", "数".repeat(i as usize % 40))),
                )) as _,
            ),
            ("number", Arc::new(Int64Array::from_iter_values(0..n)) as _),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_data_page_size_limit(1024)
            .set_dictionary_enabled(false)
            .set_write_batch_size(64)
            .set_max_row_group_row_count(Some(3000))
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out.into()
    }

    /// A selection of every row of [`file`].
    fn everything() -> RowSelection {
        RowSelection::from(vec![
            deltalake::parquet::arrow::arrow_reader::RowSelector::select(5000),
        ])
    }

    /// The footer of `file`, with or without its page index.
    fn footer(file: &bytes::Bytes, policy: PageIndexPolicy) -> ArrowReaderMetadata {
        let options = ArrowReaderOptions::new().with_offset_index_policy(policy);
        ArrowReaderMetadata::load(file, options).unwrap()
    }

    #[test]
    fn offset_indexes_decode_as_the_parquet_reader_decodes_them() {
        let file = file();
        let full = footer(&file, PageIndexPolicy::Optional);
        let bare = footer(&file, PageIndexPolicy::Skip);
        assert!(bare.metadata().offset_index().is_none());
        let expected = full.metadata().offset_index().unwrap();
        assert_eq!(expected.len(), 2, "two row groups");
        let kept = Footer::new(bare, None);
        let text = kept.for_columns(&file, &[0], &everything()).unwrap();
        let got = text.metadata().offset_index().unwrap();
        for (rg, columns) in expected.iter().enumerate() {
            assert!(columns[0].page_locations.len() > 10, "many text pages");
            assert_eq!(got[rg][0].page_locations, columns[0].page_locations);
            assert!(got[rg][1].page_locations.is_empty(), "number not asked for");
        }
        let both = kept.for_columns(&file, &[0, 1], &everything()).unwrap();
        assert_eq!(
            kept.offsets.lock().unwrap().len(),
            2,
            "kept for the next read"
        );
        for (rg, columns) in expected.iter().enumerate() {
            assert_eq!(both.metadata().offset_index().unwrap()[rg][1], {
                let mut c = columns[1].clone();
                c.unencoded_byte_array_data_bytes = None;
                c
            });
        }
    }

    #[test]
    fn a_damaged_offset_index_is_refused_in_words() {
        assert_eq!(decode(&[]).unwrap_err(), "cut short");
        // Field 1, a list of 3 structs, the first one cut after its offset.
        assert_eq!(decode(&[0x19, 0x3c, 0x16, 0x02]).unwrap_err(), "cut short");
        // Field 1 as an i64.
        assert!(
            decode(&[0x16, 0x02, 0x00])
                .unwrap_err()
                .contains("not a list")
        );
        assert_eq!(decode(&[0x00]).unwrap_err(), "no page locations");
    }

    #[test]
    fn a_file_whose_index_cannot_be_decoded_here_is_read_with_the_whole_page_index() {
        let file = file();
        // A column the file does not have: no offsets decoded here, the reader's own are used.
        let kept = Footer::new(footer(&file, PageIndexPolicy::Skip), None);
        let m = kept.for_columns(&file, &[7], &everything()).unwrap();
        let index = m.metadata().offset_index().unwrap();
        assert!(!index[0][1].page_locations.is_empty());
        assert!(kept.whole.get().is_some(), "kept for the next read");
    }

    #[test]
    fn pages_read_counts_each_page_holding_a_selected_row_once() {
        use deltalake::parquet::arrow::arrow_reader::RowSelector;
        let file = file();
        let m = footer(&file, PageIndexPolicy::Optional);
        let m = m.metadata();
        // Rows 0 and 1 (one page), the first row of the second row group, its last row.
        let selection = RowSelection::from(vec![
            RowSelector::select(2),
            RowSelector::skip(2998),
            RowSelector::select(1),
            RowSelector::skip(1998),
            RowSelector::select(1),
        ]);
        assert_eq!(pages_read(m, &[0], &selection), Some(3));
        assert_eq!(pages_read(m, &[0, 1], &selection), Some(6));
        // Every row: every page of the column.
        let all = RowSelection::from(vec![RowSelector::select(5000)]);
        let pages: usize = m
            .offset_index()
            .unwrap()
            .iter()
            .map(|g| g[0].page_locations.len())
            .sum();
        assert!(pages > 10);
        assert_eq!(pages_read(m, &[0], &all), Some(pages));
        let bare = footer(&file, PageIndexPolicy::Skip);
        assert_eq!(
            pages_read(bare.metadata(), &[0], &all),
            None,
            "no offset index"
        );
    }
}
