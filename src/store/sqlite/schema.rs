//! Versioned schema migrations, applied by the binary at start-up.
//!
//! `PRAGMA user_version` records how many migrations a database has had; each
//! entry in [`MIGRATIONS`] runs once, in order, inside one transaction. Never
//! edit a released migration: append a new one.

use rusqlite::Connection;

use super::StoreError;

/// Every migration, oldest first. Index + 1 is the schema version it produces.
const MIGRATIONS: &[&str] = &[
    // 1: metadata, clicker devices and their score series.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

    CREATE TABLE clicker_devices (
        id          INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 999999),
        secret_hash BLOB NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL
    );

    -- One row per distinct (device, timestamp): a retried SCORE hits the key.
    CREATE TABLE clicker_scores (
        device_id   INTEGER NOT NULL REFERENCES clicker_devices(id),
        timestamp   INTEGER NOT NULL,
        score       INTEGER NOT NULL,
        msg_id      INTEGER,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, timestamp)
    ) WITHOUT ROWID;
    "#,
    // 2: the Sledge judging tables. Ids start at 1 (0 means "none" or "the
    // admin" on the wire) and rows are never deleted, so ids are never reused.
    r#"
    CREATE TABLE hacks (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        description TEXT NOT NULL,
        location    INTEGER NOT NULL
    );

    -- email_key is the email folded to lower case (Unicode-aware, done in
    -- Rust: SQLite's lower() folds ASCII only); it makes duplicates unique.
    CREATE TABLE judges (
        id        INTEGER PRIMARY KEY,
        name      TEXT NOT NULL,
        email     TEXT NOT NULL,
        email_key TEXT NOT NULL UNIQUE
    );

    CREATE TABLE judge_hacks (
        id       INTEGER PRIMARY KEY,
        judge_id INTEGER NOT NULL REFERENCES judges(id),
        hack_id  INTEGER NOT NULL REFERENCES hacks(id),
        priority INTEGER NOT NULL,
        UNIQUE (judge_id, hack_id)
    );

    CREATE TABLE superlatives (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL
    );

    -- Choices are 0 for "not chosen", so they cannot be foreign keys.
    CREATE TABLE superlative_placements (
        id               INTEGER PRIMARY KEY,
        judge_id         INTEGER NOT NULL REFERENCES judges(id),
        superlative_id   INTEGER NOT NULL REFERENCES superlatives(id),
        first_choice_id  INTEGER NOT NULL,
        second_choice_id INTEGER NOT NULL,
        UNIQUE (judge_id, superlative_id)
    );

    CREATE TABLE ratings (
        id       INTEGER PRIMARY KEY,
        judge_id INTEGER NOT NULL REFERENCES judges(id),
        hack_id  INTEGER NOT NULL REFERENCES hacks(id),
        rating   INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 20),
        UNIQUE (judge_id, hack_id)
    );

    CREATE TABLE superlative_hacks (
        id             INTEGER PRIMARY KEY,
        superlative_id INTEGER NOT NULL REFERENCES superlatives(id),
        hack_id        INTEGER NOT NULL REFERENCES hacks(id),
        UNIQUE (superlative_id, hack_id)
    );

    -- Secrets issued by `login`: only their SHA-256 is kept.
    CREATE TABLE judge_secrets (
        secret_hash BLOB PRIMARY KEY,
        judge_id    INTEGER NOT NULL REFERENCES judges(id),
        created_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX judge_secrets_by_judge ON judge_secrets (judge_id);
    "#,
    // 3: judges' sign-in links, one per judge: the token's generation and
    // SHA-256 (the token derives from the link key; it is never stored).
    r#"
    CREATE TABLE judge_links (
        judge_id   INTEGER PRIMARY KEY REFERENCES judges(id),
        generation INTEGER NOT NULL,
        token_hash BLOB NOT NULL UNIQUE,
        expires_at INTEGER,
        created_at INTEGER NOT NULL
    );
    "#,
    // 4: speed events (see store::speed). A judge's tally is not stored: it
    // is worked out from clicker_scores and the heat's start and stop times.
    r#"
    CREATE TABLE speed_events (
        id       INTEGER PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        switches INTEGER NOT NULL DEFAULT 0 CHECK (switches >= 0)
    );

    -- started_at and stopped_at are server times in ms; a heat started and
    -- not stopped is running. locked: results of a stopped heat are final.
    CREATE TABLE speed_heats (
        number     INTEGER PRIMARY KEY CHECK (number >= 1),
        started_at INTEGER,
        stopped_at INTEGER,
        locked     INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE speed_entries (
        id             INTEGER PRIMARY KEY,
        event_id       INTEGER NOT NULL REFERENCES speed_events(id),
        heat           INTEGER NOT NULL REFERENCES speed_heats(number),
        station        INTEGER NOT NULL CHECK (station >= 1),
        name           TEXT NOT NULL,
        club           TEXT,
        head_judge     INTEGER,
        false_starts   INTEGER NOT NULL DEFAULT 0,
        false_switches INTEGER NOT NULL DEFAULT 0,
        UNIQUE (heat, station)
    );

    CREATE TABLE speed_judges (
        entry_id  INTEGER NOT NULL REFERENCES speed_entries(id),
        device_id INTEGER NOT NULL REFERENCES clicker_devices(id),
        position  INTEGER NOT NULL,
        PRIMARY KEY (entry_id, device_id)
    ) WITHOUT ROWID;
    CREATE INDEX speed_judges_by_device ON speed_judges (device_id);
    "#,
    // 5: the judging floor: the pause, absent teams, judges' notes,
    // withdrawn hacks and when each judge last did something.
    r#"
    CREATE TABLE judging_status (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        paused     INTEGER NOT NULL CHECK (paused IN (0, 1)),
        changed_at INTEGER NOT NULL
    );
    INSERT INTO judging_status (id, paused, changed_at) VALUES (1, 0, 0);

    CREATE TABLE absences (
        id        INTEGER PRIMARY KEY,
        judge_id  INTEGER NOT NULL REFERENCES judges(id),
        hack_id   INTEGER NOT NULL REFERENCES hacks(id),
        active    INTEGER NOT NULL CHECK (active IN (0, 1)),
        marked_at INTEGER NOT NULL,
        UNIQUE (judge_id, hack_id)
    );
    CREATE INDEX absences_by_hack ON absences (hack_id);

    CREATE TABLE notes (
        id         INTEGER PRIMARY KEY,
        judge_id   INTEGER NOT NULL REFERENCES judges(id),
        hack_id    INTEGER NOT NULL REFERENCES hacks(id),
        text       TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (judge_id, hack_id)
    );

    CREATE TABLE withdrawals (
        id        INTEGER PRIMARY KEY,
        hack_id   INTEGER NOT NULL UNIQUE REFERENCES hacks(id),
        withdrawn INTEGER NOT NULL CHECK (withdrawn IN (0, 1))
    );

    CREATE TABLE judge_activity (
        judge_id       INTEGER PRIMARY KEY REFERENCES judges(id),
        last_action_at INTEGER NOT NULL
    );
    "#,
    // 6: the change log (see store::log): one row per commit, holding its
    // changes, packed, keyed by the last of them. The epoch is made in Rust,
    // from the CSPRNG, when the database first opens with this version.
    r#"
    CREATE TABLE change_log (
        seq  INTEGER PRIMARY KEY CHECK (seq >= 1),
        body BLOB NOT NULL
    );
    "#,
    // 7: which connection holds each connected device's id (node and
    // session; the node's id is a u64 stored by its bits). Emptied at each
    // start: a single node's connections did not survive its restart.
    r#"
    CREATE TABLE device_presence (
        device_id INTEGER PRIMARY KEY REFERENCES clicker_devices(id),
        node      INTEGER NOT NULL,
        session   INTEGER NOT NULL
    );
    "#,
    // 8: idempotency keys (see store::idempotency): a keyed write's
    // outcome, by caller and key, kept at least a day (created_at: ms).
    r#"
    CREATE TABLE idempotency_keys (
        scope       TEXT NOT NULL,
        key         TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
    "#,
    // 9: a rating its judge took back keeps its row with rating 0
    // (judging/ops/unrate.rs). SQLite cannot alter a CHECK, so the table is
    // rebuilt; no table refers to it.
    r#"
    CREATE TABLE ratings_v9 (
        id       INTEGER PRIMARY KEY,
        judge_id INTEGER NOT NULL REFERENCES judges(id),
        hack_id  INTEGER NOT NULL REFERENCES hacks(id),
        rating   INTEGER NOT NULL CHECK (rating BETWEEN 0 AND 20),
        UNIQUE (judge_id, hack_id)
    );
    INSERT INTO ratings_v9 (id, judge_id, hack_id, rating)
        SELECT id, judge_id, hack_id, rating FROM ratings;
    DROP TABLE ratings;
    ALTER TABLE ratings_v9 RENAME TO ratings;
    "#,
];

/// The schema version this build creates.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database up to [`latest_version`].
pub fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current > latest_version() {
        return Err(StoreError::TooNew {
            found: current,
            known: latest_version(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        migrate(&conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        assert!(matches!(migrate(&conn), Err(StoreError::TooNew { .. })));
    }

    #[test]
    fn version_9_keeps_every_rating_and_takes_a_taken_back_one() {
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for sql in &MIGRATIONS[..8] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 8).unwrap();
        conn.execute_batch(
            "INSERT INTO hacks (id, name, description, location) VALUES (1, 'A', '', 1);
             INSERT INTO judges (id, name, email, email_key) VALUES (1, 'J', 'j@x.org', 'j@x.org');
             INSERT INTO ratings (id, judge_id, hack_id, rating) VALUES (7, 1, 1, 15);",
        )
        .unwrap();
        assert!(conn
            .execute("UPDATE ratings SET rating = 0 WHERE id = 7", [])
            .is_err());
        migrate(&conn).unwrap();
        let row: (i64, i64, i64, i64) = conn
            .query_row(
                "SELECT id, judge_id, hack_id, rating FROM ratings",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(row, (7, 1, 1, 15));
        conn.execute("UPDATE ratings SET rating = 0 WHERE id = 7", [])
            .unwrap();
        assert!(conn
            .execute("UPDATE ratings SET rating = 21 WHERE id = 7", [])
            .is_err());
        assert!(conn
            .execute(
                "INSERT INTO ratings (judge_id, hack_id, rating) VALUES (1, 1, 3)",
                []
            )
            .is_err());
    }
}
