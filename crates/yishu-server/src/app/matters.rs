//! Government service matters (事项) and the resources they use.

use crate::AppState;
use crate::app::access::own_org;
use crate::app::access::readable;
use crate::error::ApiResult;
use serde::Serialize;
use yishu_meta::matter::Matter;
use yishu_meta::matter::Produces;
use yishu_types::OrgId;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatterPage {
    pub matter: Matter,
    pub produces: Vec<Produces>,
}

pub(crate) fn own(p: &yishu_meta::Principal, org: OrgId) -> ApiResult<()> {
    own_org(p, org, "keeps its duty list")
}

/// A matter and what it produces, keeping only resources `p` may see (a draft of another
/// department stays hidden).
pub(crate) async fn page(
    s: &AppState,
    p: &yishu_meta::Principal,
    id: i64,
) -> ApiResult<MatterPage> {
    let matter = s.store.get_matter(id).await?;
    let mut produces = Vec::new();
    for pr in s.store.matter_produces(id).await? {
        if readable(s, p, pr.resource_id).await.is_ok() {
            produces.push(pr);
        }
    }
    Ok(MatterPage { matter, produces })
}
