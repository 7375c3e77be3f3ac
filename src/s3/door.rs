//! Who an S3 request is: `S3Auth` finds an access key's secret (for s3s's SigV4 check, headers
//! and presigned URLs alike) and `S3Access` admits only signed requests of an active user's key,
//! refuses writes to read-only keys, and hands the key's user to the operation. Every lookup goes
//! to the database, so revoking a key or deactivating its user takes effect on the next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use uuid::Uuid;

use super::repo;
use crate::app::App;

/// The user an S3 request acts for.
#[derive(Clone, Copy, Debug)]
pub struct KeyUser {
    /// The key's owner.
    pub owner: Uuid,
    /// Whether the key may only read.
    pub read_only: bool,
}

/// Operations a read-only key may call.
const READ_OPERATIONS: &[&str] = &[
    "ListBuckets",
    "HeadBucket",
    "GetBucketLocation",
    "ListObjects",
    "ListObjectsV2",
    "HeadObject",
    "GetObject",
    "ListParts",
    "ListMultipartUploads",
];

/// Shared by the two checks: the app (database, seal key), and the users that signature
/// checks just resolved (so that the access check does not look the same key up again).
pub struct Door {
    app: Arc<App>,
    resolved: Mutex<HashMap<String, KeyUser>>,
}

impl Door {
    /// The door of `app`.
    pub fn new(app: Arc<App>) -> Arc<Self> {
        Arc::new(Self {
            app,
            resolved: Mutex::new(HashMap::new()),
        })
    }

    async fn lookup(&self, access_key: &str) -> S3Result<Option<repo::KeyOwner>> {
        let client = self.app.db.get().await.map_err(super::errors::from_db)?;
        repo::lookup(&client, access_key)
            .await
            .map_err(super::errors::from_db)
    }
}

/// The signature check's secret lookup.
pub struct Auth(pub Arc<Door>);

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let door = &self.0;
        let Some(key) = door.lookup(access_key).await? else {
            return Err(s3_error!(InvalidAccessKeyId, "no such access key"));
        };
        let Some(secret) = door.app.s3_seal.open(access_key, &key.secret_sealed) else {
            tracing::error!(
                access_key,
                "an S3 secret does not open with this server's seal key"
            );
            return Err(s3_error!(InvalidAccessKeyId, "no such access key"));
        };
        let user = KeyUser {
            owner: key.owner_id,
            read_only: key.read_only,
        };
        let mut resolved = door.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if resolved.len() > 10_000 {
            resolved.clear();
        }
        resolved.insert(access_key.to_owned(), user);
        Ok(SecretKey::from(secret))
    }
}

/// The access check, run after the signature check and before the body is read.
pub struct Access(pub Arc<Door>);

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(
                AccessDenied,
                "requests must be signed with an access key"
            ));
        };
        let access_key = credentials.access_key.clone();
        let taken = {
            let mut resolved = self.0.resolved.lock().unwrap_or_else(|e| e.into_inner());
            resolved.remove(&access_key)
        };
        let user = match taken {
            Some(user) => user,
            None => match self.0.lookup(&access_key).await? {
                Some(key) => KeyUser {
                    owner: key.owner_id,
                    read_only: key.read_only,
                },
                None => return Err(s3_error!(InvalidAccessKeyId, "no such access key")),
            },
        };
        if user.read_only && !READ_OPERATIONS.contains(&cx.s3_op().name()) {
            return Err(s3_error!(AccessDenied, "this access key is read-only"));
        }
        cx.extensions_mut().insert(user);
        Ok(())
    }
}

/// The user `check` admitted; a request without one is refused.
pub fn user_of(extensions: &axum::http::Extensions) -> S3Result<KeyUser> {
    extensions
        .get::<KeyUser>()
        .copied()
        .ok_or_else(|| S3Error::with_message(S3ErrorCode::AccessDenied, "not signed"))
}
