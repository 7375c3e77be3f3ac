//! The request's identity inside a transaction: a role class and a user id, set together with
//! bound parameters as transaction-local settings, so nothing survives into the next checkout.

use deadpool_postgres::Transaction;
use uuid::Uuid;

use super::{ADMIN_ROLE, USER_ROLE, WORKER_ROLE};

/// Which NOLOGIN group role a transaction switches to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleClass {
    /// An ordinary user: sees only their own rows.
    User,
    /// An admin: sees and manages every user's rows.
    Admin,
    /// A queue worker: claims jobs.
    Worker,
}

impl RoleClass {
    /// The PostgreSQL role name. Always one of three constants, never user input.
    pub const fn as_str(self) -> &'static str {
        match self {
            RoleClass::User => USER_ROLE,
            RoleClass::Admin => ADMIN_ROLE,
            RoleClass::Worker => WORKER_ROLE,
        }
    }

    /// The role class that the `users.is_admin` flag gives.
    pub const fn from_is_admin(is_admin: bool) -> Self {
        if is_admin {
            RoleClass::Admin
        } else {
            RoleClass::User
        }
    }
}

/// Who a transaction acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The application user (`users.id`).
    pub user_id: Uuid,
    /// The role class read from the database for this request.
    pub role: RoleClass,
}

impl Caller {
    /// An ordinary user.
    pub const fn user(user_id: Uuid) -> Self {
        Self {
            user_id,
            role: RoleClass::User,
        }
    }

    /// An admin.
    pub const fn admin(user_id: Uuid) -> Self {
        Self {
            user_id,
            role: RoleClass::Admin,
        }
    }

    /// A queue worker (its policies do not key on a user).
    pub const fn worker() -> Self {
        Self {
            user_id: Uuid::nil(),
            role: RoleClass::Worker,
        }
    }
}

const SET_CALLER: &str =
    "select set_config('role', $1, true), set_config('atelier.user_id', $2, true)";

/// Opens a transaction in which row-level security sees `caller`. Both settings are
/// transaction-local (`is_local = true`): COMMIT or ROLLBACK discards them.
#[tracing::instrument(name = "db_begin", level = "debug", skip_all, fields(role = caller.role.as_str()))]
pub async fn begin_as<'a>(
    client: &'a mut deadpool_postgres::Client,
    caller: &Caller,
) -> Result<Transaction<'a>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let set = tx.prepare_cached(SET_CALLER).await?;
    tx.execute(&set, &[&caller.role.as_str(), &caller.user_id.to_string()])
        .await?;
    Ok(tx)
}
