//! The operator's two Sledge secrets: the admin secret and the global login
//! code judges log in with.
//!
//! Each comes from configuration (`PODIUM_ADMIN_SECRET`, `PODIUM_LOGIN_CODE`)
//! or, where unset, from `secrets.json` in the data directory, which the
//! server creates on first start (mode 0600, values from the CSPRNG). The
//! running server keeps only their hashes and compares in constant time; it
//! re-reads the file on SIGHUP, so `podium secrets rotate` takes effect
//! without a restart.
//!
//! In cluster mode the database holds them instead, for every node
//! ([`cluster`]): only their hashes, which each node re-reads every second.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub mod cluster;
pub mod link_key;

use crate::secrets::{self, SecretHash};
use link_key::LinkKey;

/// File name of the generated secrets inside the data directory.
pub const FILE: &str = "secrets.json";
/// Random bytes in a generated admin secret (256 bits).
pub const ADMIN_SECRET_BYTES: usize = 32;
/// Characters of a generated login code: judges type it on phones, so it
/// is short, shown in two groups of five, and drawn from [`CODE_ALPHABET`]
/// (31 symbols: 10 of them are 49.5 bits, guessed only through the throttle).
pub const LOGIN_CODE_CHARS: usize = 10;
/// Upper-case letters and digits without the look-alikes 0/O, 1/I/L; the
/// code is compared ignoring case, so lower-case l never needs telling apart.
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Configured values shorter than this draw a warning: they may be guessable.
const SHORT: usize = 16;

/// The contents of `secrets.json`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredSecrets {
    pub admin_secret: String,
    pub login_code: String,
}

impl std::fmt::Debug for StoredSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredSecrets { .. }")
    }
}

/// Which secrets `podium secrets rotate` replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotate {
    Admin,
    LoginCode,
    All,
}

/// Why the secrets file could not be read or written.
#[derive(Debug, Error)]
pub enum SecretsFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid secrets file ({source}); fix it or delete it to generate new secrets")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} does not hold a key of 64 hex digits; restore it from a backup, or delete it to have every judge's sign-in link issued anew")]
    BadKey { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The path of the secrets file in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Reads the secrets file, if there is one.
pub fn read(data_dir: &Path) -> Result<Option<StoredSecrets>, SecretsFileError> {
    let path = path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SecretsFileError::Read { path, source }),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| SecretsFileError::Parse { path, source })
}

/// Reads the secrets file, creating it with fresh secrets if there is none.
/// The flag says whether it was created now.
pub fn read_or_create(data_dir: &Path) -> Result<(StoredSecrets, bool), SecretsFileError> {
    if let Some(stored) = read(data_dir)? {
        return Ok((stored, false));
    }
    let fresh = StoredSecrets {
        admin_secret: secrets::generate(ADMIN_SECRET_BYTES),
        login_code: generate_login_code(),
    };
    write(data_dir, &fresh)?;
    Ok((fresh, true))
}

/// Replaces the chosen secrets in the file with fresh ones and returns the
/// new contents.
pub fn rotate(data_dir: &Path, which: Rotate) -> Result<StoredSecrets, SecretsFileError> {
    let (mut stored, _) = read_or_create(data_dir)?;
    if matches!(which, Rotate::Admin | Rotate::All) {
        stored.admin_secret = secrets::generate(ADMIN_SECRET_BYTES);
    }
    if matches!(which, Rotate::LoginCode | Rotate::All) {
        stored.login_code = generate_login_code();
    }
    write(data_dir, &stored)?;
    Ok(stored)
}

/// A fresh login code, e.g. `K7Q3M-XW9TE`.
pub fn generate_login_code() -> String {
    let symbols: Vec<char> = (0..LOGIN_CODE_CHARS)
        .map(|_| CODE_ALPHABET[secrets::uniform_index(CODE_ALPHABET.len())] as char)
        .collect();
    let (first, second) = symbols.split_at(LOGIN_CODE_CHARS / 2);
    format!(
        "{}-{}",
        first.iter().collect::<String>(),
        second.iter().collect::<String>()
    )
}

/// A typed login code as it is compared with a generated one: without
/// spaces and dashes, in upper case.
pub fn normalize_login_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// Writes the file atomically (a 0600 temporary file, synced, then renamed)
/// so a crash never leaves half a file or a moment of wider permissions.
fn write(data_dir: &Path, stored: &StoredSecrets) -> Result<(), SecretsFileError> {
    let mut text = serde_json::to_string_pretty(stored).expect("secrets serialize");
    text.push('\n');
    write_private(data_dir, FILE, &text)
}

/// Writes `name` in `data_dir` atomically with mode 0600.
pub(crate) fn write_private(
    data_dir: &Path,
    name: &str,
    text: &str,
) -> Result<(), SecretsFileError> {
    let path = data_dir.join(name);
    let err = |source| SecretsFileError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(err)?;
    let tmp = data_dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    // The umask may have narrowed the mode further, never widened it; make it exact.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    if let Ok(dir) = std::fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Where each secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Configured,
    /// Generated by Podium, kept in `secrets.json`.
    File,
    /// Generated by `podium secrets rotate --database-url`, kept hashed in
    /// the database (cluster mode).
    Database,
}

/// Where the secrets that are not configured are kept.
enum Kept {
    File(PathBuf),
    /// In the database; [`cluster`] keeps `current` up to date.
    Database,
}

/// The hashes the server checks against.
#[derive(Clone, Copy)]
struct Hashes {
    admin: SecretHash,
    login_code: SecretHash,
    /// Whether the login code is compared normalised (generated codes are;
    /// a configured one is compared exactly as configured).
    normalized: bool,
}

/// The admin secret and login code of a running server, as hashes only,
/// and the key judges' sign-in links derive from.
pub struct OperatorSecrets {
    kept: Kept,
    link_key: LinkKey,
    /// Hashes of configured values: these win over the file and never reload.
    configured_admin: Option<SecretHash>,
    configured_login_code: Option<SecretHash>,
    current: RwLock<Hashes>,
}

impl OperatorSecrets {
    /// Takes the configured values (if any) and the file for the rest,
    /// creating the file on first start. Logs where each comes from, never
    /// a value.
    pub fn open(
        data_dir: &Path,
        admin_secret: Option<String>,
        login_code: Option<String>,
    ) -> Result<OperatorSecrets, SecretsFileError> {
        let secrets = OperatorSecrets::new(
            Kept::File(data_dir.to_path_buf()),
            LinkKey::load_or_create(data_dir)?,
            admin_secret,
            login_code,
        );
        let created = secrets.load()?;
        let file = path(data_dir);
        if created {
            tracing::warn!(
                "generated the Sledge admin secret and login code and saved them in {} (mode 0600); \
                 print them with `podium secrets show --data-dir {}`",
                file.display(),
                data_dir.display()
            );
        }
        tracing::info!(
            admin_secret = ?secrets.admin_source(),
            login_code = ?secrets.login_code_source(),
            "Sledge secrets loaded"
        );
        Ok(secrets)
    }

    /// The secrets of `kept`, the configured ones hashed at once (the
    /// others not loaded yet), after a warning for short configured values.
    fn new(
        kept: Kept,
        link_key: LinkKey,
        admin_secret: Option<String>,
        login_code: Option<String>,
    ) -> OperatorSecrets {
        for (name, value) in [
            ("PODIUM_ADMIN_SECRET", &admin_secret),
            ("PODIUM_LOGIN_CODE", &login_code),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() < SHORT) {
                tracing::warn!(
                    "{name} is shorter than {SHORT} characters and may be guessed; \
                     unset it to have Podium generate a 128-bit value"
                );
            }
        }
        OperatorSecrets {
            kept,
            link_key,
            configured_admin: admin_secret.as_deref().map(secrets::hash),
            configured_login_code: login_code.as_deref().map(secrets::hash),
            current: RwLock::new(Hashes {
                admin: [0; 32],
                login_code: [0; 32],
                normalized: false,
            }),
        }
    }

    /// Re-reads the file for the secrets not configured (after `podium
    /// secrets rotate`). Sockets already authenticated keep their identity.
    /// In cluster mode there is nothing to do: the database is re-read
    /// every second anyway.
    pub fn reload(&self) -> Result<(), SecretsFileError> {
        let Kept::File(data_dir) = &self.kept else {
            return Ok(());
        };
        if self.load()? {
            tracing::warn!(
                "{} was missing, so new secrets were generated; print them with `podium secrets show`",
                path(data_dir).display()
            );
        }
        Ok(())
    }

    /// Whether the secrets that are not configured live in the database
    /// (cluster mode) rather than in `secrets.json`.
    pub fn kept_in_database(&self) -> bool {
        matches!(self.kept, Kept::Database)
    }

    /// Whether `candidate` is the admin secret.
    pub fn is_admin_secret(&self, candidate: &str) -> bool {
        secrets::matches(candidate, &self.current.read().expect("poisoned").admin)
    }

    /// Whether `candidate` is the login code.
    pub fn is_login_code(&self, candidate: &str) -> bool {
        let current = self.current.read().expect("poisoned");
        if current.normalized {
            secrets::matches(&normalize_login_code(candidate), &current.login_code)
        } else {
            secrets::matches(candidate, &current.login_code)
        }
    }

    /// The key of judges' sign-in links (`crate::operator_secrets::link_key`).
    pub fn link_key(&self) -> &LinkKey {
        &self.link_key
    }

    pub fn admin_source(&self) -> Source {
        self.source(self.configured_admin.is_some())
    }

    pub fn login_code_source(&self) -> Source {
        self.source(self.configured_login_code.is_some())
    }

    fn source(&self, configured: bool) -> Source {
        match (configured, &self.kept) {
            (true, _) => Source::Configured,
            (false, Kept::File(_)) => Source::File,
            (false, Kept::Database) => Source::Database,
        }
    }

    /// The login code in force, for the admin to hand to judges: read from
    /// the file on demand (memory keeps only its hash). `None` when it was
    /// configured (only its hash exists here), when the file holds a code
    /// not yet loaded (rotated without SIGHUP), or in cluster mode (the
    /// database holds only its hash).
    pub fn readable_login_code(&self) -> Result<Option<String>, SecretsFileError> {
        let Kept::File(data_dir) = &self.kept else {
            return Ok(None);
        };
        if self.configured_login_code.is_some() {
            return Ok(None);
        }
        Ok(read(data_dir)?
            .map(|stored| stored.login_code)
            .filter(|code| self.is_login_code(code)))
    }

    /// Loads the hashes from the file; returns whether it was created.
    fn load(&self) -> Result<bool, SecretsFileError> {
        let Kept::File(data_dir) = &self.kept else {
            return Ok(false);
        };
        let (admin, login_code, created) = match (self.configured_admin, self.configured_login_code)
        {
            (Some(admin), Some(code)) => (admin, code, false),
            (admin, code) => {
                let (stored, created) = read_or_create(data_dir)?;
                (
                    admin.unwrap_or_else(|| secrets::hash(&stored.admin_secret)),
                    code.unwrap_or_else(|| {
                        secrets::hash(&normalize_login_code(&stored.login_code))
                    }),
                    created,
                )
            }
        };
        let normalized = self.configured_login_code.is_none();
        *self.current.write().expect("poisoned") = Hashes {
            admin,
            login_code,
            normalized,
        };
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_with_mode_0600_and_checks_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let ops = OperatorSecrets::open(dir.path(), None, None).unwrap();
        let stored = read(dir.path()).unwrap().unwrap();
        let mode = std::fs::metadata(path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(stored.admin_secret.len(), 64);
        assert_eq!(stored.login_code.len(), 11);
        assert!(ops.is_admin_secret(&stored.admin_secret));
        assert!(ops.is_login_code(&stored.login_code));
        // Typed without the dash, in lower case, with stray spaces: accepted.
        let typed = format!(" {} ", stored.login_code.replace('-', "").to_lowercase());
        assert!(ops.is_login_code(&typed));
        assert!(!ops.is_admin_secret(&stored.login_code));
        // A second start reads the same values.
        let (again, created) = read_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(again.admin_secret, stored.admin_secret);
    }

    #[test]
    fn configured_values_win_and_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let ops = OperatorSecrets::open(dir.path(), Some("configured-admin-secret".into()), None)
            .unwrap();
        assert_eq!(ops.admin_source(), Source::Configured);
        assert_eq!(ops.login_code_source(), Source::File);
        assert!(ops.is_admin_secret("configured-admin-secret"));
        let before = read(dir.path()).unwrap().unwrap();
        let after = rotate(dir.path(), Rotate::All).unwrap();
        assert_ne!(before.login_code, after.login_code);
        ops.reload().unwrap();
        assert!(ops.is_admin_secret("configured-admin-secret"));
        assert!(!ops.is_login_code(&before.login_code));
        assert!(ops.is_login_code(&after.login_code));
    }

    #[test]
    fn generated_codes_are_two_groups_of_unambiguous_symbols() {
        let codes: Vec<String> = (0..200).map(|_| generate_login_code()).collect();
        for code in &codes {
            let (a, b) = code.split_once('-').unwrap();
            assert_eq!((a.len(), b.len()), (5, 5), "{code}");
            assert!(
                code.chars()
                    .filter(|c| *c != '-')
                    .all(|c| CODE_ALPHABET.contains(&(c as u8))),
                "{code}"
            );
        }
        for ambiguous in ['0', 'O', '1', 'I', 'L'] {
            assert!(!CODE_ALPHABET.contains(&(ambiguous as u8)));
        }
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), codes.len());
        assert_eq!(normalize_login_code("k7q3m - xw9te"), "K7Q3MXW9TE");
    }

    #[test]
    fn a_configured_code_is_compared_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let ops = OperatorSecrets::open(dir.path(), None, Some("Code-With-Case-1".into())).unwrap();
        assert!(ops.is_login_code("Code-With-Case-1"));
        assert!(!ops.is_login_code("code-with-case-1"));
    }

    #[test]
    fn both_configured_needs_no_file() {
        let dir = tempfile::tempdir().unwrap();
        OperatorSecrets::open(dir.path(), Some("a".repeat(20)), Some("b".repeat(20))).unwrap();
        assert!(read(dir.path()).unwrap().is_none());
    }

    #[test]
    fn rotate_one_keeps_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let (before, _) = read_or_create(dir.path()).unwrap();
        let after = rotate(dir.path(), Rotate::LoginCode).unwrap();
        assert_eq!(before.admin_secret, after.admin_secret);
        assert_ne!(before.login_code, after.login_code);
    }
}
