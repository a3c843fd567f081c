//! The contract between the layers: the lineage columns each layer's rows carry to say where
//! they came from, the hash columns rows are found by, and tables' names as SQL sees them
//! (`<layer>.<table>`). Every crate names these through here, never as string literals.

use crate::Layer;

/// The batch (one extraction) a row came in with: ods, std, quarantine and quality rows.
pub const BATCH_ID: &str = "_batch_id";
/// An ods or quarantine row's place in its source (`line 12`, `nats:gjj.jiaocun#42`, …).
pub const SOURCE_REF: &str = "_source_ref";
/// When an ods row was stored.
pub const INGESTED_AT: &str = "_ingested_at";
/// A std row's ods row: the ods row's `_source_ref` within the same batch.
pub const ODS_REF: &str = "_ods_ref";

/// The hash of a subject's key in the base tables.
pub const KEY_HASH: &str = "_key_hash";
/// The hash of a std row's lineage: [`crate::key_hash`] of (`_batch_id`, `_ods_ref`). What
/// finds a few source rows again in a std table of millions (base tables add the resource).
pub const REF_HASH: &str = "_ref_hash";
/// The hash of the subject a relation points to.
pub const TO_HASH: &str = "_to_hash";
/// The hash of a blocking key of the linking index.
pub const BLOCK_HASH: &str = "_block_hash";
/// The hash columns tables keep to find rows by ([`crate::Lake::find`]): random 64-bit
/// integers, written plain and uncompressed (a dictionary or compression gains nothing on them).
pub const HASH_COLUMNS: [&str; 4] = [KEY_HASH, REF_HASH, TO_HASH, BLOCK_HASH];

/// A table as SQL names it: `std.t_person`.
pub fn qualified(layer: Layer, table: &str) -> String {
    format!("{layer}.{table}")
}
