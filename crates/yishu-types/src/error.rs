//! The one error-code registry. Every failure a user can see has a stable snake_case code, an HTTP
//! status and a message that says what was wrong and where.

use std::fmt;

/// Stable error codes. The string form is part of the API contract: never rename a variant's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request body or a parameter failed validation; the message names the field.
    InvalidInput,
    /// The request body is not valid JSON or has an unknown field.
    MalformedJson,
    /// The request body is larger than the server accepts.
    PayloadTooLarge,
    /// No valid session or API key.
    Unauthenticated,
    /// Wrong user name or password.
    BadCredentials,
    /// Too many failed logins; the account is locked for a while.
    AccountLocked,
    /// The user or key is disabled.
    AccountDisabled,
    /// The API key has expired.
    ApiKeyExpired,
    /// The API key has been revoked.
    ApiKeyRevoked,
    /// Authenticated, but the role does not allow this action.
    Forbidden,
    /// The form's CSRF token is missing or wrong.
    CsrfMismatch,
    /// No such route.
    RouteNotFound,
    /// No such organisation.
    OrgNotFound,
    /// No such user.
    UserNotFound,
    /// No such API key.
    ApiKeyNotFound,
    /// No such catalog resource.
    ResourceNotFound,
    /// No such source.
    SourceNotFound,
    /// No such ingest batch.
    BatchNotFound,
    /// An organisation with this code already exists.
    OrgCodeTaken,
    /// A user with this name already exists.
    UserNameTaken,
    /// Moving an org would put it under itself or break the level hierarchy.
    OrgHierarchy,
    /// Somebody else changed the object first (optimistic concurrency).
    EditConflict,
    /// The audit chain does not verify.
    AuditChainBroken,
    /// A table in the lake could not be read or written.
    LakeError,
    /// A configuration file or value is wrong.
    ConfigInvalid,
    /// The metadata store failed.
    StoreError,
    /// The search index could not be read or written (it can be rebuilt from the store).
    SearchError,
    /// A quality or cleaning rule is wrong (unknown column, bad regex or SQL, unknown code table).
    RuleInvalid,
    /// No such rule, data element, code table or work order.
    QualityNotFound,
    /// A fusion plan is wrong (unknown resource or column, two authorities, rules in a cycle).
    FusionPlanInvalid,
    /// No such review, run, or subject in the base libraries.
    FusionNotFound,
    /// A correction of a core attribute is accepted before the person concerned confirmed it.
    CorrectionUnconfirmed,
    /// No such sharing application.
    ApplicationNotFound,
    /// No such grant, or not one the caller holds.
    GrantNotFound,
    /// The grant is expired, revoked or suspended: no read through it happens.
    GrantInactive,
    /// The resource is not shared (不予共享) or is retired; the message gives the catalog's reason.
    NotShared,
    /// A row filter is malformed or names an item it may not.
    FilterInvalid,
    /// Too many requests or rows for the grant's limits; `Retry-After` says when to come back.
    RateLimited,
    /// The audit record of a read could not be written, so the read did not happen.
    AuditUnavailable,
    /// No such data service (or version), or not one the caller may see.
    ServiceNotFound,
    /// A data service's definition is refused: SQL that is not one SELECT, reads a table outside
    /// the author's rights, calls a function outside the list, or a parameter badly declared.
    ServiceInvalid,
    /// A call's parameter is missing, of the wrong type, too long or outside its domain.
    ParamInvalid,
    /// The service version is retired, or deprecated and past its sunset date.
    ServiceGone,
    /// The service's query ran past its timeout and was stopped.
    ServiceTimeout,
    /// The service is cut off for the caller's department (or everybody) by its provider.
    ServiceCutOff,
    /// No such app, or not one the caller may see.
    AppNotFound,
    /// The app is suspended: none of its keys is served until it is resumed.
    AppSuspended,
    /// The app does not call from this address (its IP allow-list).
    IpNotAllowed,
    /// No such subscription, or not one the caller may see.
    SubscriptionNotFound,
    /// A subscription's database could not be reached or refused the delivery.
    TargetUnavailable,
    /// A subscription's table no longer has the columns its deliveries write.
    TargetChanged,
    /// No open dataset by that name (or not one the public may see).
    DatasetNotFound,
    /// The dataset was withdrawn from opening or destroyed; the record says why.
    DatasetWithdrawn,
    /// A conditionally open dataset: the caller needs the providing department's approval.
    OpenAccessRequired,
    /// Something unexpected; the request id leads to the log line.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and for tests that check the registry is consistent.
    pub const ALL: &'static [ErrorCode] = &[
        Self::InvalidInput,
        Self::MalformedJson,
        Self::PayloadTooLarge,
        Self::Unauthenticated,
        Self::BadCredentials,
        Self::AccountLocked,
        Self::AccountDisabled,
        Self::ApiKeyExpired,
        Self::ApiKeyRevoked,
        Self::Forbidden,
        Self::CsrfMismatch,
        Self::RouteNotFound,
        Self::OrgNotFound,
        Self::UserNotFound,
        Self::ApiKeyNotFound,
        Self::ResourceNotFound,
        Self::SourceNotFound,
        Self::BatchNotFound,
        Self::OrgCodeTaken,
        Self::UserNameTaken,
        Self::OrgHierarchy,
        Self::EditConflict,
        Self::AuditChainBroken,
        Self::LakeError,
        Self::ConfigInvalid,
        Self::StoreError,
        Self::SearchError,
        Self::RuleInvalid,
        Self::QualityNotFound,
        Self::FusionPlanInvalid,
        Self::FusionNotFound,
        Self::CorrectionUnconfirmed,
        Self::ApplicationNotFound,
        Self::GrantNotFound,
        Self::GrantInactive,
        Self::NotShared,
        Self::FilterInvalid,
        Self::RateLimited,
        Self::AuditUnavailable,
        Self::ServiceNotFound,
        Self::ServiceInvalid,
        Self::ParamInvalid,
        Self::ServiceGone,
        Self::ServiceTimeout,
        Self::ServiceCutOff,
        Self::AppNotFound,
        Self::AppSuspended,
        Self::IpNotAllowed,
        Self::SubscriptionNotFound,
        Self::TargetUnavailable,
        Self::TargetChanged,
        Self::DatasetNotFound,
        Self::DatasetWithdrawn,
        Self::OpenAccessRequired,
        Self::Internal,
    ];

    /// The stable string code sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::MalformedJson => "malformed_json",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unauthenticated => "unauthenticated",
            Self::BadCredentials => "bad_credentials",
            Self::AccountLocked => "account_locked",
            Self::AccountDisabled => "account_disabled",
            Self::ApiKeyExpired => "api_key_expired",
            Self::ApiKeyRevoked => "api_key_revoked",
            Self::Forbidden => "forbidden",
            Self::CsrfMismatch => "csrf_mismatch",
            Self::RouteNotFound => "route_not_found",
            Self::OrgNotFound => "org_not_found",
            Self::UserNotFound => "user_not_found",
            Self::ApiKeyNotFound => "api_key_not_found",
            Self::ResourceNotFound => "resource_not_found",
            Self::SourceNotFound => "source_not_found",
            Self::BatchNotFound => "batch_not_found",
            Self::OrgCodeTaken => "org_code_taken",
            Self::UserNameTaken => "user_name_taken",
            Self::OrgHierarchy => "org_hierarchy",
            Self::EditConflict => "edit_conflict",
            Self::AuditChainBroken => "audit_chain_broken",
            Self::LakeError => "lake_error",
            Self::ConfigInvalid => "config_invalid",
            Self::StoreError => "store_error",
            Self::SearchError => "search_error",
            Self::RuleInvalid => "rule_invalid",
            Self::QualityNotFound => "quality_not_found",
            Self::FusionPlanInvalid => "fusion_plan_invalid",
            Self::FusionNotFound => "fusion_not_found",
            Self::CorrectionUnconfirmed => "correction_unconfirmed",
            Self::ApplicationNotFound => "application_not_found",
            Self::GrantNotFound => "grant_not_found",
            Self::GrantInactive => "grant_inactive",
            Self::NotShared => "not_shared",
            Self::FilterInvalid => "filter_invalid",
            Self::RateLimited => "rate_limited",
            Self::AuditUnavailable => "audit_unavailable",
            Self::ServiceNotFound => "service_not_found",
            Self::ServiceInvalid => "service_invalid",
            Self::ParamInvalid => "param_invalid",
            Self::ServiceGone => "service_gone",
            Self::ServiceTimeout => "service_timeout",
            Self::ServiceCutOff => "service_cut_off",
            Self::AppNotFound => "app_not_found",
            Self::AppSuspended => "app_suspended",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::SubscriptionNotFound => "subscription_not_found",
            Self::TargetUnavailable => "target_unavailable",
            Self::TargetChanged => "target_changed",
            Self::DatasetNotFound => "dataset_not_found",
            Self::DatasetWithdrawn => "dataset_withdrawn",
            Self::OpenAccessRequired => "open_access_required",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidInput
            | Self::MalformedJson
            | Self::OrgHierarchy
            | Self::ConfigInvalid
            | Self::RuleInvalid
            | Self::FusionPlanInvalid
            | Self::FilterInvalid
            | Self::ServiceInvalid
            | Self::ParamInvalid => 400,
            Self::PayloadTooLarge => 413,
            Self::Unauthenticated
            | Self::BadCredentials
            | Self::ApiKeyExpired
            | Self::ApiKeyRevoked => 401,
            Self::Forbidden
            | Self::CsrfMismatch
            | Self::AccountDisabled
            | Self::GrantInactive
            | Self::NotShared
            | Self::AppSuspended
            | Self::IpNotAllowed
            | Self::ServiceCutOff
            | Self::OpenAccessRequired => 403,
            Self::AccountLocked | Self::RateLimited => 429,
            Self::RouteNotFound
            | Self::OrgNotFound
            | Self::UserNotFound
            | Self::ApiKeyNotFound
            | Self::ResourceNotFound
            | Self::SourceNotFound
            | Self::BatchNotFound
            | Self::QualityNotFound
            | Self::FusionNotFound
            | Self::ApplicationNotFound
            | Self::GrantNotFound
            | Self::ServiceNotFound
            | Self::AppNotFound
            | Self::SubscriptionNotFound
            | Self::DatasetNotFound => 404,
            Self::ServiceGone | Self::DatasetWithdrawn => 410,
            Self::OrgCodeTaken
            | Self::UserNameTaken
            | Self::EditConflict
            | Self::CorrectionUnconfirmed
            | Self::TargetChanged => 409,
            Self::AuditChainBroken
            | Self::LakeError
            | Self::StoreError
            | Self::SearchError
            | Self::Internal => 500,
            Self::AuditUnavailable => 503,
            Self::TargetUnavailable => 502,
            Self::ServiceTimeout => 504,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user-facing error: a registry code plus a message naming what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A validation failure of one named field.
    pub fn field(field: &str, reason: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidInput, format!("{field}: {reason}"))
    }
}

/// Why a value failed a validator. The `reason` is a stable snake_case word (tested from the case
/// tables); the message explains it to a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub reason: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
            assert!((400..600).contains(&c.http_status()));
        }
    }
}
