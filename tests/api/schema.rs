//! The schema in one place, and its privileges: `docs/schema.sql` is the migrated schema (a
//! test dumps it and fails when the file is stale), every SECURITY DEFINER function is pinned to
//! a search path and executable only by the roles listed here, and the write grants on the
//! queue are column by column.

use std::collections::BTreeSet;
use std::process::Command;

use crate::helpers::{cluster, fresh_database, superuser_client};

/// `pg_dump --schema-only` of a freshly migrated database, without the lines that vary between
/// runs (comments, session settings).
fn dump(dbname: &str) -> String {
    let cluster = &cluster().cluster;
    let output = Command::new(cluster.bin_dir().join("pg_dump"))
        .args(["--schema-only", "--no-comments", "-h"])
        .arg(cluster.socket_dir())
        .args([
            "-p",
            "5432",
            "-U",
            atelier::db::embedded::SUPERUSER,
            "-d",
            dbname,
        ])
        .env("PGPASSWORD", &cluster.secrets.superuser)
        .output()
        .expect("run pg_dump");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("--") && !line.starts_with("SET "))
        // pg_dump 15.14+ fences its output with a random key.
        .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
        .filter(|line| !line.starts_with("SELECT pg_catalog.set_config"))
        .collect();
    let mut schema = String::from(
        "-- The live schema: every table, index, policy, function and grant after the last\n\
         -- migration (pg_dump --schema-only of a migrated database). Generated: do not edit;\n\
         -- `ATELIER_WRITE_SCHEMA=1 cargo test --test api schema::` rewrites it, and a test fails\n\
         -- when it is stale. The history of each object is in migrations/.\n",
    );
    let mut blank = false;
    for line in kept {
        if line.trim().is_empty() {
            if !blank {
                schema.push('\n');
            }
            blank = true;
        } else {
            schema.push_str(line);
            schema.push('\n');
            blank = false;
        }
    }
    schema
}

#[tokio::test]
async fn docs_schema_sql_is_the_migrated_schema() {
    let dbname = fresh_database().await;
    let live = dump(&dbname);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema.sql");
    if std::env::var_os("ATELIER_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &live).unwrap();
    }
    let file = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        file == live,
        "docs/schema.sql is stale: run `ATELIER_WRITE_SCHEMA=1 cargo test --test api schema::` \
         and commit it"
    );
}

/// Who may execute each SECURITY DEFINER function (these run with the owner's rights, so each
/// grant is a door through row-level security and is listed on purpose).
const DEFINER_GRANTEES: &[(&str, &[&str])] = &[
    // Triggers: nobody calls them.
    ("atelier_guard_last_admin", &[]),
    ("atelier_track_used_bytes", &[]),
    ("queue_checkpoints_drop", &[]),
    ("queue_items_before_insert", &[]),
    ("queue_items_sync", &[]),
    // Before a request has an identity: the pool login itself.
    ("auth_admin_exists", &["atelier_app"]),
    ("auth_login_lookup", &["atelier_app"]),
    ("auth_resolve_session", &["atelier_app"]),
    ("auth_setup_admin", &["atelier_app"]),
    ("auth_throttle_clear", &["atelier_app"]),
    ("auth_throttle_hit", &["atelier_app"]),
    // An S3 request's key, before the request has an identity.
    ("s3_key_lookup", &["atelier_app"]),
    // The queue: fair-share bookkeeping for workers, fair positions for users and admins.
    ("queue_charge", &["atelier_worker"]),
    ("queue_counts", &["atelier_admin", "atelier_user"]),
    ("queue_list", &["atelier_admin", "atelier_user"]),
    ("queue_progress", &["atelier_worker"]),
    ("queue_sync_head", &["atelier_worker"]),
];

#[tokio::test]
async fn every_security_definer_function_is_pinned_and_granted_on_purpose() {
    let dbname = fresh_database().await;
    let db = superuser_client(&dbname).await;
    let rows = db
        .query(
            "select p.proname, coalesce(array_to_string(p.proconfig, ','), '') as config,
                    has_function_privilege('public', p.oid, 'execute') as public_execute,
                    array(select r.rolname from pg_roles r
                           where r.rolname like 'atelier%' and r.rolname <> 'atelier_owner'
                             and has_function_privilege(r.oid, p.oid, 'execute')
                             and exists (select 1 from aclexplode(p.proacl) a
                                          where a.grantee = r.oid and a.privilege_type = 'EXECUTE')
                           order by r.rolname) as grantees
               from pg_proc p join pg_namespace n on n.oid = p.pronamespace
              where n.nspname = 'public' and p.prosecdef
              order by p.proname",
            &[],
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    for row in &rows {
        let name: String = row.get("proname");
        let config: String = row.get("config");
        let grantees: Vec<String> = row.get("grantees");
        assert!(
            config.contains("search_path=pg_catalog"),
            "{name} has no fixed search_path: {config:?}"
        );
        assert!(
            !row.get::<_, bool>("public_execute"),
            "PUBLIC may execute {name}"
        );
        let expected = DEFINER_GRANTEES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, roles)| roles.iter().copied().collect::<BTreeSet<&str>>())
            .unwrap_or_else(|| panic!("{name} is SECURITY DEFINER but not in DEFINER_GRANTEES"));
        let actual: BTreeSet<&str> = grantees.iter().map(String::as_str).collect();
        assert_eq!(actual, expected, "grantees of {name}");
        seen.push(name);
    }
    for (name, _) in DEFINER_GRANTEES {
        assert!(seen.iter().any(|s| s == name), "{name} is listed but gone");
    }
}

#[tokio::test]
async fn queue_writes_are_granted_column_by_column() {
    let dbname = fresh_database().await;
    let db = superuser_client(&dbname).await;
    let columns = |role: &'static str, privilege: &'static str| {
        let db = &db;
        async move {
            let rows = db
                .query(
                    "select column_name::text from information_schema.column_privileges
                      where table_name = 'queue_items' and grantee = $1 and privilege_type = $2
                      order by 1",
                    &[&role, &privilege],
                )
                .await
                .unwrap();
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        columns("atelier_user", "INSERT").await,
        ["est_cost", "id", "owner_id", "params"]
    );
    assert_eq!(
        columns("atelier_worker", "UPDATE").await,
        [
            "attempts",
            "charged",
            "error",
            "finished_at",
            "lease_until",
            "remaining_cost",
            "result_image_ids",
            "started_at",
            "status",
            "step",
            "suspended_by",
            "vstart",
            "worker"
        ]
    );
    let table_wide: bool = db
        .query_one(
            "select has_table_privilege('atelier_worker', 'queue_items', 'update')
                 or has_table_privilege('atelier_user', 'queue_items', 'insert')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!table_wide, "a table-wide grant would cover every column");
}
