//! The operator's two Sledge secrets: the admin secret and the global login
//! code judges log in with.
//!
//! Each comes from configuration (`PODIUM_ADMIN_SECRET`, `PODIUM_LOGIN_CODE`)
//! or, where unset, from `secrets.json` in the data directory, which the
//! server creates on first start (mode 0600, values from the CSPRNG). The
//! running server keeps only their hashes and compares in constant time; it
//! re-reads the file on SIGHUP, so `podium secrets rotate` takes effect
//! without a restart.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::secrets::{self, SecretHash};

/// File name of the generated secrets inside the data directory.
pub const FILE: &str = "secrets.json";
/// Random bytes in a generated admin secret (256 bits).
pub const ADMIN_SECRET_BYTES: usize = 32;
/// Random bytes in a generated login code (128 bits: judges may have to type it).
pub const LOGIN_CODE_BYTES: usize = 16;
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
        login_code: secrets::generate(LOGIN_CODE_BYTES),
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
        stored.login_code = secrets::generate(LOGIN_CODE_BYTES);
    }
    write(data_dir, &stored)?;
    Ok(stored)
}

/// Writes the file atomically (a 0600 temporary file, synced, then renamed)
/// so a crash never leaves half a file or a moment of wider permissions.
fn write(data_dir: &Path, stored: &StoredSecrets) -> Result<(), SecretsFileError> {
    let path = path(data_dir);
    let err = |source| SecretsFileError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(err)?;
    let tmp = data_dir.join(format!(".{FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    let mut text = serde_json::to_string_pretty(stored).expect("secrets serialize");
    text.push('\n');
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
    File,
}

/// The hashes the server checks against.
struct Hashes {
    admin: SecretHash,
    login_code: SecretHash,
}

/// The admin secret and login code of a running server, as hashes only.
pub struct OperatorSecrets {
    data_dir: PathBuf,
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
        let secrets = OperatorSecrets {
            data_dir: data_dir.to_path_buf(),
            configured_admin: admin_secret.as_deref().map(secrets::hash),
            configured_login_code: login_code.as_deref().map(secrets::hash),
            current: RwLock::new(Hashes {
                admin: [0; 32],
                login_code: [0; 32],
            }),
        };
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

    /// Re-reads the file for the secrets not configured (after `podium
    /// secrets rotate`). Sockets already authenticated keep their identity.
    pub fn reload(&self) -> Result<(), SecretsFileError> {
        if self.load()? {
            tracing::warn!(
                "{} was missing, so new secrets were generated; print them with `podium secrets show`",
                path(&self.data_dir).display()
            );
        }
        Ok(())
    }

    /// Whether `candidate` is the admin secret.
    pub fn is_admin_secret(&self, candidate: &str) -> bool {
        secrets::matches(candidate, &self.current.read().expect("poisoned").admin)
    }

    /// Whether `candidate` is the login code.
    pub fn is_login_code(&self, candidate: &str) -> bool {
        secrets::matches(
            candidate,
            &self.current.read().expect("poisoned").login_code,
        )
    }

    pub fn admin_source(&self) -> Source {
        source(self.configured_admin.is_some())
    }

    pub fn login_code_source(&self) -> Source {
        source(self.configured_login_code.is_some())
    }

    /// The login code in force, for the admin to hand to judges: read from
    /// the file on demand (memory keeps only its hash). `None` when it was
    /// configured (only its hash exists here) or when the file holds a code
    /// not yet loaded (rotated without SIGHUP).
    pub fn readable_login_code(&self) -> Result<Option<String>, SecretsFileError> {
        if self.configured_login_code.is_some() {
            return Ok(None);
        }
        Ok(read(&self.data_dir)?
            .map(|stored| stored.login_code)
            .filter(|code| self.is_login_code(code)))
    }

    /// Loads the hashes; returns whether the file was created.
    fn load(&self) -> Result<bool, SecretsFileError> {
        let (admin, login_code, created) = match (self.configured_admin, self.configured_login_code)
        {
            (Some(admin), Some(code)) => (admin, code, false),
            (admin, code) => {
                let (stored, created) = read_or_create(&self.data_dir)?;
                (
                    admin.unwrap_or_else(|| secrets::hash(&stored.admin_secret)),
                    code.unwrap_or_else(|| secrets::hash(&stored.login_code)),
                    created,
                )
            }
        };
        *self.current.write().expect("poisoned") = Hashes { admin, login_code };
        Ok(created)
    }
}

fn source(configured: bool) -> Source {
    if configured {
        Source::Configured
    } else {
        Source::File
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
        assert_eq!(stored.login_code.len(), 32);
        assert!(ops.is_admin_secret(&stored.admin_secret));
        assert!(ops.is_login_code(&stored.login_code));
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
