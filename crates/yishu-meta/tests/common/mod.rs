//! The world the store tests share: a city, its public security bureau (公安局) and the data
//! bureau, an officer of each and a data manager, and a valid resource draft.
#![allow(dead_code)]

use yishu_meta::catalog::*;
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::{OrgId, Role, UserId};

pub struct World {
    pub ga: OrgId,
    pub bureau: OrgId,
    pub officer: UserId,
    pub manager: UserId,
    pub bureau_officer: UserId,
}

pub async fn world(s: &Store) -> World {
    let city = s
        .create_org(&NewOrg {
            code: "CD".into(),
            name: "成都市".into(),
            level: Some(OrgLevel::City),
            ..Default::default()
        })
        .await
        .unwrap();
    let ga = s
        .create_org(&NewOrg {
            code: "GA".into(),
            name: "公安局".into(),
            parent_id: Some(city.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let bureau = s
        .create_org(&NewOrg {
            code: "DSJ".into(),
            name: "大数据局".into(),
            parent_id: Some(city.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let mk = |name: &str, org: OrgId, role: Role| NewUser {
        name: name.into(),
        display_name: None,
        org_id: org,
        password: "correct horse battery".into(),
        roles: vec![role],
    };
    let officer = s
        .create_user(&mk("officer", ga.id, Role::ProviderOfficer))
        .await
        .unwrap()
        .id;
    let manager = s
        .create_user(&mk("manager", bureau.id, Role::DataManager))
        .await
        .unwrap()
        .id;
    let bureau_officer = s
        .create_user(&mk("bofficer", bureau.id, Role::ProviderOfficer))
        .await
        .unwrap()
        .id;
    World {
        ga: ga.id,
        bureau: bureau.id,
        officer,
        manager,
        bureau_officer,
    }
}

pub fn draft(provider: OrgId) -> ResourceDraft {
    ResourceDraft {
        class_kind: ClassKind::Department,
        class_path: "01001001".into(),
        name: "户籍人口信息".into(),
        provider_org_id: provider,
        summary: "公安局登记的常住户籍人口基本信息".into(),
        format: ResourceFormat::Database,
        share_type: ShareType::Conditional,
        share_condition: "《中华人民共和国居民身份证法》第十三条".into(),
        open_type: OpenType::Never,
        open_condition: String::new(),
        update_cycle: UpdateCycle::Daily,
        related_codes: vec![],
        extended: Extended {
            keywords: vec!["人口".into(), "户籍".into()],
            ..Default::default()
        },
        items: vec![
            Item {
                name: "公民身份号码".into(),
                item_type: "C".into(),
                length: Some(18),
                data_element: Some("DE00001".into()),
                description: String::new(),
            },
            Item {
                name: "姓名".into(),
                item_type: "C".into(),
                length: Some(50),
                data_element: None,
                description: String::new(),
            },
        ],
    }
}
