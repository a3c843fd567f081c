//! Setting the synthetic city up in a metadata store: its organisations and one user per role,
//! and its catalog, every entry published.

use super::datasets::{DATASETS, DEPARTMENTS, fangwu, huji, qiye};
use anyhow::Result;
use rand::Rng;
use yishu_meta::catalog::{
    Actor, ClassKind, Extended, Item, OpenType, Resource, ResourceDraft, ShareType,
};
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::Role;

/// Creates the province, the city, its districts and departments, and one user per role.
/// Returns (user name, role, password).
pub async fn seed_city(store: &Store) -> Result<Vec<(String, String, String)>> {
    let province = store
        .create_org(&NewOrg {
            code: "SC".into(),
            name: "四川省".into(),
            level: Some(OrgLevel::Province),
            division_code: Some("510000".into()),
            ..Default::default()
        })
        .await?;
    let city = store
        .create_org(&NewOrg {
            code: "CD".into(),
            name: "成都市".into(),
            level: Some(OrgLevel::City),
            parent_id: Some(province.id),
            division_code: Some("510100".into()),
            ..Default::default()
        })
        .await?;
    for d in yishu_types::division::current_under("5101")
        .into_iter()
        .filter(|d| d.code.as_str() != "510100")
    {
        store
            .create_org(&NewOrg {
                code: format!("CD-{}", d.code),
                name: d.name.clone(),
                level: Some(OrgLevel::District),
                parent_id: Some(city.id),
                division_code: Some(d.code.to_string()),
                ..Default::default()
            })
            .await?;
    }
    let mut dept_ids = Vec::new();
    for (i, (code, name)) in DEPARTMENTS.iter().enumerate() {
        let o = store
            .create_org(&NewOrg {
                code: (*code).into(),
                name: (*name).into(),
                parent_id: Some(city.id),
                credit_code: Some(crate::government_credit_code(i as u32 + 1, "510100")),
                division_code: Some("510100".into()),
                ..Default::default()
            })
            .await?;
        dept_ids.push(o.id);
    }
    // The first department is the bureau (大数据管理局): it confirms sharing and provides the
    // base libraries.
    store.set_bureau(dept_ids[0]).await?;
    let plan: [(&str, &str, Role, usize); 6] = [
        ("admin", "系统管理员", Role::Admin, 0),
        ("manager", "数据管理员", Role::DataManager, 0),
        // A second data manager: services and rules are reviewed by someone other than their author.
        ("reviewer", "数据审核员", Role::DataManager, 0),
        ("officer", "公安局数据专员", Role::ProviderOfficer, 1),
        ("consumer", "人社局数据使用方", Role::Consumer, 3),
        ("auditor", "安全审计员", Role::Auditor, 0),
    ];
    let mut out = Vec::new();
    for (name, display, role, dept) in plan {
        let password = random_password();
        store
            .create_user(&NewUser {
                name: name.into(),
                display_name: Some(display.into()),
                org_id: dept_ids[dept],
                password: password.clone(),
                roles: vec![role],
            })
            .await?;
        out.push((name.to_string(), role.as_str().to_string(), password));
    }
    Ok(out)
}

/// 16 characters from an alphabet without look-alikes.
pub fn random_password() -> String {
    const A: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| A[rng.random_range(0..A.len())] as char)
        .collect()
}

/// Catalogues the synthetic city's datasets (as the admin for each department), and has the
/// bureau's data manager approve and publish them. Returns the published entries.
pub async fn catalog_city(store: &Store) -> Result<Vec<Resource>> {
    let admin = store.get_user_by_name("admin").await?;
    let manager = store.get_user_by_name("manager").await?;
    let by = Actor {
        user: admin.id,
        org: admin.org_id,
        roles: &admin.roles,
    };
    let reviewer = Actor {
        user: manager.id,
        org: manager.org_id,
        roles: &manager.roles,
    };
    let mut out = Vec::new();
    for (n, d) in DATASETS.iter().enumerate() {
        let org = store.get_org_by_code(d.department).await?;
        let dept_no = DEPARTMENTS
            .iter()
            .position(|x| x.0 == d.department)
            .unwrap_or(0)
            + 1;
        let draft = ResourceDraft {
            class_kind: ClassKind::Department,
            class_path: format!("{dept_no:02}001{:03}", n + 1),
            name: d.resource.into(),
            provider_org_id: org.id,
            summary: d.summary.into(),
            format: d.format,
            share_type: d.share,
            share_condition: if d.share == ShareType::Unconditional {
                String::new()
            } else {
                "依据《政务信息资源共享管理暂行办法》，经申请审批后共享".into()
            },
            open_type: d.open,
            open_condition: if d.open == OpenType::Conditional {
                "仅向经审核的科研与金融机构开放，个人信息脱敏后使用".into()
            } else {
                String::new()
            },
            update_cycle: d.cycle,
            related_codes: Vec::new(),
            extended: Extended {
                contact: format!("{}数据专员", org.name),
                keywords: vec![d.resource.chars().take(2).collect()],
                spatial_coverage: "成都市".into(),
                ..Default::default()
            },
            items: d
                .columns
                .iter()
                .map(|c| Item {
                    name: c.name.into(),
                    item_type: c.kind.into(),
                    length: c.len,
                    data_element: element_for(c.name),
                    description: String::new(),
                })
                .collect(),
        };
        let r = store.create_resource(&draft, &by).await?;
        store.submit_resource(r.id, &by).await?;
        store.review_resource(r.id, true, "", &reviewer).await?;
        out.push(store.publish_resource(r.id, &reviewer).await?);
    }
    Ok(out)
}

/// The national data element an item of the demo follows, by its name.
fn element_for(item: &str) -> Option<String> {
    let id = match item {
        huji::ID | qiye::LEGAL_REP_ID | fangwu::OWNER_ID => "citizen_id",
        qiye::CODE => "credit_code",
        huji::SEX => "sex_code",
        huji::ETHNICITY => "ethnicity_code",
        huji::MARITAL => "marital_code",
        huji::DIVISION => "division_code",
        huji::BIRTH => "birth_date",
        _ => return None,
    };
    Some(id.into())
}
