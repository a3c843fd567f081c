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

/// The first position in `fences` (ascending) from `from` on whose fence is not below `h` —
/// galloping, since the hashes looked up come in order.
fn first_not_below(fences: &Fences, h: i64, from: usize) -> usize {
    let (mut lo, mut step) = (from, 1);
    let mut hi = from;
    while hi < fences.len() && fences.get(hi) < h {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    let hi = hi.min(fences.len());
    // Binary search in lo..hi.
    let (mut a, mut b) = (lo, hi);
    while a < b {
        let mid = (a + b) / 2;
        if fences.get(mid) < h {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    a
}

/// The fences of an index, read in place.
struct Fences<'a>(&'a [u8]);

impl Fences<'_> {
    fn len(&self) -> usize {
        self.0.len() / 8
    }

    fn get(&self, k: usize) -> i64 {
        i64::from_le_bytes(self.0[k * 8..k * 8 + 8].try_into().expect("8 bytes"))
    }
}

/// The positions of the rows holding `wanted` hashes (sorted, no repeats) in the index `bytes`
/// of a data file of `size` bytes; an error says why the index cannot be used.
fn lookup(bytes: &[u8], size: u64, wanted: &[i64]) -> Result<Vec<u64>, String> {
    if bytes.len() < PRELUDE as usize {
        return Err("shorter than its header".into());
    }
    let (n, block) = (u64_at(bytes, 16), u32_at(bytes, 24) as u64);
    if &bytes[..4] != MAGIC || u32_at(bytes, 4) != VERSION || block != BLOCK {
        return Err("not an index of this version".into());
    }
    if u64_at(bytes, 8) != size {
        return Err(format!(
            "made for a file of {} bytes, the file has {size}",
            u64_at(bytes, 8)
        ));
    }
    let entries_at = n
        .div_ceil(BLOCK)
        .checked_mul(8)
        .and_then(|f| f.checked_add(PRELUDE))
        .ok_or("a header out of range")?;
    let expected = n
        .checked_mul(ENTRY)
        .and_then(|e| e.checked_add(entries_at))
        .ok_or("a header out of range")?;
    if bytes.len() as u64 != expected {
        return Err(format!(
            "{} bytes where its header says {expected}",
            bytes.len()
        ));
    }
    let fences = Fences(&bytes[PRELUDE as usize..entries_at as usize]);
    let entries = &bytes[entries_at as usize..];
    let (mut out, mut at) = (Vec::new(), 0usize);
    for &h in wanted {
        // From the last block starting before h (h's run may begin in it) to the last block
        // starting at h: a hash repeated across a block boundary spans all of them.
        at = first_not_below(&fences, h, at);
        let mut last = at;
        while last < fences.len() && fences.get(last) == h {
            last += 1;
        }
        if last == 0 {
            continue; // below the first hash of the file
        }
        let first = at.saturating_sub(1);
        let (from, to) = (
            first * BLOCK as usize,
            (last * BLOCK as usize).min(n as usize),
        );
        let low = h as u32;
        for e in entries[from * ENTRY as usize..to * ENTRY as usize].chunks_exact(ENTRY as usize) {
            if u32_at(e, 0) == low {
                out.push(u32_at(e, 4) as u64);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The positions of the rows whose `column` hash is one of `wanted` (sorted, no repeats) in
/// the data file at `data` of `size` bytes, read from its index (a damaged one is written
/// again first); `None` when it has no usable index (the caller scans the file). Positions
/// come sorted; two keys may share a hash, so they are candidates. `local` is the table's
/// directory when the lake is on local disk: the index is then mapped into memory and only
/// the pages of the blocks looked up are read.
pub(crate) async fn positions(
    (store, local): (&Arc<dyn ObjectStore>, Option<&std::path::Path>),
    data: &Path,
    size: u64,
    column: &str,
    wanted: &[i64],
) -> Result<Option<Vec<u64>>, Error> {
    let path = index_path(data, column);
    let why = match look_up((store, local), &path, size, wanted).await {
        None => return Ok(None),
        Some(Ok(p)) => return Ok(Some(p)),
        Some(Err(why)) => why,
    };
    // A damaged index (cut short, or another file's) is written again from the data file —
    // what a scan would read anyway — so the next pick finds it whole.
    tracing::warn!(index = %path, "index does not match its data file, written again: {why}");
    if let Err(e) = index_file(store, data, size, &[column]).await {
        tracing::warn!(index = %path, "index not written again, the data file is scanned: {e}");
        return Ok(None);
    }
    match look_up((store, local), &path, size, wanted).await {
        Some(Ok(p)) => Ok(Some(p)),
        Some(Err(why)) => {
            tracing::warn!(index = %path, "index not used, the data file is scanned: {why}");
            Ok(None)
        }
        None => Ok(None),
    }
}

/// [`lookup`] in the index at `path`: `None` when there is none, an error in words when it
/// cannot be read or does not match a data file of `size` bytes.
async fn look_up(
    (store, local): (&Arc<dyn ObjectStore>, Option<&std::path::Path>),
    path: &Path,
    size: u64,
    wanted: &[i64],
) -> Option<Result<Vec<u64>, String>> {
    Some(match local {
        // Index files are written whole under a temporary name and renamed into place.
        Some(dir) => match crate::map_immutable(&dir.join(path.as_ref())) {
            Ok(map) => lookup(&map, size, wanted),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => Err(e.to_string()),
        },
        None => match store.get(path).await {
            Ok(r) => match r.bytes().await {
                Ok(b) => lookup(&b, size, wanted),
                Err(e) => Err(e.to_string()),
            },
            Err(deltalake::ObjectStoreError::NotFound { .. }) => return None,
            Err(e) => Err(e.to_string()),
        },
    })
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
        let bytes = encode(7, &entries);
        assert_eq!(
            bytes.len() as u64,
            PRELUDE + 4 * 8 + 50 * ENTRY,
            "prelude, fences, entries"
        );
        let fences = Fences(&bytes[PRELUDE as usize..PRELUDE as usize + 32]);
        assert_eq!(
            (0..4).map(|k| fences.get(k)).collect::<Vec<_>>(),
            vec![-100, 5, 5, 148]
        );
        assert_eq!(first_not_below(&fences, 5, 0), 1);
        assert_eq!(first_not_below(&fences, 6, 0), 3);
        assert_eq!(first_not_below(&fences, 1000, 2), 4);
        let all = |w: &[i64]| lookup(&bytes, 7, w).unwrap();
        assert_eq!(all(&[5]), (10..40).collect::<Vec<u64>>());
        assert_eq!(all(&[-1000, -100, 149, 1000]), vec![0, 49]);
        assert_eq!(all(&[-91, 5, 140]), {
            let mut v: Vec<u64> = vec![9];
            v.extend(10..40);
            v.push(40);
            v
        });
        assert!(
            lookup(&bytes, 8, &[5])
                .unwrap_err()
                .contains("file of 7 bytes")
        );
        assert!(lookup(&bytes[..bytes.len() - 1], 7, &[5]).is_err());
    }
}
