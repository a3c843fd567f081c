//! Subscriptions through the real binary into the PostgreSQL and MariaDB on the machine: the
//! demo's consumer subscribes its population-library grant into a PostgreSQL table and its
//! household-register grant into a MariaDB table; the first delivery fills them (masked, within
//! the grant's filter, typed where shown in clear), a second delivers nothing; a drop directory
//! gets a CSV file; a table the consumer changed is refused in words; and a server killed with
//! SIGKILL in the middle of a delivery leaves nothing behind, the next one delivering each row
//! exactly once.

mod common;

use common::{demo_env, password_of, serve_with, sign_in};
use serde_json::{Value, json};
use sqlx::Connection;

const PG: &str = "postgres://postgres@127.0.0.1:5432";
const MY: &str = "mysql://root@127.0.0.1:3306";

/// A fresh database of its own on the machine's server (`url` without a database name).
async fn fresh_db(url: &str, name: &str) -> String {
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&format!("{url}/test"))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut c)
        .await
        .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        let mut c = sqlx::MySqlConnection::connect(&format!("{url}/test"))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4"
        )))
        .execute(&mut c)
        .await
        .unwrap();
    }
    format!("{url}/{name}")
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

struct Consumer {
    client: reqwest::Client,
    csrf: String,
    base: String,
}

impl Consumer {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        json_of(
            self.client
                .post(format!("{}{path}", self.base))
                .header("x-csrf-token", &self.csrf)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn get(&self, path: &str) -> Value {
        json_of(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
        .1
    }

    async fn subscribe(&self, name: &str, grant: i64, destination: Value) -> i64 {
        let (status, v) = self
            .post(
                "/api/v1/subscriptions",
                json!({"name": name, "grant_id": grant, "destination": destination}),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v["id"].as_i64().unwrap()
    }

    async fn deliver(&self, id: i64) -> (u16, Value) {
        self.post(&format!("/api/v1/subscriptions/{id}/deliveries"), json!({}))
            .await
    }
}

async fn sign_in_consumer(base: &str, text: &str) -> Consumer {
    let (client, csrf) = sign_in(base, "consumer", &password_of(text, "consumer")).await;
    Consumer {
        client,
        csrf,
        base: base.to_string(),
    }
}

fn grant_of(grants: &Value, target: &str) -> i64 {
    grants
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["target"].as_str().unwrap().starts_with(target) && g["status"] == "active")
        .unwrap_or_else(|| panic!("the demo grants {target} to 人社: {grants}"))["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_delivered_exactly_once_into_postgres_mariadb_and_a_drop_directory() {
    let (_home, dir, text) = demo_env(1500, &[], &[("YISHU_DEMO_PG", PG)]);
    assert!(
        text.contains("subscriptions: subscription 1 of grant"),
        "{text}"
    );
    let env = [("YISHU_OUTBOUND_ALLOW", "127.0.0.1")];
    let served = serve_with(&dir, &env).await;
    let c = sign_in_consumer(&served.base, &text).await;
    let grants = c.get("/api/v1/grants").await;
    let population = grant_of(&grants, "base:population");
    let huji = grant_of(&grants, "resource:");
    let tag = std::process::id();

    // PostgreSQL: the whole library first, then nothing new.
    let pg = fresh_db(PG, &format!("yishu_sub_{tag}")).await;
    let to_pg = c
        .subscribe(
            "人口库同步",
            population,
            json!({"kind": "database", "url": pg, "table": "population"}),
        )
        .await;
    // The scheduler may deliver it first (it is due at once): either way exactly once.
    let (status, first) = c.deliver(to_pg).await;
    assert_eq!(status, 200, "{first}");
    let mut db = sqlx::PgConnection::connect(&pg).await.unwrap();
    let (count, keys): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT _key) FROM population")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let n = count as u64;
    assert!(n > 1000, "{first}");
    assert_eq!(keys as u64, n, "one row a subject");
    assert!(first["rows"] == n || first["rows"] == 0, "{first}");
    // The grant's masks hold in the consumer's own table: no number or name in clear.
    let clear: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM population WHERE subject_key ~ '^[0-9]{17}[0-9X]$' OR \"姓名\" !~ '\\*'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(clear, 0, "masked items arrive masked");
    let (status, again) = c.deliver(to_pg).await;
    assert_eq!((status, again["rows"].as_u64()), (200, Some(0)), "{again}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM population")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(count as u64, n, "a second delivery adds nothing");
    let page = c.get(&format!("/api/v1/subscriptions/{to_pg}")).await;
    assert!(page["deliveries"].as_i64().unwrap() >= 2, "{page}");
    assert_eq!(page["total_rows"].as_u64(), Some(n), "{page}");
    assert_eq!(page["lag_ms"], 0, "{page}");
    assert!(
        page["destination"]
            .as_str()
            .unwrap()
            .ends_with("→ population"),
        "{page}"
    );

    // MariaDB: the household register through its grant's filter (510 1…), typed where clear.
    let my = fresh_db(MY, &format!("yishu_sub_{tag}")).await;
    let to_my = c
        .subscribe(
            "户籍同步",
            huji,
            json!({"kind": "database", "url": my, "table": "huji"}),
        )
        .await;
    let (status, got) = c.deliver(to_my).await;
    assert_eq!(status, 200, "{got}");
    let mut mdb = sqlx::MySqlConnection::connect(&my).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM huji")
        .fetch_one(&mut mdb)
        .await
        .unwrap();
    assert!(count > 100, "{got}");
    let page = c.get(&format!("/api/v1/subscriptions/{to_my}")).await;
    assert_eq!(page["total_rows"].as_i64(), Some(count), "{page}");
    let outside: i64 =
        sqlx::query_scalar("SELECT count(*) FROM huji WHERE `行政区划代码` NOT LIKE '5101%'")
            .fetch_one(&mut mdb)
            .await
            .unwrap_or(-1);
    assert_eq!(outside, 0, "only the grant's rows");
    let (status, again) = c.deliver(to_my).await;
    assert_eq!((status, again["rows"].as_u64()), (200, Some(0)), "{again}");

    // A drop directory: one CSV file with the operations and rows.
    let to_dir = c
        .subscribe(
            "人口库文件",
            population,
            json!({"kind": "directory", "path": "rs/population", "format": "csv"}),
        )
        .await;
    let (status, got) = c.deliver(to_dir).await;
    assert_eq!(status, 200, "{got}");
    let dropped = dir.join("outbox/rs/population");
    let files: Vec<_> = std::fs::read_dir(&dropped)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".csv"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let body = std::fs::read_to_string(dropped.join(&files[0])).unwrap();
    let mut lines = body.lines();
    assert!(lines.next().unwrap().starts_with("\u{feff}_op,_key,"));
    assert_eq!(lines.next().unwrap().split(',').next(), Some("truncate"));
    assert_eq!(lines.filter(|l| l.starts_with("insert,")).count() as u64, n);
    let (_, again) = c.deliver(to_dir).await;
    assert_eq!(again["rows"], 0);

    // Bad destinations are refused in words, before anything is written.
    let (status, bad) = c
        .post(
            "/api/v1/subscriptions",
            json!({"name": "x", "grant_id": population, "destination": {"kind": "directory", "path": "../../etc", "format": "csv"}}),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    let (status, bad) = c
        .post(
            "/api/v1/subscriptions",
            json!({"name": "y", "grant_id": population, "destination": {"kind": "database", "url": "postgres://u@10.9.9.9/x", "table": "t"}}),
        )
        .await;
    assert_eq!(status, 403, "not on the allow-list: {bad}");

    // A destination that is down: a clear error, recorded and audited, nothing delivered.
    let down = c
        .subscribe(
            "停机的库",
            population,
            json!({"kind": "database", "url": "postgres://postgres@127.0.0.1:1/x", "table": "t"}),
        )
        .await;
    let (status, err) = c.deliver(down).await;
    assert_eq!(status, 502, "{err}");
    assert_eq!(err["error"]["code"], "target_unavailable", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{err}"
    );
    let (status, _) = c
        .post(
            &format!("/api/v1/subscriptions/{down}/status"),
            json!({"paused": true, "reason": "目标库停机"}),
        )
        .await;
    assert_eq!(status, 200);

    // The consumer changed its table: the delivery is refused, nothing written, the page says so.
    sqlx::raw_sql("ALTER TABLE population ADD COLUMN note text")
        .execute(&mut db)
        .await
        .unwrap();
    let (status, err) = c.deliver(to_pg).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "target_changed", "{err}");
    let page = c.get(&format!("/api/v1/subscriptions/{to_pg}")).await;
    assert!(
        page["last_error"]
            .as_str()
            .unwrap()
            .contains("target_changed"),
        "{page}"
    );

    // SIGKILL in the middle of a delivery: the table is held locked, so the delivery waits
    // inside its transaction; the server dies there.
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'population' AND column_name <> 'note' ORDER BY ordinal_position",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let made = columns
        .iter()
        .map(|c| format!("\"{c}\" text"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE population2 ({made})"
    )))
    .execute(&mut db)
    .await
    .unwrap();
    let to_pg2 = c
        .subscribe(
            "人口库同步二",
            population,
            json!({"kind": "database", "url": pg, "table": "population2"}),
        )
        .await;
    let mut holder = sqlx::PgConnection::connect(&pg).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE population2 IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let pending = {
        let (client, csrf, base) = (c.client.clone(), c.csrf.clone(), c.base.clone());
        tokio::spawn(async move {
            client
                .post(format!("{base}/api/v1/subscriptions/{to_pg2}/deliveries"))
                .header("x-csrf-token", csrf)
                .json(&json!({}))
                .send()
                .await
        })
    };
    let mut waiting = false;
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(waiting, "the delivery reached the locked table");
    drop(served);
    assert!(
        pending.await.unwrap().is_err(),
        "the server died mid-delivery"
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    // The killed server's transaction ends with its connection.
    for _ in 0..100 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        if n <= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM population2")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(left, 0, "nothing of the killed delivery is visible");

    let served = serve_with(&dir, &env).await;
    let c = sign_in_consumer(&served.base, &text).await;
    let (status, got) = c.deliver(to_pg2).await;
    assert_eq!(status, 200, "{got}");
    let (count, keys): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT _key) FROM population2")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!((count as u64, keys as u64), (n, n), "each row exactly once");
    let (_, again) = c.deliver(to_pg2).await;
    assert_eq!(again["rows"], 0);

    // The demo's own subscription is delivered by the scheduler into the machine's PostgreSQL.
    let mut demo_db = sqlx::PgConnection::connect(&format!("{PG}/yishu_demo"))
        .await
        .unwrap();
    let mut demo_rows = 0i64;
    for _ in 0..100 {
        demo_rows = sqlx::query_scalar("SELECT count(*) FROM rs_population")
            .fetch_one(&mut demo_db)
            .await
            .unwrap_or(0);
        if demo_rows > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        demo_rows as u64, n,
        "the demo's subscription delivered the library"
    );

    // Every delivery is in the read audit under the consumer's grant, the refusal too.
    let (auditor, _) = sign_in(&served.base, "auditor", &password_of(&text, "auditor")).await;
    let log: Value = auditor
        .get(format!(
            "{}/api/v1/audit?action=share.read&limit=500",
            served.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = log["items"]
        .as_array()
        .or(log.as_array())
        .expect("audit rows")
        .clone();
    let of_subscriptions: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            r["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("\"channel\":\"subscription\"")
        })
        .collect();
    assert!(of_subscriptions.len() >= 6, "{log}");
    assert!(
        of_subscriptions.iter().any(|r| r["outcome"] == "failed"),
        "the refused delivery is audited"
    );
}
