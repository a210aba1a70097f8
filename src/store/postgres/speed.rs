//! Speed events in PostgreSQL: events, entries, heats, deductions and the
//! sheets results come from, with the same rules as SQLite's
//! (`crate::store::speed`), decided by the same `crate::speed::guards`. As
//! there, a judge's tally is not stored: it is worked out from the clicker's
//! stored scores and the heat's start and stop times.
//!
//! Several nodes: every speed write first takes [`SPEED_LOCK`], a
//! transaction-scoped advisory lock held until its batch commits, so the
//! speed writes of all nodes run one at a time, as SQLite's single writer
//! runs them. Its checks (heat states, taken stations, busy clickers, the
//! running heat) then read every earlier speed write of any node: the
//! writer's transactions are READ COMMITTED, so each statement after the
//! lock sees what committed before it was granted. Speed writes are an
//! organiser's actions, a few a minute: one lock for all costs nothing a
//! finer scheme would save.
//!
//! Heat boundaries are cuts of *this* node's receive clock, while each
//! score is stamped by the node that received it. With several nodes, a
//! score received by a node whose clock is skewed from this one's could
//! fall on the wrong side of a start or stop, by up to the skew: keep the
//! nodes' clocks synchronised (NTP).

use futures_util::future::try_join_all;
use tokio_postgres::{Client, GenericClient, IsolationLevel, Row};

use super::clicker::latest_score_before;
use super::{unreachable, PgStore};
use crate::scoring::{clock, DeviceId};
use crate::speed::guards::{self, Stop};
use crate::speed::model::{Entry, EntryId, EntrySheet, Filter, HeatRecord, HeatState, NewEntry};
use crate::speed::{tally::tally, Judges, SpeedError};
use crate::store::traits::{CurrentHeat, EntriesAdded};
use crate::store::StoreError;

/// Key of the advisory lock every speed write is made under ("speed").
const SPEED_LOCK: i64 = 0x73_7065_6564;

/// `?` for a rule's refusal inside a job: the job answers it.
macro_rules! check {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        }
    };
}

/// `?` for the refusals of a job: a storage error leaves, a refusal is returned.
macro_rules! refuse {
    ($e:expr) => {
        check!($e.await?)
    };
}

/// Serialises this transaction's speed writes with every node's (see the module's notes).
async fn lock_speed(c: &Client) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&SPEED_LOCK])
        .await?;
    Ok(())
}

/// Schema ids and counts are BIGINT; in Rust they are u32, checked on the
/// way in (the API) and by the schema's constraints.
fn u32_of(v: i64) -> u32 {
    v as u32
}

/// A `speed_heats` row selected as `number, started_at, stopped_at, locked`.
fn heat_row(r: &Row) -> HeatRecord {
    let (started_at, stopped_at) = (r.get(1), r.get(2));
    HeatRecord {
        heat: u32_of(r.get(0)),
        state: HeatState::of(started_at, stopped_at, r.get(3)),
        started_at,
        stopped_at,
    }
}

async fn heat_record(c: &impl GenericClient, heat: u32) -> Result<Option<HeatRecord>, StoreError> {
    let row = c
        .query_opt(
            "SELECT number, started_at, stopped_at, locked FROM speed_heats WHERE number = $1",
            &[&i64::from(heat)],
        )
        .await?;
    Ok(row.as_ref().map(heat_row))
}

async fn heat_state(c: &impl GenericClient, heat: u32) -> Result<Option<HeatState>, StoreError> {
    Ok(heat_record(c, heat).await?.map(|h| h.state))
}

/// Refuses changes to a heat that is running or locked.
async fn editable(c: &Client, heat: u32) -> Result<Result<(), SpeedError>, StoreError> {
    Ok(guards::editable(heat, heat_state(c, heat).await?))
}

/// Checks that a panel's clickers are registered and judge nothing else in `heat`.
async fn judges_free(
    c: &Client,
    heat: u32,
    entry: Option<EntryId>,
    judges: &Judges,
) -> Result<Result<(), SpeedError>, StoreError> {
    for &device in &judges.devices {
        let known = c
            .query_opt(
                "SELECT 1 FROM clicker_devices WHERE id = $1",
                &[&i64::from(device)],
            )
            .await?
            .is_some();
        if !known {
            return Ok(Err(guards::not_registered(device)));
        }
        let other = c
            .query_opt(
                "SELECT e.station FROM speed_judges j JOIN speed_entries e ON e.id = j.entry_id
                 WHERE e.heat = $1 AND j.device_id = $2 AND e.id IS DISTINCT FROM $3
                 LIMIT 1",
                &[&i64::from(heat), &i64::from(device), &entry],
            )
            .await?;
        if let Some(row) = other {
            return Ok(Err(guards::judges_elsewhere(
                device,
                u32_of(row.get(0)),
                heat,
            )));
        }
    }
    Ok(Ok(()))
}

async fn write_judges(c: &Client, entry: EntryId, judges: &Judges) -> Result<(), StoreError> {
    c.execute("DELETE FROM speed_judges WHERE entry_id = $1", &[&entry])
        .await?;
    for (position, device) in judges.devices.iter().enumerate() {
        c.execute(
            "INSERT INTO speed_judges (entry_id, device_id, position) VALUES ($1, $2, $3)",
            &[&entry, &i64::from(*device), &(position as i64)],
        )
        .await?;
    }
    c.execute(
        "UPDATE speed_entries SET head_judge = $2 WHERE id = $1",
        &[&entry, &i64::from(judges.head)],
    )
    .await?;
    Ok(())
}

async fn add_entry(
    c: &Client,
    entry: &NewEntry,
) -> Result<Result<EntryId, SpeedError>, StoreError> {
    let heat = entry.heat;
    refuse!(editable(c, heat));
    let taken = c
        .query_opt(
            "SELECT name FROM speed_entries WHERE heat = $1 AND station = $2",
            &[&i64::from(heat), &i64::from(entry.station)],
        )
        .await?;
    if let Some(row) = taken {
        return Ok(Err(guards::station_taken(heat, entry.station, row.get(0))));
    }
    if let Some(judges) = &entry.judges {
        refuse!(judges_free(c, heat, None, judges));
    }
    c.execute(
        "INSERT INTO speed_events (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        &[&entry.event],
    )
    .await?;
    c.execute(
        "INSERT INTO speed_heats (number) VALUES ($1) ON CONFLICT (number) DO NOTHING",
        &[&i64::from(heat)],
    )
    .await?;
    let id: EntryId = c
        .query_one(
            "INSERT INTO speed_entries (event_id, heat, station, name, club)
             VALUES ((SELECT id FROM speed_events WHERE name = $1), $2, $3, $4, $5)
             RETURNING id",
            &[
                &entry.event,
                &i64::from(heat),
                &i64::from(entry.station),
                &entry.name,
                &entry.club,
            ],
        )
        .await?
        .get(0);
    if let Some(judges) = &entry.judges {
        write_judges(c, id, judges).await?;
    }
    Ok(Ok(id))
}

async fn entry_heat(c: &Client, entry: EntryId) -> Result<Result<u32, SpeedError>, StoreError> {
    Ok(
        c.query_opt("SELECT heat FROM speed_entries WHERE id = $1", &[&entry])
            .await?
            .map(|r| u32_of(r.get(0)))
            .ok_or_else(|| guards::no_entry(entry)),
    )
}

/// The clickers judging in `heat`, by id.
async fn heat_devices(c: &impl GenericClient, heat: u32) -> Result<Vec<DeviceId>, StoreError> {
    Ok(c.query(
        "SELECT j.device_id FROM speed_judges j JOIN speed_entries e ON e.id = j.entry_id
             WHERE e.heat = $1 ORDER BY j.device_id",
        &[&i64::from(heat)],
    )
    .await?
    .into_iter()
    .map(|r| u32_of(r.get(0)))
    .collect())
}

impl PgStore {
    /// Sets an event's number of switches (creating the event if new).
    pub async fn speed_set_event(&self, name: String, switches: u32) -> Result<(), StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                // Under the lock too: deductions are checked against the switches.
                lock_speed(tx).await?;
                tx.execute(
                    "INSERT INTO speed_events (name, switches) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET switches = excluded.switches",
                    &[&name, &i64::from(switches)],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Adds entries, all or none: a refusal says which (by index) and why.
    pub async fn speed_add_entries(
        &self,
        entries: Vec<NewEntry>,
    ) -> Result<EntriesAdded, StoreError> {
        self.try_write(move |tx| {
            Box::pin(async move {
                lock_speed(tx).await?;
                let mut ids = Vec::with_capacity(entries.len());
                for (index, entry) in entries.iter().enumerate() {
                    match add_entry(tx, entry).await? {
                        Ok(id) => ids.push(id),
                        Err(e) => return Ok(Err((index, e))),
                    }
                }
                Ok(Ok(ids))
            })
        })
        .await
    }

    /// Sets an entry's judges; answers its heat.
    pub async fn speed_set_judges(
        &self,
        entry: EntryId,
        judges: Judges,
    ) -> Result<Result<u32, SpeedError>, StoreError> {
        self.try_write(move |tx| {
            Box::pin(async move {
                lock_speed(tx).await?;
                let heat = refuse!(entry_heat(tx, entry));
                refuse!(editable(tx, heat));
                refuse!(judges_free(tx, heat, Some(entry), &judges));
                write_judges(tx, entry, &judges).await?;
                Ok(Ok(heat))
            })
        })
        .await
    }

    /// Sets the judges of every entry at `station` in heats that are pending
    /// or unlocked; answers the heats changed. Running and locked heats keep theirs.
    pub async fn speed_set_station_judges(
        &self,
        station: u32,
        judges: Judges,
    ) -> Result<Result<Vec<u32>, SpeedError>, StoreError> {
        self.try_write(move |tx| {
            Box::pin(async move {
                lock_speed(tx).await?;
                let entries: Vec<(EntryId, u32)> = tx
                    .query(
                        "SELECT id, heat FROM speed_entries WHERE station = $1 ORDER BY heat",
                        &[&i64::from(station)],
                    )
                    .await?
                    .into_iter()
                    .map(|r| (r.get(0), u32_of(r.get(1))))
                    .collect();
                let mut heats = Vec::new();
                for (entry, heat) in entries {
                    if editable(tx, heat).await?.is_err() {
                        continue;
                    }
                    refuse!(judges_free(tx, heat, Some(entry), &judges));
                    write_judges(tx, entry, &judges).await?;
                    heats.push(heat);
                }
                if heats.is_empty() {
                    return Ok(Err(guards::no_editable_entry_at(station)));
                }
                Ok(Ok(heats))
            })
        })
        .await
    }

    /// Sets an entry's deductions; answers its heat.
    pub async fn speed_set_deductions(
        &self,
        entry: EntryId,
        false_starts: u32,
        false_switches: u32,
    ) -> Result<Result<u32, SpeedError>, StoreError> {
        self.try_write(move |tx| {
            Box::pin(async move {
                lock_speed(tx).await?;
                let heat = refuse!(entry_heat(tx, entry));
                let row = tx
                    .query_one(
                        "SELECT v.name, v.switches FROM speed_entries e
                         JOIN speed_events v ON v.id = e.event_id WHERE e.id = $1",
                        &[&entry],
                    )
                    .await?;
                let (event, switches): (String, i64) = (row.get(0), row.get(1));
                check!(guards::deductions(
                    heat,
                    heat_state(&**tx, heat).await?,
                    &event,
                    u32_of(switches),
                    false_starts,
                    false_switches,
                ));
                tx.execute(
                    "UPDATE speed_entries SET false_starts = $2, false_switches = $3 WHERE id = $1",
                    &[&entry, &i64::from(false_starts), &i64::from(false_switches)],
                )
                .await?;
                Ok(Ok(heat))
            })
        })
        .await
    }

    /// Starts a heat (now, on this node's receive clock); answers the clickers it watches.
    pub async fn speed_start_heat(
        &self,
        heat: u32,
    ) -> Result<Result<Vec<DeviceId>, SpeedError>, StoreError> {
        let now = self.receive_clock.cut();
        self.try_write(move |tx| {
            Box::pin(async move {
                // The lock makes "no other heat is running" hold until commit, across nodes.
                lock_speed(tx).await?;
                let running = tx
                    .query_opt(
                        "SELECT number FROM speed_heats
                         WHERE started_at IS NOT NULL AND stopped_at IS NULL LIMIT 1",
                        &[],
                    )
                    .await?
                    .map(|r| u32_of(r.get(0)));
                check!(guards::start(heat, heat_state(&**tx, heat).await?, running));
                tx.execute(
                    "UPDATE speed_heats SET started_at = $2, stopped_at = NULL, locked = FALSE
                     WHERE number = $1",
                    &[&i64::from(heat), &now],
                )
                .await?;
                Ok(Ok(heat_devices(&**tx, heat).await?))
            })
        })
        .await
    }

    /// Stops a running heat (now, on this node's receive clock) and locks its
    /// results; an unlocked heat is locked again as it was (its scores stay
    /// those of its run).
    pub async fn speed_stop_heat(&self, heat: u32) -> Result<Result<(), SpeedError>, StoreError> {
        let now = self.receive_clock.cut();
        self.try_write(move |tx| {
            Box::pin(async move {
                lock_speed(tx).await?;
                let heat_id = i64::from(heat);
                match check!(guards::stop(heat, heat_state(&**tx, heat).await?)) {
                    // The heat may have been started on another node, whose
                    // clock is ahead of this one's: it never stops before it started.
                    Stop::Cut => tx.execute(
                        "UPDATE speed_heats SET stopped_at = GREATEST($2, started_at), locked = TRUE
                         WHERE number = $1",
                        &[&heat_id, &now],
                    ).await?,
                    Stop::Relock => tx.execute(
                        "UPDATE speed_heats SET locked = TRUE WHERE number = $1",
                        &[&heat_id],
                    ).await?,
                };
                Ok(Ok(()))
            })
        })
        .await
    }

    /// Unlocks a stopped heat's results.
    pub async fn speed_unlock_heat(&self, heat: u32) -> Result<Result<(), SpeedError>, StoreError> {
        self.try_write(move |tx| {
            Box::pin(async move {
                lock_speed(tx).await?;
                check!(guards::unlock(heat, heat_state(&**tx, heat).await?));
                tx.execute(
                    "UPDATE speed_heats SET locked = FALSE WHERE number = $1",
                    &[&i64::from(heat)],
                )
                .await?;
                Ok(Ok(()))
            })
        })
        .await
    }

    /// Every heat, by number.
    pub async fn speed_heats(&self) -> Result<Vec<HeatRecord>, StoreError> {
        self.read(|client| {
            Box::pin(async move {
                let rows = client
                    .query(
                        "SELECT number, started_at, stopped_at, locked FROM speed_heats ORDER BY number",
                        &[],
                    )
                    .await?;
                Ok(rows.iter().map(heat_row).collect())
            })
        })
        .await
    }

    /// One heat, if it has entries.
    pub async fn speed_heat(&self, heat: u32) -> Result<Option<HeatRecord>, StoreError> {
        self.read(move |client| {
            let c: &Client = client;
            Box::pin(heat_record(c, heat))
        })
        .await
    }

    /// The current heat: the running one, else the one started last.
    pub async fn speed_current_heat(&self) -> Result<Option<CurrentHeat>, StoreError> {
        let mut client = self.pool.get().await.map_err(unreachable)?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let current = tx
            .query_opt(
                "SELECT number, stopped_at IS NULL FROM speed_heats WHERE started_at IS NOT NULL
                 ORDER BY stopped_at IS NULL DESC, started_at DESC LIMIT 1",
                &[],
            )
            .await?;
        match current {
            Some(row) => {
                let heat = u32_of(row.get(0));
                Ok(Some((heat, heat_devices(&*tx, heat).await?, row.get(1))))
            }
            None => Ok(None),
        }
    }

    /// The entries `filter` selects, by heat and station, with every judge's
    /// tally, all read in one snapshot.
    pub async fn speed_sheets(&self, filter: Filter) -> Result<Vec<EntrySheet>, StoreError> {
        let mut client = self.pool.get().await.map_err(unreachable)?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        sheets(&*tx, &filter).await
    }
}

async fn sheets(c: &impl GenericClient, filter: &Filter) -> Result<Vec<EntrySheet>, StoreError> {
    let heat = filter.heat.map(i64::from);
    let rows = c
        .query(
            "SELECT e.id, v.name, e.heat, e.station, e.name, e.club, e.head_judge,
                    e.false_starts, e.false_switches, h.started_at, h.stopped_at, h.locked
             FROM speed_entries e
             JOIN speed_events v ON v.id = e.event_id
             JOIN speed_heats h ON h.number = e.heat
             WHERE ($1::TEXT IS NULL OR v.name = $1) AND ($2::BIGINT IS NULL OR e.heat = $2)
             ORDER BY e.heat, e.station",
            &[&filter.event, &heat],
        )
        .await?;
    let judges = c
        .query(
            "SELECT j.entry_id, j.device_id FROM speed_judges j
             JOIN speed_entries e ON e.id = j.entry_id
             JOIN speed_events v ON v.id = e.event_id
             WHERE ($1::TEXT IS NULL OR v.name = $1) AND ($2::BIGINT IS NULL OR e.heat = $2)
             ORDER BY j.entry_id, j.position",
            &[&filter.event, &heat],
        )
        .await?;
    let mut sheets = Vec::with_capacity(rows.len());
    // Each judge's tally window: `start <= received_at < end`.
    let mut windows = Vec::with_capacity(rows.len());
    for r in &rows {
        let started: Option<i64> = r.get(9);
        let stopped: Option<i64> = r.get(10);
        sheets.push(EntrySheet {
            entry: Entry {
                id: r.get(0),
                event: r.get(1),
                heat: u32_of(r.get(2)),
                station: u32_of(r.get(3)),
                name: r.get(4),
                club: r.get(5),
            },
            head_judge: r.get::<_, Option<i64>>(6).map(u32_of),
            false_starts: u32_of(r.get(7)),
            false_switches: u32_of(r.get(8)),
            heat_state: HeatState::of(started, stopped, r.get(11)),
            tallies: Vec::new(),
        });
        windows.push(started.map(|s| (s, stopped.unwrap_or(i64::MAX))));
    }
    // Which sheet each judge belongs to; the tallies' queries go out
    // together on the one connection (pipelined), not one round trip each.
    let index: std::collections::HashMap<EntryId, usize> = sheets
        .iter()
        .enumerate()
        .map(|(i, s)| (s.entry.id, i))
        .collect();
    let mut wanted = Vec::with_capacity(judges.len());
    for r in &judges {
        if let Some(&i) = index.get(&r.get::<_, EntryId>(0)) {
            wanted.push((i, u32_of(r.get(1))));
        }
    }
    let windows = &windows;
    let tallies = try_join_all(wanted.iter().map(|&(i, device)| async move {
        Ok::<_, StoreError>(match windows[i] {
            Some((start, end)) => Some(device_tally(c, device, start, end).await?),
            None => None,
        })
    }))
    .await?;
    for ((i, device), t) in wanted.into_iter().zip(tallies) {
        sheets[i].tallies.push((device, t));
    }
    Ok(sheets)
}

/// What `device` added between `start` and `end` (cuts of a receive clock,
/// so `start <= received_at < end` splits scores exactly): from the newest
/// score received before the start, through those received in the window,
/// in the order the device's clock ran (a 32-bit wrap of Espruino's
/// `Date.now() | 0` included: see `crate::scoring::clock`).
async fn device_tally(
    c: &impl GenericClient,
    device: DeviceId,
    start: i64,
    end: i64,
) -> Result<i64, StoreError> {
    let baseline = latest_score_before(c, device, start)
        .await?
        .map_or(0, |s| s.score);
    let mut series: Vec<(i64, i64)> = c
        .query(
            "SELECT timestamp, score FROM clicker_scores
             WHERE device_id = $1 AND received_at >= $2 AND received_at < $3
             ORDER BY timestamp",
            &[&i64::from(device), &start, &end],
        )
        .await?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    clock::sort_series(&mut series, |&(timestamp, _)| timestamp);
    Ok(tally(baseline, series.into_iter().map(|(_, score)| score)))
}
