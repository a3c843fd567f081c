//! What the sharing tests set up: departments of one city and their people.
#![allow(dead_code)]

use yishu_meta::{Credential, NewOrg, NewUser, OrgLevel, Principal, Store};
use yishu_types::{OrgId, Role};

/// Departments under one city, by (code, name), in order.
pub async fn departments(s: &Store, list: &[(&str, &str)]) -> Vec<OrgId> {
    let city = s
        .create_org(&NewOrg {
            code: "CD".into(),
            name: "成都市".into(),
            level: Some(OrgLevel::City),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    for (code, name) in list {
        let o = s
            .create_org(&NewOrg {
                code: (*code).into(),
                name: (*name).into(),
                parent_id: Some(city.id),
                ..Default::default()
            })
            .await
            .unwrap();
        out.push(o.id);
    }
    out
}

/// A user of `org` with one role, as the server would see them signed in.
pub async fn person(s: &Store, org: OrgId, name: &str, role: Role) -> Principal {
    let u = s
        .create_user(&NewUser {
            name: name.into(),
            display_name: None,
            org_id: org,
            password: "correct horse battery".into(),
            roles: vec![role],
        })
        .await
        .unwrap();
    Principal {
        user_id: u.id,
        name: u.name.clone(),
        display_name: u.display_name,
        org_id: org,
        roles: vec![role],
        credential: Credential::Session,
        app: None,
    }
}
