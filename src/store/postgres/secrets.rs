//! The operator's secrets in PostgreSQL, for cluster mode: the hashes of
//! the admin secret and the login code, and the key of judges' sign-in
//! links, one copy for every node (`crate::operator_secrets` decides what
//! to do with them; SQLite mode keeps them in files instead).

use super::locks::{Advisory, Locks};
use super::PgStore;
use crate::secrets::SecretHash;
use crate::store::StoreError;

/// Bytes of the link key.
pub const LINK_KEY_BYTES: usize = 32;

/// A stored secret's hash.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StoredHash {
    pub hash: SecretHash,
    /// Whether candidates are normalised before hashing (a generated login code).
    pub normalized: bool,
}

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredHash {{ normalized: {}, .. }}", self.normalized)
    }
}

/// What the database holds of the admin secret and the login code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorHashes {
    pub admin: Option<StoredHash>,
    pub login_code: Option<StoredHash>,
    /// When each was last rotated, as PostgreSQL writes a time, for people.
    pub admin_rotated_at: Option<String>,
    pub login_code_rotated_at: Option<String>,
}

const ADMIN: &str = "admin_secret";
const LOGIN_CODE: &str = "login_code";

impl PgStore {
    /// The hashes every node checks the admin secret and login code against.
    pub async fn operator_hashes(&self) -> Result<OperatorHashes, StoreError> {
        let rows = self
            .read(|client| {
                Box::pin(async move {
                    Ok(client
                        .query(
                            "SELECT name, hash, normalized, rotated_at::text FROM operator_secrets",
                            &[],
                        )
                        .await?)
                })
            })
            .await?;
        let mut hashes = OperatorHashes::default();
        for row in rows {
            let hash: Vec<u8> = row.get(1);
            let stored = StoredHash {
                hash: hash.try_into().map_err(|_| {
                    StoreError::Postgres(
                        "operator_secrets holds a hash that is not 32 bytes".into(),
                    )
                })?,
                normalized: row.get(2),
            };
            let rotated_at = Some(row.get::<_, String>(3));
            match row.get::<_, &str>(0) {
                ADMIN => (hashes.admin, hashes.admin_rotated_at) = (Some(stored), rotated_at),
                LOGIN_CODE => {
                    (hashes.login_code, hashes.login_code_rotated_at) = (Some(stored), rotated_at)
                }
                // The table's CHECK allows no other name.
                _ => {}
            }
        }
        Ok(hashes)
    }

    /// Replaces the stored hash of the admin secret, of the login code, or
    /// both, in one transaction: every node picks them up at its next read.
    pub async fn set_operator_hashes(
        &self,
        admin: Option<StoredHash>,
        login_code: Option<StoredHash>,
    ) -> Result<(), StoreError> {
        self.write(Locks::exclusive(Advisory::Settings), move |tx| {
            Box::pin(async move {
                for (name, stored) in [(ADMIN, admin), (LOGIN_CODE, login_code)] {
                    let Some(stored) = stored else { continue };
                    tx.execute(
                        "INSERT INTO operator_secrets (name, hash, normalized, rotated_at)
                         VALUES ($1, $2, $3, now())
                         ON CONFLICT (name) DO UPDATE
                         SET hash = excluded.hash, normalized = excluded.normalized,
                             rotated_at = excluded.rotated_at",
                        &[&name, &&stored.hash[..], &stored.normalized],
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// The link key: the stored one, or `fresh` if there was none. Nodes
    /// starting together each offer their own; the first insert wins and
    /// every node reads that one back.
    pub async fn link_key_or_insert(
        &self,
        fresh: [u8; LINK_KEY_BYTES],
    ) -> Result<[u8; LINK_KEY_BYTES], StoreError> {
        self.write(Locks::exclusive(Advisory::Settings), move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO link_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                    &[&&fresh[..]],
                )
                .await?;
                let key: Vec<u8> = tx
                    .query_one("SELECT key FROM link_key WHERE id = 1", &[])
                    .await?
                    .get(0);
                key.try_into().map_err(|_| {
                    StoreError::Postgres("link_key holds a key that is not 32 bytes".into())
                })
            })
        })
        .await
    }
}
