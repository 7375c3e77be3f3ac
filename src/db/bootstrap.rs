//! The superuser bootstrap of a cluster: the roles of the row-level-security design and the
//! application database. Idempotent; runs at every start of the embedded cluster, never via
//! refinery (roles are cluster-wide and need CREATEROLE). See `../shared/notes/rls.md`.

use anyhow::Context;
use tokio_postgres::Client;

use super::secrets::DbSecrets;
use super::{ADMIN_ROLE, APP_LOGIN, DATABASE, OWNER_LOGIN, USER_ROLE, WORKER_ROLE};

/// Creates or updates the roles and the database. `client` is a superuser on any database.
pub async fn run(client: &Client, secrets: &DbSecrets) -> anyhow::Result<()> {
    for group in [USER_ROLE, ADMIN_ROLE, WORKER_ROLE] {
        ensure_role(client, group, "nologin noinherit", None).await?;
    }
    ensure_role(client, OWNER_LOGIN, "login inherit", Some(&secrets.owner)).await?;
    // The pool login: owns nothing, inherits nothing, bypasses nothing (rls.md pitfalls 1-2).
    ensure_role(
        client,
        APP_LOGIN,
        "login noinherit nosuperuser nobypassrls nocreatedb nocreaterole",
        Some(&secrets.app),
    )
    .await?;
    let grants = format!(
        "grant {USER_ROLE}, {ADMIN_ROLE}, {WORKER_ROLE} to {APP_LOGIN};
         grant {ADMIN_ROLE} to {OWNER_LOGIN};"
    );
    client
        .batch_execute(&grants)
        .await
        .context("failed to grant role classes")?;
    ensure_database(client, DATABASE, None).await
}

/// Creates `name` owned by the owner login (optionally from `template`) unless it exists, and
/// limits who may connect to it.
pub async fn ensure_database(
    client: &Client,
    name: &str,
    template: Option<&str>,
) -> anyhow::Result<()> {
    let exists = client
        .query_opt("select 1 from pg_database where datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        let sql: String = client
            .query_one(
                "select format('create database %I owner %I template %I', $1::text, $2::text, $3::text)",
                &[&name, &OWNER_LOGIN, &template.unwrap_or("template0")],
            )
            .await?
            .get(0);
        client
            .batch_execute(&sql)
            .await
            .with_context(|| format!("failed to create database {name}"))?;
    }
    let sql: String = client
        .query_one(
            "select format('revoke all on database %1$I from public; \
                            grant connect, temporary on database %1$I to %2$I, %3$I', $1::text, $2::text, $3::text)",
            &[&name, &OWNER_LOGIN, &APP_LOGIN],
        )
        .await?
        .get(0);
    client
        .batch_execute(&sql)
        .await
        .context("failed to set database privileges")?;
    Ok(())
}

/// Creates `role` with `attributes`, or brings an existing one to those attributes.
/// Identifiers and passwords are quoted by the server (`format` with %I and %L), never in Rust.
async fn ensure_role(
    client: &Client,
    role: &str,
    attributes: &str,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let exists = client
        .query_opt("select 1 from pg_roles where rolname = $1", &[&role])
        .await?
        .is_some();
    let verb = if exists { "alter" } else { "create" };
    let password_clause = if password.is_some() {
        " password %L"
    } else {
        ""
    };
    let template = format!("{verb} role %I {attributes}{password_clause}");
    let sql: String = match password {
        Some(pw) => {
            client
                .query_one(
                    "select format($1, $2::text, $3::text)",
                    &[&template, &role, &pw],
                )
                .await?
        }
        None => {
            client
                .query_one("select format($1, $2::text)", &[&template, &role])
                .await?
        }
    }
    .get(0);
    client
        .batch_execute(&sql)
        .await
        .with_context(|| format!("failed to {verb} role {role}"))
}
