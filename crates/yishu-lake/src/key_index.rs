//! Where the rows of given key hashes sit in a data file, without reading its hash column.
//!
//! Pass 1 of [`crate::Lake::find`] decodes a file's whole hash column to find a few rows: a cost
//! that grows with the library, not with the batch. Each data file of a table with hash
//! columns ([`crate::HASH_COLUMNS`]) therefore gets, when it is written, one index file per hash
//! column: the file's (hash, row position) pairs sorted by hash, with every 16th hash kept as a
//! fence in front. A pick reads the fences and only the 16-entry blocks its hashes fall in.
//!
//! The index sits beside the table's data under `_yishu_index/` (Delta readers and vacuum
//! leave `_`-directories alone) and is never the only truth: a file without one — written by
//! another engine or an older Yishu, or whose index does not match it — is scanned as before.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::parquet::arrow::ProjectionMask;
#[allow(deprecated)] // the object-store reader delta-rs itself reads with
use deltalake::parquet::arrow::async_reader::{
    ParquetObjectReader, ParquetRecordBatchStreamBuilder,
};
use deltalake::{ObjectStore, Path};
use futures::StreamExt;
use std::ops::Range;
use std::sync::Arc;
use yishu_types::{Error, ErrorCode};

const MAGIC: &[u8; 4] = b"YSKI";
const VERSION: u32 = 1;
/// Magic, version, data file size, entries, block size.
const PRELUDE: u64 = 4 + 4 + 8 + 8 + 4;
/// Entries per block (one fence each). A batch looks up thousands of subjects (a 1k batch about
/// 7,000: the people and their relatives), each reading a block: small blocks keep that a small
/// part of a big file, at 8 bytes of fence per 16 rows.
const BLOCK: u64 = 16;
/// An entry: the hash's low 32 bits and the row position, both u32 little-endian. The block a
/// hash falls in is found by the full 64-bit fences; within it, 32 bits leave about one
/// stray candidate in a few hundred lookups, which the key check of pass 2 drops anyway.
const ENTRY: u64 = 8;

/// Where the index of `column` for the data file at `data` is kept.
pub(crate) fn index_path(data: &Path, column: &str) -> Path {
    Path::from(format!("_yishu_index/{data}.{column}.idx"))
}

fn lake_error(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::LakeError, what.to_string())
}

/// Writes the indexes of a data file just written: one per column of `columns` it has.
pub(crate) async fn index_file(
    store: &Arc<dyn ObjectStore>,
    data: &Path,
    size: u64,
    columns: &[&str],
) -> Result<(), Error> {
    let what = format!("the data file {data}");
    #[allow(deprecated)]
    let reader = ParquetObjectReader::new(store.clone(), data.clone()).with_file_size(size);
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| lake_error(format!("cannot read {what} to index it: {e}")))?;
    let present: Vec<(usize, &str)> = columns
        .iter()
        .filter_map(|c| builder.schema().index_of(c).ok().map(|i| (i, *c)))
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), present.iter().map(|p| p.0));
    let mut stream = builder
        .with_projection(mask)
        .with_batch_size(65536)
        .build()
        .map_err(|e| lake_error(format!("cannot read {what} to index it: {e}")))?;
    let mut entries: Vec<Vec<(i64, u32)>> = vec![Vec::new(); present.len()];
    let mut at = 0u32;
    while let Some(b) = stream.next().await {
        let b = b.map_err(|e| lake_error(format!("cannot read {what} to index it: {e}")))?;
        for ((_, name), out) in present.iter().zip(entries.iter_mut()) {
            // Projected columns come in the file's order, which need not be `columns`' order.
            let column = b.column_by_name(name).ok_or_else(|| {
                lake_error(format!("{what}: the hash column {name} was not read"))
            })?;
            let column = column.as_primitive_opt::<Int64Type>().ok_or_else(|| {
                lake_error(format!("{what}: a hash column must hold 64-bit integers"))
            })?;
            for (j, h) in column.values().iter().enumerate() {
                if !column.is_null(j) {
                    out.push((*h, at + j as u32));
                }
            }
        }
        at += b.num_rows() as u32;
    }
    for ((_, column), mut entries) in present.iter().zip(entries) {
        entries.sort_unstable();
        store
            .put(&index_path(data, column), encode(size, &entries).into())
            .await
            .map_err(|e| lake_error(format!("cannot write the {column} index of {what}: {e}")))?;
    }
    Ok(())
}

/// The bytes of an index over `entries` (sorted by hash) of a data file of `size` bytes.
fn encode(size: u64, entries: &[(i64, u32)]) -> Vec<u8> {
    let n = entries.len() as u64;
    let blocks = n.div_ceil(BLOCK);
    let mut out = Vec::with_capacity((PRELUDE + blocks * 8 + n * ENTRY) as usize);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(BLOCK as u32).to_le_bytes());
    for block in entries.chunks(BLOCK as usize) {
        out.extend_from_slice(&block[0].0.to_le_bytes());
    }
    for (h, pos) in entries {
        out.extend_from_slice(&(*h as u32).to_le_bytes());
        out.extend_from_slice(&pos.to_le_bytes());
    }
    out
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// The blocks (by number) that may hold the hash `h`, given each block's first hash: a hash
/// repeated across a block boundary spans every block it starts or continues in.
fn blocks_for(fences: &[i64], h: i64) -> Range<u64> {
    // The last block starting before h (h's run may begin in it) to the last starting at h.
    let first = fences.partition_point(|f| *f < h).saturating_sub(1);
    let last = fences.partition_point(|f| *f <= h);
    if last == 0 {
        return 0..0; // below the first hash of the file
    }
    first as u64..last as u64
}

/// Block ranges merged where they touch or overlap (`ranges` ordered by start).
fn merged(ranges: impl Iterator<Item = Range<u64>>) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in ranges.filter(|r| !r.is_empty()) {
        match out.last_mut() {
            Some(prev) if r.start <= prev.end => prev.end = prev.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The positions of the rows whose `column` hash is one of `wanted` (sorted, no repeats) in
/// the data file at `data` of `size` bytes, read from its index; `None` when it has no usable
/// index (the caller scans the file). Positions come sorted; two keys may share a hash, so
/// they are candidates.
pub(crate) async fn positions(
    store: &Arc<dyn ObjectStore>,
    data: &Path,
    size: u64,
    column: &str,
    wanted: &[i64],
) -> Result<Option<Vec<u64>>, Error> {
    let path = index_path(data, column);
    let unusable = |why: String| {
        tracing::warn!(index = %path, "index not used, the data file is scanned: {why}");
        Ok(None)
    };
    let prelude = match store.get_range(&path, 0..PRELUDE).await {
        Ok(b) => b,
        Err(deltalake::ObjectStoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return unusable(e.to_string()),
    };
    if prelude.len() < PRELUDE as usize {
        return unusable("shorter than its header".into());
    }
    let (n, block) = (u64_at(&prelude, 16), u32_at(&prelude, 24) as u64);
    if &prelude[..4] != MAGIC || u32_at(&prelude, 4) != VERSION || block != BLOCK {
        return unusable("not an index of this version".into());
    }
    if u64_at(&prelude, 8) != size {
        return unusable(format!(
            "made for a file of {} bytes, the file has {size}",
            u64_at(&prelude, 8)
        ));
    }
    let blocks = n.div_ceil(BLOCK);
    let entries_at = PRELUDE + blocks * 8;
    let expected = entries_at + n * ENTRY;
    match store.head(&path).await {
        Ok(meta) if meta.size == expected => {}
        Ok(meta) => {
            return unusable(format!(
                "{} bytes where its header says {expected}",
                meta.size
            ));
        }
        Err(e) => return unusable(e.to_string()),
    }
    let fences = match store.get_range(&path, PRELUDE..entries_at).await {
        Ok(b) => b,
        Err(e) => return unusable(e.to_string()),
    };
    let fences: Vec<i64> = fences
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let spans: Vec<Range<u64>> = wanted.iter().map(|h| blocks_for(&fences, *h)).collect();
    let reads = merged(spans.iter().cloned());
    if reads.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let byte_range = |r: &Range<u64>| {
        entries_at + r.start * BLOCK * ENTRY..(entries_at + r.end * BLOCK * ENTRY).min(expected)
    };
    let ranges: Vec<Range<u64>> = reads.iter().map(byte_range).collect();
    let read = match store.get_ranges(&path, &ranges).await {
        Ok(b) => b,
        Err(e) => return unusable(e.to_string()),
    };
    let mut out = Vec::new();
    for (h, span) in wanted.iter().zip(&spans) {
        if span.is_empty() {
            continue;
        }
        // The read holding this hash's blocks (reads are ordered and disjoint).
        let i = reads.partition_point(|r| r.end <= span.start);
        let from = ((span.start - reads[i].start) * BLOCK * ENTRY) as usize;
        let to = (((span.end - reads[i].start) * BLOCK * ENTRY) as usize).min(read[i].len());
        let low = *h as u32;
        for e in read[i][from..to].chunks_exact(ENTRY as usize) {
            if u32_at(e, 0) == low {
                out.push(u32_at(e, 4) as u64);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_repeated_across_blocks_is_found_in_every_block() {
        // Hash 5 fills the end of block 0, all of block 1 and the start of block 2.
        let mut entries: Vec<(i64, u32)> = (0..10).map(|i| (i as i64 - 100, i)).collect();
        entries.extend((10..40).map(|i| (5, i)));
        entries.extend((40..50).map(|i| (i as i64 + 100, i)));
        let fences: Vec<i64> = entries.chunks(BLOCK as usize).map(|b| b[0].0).collect();
        assert_eq!(fences, vec![-100, 5, 5, 148]);
        assert_eq!(blocks_for(&fences, 5), 0..3);
        assert!(blocks_for(&fences, -1000).is_empty());
        assert_eq!(blocks_for(&fences, 1000), 3..4);
        assert_eq!(blocks_for(&fences, -100), 0..1);
        // Between two fences: the one block before.
        assert_eq!(blocks_for(&fences, 100), 2..3);
        assert_eq!(
            merged([0..1, 0..3, 2..3, 3..4, 6..7].into_iter()),
            vec![0..4, 6..7]
        );
        let bytes = encode(7, &entries);
        assert_eq!(
            bytes.len() as u64,
            PRELUDE + 4 * 8 + 50 * ENTRY,
            "prelude, fences, entries"
        );
    }
}
