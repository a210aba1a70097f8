//! Speed events in PostgreSQL: events, entries, heats, deductions and the
//! sheets results come from: the facts each speed write reads and the
//! writes it applies (its rule: `crate::speed::ops`, the same as SQLite's).
//! As in SQLite, a judge's tally is not stored: it is worked out from the clicker's
//! stored scores and the heat's start and stop times.
//!
//! Several nodes: every speed write's batch first takes the speed lock
//! (see [`super::locks`]), a transaction-scoped advisory lock held until
//! the batch commits, so the speed writes of all nodes run one at a time,
//! as SQLite's single writer runs them. Its checks (heat states, taken stations, busy clickers, the
//! running heat) then read every earlier speed write of any node: the
//! writer's transactions are READ COMMITTED, so each statement after the
//! lock sees what committed before it was granted. Speed writes are an
//! organiser's actions, a few a minute: one lock for all costs nothing a
//! finer scheme would save. (Every batch takes its locks first, in one
//! global order, so holding it to the end of the batch deadlocks with no
//! other node's batch.)
//!
//! Heat boundaries are cuts of *this* node's receive clock, while each
//! score is stamped by the node that received it. With several nodes, a
//! score received by a node whose clock is skewed from this one's could
//! fall on the wrong side of a start or stop, by up to the skew: keep the
//! nodes' clocks synchronised (NTP).

use std::collections::hash_map::Entry::Vacant;

use futures_util::future::try_join_all;
use tokio_postgres::{Client, GenericClient, Row};

use super::clicker::latest_score_before;
use super::judging_rows::prepare_all;
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::{snapshot, unreachable, PgFuture, PgStore};
use crate::scoring::{clock, DeviceId};
use crate::speed::guards::{Clicker, Stop};
use crate::speed::model::{Entry, EntryId, EntrySheet, Filter, HeatRecord, HeatState, NewEntry};
use crate::speed::ops::add_entries::{self, AddEntries};
use crate::speed::ops::set_deductions::{Entry as DeductionEntry, SetDeductions};
use crate::speed::ops::set_event::SetEvent;
use crate::speed::ops::set_judges::{Entry as JudgedEntry, SetJudges};
use crate::speed::ops::set_station_judges::SetStationJudges;
use crate::speed::ops::start_heat::{self, StartHeat};
use crate::speed::ops::stop_heat::StopHeat;
use crate::speed::ops::unlock_heat::UnlockHeat;
use crate::speed::{tally::tally, Judges};
use crate::store::runner::{self, Storage};
use crate::store::traits::CurrentHeat;
use crate::store::StoreError;

/// Serialises the batch's speed writes with every node's (see the module's
/// notes): taken at the start of the batch.
fn speed_lock() -> Locks {
    Locks::exclusive(Advisory::Speed)
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

/// What the store knows of each of a panel's clickers in `heat` (its
/// rule: `speed::guards::panel`); `entry` is the entry the panel is for, if it
/// is stored already.
async fn panel_facts(
    c: &PgTx,
    heat: u32,
    entry: Option<EntryId>,
    judges: &Judges,
) -> Result<Vec<Clicker>, StoreError> {
    let known = c
        .prepare_cached("SELECT 1 FROM clicker_devices WHERE id = $1")
        .await?;
    let elsewhere = c
        .prepare_cached(
            "SELECT e.station FROM speed_judges j JOIN speed_entries e ON e.id = j.entry_id
             WHERE e.heat = $1 AND j.device_id = $2 AND e.id IS DISTINCT FROM $3
             LIMIT 1",
        )
        .await?;
    let mut panel = Vec::with_capacity(judges.devices.len());
    for &device in &judges.devices {
        let id = i64::from(device);
        panel.push(Clicker {
            device,
            registered: c.query_opt(&known, &[&id]).await?.is_some(),
            elsewhere: c
                .query_opt(&elsewhere, &[&i64::from(heat), &id, &entry])
                .await?
                .map(|r| u32_of(r.get(0))),
        });
    }
    Ok(panel)
}

/// An entry as setting its judges sees it: its heat, the heat's state and
/// the panel's clickers.
async fn judged_entry(
    c: &PgTx,
    entry: EntryId,
    heat: u32,
    judges: &Judges,
) -> Result<JudgedEntry, StoreError> {
    Ok(JudgedEntry {
        heat,
        state: heat_state(&**c, heat).await?,
        panel: panel_facts(c, heat, Some(entry), judges).await?,
    })
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

/// Inserts an entry the rule admitted, with its event and heat if new.
async fn insert_entry(c: &PgTx, entry: &NewEntry) -> Result<EntryId, StoreError> {
    let [event, heat, insert] = prepare_all(
        c,
        [
            "INSERT INTO speed_events (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            "INSERT INTO speed_heats (number) VALUES ($1) ON CONFLICT (number) DO NOTHING",
            "INSERT INTO speed_entries (event_id, heat, station, name, club)
             VALUES ((SELECT id FROM speed_events WHERE name = $1), $2, $3, $4, $5)
             RETURNING id",
        ],
    )
    .await?;
    let number = i64::from(entry.heat);
    c.execute(&event, &[&entry.event]).await?;
    c.execute(&heat, &[&number]).await?;
    let id: EntryId = c
        .query_one(
            &insert,
            &[
                &entry.event,
                &number,
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
    Ok(id)
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

/// Adding entries' facts: what is stored of each heat, station and panel
/// clicker the entries name.
impl Storage<AddEntries> for PgTx {
    async fn load(&mut self, op: &AddEntries) -> Result<add_entries::Facts, StoreError> {
        let mut facts = add_entries::Facts::default();
        let station = self
            .prepare_cached("SELECT name FROM speed_entries WHERE heat = $1 AND station = $2")
            .await?;
        for entry in &op.entries {
            let heat = entry.heat;
            if let Vacant(slot) = facts.heats.entry(heat) {
                slot.insert(heat_state(&**self, heat).await?);
            }
            let at = [i64::from(heat), i64::from(entry.station)];
            if let Some(row) = self.query_opt(&station, &[&at[0], &at[1]]).await? {
                facts.stations.insert((heat, entry.station), row.get(0));
            }
            if let Some(judges) = &entry.judges {
                facts.note_panel(heat, panel_facts(self, heat, None, judges).await?);
            }
        }
        Ok(facts)
    }

    async fn apply(&mut self, op: &AddEntries, (): &()) -> Result<Vec<EntryId>, StoreError> {
        let mut ids = Vec::with_capacity(op.entries.len());
        for entry in &op.entries {
            ids.push(insert_entry(self, entry).await?);
        }
        Ok(ids)
    }
}

impl Storage<SetEvent> for PgTx {
    async fn load(&mut self, _: &SetEvent) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, op: &SetEvent, (): &()) -> Result<(), StoreError> {
        let upsert = self
            .prepare_cached(
                "INSERT INTO speed_events (name, switches) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET switches = excluded.switches",
            )
            .await?;
        self.execute(&upsert, &[&op.name, &i64::from(op.switches)])
            .await?;
        Ok(())
    }
}

impl Storage<SetJudges> for PgTx {
    async fn load(&mut self, op: &SetJudges) -> Result<Option<JudgedEntry>, StoreError> {
        let select = self
            .prepare_cached("SELECT heat FROM speed_entries WHERE id = $1")
            .await?;
        match self.query_opt(&select, &[&op.entry]).await? {
            Some(row) => Ok(Some(
                judged_entry(self, op.entry, u32_of(row.get(0)), &op.judges).await?,
            )),
            None => Ok(None),
        }
    }

    async fn apply(&mut self, op: &SetJudges, _: &u32) -> Result<(), StoreError> {
        write_judges(self, op.entry, &op.judges).await
    }
}

impl Storage<SetStationJudges> for PgTx {
    async fn load(
        &mut self,
        op: &SetStationJudges,
    ) -> Result<Vec<(EntryId, JudgedEntry)>, StoreError> {
        let select = self
            .prepare_cached("SELECT id, heat FROM speed_entries WHERE station = $1 ORDER BY heat")
            .await?;
        let rows = self.query(&select, &[&i64::from(op.station)]).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let (entry, heat): (EntryId, u32) = (row.get(0), u32_of(row.get(1)));
            entries.push((entry, judged_entry(self, entry, heat, &op.judges).await?));
        }
        Ok(entries)
    }

    async fn apply(
        &mut self,
        op: &SetStationJudges,
        plan: &Vec<(EntryId, u32)>,
    ) -> Result<(), StoreError> {
        for &(entry, _) in plan {
            write_judges(self, entry, &op.judges).await?;
        }
        Ok(())
    }
}

/// Deductions' facts: the entry's heat, its state and the event's switches.
impl Storage<SetDeductions> for PgTx {
    async fn load(&mut self, op: &SetDeductions) -> Result<Option<DeductionEntry>, StoreError> {
        let select = self
            .prepare_cached(
                "SELECT e.heat, v.name, v.switches FROM speed_entries e
                 JOIN speed_events v ON v.id = e.event_id WHERE e.id = $1",
            )
            .await?;
        let Some(row) = self.query_opt(&select, &[&op.entry]).await? else {
            return Ok(None);
        };
        let heat = u32_of(row.get(0));
        Ok(Some(DeductionEntry {
            heat,
            state: heat_state(&**self, heat).await?,
            event: row.get(1),
            switches: u32_of(row.get(2)),
        }))
    }

    async fn apply(&mut self, op: &SetDeductions, _: &u32) -> Result<(), StoreError> {
        let update = self
            .prepare_cached(
                "UPDATE speed_entries SET false_starts = $2, false_switches = $3 WHERE id = $1",
            )
            .await?;
        let (starts, switches) = (i64::from(op.false_starts), i64::from(op.false_switches));
        self.execute(&update, &[&op.entry, &starts, &switches])
            .await?;
        Ok(())
    }
}

/// Starting's facts: the heat's state and the heat running now.
impl Storage<StartHeat> for PgTx {
    async fn load(&mut self, op: &StartHeat) -> Result<start_heat::Facts, StoreError> {
        let select = self
            .prepare_cached(
                "SELECT number FROM speed_heats
                 WHERE started_at IS NOT NULL AND stopped_at IS NULL LIMIT 1",
            )
            .await?;
        let running = self
            .query_opt(&select, &[])
            .await?
            .map(|r| u32_of(r.get(0)));
        Ok(start_heat::Facts {
            state: heat_state(&**self, op.heat).await?,
            running,
        })
    }

    async fn apply(&mut self, op: &StartHeat, (): &()) -> Result<Vec<DeviceId>, StoreError> {
        let update = self
            .prepare_cached(
                "UPDATE speed_heats SET started_at = $2, stopped_at = NULL, locked = FALSE
                 WHERE number = $1",
            )
            .await?;
        self.execute(&update, &[&i64::from(op.heat), &op.at])
            .await?;
        heat_devices(&**self, op.heat).await
    }
}

impl Storage<StopHeat> for PgTx {
    async fn load(&mut self, op: &StopHeat) -> Result<Option<HeatState>, StoreError> {
        heat_state(&**self, op.heat).await
    }

    /// The heat may have been started on another node, whose clock is
    /// ahead of this one's: it never stops before it started.
    async fn apply(&mut self, op: &StopHeat, stop: &Stop) -> Result<(), StoreError> {
        let heat = i64::from(op.heat);
        match stop {
            Stop::Cut => {
                let update = self
                    .prepare_cached(
                        "UPDATE speed_heats SET stopped_at = GREATEST($2, started_at), locked = TRUE
                         WHERE number = $1",
                    )
                    .await?;
                self.execute(&update, &[&heat, &op.at]).await?
            }
            Stop::Relock => {
                let update = self
                    .prepare_cached("UPDATE speed_heats SET locked = TRUE WHERE number = $1")
                    .await?;
                self.execute(&update, &[&heat]).await?
            }
        };
        Ok(())
    }
}

impl Storage<UnlockHeat> for PgTx {
    async fn load(&mut self, op: &UnlockHeat) -> Result<Option<HeatState>, StoreError> {
        heat_state(&**self, op.heat).await
    }

    async fn apply(&mut self, op: &UnlockHeat, (): &()) -> Result<(), StoreError> {
        let update = self
            .prepare_cached("UPDATE speed_heats SET locked = FALSE WHERE number = $1")
            .await?;
        self.execute(&update, &[&i64::from(op.heat)]).await?;
        Ok(())
    }
}

/// Every speed write holds the speed lock (see [`speed_lock`]).
impl PgOperation for SetEvent {
    fn locks(&self) -> Locks {
        speed_lock()
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Self::Reply, Self::Refusal>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgOperation for AddEntries {
    fn locks(&self) -> Locks {
        speed_lock()
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Self::Reply, Self::Refusal>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgOperation for SetJudges {
    fn locks(&self) -> Locks {
        speed_lock()
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Self::Reply, Self::Refusal>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgOperation for SetStationJudges {
    fn locks(&self) -> Locks {
        speed_lock()
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Self::Reply, Self::Refusal>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgOperation for SetDeductions {
    fn locks(&self) -> Locks {
        speed_lock()
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Self::Reply, Self::Refusal>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgOperation for StartHeat {
    fn locks(&self) -> Locks {
        speed_lock()
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Self::Reply, Self::Refusal>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgOperation for StopHeat {
    fn locks(&self) -> Locks {
        speed_lock()
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Self::Reply, Self::Refusal>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgOperation for UnlockHeat {
    fn locks(&self) -> Locks {
        speed_lock()
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Self::Reply, Self::Refusal>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgStore {
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
        let tx = snapshot(&mut client).await?;
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
        let tx = snapshot(&mut client).await?;
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

#[cfg(test)]
mod tests {
    //! Against a real PostgreSQL: `PODIUM_TEST_DATABASE_URL` names a server
    //! (any database on it); each test makes its own database there and
    //! drops it at the end. Without the variable the tests say so and pass.

    use std::sync::Arc;

    use tokio_postgres::NoTls;

    use super::*;
    use crate::metrics::Metrics;
    use crate::scoring::Holder;
    use crate::secrets;
    use crate::speed::guards;
    use crate::speed::SpeedError;
    use crate::store::changes::Changes;
    use crate::store::traits::Perform;
    use crate::store::WriteError;

    /// A speed write as these tests look at it: the rule's answer (reply or
    /// refusal) inside, a storage failure outside.
    async fn write<Op>(s: &PgStore, op: Op) -> Result<Result<Op::Reply, Op::Refusal>, StoreError>
    where
        Op: crate::judging::ops::Operation,
        PgStore: Perform<Op>,
    {
        match s.perform(op).await {
            Ok(reply) => Ok(Ok(reply)),
            Err(WriteError::Refused(refusal)) => Ok(Err(refusal)),
            Err(WriteError::Store(e)) => Err(e),
            Err(WriteError::KeyReused(e)) => panic!("no key was sent: {e}"),
        }
    }

    /// The speed writes by what they change, as the organiser asks them.
    impl PgStore {
        async fn speed_set_event(
            &self,
            name: String,
            switches: u32,
        ) -> Result<Result<(), SpeedError>, StoreError> {
            write(self, SetEvent { name, switches }).await
        }
        async fn speed_add_entries(
            &self,
            entries: Vec<NewEntry>,
        ) -> Result<Result<Vec<EntryId>, (usize, SpeedError)>, StoreError> {
            write(self, AddEntries { entries }).await
        }
        async fn speed_set_judges(
            &self,
            entry: EntryId,
            judges: Judges,
        ) -> Result<Result<u32, SpeedError>, StoreError> {
            write(self, SetJudges { entry, judges }).await
        }
        async fn speed_set_station_judges(
            &self,
            station: u32,
            judges: Judges,
        ) -> Result<Result<Vec<u32>, SpeedError>, StoreError> {
            write(self, SetStationJudges { station, judges }).await
        }
        async fn speed_set_deductions(
            &self,
            entry: EntryId,
            false_starts: u32,
            false_switches: u32,
        ) -> Result<Result<u32, SpeedError>, StoreError> {
            write(
                self,
                SetDeductions {
                    entry,
                    false_starts,
                    false_switches,
                },
            )
            .await
        }
        async fn speed_start_heat(
            &self,
            heat: u32,
        ) -> Result<Result<Vec<DeviceId>, SpeedError>, StoreError> {
            write(self, StartHeat::new(heat)).await
        }
        async fn speed_stop_heat(&self, heat: u32) -> Result<Result<(), SpeedError>, StoreError> {
            write(self, StopHeat::new(heat)).await
        }
        async fn speed_unlock_heat(&self, heat: u32) -> Result<Result<(), SpeedError>, StoreError> {
            write(self, UnlockHeat { heat }).await
        }
    }

    /// A fresh database of its own on the test server.
    struct TestDb {
        server: String,
        name: String,
    }

    impl TestDb {
        async fn create() -> Option<TestDb> {
            let Ok(server) = std::env::var("PODIUM_TEST_DATABASE_URL") else {
                eprintln!("skipped: set PODIUM_TEST_DATABASE_URL to run the PostgreSQL tests");
                return None;
            };
            let name = format!("podium_t_{}", secrets::generate(6));
            admin(&server, &format!("CREATE DATABASE {name}")).await;
            Some(TestDb { server, name })
        }

        /// The server's URL (or key=value string) naming this database.
        fn url(&self) -> String {
            let name = &self.name;
            if self.server.starts_with("postgres") {
                let joint = if self.server.contains('?') { '&' } else { '?' };
                format!("{}{joint}dbname={name}", self.server)
            } else {
                format!("{} dbname={name}", self.server)
            }
        }

        /// A node on this database, with an id of its own.
        async fn node(&self) -> (PgStore, Changes) {
            let node = u64::from_str_radix(&secrets::generate(8), 16).unwrap();
            PgStore::open(&self.url(), Arc::new(Metrics::default()), 1_000, node)
                .await
                .unwrap()
        }

        async fn drop(self) {
            admin(
                &self.server,
                &format!("DROP DATABASE {} WITH (FORCE)", self.name),
            )
            .await;
        }
    }

    async fn admin(server: &str, sql: &str) {
        let (client, connection) = tokio_postgres::connect(server, NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = driver.await;
    }

    /// `n` new clickers, registered as connections of `store`'s node.
    async fn devices(store: &PgStore, n: usize) -> Vec<DeviceId> {
        let mut ids = Vec::new();
        for session in 0..n as u64 {
            let holder = Holder {
                node: store.node,
                session,
            };
            ids.push(store.register_device(None, holder).await.unwrap().id);
        }
        ids
    }

    fn panel(devices: &[DeviceId]) -> Judges {
        Judges::new(devices.to_vec(), None).unwrap()
    }

    fn entry(heat: u32, station: u32, name: &str, judges: Option<Judges>) -> NewEntry {
        NewEntry {
            event: "Speed 30".into(),
            heat,
            station,
            name: name.into(),
            club: None,
            judges,
        }
    }

    /// Each judge's tally in the sheets of `heat`, by station.
    async fn tallies(store: &PgStore, heat: u32) -> Vec<Vec<(DeviceId, Option<i64>)>> {
        let sheets = store
            .speed_sheets(Filter {
                event: None,
                heat: Some(heat),
            })
            .await
            .unwrap();
        sheets.into_iter().map(|s| s.tallies).collect()
    }

    fn conflict(e: &SpeedError) -> bool {
        matches!(e, SpeedError::Conflict(_))
    }

    #[tokio::test]
    async fn entries_judges_and_deductions_with_their_refusals() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        let (s, _changes) = db.node().await;
        let d = devices(&s, 4).await;
        s.speed_set_event("Speed 30".into(), 0)
            .await
            .unwrap()
            .unwrap();
        s.speed_set_event("Speed Relay 4x30".into(), 3)
            .await
            .unwrap()
            .unwrap();

        let ids = s
            .speed_add_entries(vec![
                entry(1, 1, "Ann", Some(panel(&[d[0], d[1]]))),
                entry(1, 2, "Bo", Some(panel(&[d[2]]))),
            ])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids.len(), 2);

        // All or none: the second entry's station is taken, so heat 2 is not made either.
        let refused = s
            .speed_add_entries(vec![entry(2, 1, "Cy", None), entry(1, 1, "Di", None)])
            .await
            .unwrap();
        assert_eq!(refused, Err((1, guards::station_taken(1, 1, "Ann"))));
        assert_eq!(s.speed_heat(2).await.unwrap(), None);
        let refused = s
            .speed_add_entries(vec![entry(2, 1, "Cy", Some(panel(&[999_999])))])
            .await
            .unwrap();
        assert_eq!(refused, Err((0, guards::not_registered(999_999))));
        let refused = s
            .speed_add_entries(vec![entry(1, 3, "Ed", Some(panel(&[d[1]])))])
            .await
            .unwrap();
        assert_eq!(refused, Err((0, guards::judges_elsewhere(d[1], 1, 1))));

        // Judges: a clicker judges one station per heat; an entry may keep its own.
        assert_eq!(
            s.speed_set_judges(ids[1], panel(&[d[1]])).await.unwrap(),
            Err(guards::judges_elsewhere(d[1], 1, 1))
        );
        assert_eq!(
            s.speed_set_judges(ids[1], panel(&[d[3]])).await.unwrap(),
            Ok(1)
        );
        assert_eq!(
            s.speed_set_judges(ids[0], Judges::new(vec![d[1], d[0]], Some(d[0])).unwrap())
                .await
                .unwrap(),
            Ok(1)
        );
        assert_eq!(
            s.speed_set_judges(9_999, panel(&[d[0]])).await.unwrap(),
            Err(guards::no_entry(9_999))
        );

        // A station's judges, in every heat that may change.
        let relay = NewEntry {
            event: "Speed Relay 4x30".into(),
            club: Some("Ropers".into()),
            ..entry(2, 2, "Fay", None)
        };
        let fay = s.speed_add_entries(vec![relay]).await.unwrap().unwrap()[0];
        assert_eq!(
            s.speed_set_station_judges(2, panel(&[d[2]])).await.unwrap(),
            Ok(vec![1, 2])
        );
        assert_eq!(
            s.speed_set_station_judges(7, panel(&[d[2]])).await.unwrap(),
            Err(guards::no_editable_entry_at(7))
        );

        // Deductions, checked against the event's switches.
        assert_eq!(
            s.speed_set_deductions(9_999, 0, 0).await.unwrap(),
            Err(guards::no_entry(9_999))
        );
        assert!(matches!(
            s.speed_set_deductions(ids[0], 2, 0).await.unwrap(),
            Err(SpeedError::Invalid(_))
        ));
        assert_eq!(
            s.speed_set_deductions(ids[0], 0, 1).await.unwrap(),
            Err(guards::deductions(2, None, "Speed 30", 0, 0, 1).unwrap_err())
        );
        assert_eq!(s.speed_set_deductions(ids[0], 1, 0).await.unwrap(), Ok(1));
        assert_eq!(s.speed_set_deductions(fay, 0, 3).await.unwrap(), Ok(2));

        // What results are made from.
        let sheets = s.speed_sheets(Filter::default()).await.unwrap();
        let summary: Vec<_> = sheets
            .iter()
            .map(|x| {
                (
                    x.entry.heat,
                    x.entry.station,
                    x.entry.name.as_str(),
                    x.entry.event.as_str(),
                    x.head_judge,
                    (x.false_starts, x.false_switches),
                    x.heat_state,
                    x.tallies.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    1,
                    1,
                    "Ann",
                    "Speed 30",
                    Some(d[0]),
                    (1, 0),
                    HeatState::Pending,
                    vec![(d[1], None), (d[0], None)]
                ),
                (
                    1,
                    2,
                    "Bo",
                    "Speed 30",
                    Some(d[2]),
                    (0, 0),
                    HeatState::Pending,
                    vec![(d[2], None)]
                ),
                (
                    2,
                    2,
                    "Fay",
                    "Speed Relay 4x30",
                    Some(d[2]),
                    (0, 3),
                    HeatState::Pending,
                    vec![(d[2], None)]
                ),
            ]
        );
        assert_eq!(sheets[2].entry.club.as_deref(), Some("Ropers"));
        let relay_only = s
            .speed_sheets(Filter {
                event: Some("Speed Relay 4x30".into()),
                heat: None,
            })
            .await
            .unwrap();
        assert_eq!(relay_only.len(), 1);
        assert_eq!(relay_only[0].tallies, [(d[2], None)]);

        let heats = s.speed_heats().await.unwrap();
        assert_eq!(
            heats.iter().map(|h| (h.heat, h.state)).collect::<Vec<_>>(),
            [(1, HeatState::Pending), (2, HeatState::Pending)]
        );
        assert_eq!(s.speed_current_heat().await.unwrap(), None);
        s.close().await;
        db.drop().await;
    }

    #[tokio::test]
    async fn a_heat_counts_what_each_clicker_added_between_its_start_and_stop() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        let (s, _changes) = db.node().await;
        let d = devices(&s, 3).await;
        let ids = s
            .speed_add_entries(vec![
                entry(1, 1, "Ann", Some(panel(&[d[0], d[1]]))),
                entry(2, 1, "Bo", Some(panel(&[d[0], d[2]]))),
            ])
            .await
            .unwrap()
            .unwrap();
        // Before the heat: d0 shows 87 (not reset), d1 shows 5.
        s.record_score(d[0], 1_000, 87, None).await.unwrap();
        s.record_score(d[1], 1_000, 5, None).await.unwrap();

        assert_eq!(s.speed_start_heat(1).await.unwrap(), Ok(vec![d[0], d[1]]));
        let running = s.speed_start_heat(1).await.unwrap().unwrap_err();
        assert_eq!(
            running,
            SpeedError::Conflict("heat 1 is running already".into())
        );
        let other = s.speed_start_heat(2).await.unwrap().unwrap_err();
        assert!(
            other.to_string().starts_with("heat 1 is running: stop it"),
            "{other}"
        );
        assert!(matches!(
            s.speed_start_heat(3).await.unwrap(),
            Err(SpeedError::NotFound(_))
        ));
        assert_eq!(
            s.speed_set_judges(ids[0], panel(&[d[2]])).await.unwrap(),
            Err(guards::editable(1, Some(HeatState::Running)).unwrap_err())
        );
        assert_eq!(
            s.speed_current_heat().await.unwrap(),
            Some((1, vec![d[0], d[1]], true))
        );

        // During the heat: d0 87 -> 188 is 101; d1 is reset, then counts 30.
        for (timestamp, score) in [(2_000, 88), (3_000, 120), (4_000, 188)] {
            s.record_score(d[0], timestamp, score, None).await.unwrap();
        }
        s.record_score(d[1], 2_000, 0, None).await.unwrap();
        s.record_score(d[1], 3_000, 30, None).await.unwrap();
        assert_eq!(
            tallies(&s, 1).await,
            [vec![(d[0], Some(101)), (d[1], Some(30))]]
        );

        assert_eq!(s.speed_stop_heat(1).await.unwrap(), Ok(()));
        // After the stop: not counted.
        s.record_score(d[0], 5_000, 300, None).await.unwrap();
        assert_eq!(
            tallies(&s, 1).await,
            [vec![(d[0], Some(101)), (d[1], Some(30))]]
        );
        let stopped = s.speed_heat(1).await.unwrap().unwrap();
        assert_eq!(stopped.state, HeatState::Stopped);
        assert!(stopped.started_at.unwrap() < stopped.stopped_at.unwrap());
        assert!(conflict(&s.speed_stop_heat(1).await.unwrap().unwrap_err()));
        assert_eq!(
            s.speed_set_deductions(ids[0], 1, 0).await.unwrap(),
            Err(guards::editable(1, Some(HeatState::Stopped)).unwrap_err())
        );
        assert!(conflict(
            &s.speed_unlock_heat(2).await.unwrap().unwrap_err()
        ));

        // Unlocked, corrected, locked again as it ran.
        assert_eq!(s.speed_unlock_heat(1).await.unwrap(), Ok(()));
        assert_eq!(
            s.speed_heat(1).await.unwrap().unwrap().state,
            HeatState::Unlocked
        );
        assert_eq!(s.speed_set_deductions(ids[0], 1, 0).await.unwrap(), Ok(1));
        assert_eq!(s.speed_stop_heat(1).await.unwrap(), Ok(()));
        assert_eq!(s.speed_heat(1).await.unwrap().unwrap(), stopped);
        assert_eq!(
            tallies(&s, 1).await,
            [vec![(d[0], Some(101)), (d[1], Some(30))]]
        );
        assert_eq!(
            s.speed_current_heat().await.unwrap(),
            Some((1, vec![d[0], d[1]], false))
        );

        // Heat 2: d0 starts from 300; d2's Espruino clock wraps (Date.now() | 0)
        // mid-heat: 10 before the wrap, 25 after, so 25 and not an undo.
        assert_eq!(s.speed_start_heat(2).await.unwrap(), Ok(vec![d[0], d[2]]));
        s.record_score(d[0], 6_000, 310, None).await.unwrap();
        s.record_score(d[2], -2_147_483_000, 25, None)
            .await
            .unwrap();
        s.record_score(d[2], 2_147_483_000, 10, None).await.unwrap();
        assert_eq!(s.speed_stop_heat(2).await.unwrap(), Ok(()));
        assert_eq!(
            tallies(&s, 2).await,
            [vec![(d[0], Some(10)), (d[2], Some(25))]]
        );
        assert_eq!(
            s.speed_current_heat().await.unwrap(),
            Some((2, vec![d[0], d[2]], false))
        );
        s.close().await;
        db.drop().await;
    }

    /// Two nodes on one database: what SQLite's single writer ordered, the
    /// speed lock orders across nodes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_cannot_both_start_a_heat_nor_both_take_a_station() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        let (a, _changes_a) = db.node().await;
        let (b, _changes_b) = db.node().await;
        let heats = 1..=8u32;
        let entries = heats.clone().map(|h| entry(h, 1, "Ann", None)).collect();
        a.speed_add_entries(entries).await.unwrap().unwrap();
        for round in heats.clone().step_by(2) {
            let (on_a, on_b) =
                tokio::join!(a.speed_start_heat(round), b.speed_start_heat(round + 1));
            let (on_a, on_b) = (on_a.unwrap(), on_b.unwrap());
            assert!(
                on_a.is_ok() != on_b.is_ok(),
                "round {round}: exactly one heat starts: {on_a:?}, {on_b:?}"
            );
            let started = if on_a.is_ok() { round } else { round + 1 };
            let running: Vec<_> = b
                .speed_heats()
                .await
                .unwrap()
                .into_iter()
                .filter(|h| h.state == HeatState::Running)
                .map(|h| h.heat)
                .collect();
            assert_eq!(running, [started]);
            a.speed_stop_heat(started).await.unwrap().unwrap();
        }
        // A new heat each time: both nodes make it, and take its station 1.
        for heat in 20..28 {
            let (on_a, on_b) = tokio::join!(
                a.speed_add_entries(vec![entry(heat, 1, "Cy", None)]),
                b.speed_add_entries(vec![entry(heat, 1, "Di", None)])
            );
            let (on_a, on_b) = (on_a.unwrap(), on_b.unwrap());
            let refusal = match (&on_a, &on_b) {
                (Ok(_), Err((0, e))) => (e, "Cy"),
                (Err((0, e)), Ok(_)) => (e, "Di"),
                _ => panic!("heat {heat}: exactly one entry is added: {on_a:?}, {on_b:?}"),
            };
            assert_eq!(*refusal.0, guards::station_taken(heat, 1, refusal.1));
        }
        a.close().await;
        b.close().await;
        db.drop().await;
    }
}
