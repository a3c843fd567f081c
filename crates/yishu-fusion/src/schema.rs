//! The base layer's tables as a fusion run writes them and the library readers read them: their
//! names, the linking index's columns and the hash columns rows are found by.

use crate::key::SubjectKind;

/// The layout of the base tables: 1 = hash columns to find a subject's rows by
/// (`_key_hash`, `_ref_hash`, `_to_hash`) and the blocking keys in `person_blocks`. An
/// incremental run needs the current one.
pub const LAYOUT: u32 = 1;

/// The base-library table of each subject kind.
pub fn base_table(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::Person => "population",
        SubjectKind::Entity => "entities",
        SubjectKind::House => "houses",
    }
}

/// The commit metadata of a base library's write that holds the run's time (µs): its new
/// versions are valid from it, the versions it supersedes valid to it.
pub const VALID_AT: &str = "valid_at";

/// Where superseded versions of a base table's rows go.
pub fn history_table(kind: SubjectKind) -> String {
    format!("{}_history", base_table(kind))
}

/// Which source rows make each subject.
pub const RECORDS_TABLE: &str = "subject_records";
/// Each subject's timeline.
pub const EVENTS_TABLE: &str = "events";
/// The relationship graph.
pub const RELATIONS_TABLE: &str = "relations";
/// The tags the plan's rules give.
pub const TAGS_TABLE: &str = "tags";

/// The linking index of person subjects: what linking compares a new record with.
pub const INDEX_TABLE: &str = "person_index";
pub(crate) const INDEX_COLUMNS: &[&str] = &[
    "subject_key",
    "name",
    "sex",
    "birth",
    "division",
    "street",
    "detail",
];
/// The blocking keys of each person subject, a row each: what finds the subjects a new record
/// may belong to without reading the index whole.
pub const BLOCKS_TABLE: &str = "person_blocks";
/// The hash of `block` in [`BLOCKS_TABLE`].
pub(crate) const BLOCK_HASH: &str = yishu_lake::lineage::BLOCK_HASH;
/// The hash of (`resource`, `_batch_id`, `_ods_ref`) in [`RECORDS_TABLE`]: finds the subjects
/// of a source row (std rows hold the same column without the resource, their table's name).
pub(crate) const REF_HASH: &str = yishu_lake::lineage::REF_HASH;
pub(crate) const REF_COLUMNS: [&str; 3] = [
    "resource",
    yishu_lake::lineage::BATCH_ID,
    yishu_lake::lineage::ODS_REF,
];
/// The hash of the subject a relation points to (`to_kind`, `to_key`) in [`RELATIONS_TABLE`].
pub(crate) const TO_HASH: &str = yishu_lake::lineage::TO_HASH;

/// The blocking keys a person subject is found by: its record's, and its number (`id:…`).
pub(crate) fn subject_blocks(key: &str, rep: &crate::link::PersonRecord) -> Vec<String> {
    let mut out = crate::link::record_blocks(rep);
    if !key.starts_with('~') {
        out.push(number_block(key.split('#').next().unwrap_or_default()));
    }
    out
}

/// The block of a citizen number.
pub(crate) fn number_block(number: &str) -> String {
    format!("id:{number}")
}
