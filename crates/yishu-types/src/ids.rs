//! Id newtypes so an org id can never be passed where a user id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An organisation (level or department).
    OrgId
);
id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// An API key row (not the secret).
    ApiKeyId
);
id_type!(
    /// An app (接入应用): a consumer department's system holding its own keys.
    AppId
);
