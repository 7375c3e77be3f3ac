//! Row-level security at the SQL level, as the runtime login: every table is covered, users see
//! only their own rows, no identity sees nothing, and pooled connections carry nothing over.

use atelier::db::{Caller, begin_as, preflight};
use uuid::Uuid;

use crate::helpers::{app_pool, fresh_database, superuser_client};

/// The user-owned tables and the column their policies key on. A new table must be added here
/// (the coverage test below fails until it is).
const OWNED_TABLES: &[(&str, &str)] = &[
    ("users", "id"),
    ("sessions", "user_id"),
    ("boards", "owner_id"),
    ("images", "owner_id"),
    ("queue_items", "owner_id"),
    ("queue_users", "user_id"),
    ("ui_state", "user_id"),
    ("s3_keys", "owner_id"),
    ("s3_uploads", "owner_id"),
    ("s3_upload_parts", "upload_owner_id"),
    ("gpu_usage", "user_id"),
];

/// Shared tables that are no user's data (RLS still enabled and forced): the queue's pause flag,
/// the per-band dispatch state, the model catalogue and its (admin-only) install jobs, the
/// workers' reports (workers write, admins read), the login throttle (functions only), and the
/// checkpoints of suspended runs (workers only; checked below).
const SHARED_TABLES: &[&str] = &[
    "queue_checkpoints",
    "queue_control",
    "queue_bands",
    "models",
    "model_installs",
    "workers",
    "login_throttle",
];

/// refinery's bookkeeping: no app role has any privilege on it (checked below).
const NOT_USER_DATA: &[&str] = &["refinery_schema_history"];

async fn two_users_with_sessions(dbname: &str) -> (Uuid, Uuid) {
    let db = superuser_client(dbname).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, email, key) in [
        (a, "a@example.com", "ATAAAAAAAAAAAAAAAAAA"),
        (b, "b@example.com", "ATBBBBBBBBBBBBBBBBBB"),
    ] {
        let (board, upload) = (Uuid::now_v7(), Uuid::now_v7());
        db.execute(
            "insert into users (id, email, display_name, password_hash) values ($1, $2, 'x', 'h')",
            &[&id, &email],
        )
        .await
        .unwrap();
        db.execute(
            "insert into sessions (id, user_id, expires_at) values ($1, $2, now() + interval '1 hour')",
            &[&Uuid::now_v7(), &id],
        )
        .await
        .unwrap();
        db.execute(
            "insert into boards (id, owner_id, name) values ($1, $2, 'cats')",
            &[&board, &id],
        )
        .await
        .unwrap();
        db.execute(
            "insert into ui_state (user_id, state) values ($1, '{\"prompt\": \"mine\"}')",
            &[&id],
        )
        .await
        .unwrap();
        db.execute(
            "insert into queue_items (id, owner_id, params, est_cost) values ($1, $2, '{}', 1)",
            &[&Uuid::now_v7(), &id],
        )
        .await
        .unwrap();
        db.execute(
            "insert into images (id, owner_id, board_id, category, content_type, width, height, byte_size)
             values ($1, $2, $3, 'general', 'image/png', 8, 8, 100)",
            &[&Uuid::now_v7(), &id, &board],
        )
        .await
        .unwrap();
        db.execute(
            "insert into s3_keys (access_key_id, owner_id, secret_sealed) values ($1, $2, '\\x00')",
            &[&key, &id],
        )
        .await
        .unwrap();
        db.execute(
            "insert into gpu_usage (user_id, hour, band, seconds) values ($1, now(), 1, 2.5)",
            &[&id],
        )
        .await
        .unwrap();
        db.execute(
            "insert into s3_uploads (id, owner_id, object_key) values ($1, $2, 'cats/a.png')",
            &[&upload, &id],
        )
        .await
        .unwrap();
        db.execute(
            "insert into s3_upload_parts (upload_id, upload_owner_id, part_number, byte_size, etag)
             values ($1, $2, 1, 5, 'e')",
            &[&upload, &id],
        )
        .await
        .unwrap();
    }
    (a, b)
}

#[tokio::test]
async fn every_table_has_row_level_security_enabled_and_forced() {
    let dbname = fresh_database().await;
    let db = superuser_client(&dbname).await;
    let rows = db
        .query(
            "select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c
             where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') order by 1",
            &[],
        )
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let (name, enabled, forced): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
        if NOT_USER_DATA.contains(&name.as_str()) {
            continue;
        }
        assert!(
            enabled && forced,
            "table {name} lacks ENABLE or FORCE ROW LEVEL SECURITY"
        );
        if SHARED_TABLES.contains(&name.as_str()) {
            continue;
        }
        assert!(
            OWNED_TABLES.iter().any(|(t, _)| *t == name),
            "table {name} is missing from OWNED_TABLES"
        );
    }
}

#[tokio::test]
async fn bookkeeping_tables_are_closed_to_every_app_role() {
    let dbname = fresh_database().await;
    let db = superuser_client(&dbname).await;
    for table in NOT_USER_DATA.iter().chain(&["login_throttle"]) {
        for role in [
            "atelier_app",
            "atelier_user",
            "atelier_admin",
            "atelier_worker",
        ] {
            let allowed: bool = db
                .query_one(
                    "select has_table_privilege($1, $2, 'select, insert, update, delete')",
                    &[&role, table],
                )
                .await
                .unwrap()
                .get(0);
            assert!(!allowed, "{role} may touch {table}");
        }
    }
}

#[tokio::test]
async fn checkpoints_of_runs_are_closed_to_users_and_admins() {
    let dbname = fresh_database().await;
    let db = superuser_client(&dbname).await;
    for role in ["atelier_app", "atelier_user", "atelier_admin"] {
        let allowed: bool = db
            .query_one(
                "select has_table_privilege($1, 'queue_checkpoints', 'select, insert, update, delete')",
                &[&role],
            )
            .await
            .unwrap()
            .get(0);
        assert!(!allowed, "{role} may touch queue_checkpoints");
    }
}

#[tokio::test]
async fn every_policy_column_leads_an_index() {
    let dbname = fresh_database().await;
    let db = superuser_client(&dbname).await;
    for (table, column) in OWNED_TABLES {
        let leads: bool = db
            .query_one(
                "select exists (select 1 from pg_index i join pg_attribute a
                   on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                 where i.indrelid = $1::text::regclass and a.attname = $2)",
                &[table, column],
            )
            .await
            .unwrap()
            .get(0);
        assert!(leads, "no index on {table} leads with {column}");
    }
}

#[tokio::test]
async fn a_user_sees_none_of_another_users_rows_in_any_table() {
    let dbname = fresh_database().await;
    let (a, b) = two_users_with_sessions(&dbname).await;
    let pool = app_pool(&dbname, 1);
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::user(b)).await.unwrap();
    for (table, column) in OWNED_TABLES {
        let sql = format!(
            "select count(*) filter (where {column} = $1), count(*) filter (where {column} = $2) from {table}"
        );
        let row = tx.query_one(&sql, &[&a, &b]).await.unwrap();
        let (of_a, of_b): (i64, i64) = (row.get(0), row.get(1));
        assert_eq!(of_a, 0, "user b sees user a's rows in {table}");
        assert_eq!(of_b, 1, "user b should see their own row in {table}");
    }
}

#[tokio::test]
async fn an_admin_sees_every_users_rows() {
    let dbname = fresh_database().await;
    let (a, b) = two_users_with_sessions(&dbname).await;
    let pool = app_pool(&dbname, 1);
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::admin(b)).await.unwrap();
    let n: i64 = tx
        .query_one(
            "select (select count(*) from sessions where user_id in ($1, $2))
                  + (select count(*) from images where owner_id in ($1, $2))",
            &[&a, &b],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
}

#[tokio::test]
async fn a_user_cannot_write_rows_for_someone_else() {
    let dbname = fresh_database().await;
    let (a, b) = two_users_with_sessions(&dbname).await;
    let pool = app_pool(&dbname, 1);
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::user(b)).await.unwrap();
    let err = tx
        .execute(
            "insert into sessions (id, user_id, expires_at) values ($1, $2, now())",
            &[&Uuid::now_v7(), &a],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    drop(tx);
    let tx = begin_as(&mut client, &Caller::user(b)).await.unwrap();
    let updated = tx
        .execute(
            "update users set display_name = 'pwned' where id = $1",
            &[&a],
        )
        .await
        .unwrap();
    assert_eq!(updated, 0, "another user's row is invisible to UPDATE");
    let err = tx
        .execute("update users set is_admin = true where id = $1", &[&b])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "no column grant for is_admin"
    );
}

#[tokio::test]
async fn without_an_identity_nothing_is_visible() {
    let dbname = fresh_database().await;
    two_users_with_sessions(&dbname).await;
    let pool = app_pool(&dbname, 1);
    let client = pool.get().await.unwrap();
    for (table, _) in OWNED_TABLES {
        // No role: the NOINHERIT login has no privileges at all, so it fails closed.
        let err = client
            .query(&format!("select * from {table}"), &[])
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{table}"
        );
    }
    // A role class but no user id: the policies match nothing.
    let mut client = client;
    let tx = client.transaction().await.unwrap();
    tx.execute("select set_config('role', 'atelier_user', true)", &[])
        .await
        .unwrap();
    for (table, _) in OWNED_TABLES {
        let n: i64 = tx
            .query_one(&format!("select count(*) from {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            n, 0,
            "{table} leaks rows to a transaction without a user id"
        );
    }
}

#[tokio::test]
async fn a_pooled_connection_carries_no_identity_into_the_next_checkout() {
    let dbname = fresh_database().await;
    let (a, _) = two_users_with_sessions(&dbname).await;
    let pool = app_pool(&dbname, 1);
    {
        let mut client = pool.get().await.unwrap();
        let tx = begin_as(&mut client, &Caller::admin(a)).await.unwrap();
        tx.query_one("select count(*) from users", &[])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut client = pool.get().await.unwrap();
        let tx = begin_as(&mut client, &Caller::user(a)).await.unwrap();
        drop(tx); // rolled back
    }
    let client = pool.get().await.unwrap(); // the same single connection
    let row = client
        .query_one(
            "select current_user::text, coalesce(current_setting('atelier.user_id', true), '')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "atelier_app");
    assert_eq!(row.get::<_, String>(1), "");
}

#[tokio::test]
async fn the_preflight_refuses_a_login_that_could_bypass_rls() {
    let dbname = fresh_database().await;
    let superuser = superuser_client(&dbname).await;
    let err = preflight::check_runtime_login(&superuser)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("superuser"), "{err}");

    let pool = app_pool(&dbname, 1);
    preflight::check_runtime_login(&pool.get().await.unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn adopt_hands_every_owner_id_row_to_another_user() {
    let dbname = fresh_database().await;
    let (a, _) = two_users_with_sessions(&dbname).await;
    let db = superuser_client(&dbname).await;
    // A stand-in for the user-owned tables of later features: any table with owner_id joins in.
    db.batch_execute(
        "create table adopt_probe (id int primary key, owner_id uuid not null references users (id));
         alter table adopt_probe enable row level security;
         alter table adopt_probe force row level security;
         create policy adopt_probe_all_admin on adopt_probe to atelier_admin using (true) with check (true);
         grant select, update on adopt_probe to atelier_admin;
         insert into adopt_probe values (1, '00000000-0000-0000-0000-000000000000'),
                                        (2, '00000000-0000-0000-0000-000000000000');",
    )
    .await
    .unwrap();
    let pool = app_pool(&dbname, 1);
    let system_admin = Caller::admin(atelier::users::SYSTEM_USER_ID);

    let moved = atelier::users::ops::adopt(&pool, &system_admin, atelier::users::SYSTEM_USER_ID, a)
        .await
        .unwrap();

    assert_eq!(moved, 2);
    let owned: i64 = db
        .query_one(
            "select count(*) from adopt_probe where owner_id = $1",
            &[&a],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owned, 2);
}

#[tokio::test]
async fn the_database_refuses_an_image_in_another_users_board_even_for_an_admin() {
    let dbname = fresh_database().await;
    let (a, b) = two_users_with_sessions(&dbname).await;
    let pool = app_pool(&dbname, 1);
    let mut client = pool.get().await.unwrap();
    let tx = begin_as(&mut client, &Caller::admin(b)).await.unwrap();
    let err = tx
        .execute(
            "update images set board_id = (select id from boards where owner_id = $2) where owner_id = $1",
            &[&a, &b],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION)
    );
}

#[tokio::test]
async fn the_preflight_refuses_bypassrls_inheriting_and_table_owning_logins() {
    let dbname = fresh_database().await;
    let db = superuser_client(&dbname).await;
    let suffix = Uuid::new_v4().simple().to_string();
    let cases = [
        (
            format!("t_bypass_{suffix}"),
            "login noinherit bypassrls",
            "",
            "BYPASSRLS",
        ),
        (
            format!("t_inherit_{suffix}"),
            "login inherit",
            "grant atelier_admin to {role};",
            "NOINHERIT",
        ),
        (
            format!("t_owner_{suffix}"),
            "login noinherit",
            "create table t_{role} (x int); alter table t_{role} owner to {role};",
            "owns tables",
        ),
    ];
    let cluster = &crate::helpers::cluster().cluster;
    for (role, attributes, extra, expected) in &cases {
        db.batch_execute(&format!("create role {role} {attributes} password 'pw-{suffix}'; grant connect on database {dbname} to {role};"))
            .await
            .unwrap();
        db.batch_execute(&extra.replace("{role}", role))
            .await
            .unwrap();
        let client =
            atelier::db::connect_one(&cluster.pg_config(role, &format!("pw-{suffix}"), &dbname))
                .await
                .unwrap();

        let err = preflight::check_runtime_login(&client)
            .await
            .unwrap_err()
            .to_string();

        assert!(err.contains(expected), "{role}: {err}");
        drop(client);
        db.batch_execute(&format!("drop owned by {role}; drop role {role};"))
            .await
            .unwrap();
    }
}
