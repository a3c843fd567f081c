//! Sharing (共享, R26 R30 R31 R35–R37): grants, the one read gate every datum passes on its way
//! to a caller, masking with 国密 tokens and digests, and the read audit. It sits between the
//! flow's stages (which store the data) and the server (which only calls it).

pub mod application;
pub mod audit;
pub mod calendar;
pub mod files;
pub mod filter;
pub mod gate;
pub mod limit;
pub mod mask;
pub mod opening;
pub mod read;
pub mod service;
pub mod subscribe;
pub mod target;
pub mod token;
pub mod usage;
pub mod verify;
pub mod watermark;

pub use filter::{Filter, ItemKind};
pub use gate::{Basis, ReadPlan, ReadRequest, Source, plan};
pub use mask::{Mask, Masker};

use yishu_meta::Store;
use yishu_types::OrgId;

/// The masker for reads by `consumer`: its tokens and digests are keyed by the installation's
/// secret and the department, so one department's tokens join across its grants and mean
/// nothing to another department.
pub fn masker_for(store: &Store, consumer: OrgId) -> Masker {
    Masker::new(
        store
            .secret_hash(&format!("share-token-key:{}", consumer.0))
            .as_bytes(),
    )
}
