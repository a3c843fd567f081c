//! Domain types shared by every Yishu crate: ids, roles, the error-code registry and validators for
//! the national identifiers (GB 11643, GB 32100, GB 11714, GB/T 2260). Values are parsed once at the
//! edge and are valid afterwards.

pub mod citizen_id;
pub mod codes;
pub mod contact;
pub mod credit_code;
pub mod date;
pub mod division;
pub mod error;
pub mod ids;
pub mod role;
pub mod text;

pub use citizen_id::CitizenId;
pub use contact::{Email, Mobile};
pub use credit_code::{CreditCode, OrgCode};
pub use date::parse_cn_date;
pub use division::{Division, DivisionCode};
pub use error::{Error, ErrorCode, Invalid};
pub use ids::{ApiKeyId, AppId, OrgId, UserId};
pub use role::Role;
