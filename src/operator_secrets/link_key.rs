//! Judges' sign-in links: the server key their tokens derive from, and the
//! tokens themselves.
//!
//! A link's token is HMAC-SHA-256 of (judge id, generation) under a 256-bit
//! key from the CSPRNG, cut to 128 bits. The database keeps only each
//! judge's generation and the token's SHA-256; the key lives in `link-key`
//! beside `secrets.json` (mode 0600). So the organiser's page can show the
//! same link again (after a restart too) without any token being stored in
//! the clear, a copy of the database alone signs nobody in, and re-issuing a
//! link (the next generation) retires the old one.
//!
//! In cluster mode every node must derive the same tokens, so the key is
//! kept in the database (`link_key`), where a copy of the database does
//! hold it: see docs/security.md.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{write_private, SecretsFileError};
use crate::secrets;

/// File name of the link key inside the data directory.
pub const KEY_FILE: &str = "link-key";
/// Bytes of a token (128 bits, 32 hex digits).
pub const TOKEN_BYTES: usize = 16;
pub const KEY_BYTES: usize = 32;

/// The key link tokens are derived from.
pub struct LinkKey([u8; KEY_BYTES]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// Reads the key from `data_dir`, creating it on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<LinkKey, SecretsFileError> {
        let path = key_path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => parse(text.trim()).ok_or(SecretsFileError::BadKey { path }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = secrets::generate(KEY_BYTES);
                write_private(data_dir, KEY_FILE, &format!("{text}\n"))?;
                tracing::info!(
                    "generated the key of judges' sign-in links in {}",
                    path.display()
                );
                Ok(parse(&text).expect("a generated key parses"))
            }
            Err(source) => Err(SecretsFileError::Read { path, source }),
        }
    }

    /// The key of cluster mode, as the database keeps it
    /// (`crate::operator_secrets::cluster`).
    pub fn from_bytes(key: [u8; KEY_BYTES]) -> LinkKey {
        LinkKey(key)
    }

    /// The token of `judge`'s link of `generation`: 32 hex digits.
    pub fn token(&self, judge: i64, generation: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"podium judge sign-in link\0");
        mac.update(&judge.to_be_bytes());
        mac.update(&generation.to_be_bytes());
        hex::encode(&mac.finalize().into_bytes()[..TOKEN_BYTES])
    }
}

fn parse(text: &str) -> Option<LinkKey> {
    let bytes = hex::decode(text).ok()?;
    Some(LinkKey(bytes.try_into().ok()?))
}

/// Where the link key is kept.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_key_is_made_once_private_and_tokens_are_stable_per_generation() {
        let dir = tempfile::tempdir().unwrap();
        let key = LinkKey::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(key_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = LinkKey::load_or_create(dir.path()).unwrap();
        let token = key.token(1, 1);
        assert_eq!(token.len(), 2 * TOKEN_BYTES);
        assert_eq!(token, again.token(1, 1));
        assert_ne!(token, key.token(1, 2));
        assert_ne!(token, key.token(2, 1));
        let other = LinkKey::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert_ne!(token, other.token(1, 1));
        assert_eq!(format!("{key:?}"), "LinkKey(..)");
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(key_path(dir.path()), "not hex\n").unwrap();
        let err = LinkKey::load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("link-key"), "{err}");
    }
}
