//! Sealing S3 secret keys at rest: XChaCha20-Poly1305 under a 256-bit key that never enters the
//! database (`data_dir/secrets/s3_seal_key`, or `s3.seal_key` in the configuration), with the
//! access key id as associated data, so a sealed secret copied onto another key's row does not
//! open.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const NONCE_LEN: usize = 24;

/// The sealing key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    /// A sealer from 64 hex digits.
    pub fn from_hex(hex: &str) -> anyhow::Result<Self> {
        let hex = hex.trim();
        anyhow::ensure!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "the S3 seal key must be 64 hex digits (32 bytes)"
        );
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        })
    }

    /// The configured key, or the one in `data_dir/secrets/s3_seal_key` (made on first use).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        match configured {
            Some(hex) => Self::from_hex(hex),
            None => {
                let path = data_dir.join("secrets").join("s3_seal_key");
                Self::from_hex(&crate::secrets::load_or_create(&path, || {
                    crate::secrets::random_hex(32)
                })?)
            }
        }
    }

    /// Seals `secret` for the key `access_key_id`: nonce, then ciphertext and tag.
    pub fn seal(&self, access_key_id: &str, secret: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: access_key_id.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .expect("XChaCha20-Poly1305 encrypts any message under 256 GiB");
        [nonce.as_slice(), &sealed].concat()
    }

    /// Opens a sealed secret, or None when it was sealed for another key or under another seal
    /// key, or was altered.
    pub fn open(&self, access_key_id: &str, sealed: &[u8]) -> Option<String> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let payload = Payload {
            msg: body,
            aad: access_key_id.as_bytes(),
        };
        let plain = self.cipher.decrypt(&XNonce::from(nonce), payload).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_own_key_id_and_seal_key() {
        let sealer = Sealer::from_hex(&crate::secrets::random_hex(32)).unwrap();
        let sealed = sealer.seal("ATAAAAAAAAAAAAAAAAAA", "the secret");
        assert!(!sealed.windows(10).any(|w| w == b"the secret"));
        assert_eq!(
            sealer.open("ATAAAAAAAAAAAAAAAAAA", &sealed).as_deref(),
            Some("the secret")
        );
        assert_eq!(sealer.open("ATBBBBBBBBBBBBBBBBBB", &sealed), None);
        let other = Sealer::from_hex(&crate::secrets::random_hex(32)).unwrap();
        assert_eq!(other.open("ATAAAAAAAAAAAAAAAAAA", &sealed), None);
        let mut altered = sealed;
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(sealer.open("ATAAAAAAAAAAAAAAAAAA", &altered), None);
        assert_eq!(sealer.open("ATAAAAAAAAAAAAAAAAAA", b"short"), None);
        assert!(Sealer::from_hex("not hex").is_err());
    }
}
