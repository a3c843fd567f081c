//! The five roles of the platform and what each may do.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A role a user holds. A user may hold several.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 系统管理员: orgs, users, roles, keys of others.
    Admin,
    /// 数据主管部门 staff: review catalog entries, approve sharing.
    DataManager,
    /// 数据提供方 data officer of a department.
    ProviderOfficer,
    /// 数据使用方: searches, applies for and uses data.
    Consumer,
    /// 审计员: reads and verifies the audit log.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::DataManager,
        Role::ProviderOfficer,
        Role::Consumer,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::DataManager => "data_manager",
            Role::ProviderOfficer => "provider_officer",
            Role::Consumer => "consumer",
            Role::Auditor => "auditor",
        }
    }

    /// Chinese label for pages.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::DataManager => "数据管理员",
            Role::ProviderOfficer => "数据提供方专员",
            Role::Consumer => "数据使用方",
            Role::Auditor => "审计员",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::DataManager => "Data manager",
            Role::ProviderOfficer => "Provider officer",
            Role::Consumer => "Consumer",
            Role::Auditor => "Auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role '{s}'; expected one of admin, data_manager, provider_officer, consumer, auditor")
            })
    }
}
