//! Password hashing (argon2id, PHC strings) off the async threads in a bounded pool of reused
//! work buffers, the dummy verification that hides which emails exist, and the password policy.

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ErrorCode};

/// The shortest password accepted.
pub const MIN_LEN: usize = 10;
/// The longest password accepted (bounds the hashing cost an attacker can ask for).
pub const MAX_LEN: usize = 256;

/// Checks a new password against the policy; the message says what is wrong.
pub fn check_policy(password: &str, email: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    let weak = |msg: &'static str| Err(ApiError::new(ErrorCode::WeakPassword, msg));
    if chars < MIN_LEN {
        return weak("the password must have at least 10 characters");
    }
    if chars > MAX_LEN {
        return weak("the password must have at most 256 characters");
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return weak("the password must use at least 4 different characters");
    }
    let lowered = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lowered.contains(email) || (local.len() >= 4 && lowered.contains(local)) {
        return weak("the password must not contain the email address");
    }
    Ok(())
}

/// At most this many argon2 computations run at once, server-wide; each holds one work buffer
/// of the pool (19 MiB with the default parameters), so password hashing can never take more
/// than `HASH_SLOTS` buffers of memory, however many requests arrive together.
pub const HASH_SLOTS: usize = 2;
/// Stored hashes whose memory cost is above this (KiB) are refused rather than computed.
const MAX_M_COST: u32 = 64 * 1024;

/// The bounded pool: a semaphore for the slots and the work buffers they use. Buffers are
/// allocated once and reused, so a burst of logins leaves no freed-but-kept heap behind.
struct Pool {
    slots: tokio::sync::Semaphore,
    buffers: std::sync::Mutex<Vec<Vec<Block>>>,
}

fn pool() -> &'static Pool {
    static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| Pool {
        slots: tokio::sync::Semaphore::new(HASH_SLOTS),
        buffers: std::sync::Mutex::new(Vec::new()),
    })
}

/// Runs `work` with a pooled work buffer on a blocking thread, waiting for a free slot.
async fn with_buffer<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let pool = pool();
    // The permit and the buffer move into the blocking task and are given back there: if the
    // request is dropped midway (the client went away), the computation still holds its slot
    // until it ends, so the bound holds for work that nobody waits for any more.
    let slot = pool.slots.acquire().await?;
    let result = tokio::task::spawn_blocking(move || {
        let mut buffer = take_buffer(pool);
        let result = work(&mut buffer);
        give_back(pool, buffer);
        drop(slot);
        result
    })
    .await?;
    Ok(result)
}

fn take_buffer(pool: &Pool) -> Vec<Block> {
    let mut buffers = pool.buffers.lock().unwrap_or_else(|e| e.into_inner());
    buffers.pop().unwrap_or_default()
}

fn give_back(pool: &Pool, buffer: Vec<Block>) {
    let mut buffers = pool.buffers.lock().unwrap_or_else(|e| e.into_inner());
    // A buffer grown past the default size for an unusual stored hash is not kept.
    if buffers.len() < HASH_SLOTS && buffer.len() <= Params::DEFAULT.block_count() {
        buffers.push(buffer);
    }
}

/// Hashes `password` with argon2id (default parameters) in a pooled slot.
pub async fn hash(password: String) -> anyhow::Result<String> {
    with_buffer(move |buffer| hash_with(&password, buffer)).await?
}

/// Hashes on the calling thread; for the CLI and for building the dummy hash.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    hash_with(password, &mut Vec::new())
}

fn hash_with(password: &str, buffer: &mut Vec<Block>) -> anyhow::Result<String> {
    let salt: [u8; 16] = rand::random();
    let params = Params::DEFAULT;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(password, &salt, &params, Version::V0x13, &mut out, buffer)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

/// argon2id of `password` into `out`, in `buffer` (grown to the parameters' size if needed).
fn compute(
    password: &str,
    salt: &[u8],
    params: &Params,
    version: Version,
    out: &mut [u8],
    buffer: &mut Vec<Block>,
) -> anyhow::Result<()> {
    if buffer.len() < params.block_count() {
        buffer.resize(params.block_count(), Block::new());
    }
    Argon2::new(Algorithm::Argon2id, version, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            out,
            &mut buffer[..params.block_count()],
        )
        .map_err(anyhow::Error::msg)
}

/// Verifies `password` against a PHC hash in a pooled slot. With no hash (unknown account),
/// verifies against `dummy` so the response takes as long as for a real account, then fails.
pub async fn verify(password: String, hash: Option<String>, dummy: &str) -> anyhow::Result<bool> {
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| dummy.to_owned());
    let ok = with_buffer(move |buffer| verify_with(&password, &hash, buffer)).await??;
    Ok(ok && known)
}

fn verify_with(password: &str, hash: &str, buffer: &mut Vec<Block>) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(hash).map_err(anyhow::Error::msg)?;
    if Algorithm::try_from(parsed.algorithm).ok() != Some(Algorithm::Argon2id) {
        anyhow::bail!("the stored hash is not argon2id");
    }
    let params = Params::try_from(&parsed).map_err(anyhow::Error::msg)?;
    if params.m_cost() > MAX_M_COST {
        anyhow::bail!("the stored hash asks for {} KiB", params.m_cost());
    }
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(anyhow::Error::msg)?,
        None => Version::default(),
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("the stored hash has no salt or output");
    };
    let mut salt_bytes = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(anyhow::Error::msg)?;
    let mut out = vec![0u8; expected.len()];
    compute(password, salt, &params, version, &mut out, buffer)?;
    Ok(bool::from(out.ct_eq(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_verifies(password: &str, hash: &str) -> bool {
        use argon2::password_hash::PasswordVerifier;
        let parsed = PasswordHash::new(hash).unwrap();
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }

    #[test]
    fn a_hash_verifies_only_its_own_password() {
        let hash = hash_blocking("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let mut buffer = Vec::new();
        assert!(verify_with("correct horse battery", &hash, &mut buffer).unwrap());
        assert!(!verify_with("correct horse battery!", &hash, &mut buffer).unwrap());
        // The argon2 crate's own verifier agrees, both ways.
        assert!(crate_verifies("correct horse battery", &hash));
        assert!(!crate_verifies("correct horse battery!", &hash));
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"another passphrase", &salt)
            .unwrap()
            .to_string();
        assert!(verify_with("another passphrase", &theirs, &mut buffer).unwrap());
        assert!(!verify_with("another passphrase.", &theirs, &mut buffer).unwrap());
    }

    #[test]
    fn hostile_stored_hashes_fail_without_computing() {
        let mut buffer = Vec::new();
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c2l4dGVlbiBieXRlIHNsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(verify_with("x", huge, &mut buffer).is_err());
        assert!(buffer.is_empty(), "nothing was allocated");
        assert!(verify_with("x", "not a hash", &mut buffer).is_err());
    }

    #[tokio::test]
    async fn the_pool_keeps_at_most_its_slots() {
        let hashes = (0..6).map(|i| hash(format!("passphrase number {i}")));
        let hashes = futures::future::join_all(hashes).await;
        assert!(hashes.iter().all(Result::is_ok));
        let kept = pool().buffers.lock().unwrap().len();
        assert!((1..=HASH_SLOTS).contains(&kept), "{kept}");
    }

    #[test]
    fn the_policy_explains_what_is_wrong() {
        let code = |p: &str| {
            check_policy(p, "joe@example.com")
                .err()
                .map(|e| e.message().to_owned())
        };
        assert_eq!(
            code("short"),
            Some("the password must have at least 10 characters".into())
        );
        assert!(code("aaaaaaaaaaaa").unwrap().contains("4 different"));
        assert!(code("my-joe@example.com").unwrap().contains("email"));
        assert_eq!(code("a fine passphrase"), None);
        assert!(code(&"ab1!".repeat(100)).unwrap().contains("at most"));
    }
}
