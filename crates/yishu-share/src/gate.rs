//! The one gate (R35, R36): every read of data for a caller asks [`plan`] with (principal, grant,
//! request) and gets a [`ReadPlan`] — items, row filter, masks, limit — or a refusal. Nothing reads
//! the lake for a caller without a plan, and a plan is only ever narrower than its grant: a
//! catalog entry that gained items or changed its share type since does not widen it.

use crate::filter::{Filter, ItemKind};
use crate::mask::{Mask, Masker};
use serde::Serialize;
use std::collections::BTreeMap;
use yishu_meta::Principal;
use yishu_meta::share::Grant;
use yishu_types::{Error, ErrorCode, OrgId, Role};

/// Most rows one read returns; a caller pages for more.
pub const MAX_PAGE: usize = 10_000;

/// On what a read rests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "grant")]
pub enum Basis {
    /// A grant the caller's department holds.
    Grant(i64),
    /// The caller's department provides the data: its own, in clear.
    Provider,
    /// The bureau's data managers, who run the platform: in clear, recorded as such.
    Bureau,
}

impl Basis {
    pub fn grant_id(self) -> Option<i64> {
        match self {
            Basis::Grant(id) => Some(id),
            _ => None,
        }
    }
}

/// What is read: a target, who provides it and the items it has now.
#[derive(Debug, Clone)]
pub struct Source {
    /// `resource:<id>` or `base:<library>`, as grants name it.
    pub target: String,
    pub provider_org: OrgId,
    /// Every item of the target now, in its order, with its kind.
    pub items: Vec<(String, ItemKind)>,
    /// Security levels of the items' data elements, for default masks.
    pub levels: BTreeMap<String, String>,
}

impl Source {
    /// The items by name, as filters are checked against them.
    pub fn kinds(&self) -> BTreeMap<String, ItemKind> {
        self.items.iter().cloned().collect()
    }

    pub fn has(&self, item: &str) -> bool {
        self.items.iter().any(|(i, _)| i == item)
    }

    pub fn names(&self) -> Vec<String> {
        self.items.iter().map(|(i, _)| i.clone()).collect()
    }
}

/// What the caller asks for.
#[derive(Debug, Clone, Default)]
pub struct ReadRequest {
    /// Items wanted; empty for every item the basis allows.
    pub items: Vec<String>,
    /// A row filter in the filter language, over allowed items.
    pub filter: Option<String>,
    /// Most rows wanted (capped at [`MAX_PAGE`]).
    pub limit: usize,
}

/// What may be read, and how it is shown.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    pub basis: Basis,
    pub target: String,
    /// The items, in the target's order.
    pub items: Vec<String>,
    /// The grant's filter and the request's, both holding.
    pub filter: Option<Filter>,
    pub masks: BTreeMap<String, Mask>,
    pub limit: usize,
    /// The grant's stated purpose (empty for the provider's and bureau's own reads).
    pub purpose: String,
    pub masker: Masker,
}

fn refuse(code: ErrorCode, msg: impl Into<String>) -> Error {
    Error::new(code, msg)
}

/// On what `who` reads data `provider` provides without a grant: the providing department
/// its own, the bureau's data managers all of it; anybody else needs a grant.
pub fn standing(who: &Principal, provider: OrgId) -> Option<Basis> {
    if who.org_id == provider {
        Some(Basis::Provider)
    } else if who.has(Role::DataManager) {
        Some(Basis::Bureau)
    } else {
        None
    }
}

/// The plan for `who` reading `source` through `grant` (or on their own standing when `grant` is
/// `None`), or why not. `now` is in milliseconds; `masker` holds the caller department's keys.
pub fn plan(
    who: &Principal,
    grant: Option<&Grant>,
    source: &Source,
    req: &ReadRequest,
    now: i64,
    masker: Masker,
) -> Result<ReadPlan, Error> {
    let limit = req.limit.clamp(1, MAX_PAGE);
    let Some(g) = grant else {
        let Some(basis) = standing(who, source.provider_org) else {
            return Err(refuse(
                ErrorCode::Forbidden,
                format!(
                    "no grant: {} is shared only through a grant to your department; apply for it in the catalog",
                    source.target
                ),
            ));
        };
        let allowed = source.names();
        let items = requested(&allowed, &req.items, source)?;
        let filter = request_filter(req, &allowed, source)?;
        return Ok(ReadPlan {
            basis,
            target: source.target.clone(),
            masks: items.iter().map(|i| (i.clone(), Mask::Keep)).collect(),
            items,
            filter,
            limit,
            purpose: String::new(),
            masker,
        });
    };
    // Another department's grant is as unknown to the caller as a missing one.
    if g.consumer_org_id != who.org_id {
        return Err(refuse(
            ErrorCode::GrantNotFound,
            format!("no grant {} for your department", g.id),
        ));
    }
    if g.target != source.target {
        return Err(refuse(
            ErrorCode::Forbidden,
            format!("grant {} is for {}, not {}", g.id, g.target, source.target),
        ));
    }
    match g.status.as_str() {
        "active" => {}
        "suspended" => {
            return Err(refuse(
                ErrorCode::GrantInactive,
                format!("grant {} is suspended: {}", g.id, g.status_reason),
            ));
        }
        _ => {
            return Err(refuse(
                ErrorCode::GrantInactive,
                format!("grant {} is {}: {}", g.id, g.status, g.status_reason),
            ));
        }
    }
    if g.expires_at <= now {
        return Err(refuse(
            ErrorCode::GrantInactive,
            format!("grant {} expired; apply again to go on reading", g.id),
        ));
    }
    // The grant's items that the target still has, in the target's order.
    let allowed: Vec<String> = source
        .names()
        .into_iter()
        .filter(|i| g.items.contains(i))
        .collect();
    let items = requested(&allowed, &req.items, source)?;
    let grant_filter = if g.row_filter.trim().is_empty() {
        None
    } else {
        // A filter that no longer checks (an item gone from the target) stops the grant rather
        // than dropping the restriction.
        Some(
            Filter::parse(&g.row_filter)
                .and_then(|f| f.check(&source.kinds()))
                .map_err(|e| {
                    refuse(
                        ErrorCode::GrantInactive,
                        format!(
                            "grant {}'s row filter no longer fits {}: {}; the grant must be renewed",
                            g.id, source.target, e.message
                        ),
                    )
                })?,
        )
    };
    let mask_of = |i: &String| match g.masks.get(i) {
        // An unreadable mask is the strictest, never clear.
        Some(m) => Mask::parse(m).unwrap_or(Mask::Hash),
        None => Mask::default_for(i, source.levels.get(i).map_or("", |s| s)),
    };
    // A caller's own filter may only look at items it sees in clear: filtering on a masked one
    // would tell its values row by row (an oracle).
    let clear: Vec<String> = allowed
        .iter()
        .filter(|i| mask_of(i) == Mask::Keep)
        .cloned()
        .collect();
    let asked = request_filter(req, &clear, source).map_err(|e| {
        match req
            .filter
            .as_deref()
            .and_then(|t| Filter::parse(t).ok())
            .and_then(|f| {
                f.items()
                    .into_iter()
                    .find(|i| allowed.iter().any(|a| a == i) && !clear.iter().any(|c| c == i))
                    .map(str::to_string)
            }) {
            Some(masked) => refuse(
                ErrorCode::InvalidInput,
                format!("filter: '{masked}' is masked for you and cannot be filtered on"),
            ),
            None => e,
        }
    })?;
    let filter = match (grant_filter, asked) {
        (Some(a), Some(b)) => Some(a.and(b)),
        (a, b) => a.or(b),
    };
    let masks = items.iter().map(|i| (i.clone(), mask_of(i))).collect();
    Ok(ReadPlan {
        basis: Basis::Grant(g.id),
        target: source.target.clone(),
        items,
        filter,
        masks,
        limit,
        purpose: g.purpose.clone(),
        masker,
    })
}

/// The items asked for, all of them allowed; every allowed one when none is named.
fn requested(allowed: &[String], asked: &[String], source: &Source) -> Result<Vec<String>, Error> {
    if asked.is_empty() {
        return Ok(allowed.to_vec());
    }
    for a in asked {
        if !allowed.contains(a) {
            return Err(refuse(
                ErrorCode::Forbidden,
                format!(
                    "'{a}' is not an item you may read of {}; you may read: {}",
                    source.target,
                    allowed.join("、")
                ),
            ));
        }
    }
    Ok(allowed
        .iter()
        .filter(|i| asked.contains(i))
        .cloned()
        .collect())
}

/// The request's filter, checked against the allowed items only.
fn request_filter(
    req: &ReadRequest,
    allowed: &[String],
    source: &Source,
) -> Result<Option<Filter>, Error> {
    let Some(text) = req.filter.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let kinds: BTreeMap<String, ItemKind> = source
        .items
        .iter()
        .filter(|(i, _)| allowed.contains(i))
        .cloned()
        .collect();
    Filter::parse(text).and_then(|f| f.check(&kinds)).map(Some)
}

/// A row as text cells by item.
pub type Row = BTreeMap<String, String>;

impl ReadPlan {
    /// The row as the plan shows it, or `None` when the filter keeps it out.
    pub fn apply(&self, row: &Row) -> Option<Row> {
        if let Some(f) = &self.filter
            && !f.matches(row)
        {
            return None;
        }
        Some(
            self.items
                .iter()
                .map(|i| {
                    let v = row.get(i).map_or("", String::as_str);
                    (i.clone(), self.show(i, v))
                })
                .collect(),
        )
    }

    /// One value of `item` as the plan shows it.
    pub fn show(&self, item: &str, value: &str) -> String {
        let mask = self.masks.get(item).copied().unwrap_or(Mask::Hash);
        self.masker.apply(mask, item, value)
    }

    /// The columns a keyed read of `items` under this plan needs: the subject's key, the items
    /// and what the plan's filter reads.
    pub fn columns_for<'a>(&'a self, items: &'a [String]) -> Vec<&'a str> {
        let mut columns: Vec<&str> = vec!["subject_key"];
        columns.extend(items.iter().map(String::as_str));
        if let Some(f) = &self.filter {
            columns.extend(f.items());
        }
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// Whether `item` comes out in clear.
    pub fn is_clear(&self, item: &str) -> bool {
        self.masks.get(item) == Some(&Mask::Keep)
    }

    /// A stable digest of what was asked (target, items, filter, limit), for the read audit: the
    /// same question gives the same digest without the record holding the filter's values.
    pub fn query_hash(&self) -> String {
        use sm3::{Digest, Sm3};
        let mut h = Sm3::new();
        h.update(self.target.as_bytes());
        for i in &self.items {
            h.update([0x1f]);
            h.update(i.as_bytes());
        }
        h.update([0x1e]);
        if let Some(f) = &self.filter {
            h.update(f.to_string().as_bytes());
        }
        h.update(self.limit.to_string().as_bytes());
        hex::encode(h.finalize())[..16].to_string()
    }
}
