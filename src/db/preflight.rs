//! The start-up check that the runtime login cannot bypass row-level security. The server
//! refuses to run if its login is a superuser, has BYPASSRLS, owns a table, or inherits admin.

use anyhow::bail;
use tokio_postgres::Client;

use super::ADMIN_ROLE;

/// Fails unless the connected login is safe to serve requests with.
pub async fn check_runtime_login(client: &Client) -> anyhow::Result<()> {
    let row = client
        .query_one(
            "select r.rolname, r.rolsuper, r.rolbypassrls, r.rolinherit,
                    pg_has_role(current_user, $1, 'USAGE') as inherits_admin,
                    (select count(*) from pg_class c
                      where c.relowner = r.oid and c.relkind in ('r', 'p', 'v', 'm')) as owned
             from pg_roles r where r.rolname = current_user",
            &[&ADMIN_ROLE],
        )
        .await?;
    let name: String = row.get("rolname");
    let mut problems = Vec::new();
    if row.get::<_, bool>("rolsuper") {
        problems.push("is a superuser");
    }
    if row.get::<_, bool>("rolbypassrls") {
        problems.push("has BYPASSRLS");
    }
    if row.get::<_, bool>("rolinherit") {
        problems.push("is not NOINHERIT");
    }
    if row.get::<_, bool>("inherits_admin") {
        problems.push("inherits the admin role");
    }
    if row.get::<_, i64>("owned") > 0 {
        problems.push("owns tables");
    }
    if !problems.is_empty() {
        bail!(
            "refusing to serve: the runtime database login {name} {}, so row-level security \
             would not protect users' data. Use a login that owns nothing, with NOINHERIT and \
             without SUPERUSER or BYPASSRLS (see docs/architecture.md)",
            problems.join(", ")
        );
    }
    Ok(())
}
