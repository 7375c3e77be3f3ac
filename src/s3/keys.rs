//! Access keys: made here (an id `AT` + 18 base32 characters, a 40-character secret), sealed,
//! stored as their owner, listed without secrets, relabelled and revoked. Shared by the HTTP
//! routes and the `atelier user keys` command.

use chrono::Utc;
use rand::Rng;
use uuid::Uuid;

use deadpool_postgres::Pool;

use super::repo::{self, KeyView};
use super::seal::Sealer;
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode};

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_text(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A new key and its secret, shown once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NewKey {
    /// The key.
    #[serde(flatten)]
    pub key: KeyView,
    /// The secret access key: shown now and never again.
    pub secret_access_key: String,
}

fn key_not_found() -> ApiError {
    ApiError::new(ErrorCode::S3KeyNotFound, "access key not found")
}

/// Checks a label: at most 100 characters, none hidden.
pub fn check_label(label: &str) -> Result<String, ApiError> {
    let label = label.trim();
    if label.chars().count() > 100 || label.chars().any(crate::text::is_hidden) {
        return Err(ApiError::validation(
            "a label has at most 100 characters, none of them control, bidi or zero-width",
        ));
    }
    Ok(label.to_owned())
}

/// What a new key is: its label, whether it only reads, and the most keys its owner may hold.
#[derive(Clone, Debug)]
pub struct KeyRequest {
    /// The owner's label.
    pub label: String,
    /// Only list and read.
    pub read_only: bool,
    /// The owner's limit (`s3.max_keys_per_user`).
    pub max_keys: u32,
}

/// Makes a key for the caller.
pub async fn create(
    pool: &Pool,
    seal: &Sealer,
    caller: &Caller,
    request: KeyRequest,
) -> Result<NewKey, ApiError> {
    let KeyRequest {
        label,
        read_only,
        max_keys,
    } = request;
    let label = check_label(&label)?;
    let key = KeyView {
        access_key_id: format!("AT{}", random_text(ID_ALPHABET, 18)),
        owner_id: caller.user_id,
        label,
        read_only,
        created_at: Utc::now(),
    };
    let secret = random_text(SECRET_ALPHABET, 40);
    let sealed = seal.seal(&key.access_key_id, &secret);
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    // Serialises this owner's key creations, so the limit holds under concurrency.
    repo::lock_keys_of(&tx, caller.user_id).await?;
    let held = repo::list_keys(&tx, caller.user_id).await?.len();
    let max = max_keys as usize;
    if held >= max {
        return Err(ApiError::new(
            ErrorCode::TooManyKeys,
            format!("you hold {held} access keys, the most allowed; revoke one first"),
        ));
    }
    repo::insert_key(&tx, &key, &sealed).await?;
    tx.commit().await?;
    Ok(NewKey {
        key,
        secret_access_key: secret,
    })
}

/// The keys of `owner` (the caller's own unless an admin asks for another user's).
pub async fn list(pool: &Pool, caller: &Caller, owner: Uuid) -> Result<Vec<KeyView>, ApiError> {
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let keys = repo::list_keys(&tx, owner).await?;
    tx.commit().await?;
    Ok(keys)
}

/// Relabels a visible key.
pub async fn relabel(
    pool: &Pool,
    caller: &Caller,
    access_key_id: &str,
    label: &str,
) -> Result<KeyView, ApiError> {
    let label = check_label(label)?;
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let key = repo::relabel_key(&tx, access_key_id, &label)
        .await?
        .ok_or_else(key_not_found)?;
    tx.commit().await?;
    Ok(key)
}

/// Revokes a visible key (an admin's: anyone's). The next S3 request with it is refused.
pub async fn revoke(pool: &Pool, caller: &Caller, access_key_id: &str) -> Result<(), ApiError> {
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let deleted = repo::delete_key(&tx, access_key_id).await?;
    tx.commit().await?;
    if deleted {
        Ok(())
    } else {
        Err(key_not_found())
    }
}
