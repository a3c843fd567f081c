//! One suite for the metadata store, run against SQLite and PostgreSQL alike.

use yishu_meta::testing::TestDb;
use yishu_meta::*;
use yishu_types::{ErrorCode, Role};

yishu_meta::both_backends!(
    org_hierarchy,
    org_edit_conflict,
    users_roles_and_login,
    lockout_after_failures,
    api_keys,
    audit_chain_detects_edit,
    audit_filters,
    migrate_is_idempotent,
);

async fn city(store: &Store) -> (Org, Org, Org) {
    let p = store
        .create_org(&NewOrg {
            code: "SC".into(),
            name: "四川省".into(),
            level: Some(OrgLevel::Province),
            division_code: Some("510000".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let c = store
        .create_org(&NewOrg {
            code: "CD".into(),
            name: "成都市".into(),
            level: Some(OrgLevel::City),
            parent_id: Some(p.id),
            division_code: Some("510100".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let d = store
        .create_org(&NewOrg {
            code: "CD-GA".into(),
            name: "成都市公安局".into(),
            parent_id: Some(c.id),
            credit_code: Some("91510100MA61R0XX0D".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    (p, c, d)
}

async fn org_hierarchy(store: &Store) {
    let (p, c, d) = city(store).await;
    assert_eq!(d.kind, OrgKind::Department);
    assert_eq!(c.parent_id, Some(p.id));
    // A city cannot sit under a department; a province cannot have a parent.
    let e = store
        .create_org(&NewOrg {
            code: "X1".into(),
            name: "x".into(),
            level: Some(OrgLevel::City),
            parent_id: Some(d.id),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OrgHierarchy);
    // Departments need a parent.
    let e = store
        .create_org(&NewOrg {
            code: "X2".into(),
            name: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OrgHierarchy);
    // Bad credit code names the field.
    let e = store
        .create_org(&NewOrg {
            code: "X3".into(),
            name: "x".into(),
            parent_id: Some(c.id),
            credit_code: Some("91510100MA61R0XX0E".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.starts_with("credit_code:"), "{}", e.message);
    // Duplicate code.
    let e = store
        .create_org(&NewOrg {
            code: "CD-GA".into(),
            name: "y".into(),
            parent_id: Some(c.id),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OrgCodeTaken);
    // SQL metacharacters and script tags are stored as text.
    let weird = store
        .create_org(&NewOrg {
            code: "W1".into(),
            name: "'; DROP TABLE orgs;-- <script>".into(),
            parent_id: Some(c.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store.get_org(weird.id).await.unwrap().name,
        "'; DROP TABLE orgs;-- <script>"
    );
    // Moving a city under its own department is a cycle.
    let e = store
        .move_org(c.id, Some(d.id), c.version)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OrgHierarchy);
    // Move the department under the province.
    let moved = store.move_org(d.id, Some(p.id), d.version).await.unwrap();
    assert_eq!(moved.parent_id, Some(p.id));
    assert_eq!(moved.version, d.version + 1);
    let disabled = store
        .set_org_disabled(moved.id, true, moved.version)
        .await
        .unwrap();
    assert!(disabled.disabled);
    assert_eq!(store.list_orgs().await.unwrap().len(), 4);
}

async fn org_edit_conflict(store: &Store) {
    let (_, c, _) = city(store).await;
    let a = store
        .rename_org(c.id, "成都市人民政府", c.version)
        .await
        .unwrap();
    let e = store
        .rename_org(c.id, "另一个名字", c.version)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::EditConflict);
    assert_eq!(store.get_org(c.id).await.unwrap().name, a.name);
    // Two concurrent renames of the same version: exactly one wins.
    let (r1, r2) = tokio::join!(
        store.rename_org(c.id, "甲", a.version),
        store.rename_org(c.id, "乙", a.version)
    );
    assert!(r1.is_ok() ^ r2.is_ok(), "{r1:?} {r2:?}");
}

async fn users_roles_and_login(store: &Store) {
    let (_, _, d) = city(store).await;
    let u = store
        .create_user(&NewUser {
            name: "zhangsan".into(),
            display_name: Some("张三".into()),
            org_id: d.id,
            password: "correct horse battery".into(),
            roles: vec![Role::ProviderOfficer, Role::Consumer, Role::Consumer],
        })
        .await
        .unwrap();
    assert_eq!(u.roles, vec![Role::ProviderOfficer, Role::Consumer]);
    let e = store
        .create_user(&NewUser {
            name: "zhangsan".into(),
            display_name: None,
            org_id: d.id,
            password: "another long one".into(),
            roles: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UserNameTaken);
    let e = store
        .create_user(&NewUser {
            name: "lisi".into(),
            display_name: None,
            org_id: d.id,
            password: "short".into(),
            roles: vec![],
        })
        .await
        .unwrap_err();
    assert!(e.message.starts_with("password:"));
    let (p, tok) = store
        .login("zhangsan", "correct horse battery")
        .await
        .unwrap();
    assert_eq!(p.user_id, u.id);
    let (p2, csrf) = store.session_principal(&tok.token).await.unwrap().unwrap();
    assert_eq!(p2.roles, u.roles);
    assert_eq!(csrf, tok.csrf);
    assert_eq!(
        store
            .login("zhangsan", "wrong password!")
            .await
            .unwrap_err()
            .code,
        ErrorCode::BadCredentials
    );
    assert_eq!(
        store.login("nobody", "whatever123").await.unwrap_err().code,
        ErrorCode::BadCredentials
    );
    let u = store.set_user_roles(u.id, &[Role::Admin]).await.unwrap();
    assert_eq!(u.roles, vec![Role::Admin]);
    store.logout(&tok.token).await.unwrap();
    assert!(store.session_principal(&tok.token).await.unwrap().is_none());
    let (_, tok) = store
        .login("zhangsan", "correct horse battery")
        .await
        .unwrap();
    store.set_user_disabled(u.id, true).await.unwrap();
    assert!(store.session_principal(&tok.token).await.unwrap().is_none());
    assert_eq!(
        store
            .login("zhangsan", "correct horse battery")
            .await
            .unwrap_err()
            .code,
        ErrorCode::AccountDisabled
    );
    let page = store.list_users(Some(d.id), 10, 0).await.unwrap();
    assert_eq!(page.total, 1);
}

async fn lockout_after_failures(store: &Store) {
    let (_, _, d) = city(store).await;
    store
        .create_user(&NewUser {
            name: "wangwu".into(),
            display_name: None,
            org_id: d.id,
            password: "correct horse battery".into(),
            roles: vec![],
        })
        .await
        .unwrap();
    for _ in 0..yishu_meta::auth::MAX_FAILED_LOGINS {
        assert_eq!(
            store
                .login("wangwu", "nope nope nope")
                .await
                .unwrap_err()
                .code,
            ErrorCode::BadCredentials
        );
    }
    // Now even the right password is refused until the lock ends.
    assert_eq!(
        store
            .login("wangwu", "correct horse battery")
            .await
            .unwrap_err()
            .code,
        ErrorCode::AccountLocked
    );
}

async fn api_keys(store: &Store) {
    let (_, _, d) = city(store).await;
    let u = store
        .create_user(&NewUser {
            name: "app1".into(),
            display_name: None,
            org_id: d.id,
            password: "correct horse battery".into(),
            roles: vec![Role::Consumer],
        })
        .await
        .unwrap();
    let k = store
        .create_api_key(u.id, "nightly sync", None)
        .await
        .unwrap();
    assert!(k.secret.starts_with("ysk_") && k.secret.len() > 60);
    assert!(k.secret.starts_with(&k.key.prefix));
    let p = store.api_key_principal(&k.secret).await.unwrap();
    assert_eq!(p.user_id, u.id);
    assert_eq!(
        store.api_key_principal("ysk_0000").await.unwrap_err().code,
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        store.api_key_principal("not a key").await.unwrap_err().code,
        ErrorCode::Unauthenticated
    );
    store.revoke_api_key(k.key.id).await.unwrap();
    assert_eq!(
        store.api_key_principal(&k.secret).await.unwrap_err().code,
        ErrorCode::ApiKeyRevoked
    );
    // Expiry: a key that expires in 300 ms works, then stops.
    let soon = store
        .create_api_key(u.id, "short", Some(now_ms() + 300))
        .await
        .unwrap();
    assert!(store.api_key_principal(&soon.secret).await.is_ok());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        store
            .api_key_principal(&soon.secret)
            .await
            .unwrap_err()
            .code,
        ErrorCode::ApiKeyExpired
    );
    assert_eq!(store.list_api_keys(u.id).await.unwrap().len(), 2);
    // Secrets are stored hashed, never in clear.
    let e = store
        .create_api_key(u.id, "past", Some(now_ms() - 1))
        .await
        .unwrap_err();
    assert!(e.message.starts_with("expires_at"));
}

fn entry(action: &str, actor: &str) -> AuditEntry {
    AuditEntry {
        actor_name: actor.into(),
        action: action.into(),
        object: "org:1".into(),
        source_ip: "127.0.0.1".into(),
        request_id: "r1".into(),
        outcome: "ok".into(),
        detail: "{}".into(),
        ..Default::default()
    }
}

async fn audit_chain_detects_edit(store: &Store) {
    // Concurrent appends still form one unbroken chain.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.audit(&entry("org.create", &format!("u{i}")))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = store.verify_audit().await.unwrap();
    assert_eq!(
        r,
        ChainReport {
            records: 20,
            broken_at: None
        }
    );
    // The product cannot edit the log: the database refuses.
    assert!(
        store
            .raw_execute("UPDATE audit_log SET actor_name = 'x' WHERE seq = 7")
            .await
            .is_err()
    );
    assert!(
        store
            .raw_execute("DELETE FROM audit_log WHERE seq = 7")
            .await
            .is_err()
    );
    // Someone with database access drops the guard and edits record 7.
    store
        .raw_execute(store.drop_audit_guard_sql())
        .await
        .unwrap();
    // Faults late in the chain (the SQLite verifier walks halves on their own threads), then
    // earlier ones: the earliest is always the one named.
    store
        .raw_execute("UPDATE audit_log SET detail = '{\"rows\":1}' WHERE seq = 15")
        .await
        .unwrap();
    let r = store.verify_audit().await.unwrap();
    let b = r.broken_at.clone().expect("altered record found");
    assert_eq!((r.records, b.seq), (14, 15), "{r:?}");
    assert!(b.reason.contains("altered"), "{r:?}");
    store
        .raw_execute("DELETE FROM audit_log WHERE seq = 10")
        .await
        .unwrap();
    let r = store.verify_audit().await.unwrap();
    let b = r.broken_at.clone().expect("missing record found");
    assert_eq!(b.seq, 10, "{r:?}");
    assert_eq!(b.reason, "record 10 is missing (next present is 11)");
    store
        .raw_execute("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 7")
        .await
        .unwrap();
    let r = store.verify_audit().await.unwrap();
    assert_eq!(r.broken_at.as_ref().map(|b| b.seq), Some(7), "{r:?}");
    assert!(store.require_intact_audit().await.is_err());
}

async fn audit_filters(store: &Store) {
    store.audit(&entry("auth.login", "alice")).await.unwrap();
    store
        .audit(&entry("auth.login_failed", "bob"))
        .await
        .unwrap();
    store.audit(&entry("org.create", "alice")).await.unwrap();
    let all = store
        .list_audit(&AuditFilter::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0].action, "org.create");
    let f = AuditFilter {
        action: Some("auth".into()),
        ..Default::default()
    };
    assert_eq!(store.list_audit(&f, 10, 0).await.unwrap().total, 2);
    let f = AuditFilter {
        actor: Some("alice".into()),
        ..Default::default()
    };
    assert_eq!(store.list_audit(&f, 1, 1).await.unwrap().items.len(), 1);
    // Wildcards are taken literally: no action starts with '%' or with 'org_'.
    for literal in ["%", "org_"] {
        let f = AuditFilter {
            action: Some(literal.into()),
            ..Default::default()
        };
        assert_eq!(store.list_audit(&f, 10, 0).await.unwrap().total, 0);
    }
}

async fn migrate_is_idempotent(store: &Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

#[tokio::test]
async fn missing_postgres_fails_loudly() {
    let e = Store::open("postgres://nobody@127.0.0.1:1/none")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::StoreError);
    let _ = TestDb::sqlite();
}
