//! What the PostgreSQL storage unit tests share: a fresh database on the
//! server `PODIUM_TEST_DATABASE_URL` names (the tests skip, saying so, when
//! it is unset), more nodes on the same database, and the judging diffs a
//! node's followers received.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::{log, PgStore};
use crate::judging::model::DataStore;
use crate::metrics::Metrics;
use crate::store::{Change, Changes, Entry, Seq, DEFAULT_RETAIN};

/// A fresh database and the URL of it, or `None` (with a note) when
/// `PODIUM_TEST_DATABASE_URL` is unset.
pub async fn fresh_database(test: &str) -> Option<String> {
    let Ok(server) = std::env::var("PODIUM_TEST_DATABASE_URL") else {
        eprintln!(
            "SKIPPED {test}: it needs PostgreSQL; set PODIUM_TEST_DATABASE_URL \
             (a server the tests may create databases on)"
        );
        return None;
    };
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PODIUM_TEST_DATABASE_URL={server}: {e}"));
    let connection = tokio::spawn(connection);
    let name = format!("podium_u_{}", crate::secrets::generate(8));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    drop(client);
    let _ = connection.await;
    Some(with_database(&server, &name))
}

/// `url` (a `postgres://` URL or a `key=value` string) naming database `name`.
fn with_database(url: &str, name: &str) -> String {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return format!("{url} dbname={name}");
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("postgres://{authority}/{name}{query}")
}

/// A connection of "another node" to the database at `url`, with its own
/// transaction open: for holding a lock the node under test must meet.
pub async fn other_node(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client.batch_execute("BEGIN").await.unwrap();
    client
}

/// A node on the database at `url`, and the judging diffs it delivers.
pub async fn node(url: &str) -> (PgStore, Feed) {
    let (store, changes) = PgStore::open(
        url,
        Arc::new(Metrics::default()),
        DEFAULT_RETAIN,
        crate::secrets::random_u64(),
    )
    .await
    .expect("the store opens");
    let seen = log::position(&store.pool).await.unwrap();
    (store, Feed::new(changes, seen))
}

/// A node on a fresh database, or `None` when there is no server to test on.
pub async fn open(test: &str) -> Option<(PgStore, Feed)> {
    let url = fresh_database(test).await?;
    Some(node(&url).await)
}

/// The committed changes a node's follower received, in order.
pub struct Feed {
    changes: Changes,
    seen: Seq,
    pending: VecDeque<Entry>,
}

impl Feed {
    fn new(changes: Changes, seen: Seq) -> Feed {
        Feed {
            changes,
            seen,
            pending: VecDeque::new(),
        }
    }

    /// The judging diffs committed since the last call (by any node), in
    /// order: everything up to the log's position when called.
    pub async fn diffs(&mut self, store: &PgStore) -> Vec<DataStore> {
        let position = log::position(&store.pool).await.unwrap();
        while self.seen < position {
            let batch = tokio::time::timeout(Duration::from_secs(10), self.changes.recv())
                .await
                .unwrap_or_else(|_| panic!("change {} was not delivered in 10 s", self.seen + 1))
                .expect("the store is open");
            for entry in batch.iter() {
                if entry.seq <= self.seen {
                    continue;
                }
                assert_eq!(entry.seq, self.seen + 1, "changes arrive in order");
                self.seen = entry.seq;
                self.pending.push_back(entry.clone());
            }
        }
        self.pending
            .drain(..)
            .filter_map(|entry| match entry.change {
                Change::Judging(diff) => Some(*diff),
                Change::Score(_) | Change::Presence(_) | Change::Heat(_) => None,
            })
            .collect()
    }

    /// The one judging diff committed since the last call.
    pub async fn one(&mut self, store: &PgStore) -> DataStore {
        let mut diffs = self.diffs(store).await;
        assert_eq!(diffs.len(), 1, "one change was published: {diffs:?}");
        diffs.remove(0)
    }

    /// Asserts that nothing was published since the last call.
    pub async fn quiet(&mut self, store: &PgStore) {
        let diffs = self.diffs(store).await;
        assert!(diffs.is_empty(), "nothing was to be published: {diffs:?}");
    }
}
