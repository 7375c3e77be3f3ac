//! User accounts: the model, the SQL, the operations shared by API and CLI, and the admin routes.

pub mod model;
pub mod ops;
pub mod repo;
pub mod routes;

pub use model::{SYSTEM_USER_ID, UserView};
