//! The operator's secrets in cluster mode, where every node must agree on
//! them: the database (`crate::store::postgres`) keeps the hashes of the
//! admin secret and the login code, and the link key.
//!
//! Only hashes are kept, so a value can be shown once, when it is made:
//! `podium secrets rotate --database-url` ([`rotate`]) makes new values,
//! prints them and stores their hashes. A node never makes them itself: on
//! a database without them (and without `PODIUM_ADMIN_SECRET` /
//! `PODIUM_LOGIN_CODE` set) it refuses to start and says to run that
//! command, since values nobody was shown would lock the operator out.
//! Configured values win on the node where they are set, as in SQLite mode.
//!
//! Each node re-reads the hashes every [`REFRESH`], so a rotation reaches
//! every node within about that long, with no restart and no signal. The
//! link key is made by the first node to start (or the first rotation):
//! whoever inserts first wins and every node reads that key back.

use std::sync::{Arc, Weak};
use std::time::Duration;

use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::link_key::{LinkKey, KEY_BYTES};
use super::{
    generate_login_code, normalize_login_code, Kept, OperatorSecrets, Rotate, ADMIN_SECRET_BYTES,
};
use crate::secrets;
use crate::store::postgres::{OperatorHashes, StoredHash};
use crate::store::{PgStore, StoreError};

/// How often a node re-reads the hashes: a rotation reaches every node
/// within this (and one read's time).
pub const REFRESH: Duration = Duration::from_secs(1);

/// Why a node cannot take its secrets from the database.
#[derive(Debug, Error)]
pub enum ClusterSecretsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "cluster mode: the database holds no {missing} yet, and none is configured: run \
         `podium secrets rotate --all --database-url <the same URL>` once (it prints the new \
         values; the database keeps only their hashes), then start the nodes; or set {variables} \
         on every node"
    )]
    Missing {
        missing: &'static str,
        variables: &'static str,
    },
}

/// New values made by [`rotate`], to be shown once.
pub struct Rotated {
    pub admin_secret: Option<String>,
    pub login_code: Option<String>,
}

impl std::fmt::Debug for Rotated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rotated { .. }")
    }
}

/// Makes new values for `which`, stores their hashes (and the link key, if
/// the database has none yet) and returns the values: the only time they
/// can be seen.
pub async fn rotate(store: &PgStore, which: Rotate) -> Result<Rotated, StoreError> {
    store.link_key_or_insert(secrets::random()).await?;
    let admin_secret =
        matches!(which, Rotate::Admin | Rotate::All).then(|| secrets::generate(ADMIN_SECRET_BYTES));
    let login_code = matches!(which, Rotate::LoginCode | Rotate::All).then(generate_login_code);
    store
        .set_operator_hashes(
            admin_secret.as_deref().map(|value| StoredHash {
                hash: secrets::hash(value),
                normalized: false,
            }),
            login_code.as_deref().map(|code| StoredHash {
                hash: secrets::hash(&normalize_login_code(code)),
                normalized: true,
            }),
        )
        .await?;
    Ok(Rotated {
        admin_secret,
        login_code,
    })
}

/// [`rotate`] on the database at `url`, creating its schema if needed:
/// what `podium secrets rotate --database-url` does (and what a test
/// harness can do before it starts nodes on a fresh database).
pub async fn rotate_at(url: &str, which: Rotate) -> Result<Rotated, StoreError> {
    let store = open(url).await?;
    let rotated = rotate(&store, which).await;
    store.close().await;
    rotated
}

/// What the database at `url` holds of the secrets (`podium secrets show
/// --database-url`).
pub async fn hashes_at(url: &str) -> Result<OperatorHashes, StoreError> {
    let store = open(url).await?;
    let hashes = store.operator_hashes().await;
    store.close().await;
    hashes
}

/// The database at `url`, migrated, for one command.
async fn open(url: &str) -> Result<PgStore, StoreError> {
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let node = secrets::random_u64();
    let (store, _changes) = PgStore::open(url, metrics, crate::store::DEFAULT_RETAIN, node).await?;
    Ok(store)
}

impl OperatorSecrets {
    /// A node's secrets in cluster mode: the configured values, and the
    /// database's hashes for the rest, followed until `shutdown`.
    pub async fn open_cluster(
        store: PgStore,
        admin_secret: Option<String>,
        login_code: Option<String>,
        shutdown: CancellationToken,
    ) -> Result<Arc<OperatorSecrets>, ClusterSecretsError> {
        let key: [u8; KEY_BYTES] = store.link_key_or_insert(secrets::random()).await?;
        let secrets = Arc::new(OperatorSecrets::new(
            Kept::Database,
            LinkKey::from_bytes(key),
            admin_secret,
            login_code,
        ));
        let stored = store.operator_hashes().await?;
        let missing_admin = secrets.configured_admin.is_none() && stored.admin.is_none();
        let missing_code = secrets.configured_login_code.is_none() && stored.login_code.is_none();
        let missing = match (missing_admin, missing_code) {
            (false, false) => None,
            (true, true) => Some((
                "admin secret and no login code",
                "PODIUM_ADMIN_SECRET and PODIUM_LOGIN_CODE",
            )),
            (true, false) => Some(("admin secret", "PODIUM_ADMIN_SECRET")),
            (false, true) => Some(("login code", "PODIUM_LOGIN_CODE")),
        };
        if let Some((missing, variables)) = missing {
            return Err(ClusterSecretsError::Missing { missing, variables });
        }
        secrets.apply(&stored);
        tracing::info!(
            admin_secret = ?secrets.admin_source(),
            login_code = ?secrets.login_code_source(),
            "Sledge secrets loaded; the database's are re-read every {:?}",
            REFRESH
        );
        // With both configured here, the database's hashes never apply.
        if secrets.configured_admin.is_none() || secrets.configured_login_code.is_none() {
            tokio::spawn(follow(Arc::downgrade(&secrets), store, shutdown));
        }
        Ok(secrets)
    }

    /// Takes the database's hashes for the secrets not configured here.
    /// A hash missing from the database (deleted by hand) leaves the last
    /// one in force rather than locking everyone out.
    fn apply(&self, stored: &OperatorHashes) {
        let mut current = self.current.write().expect("poisoned");
        let old = *current;
        if let Some(admin) = self.configured_admin.or(stored.admin.map(|s| s.hash)) {
            current.admin = admin;
        }
        match (self.configured_login_code, stored.login_code) {
            // A configured code is compared exactly as configured.
            (Some(code), _) => (current.login_code, current.normalized) = (code, false),
            (None, Some(code)) => {
                (current.login_code, current.normalized) = (code.hash, code.normalized)
            }
            (None, None) => {}
        }
        // Not the first load (all zeros): say what changed, never the value.
        if old.admin != [0; 32] && old.admin != current.admin {
            tracing::info!("the admin secret was rotated: the new one is in force on this node");
        }
        if old.login_code != [0; 32] && old.login_code != current.login_code {
            tracing::info!("the login code was rotated: the new one is in force on this node");
        }
    }
}

/// Re-reads the hashes every [`REFRESH`] while the node runs. With the
/// database unreachable the last hashes stay in force.
async fn follow(secrets: Weak<OperatorSecrets>, store: PgStore, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let read = store.operator_hashes().await;
        let Some(secrets) = secrets.upgrade() else {
            return;
        };
        match read {
            Ok(stored) => {
                if failing {
                    tracing::info!("the Sledge secrets are read from the database again");
                    failing = false;
                }
                secrets.apply(&stored);
            }
            Err(e) if !failing => {
                tracing::warn!(
                    "cannot re-read the Sledge secrets, the last ones stay in force: {e}"
                );
                failing = true;
            }
            Err(_) => {}
        }
    }
}
