//! The speed tables: events (name, number of switches), heats (when each ran
//! and whether its results are locked), entries (a skipper or team at a
//! station in a heat, with deductions) and each entry's judges' clickers.
//! This module alone reads and writes them: the facts each speed write
//! reads and the writes it applies (its rule: `crate::speed::ops`). A judge's tally is not stored:
//! it is worked out from the clicker's stored score series and the heat's
//! start and stop times (see `crate::speed::tally`), so every acknowledged
//! score counts, whatever happens to the process.

use std::collections::hash_map::Entry::Vacant;
use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::clicker::{latest_score_before, DeviceId};
use super::writer::Tx;
use super::{Store, StoreError};
use crate::scoring::clock;
use crate::speed::guards::{Clicker, Stop};
pub use crate::speed::model::{
    Entry, EntryId, EntrySheet, Filter, HeatRecord, HeatState, NewEntry,
};
use crate::speed::ops::add_entries::{self, AddEntries};
use crate::speed::ops::set_deductions::{Entry as DeductionEntry, SetDeductions};
use crate::speed::ops::set_event::SetEvent;
use crate::speed::ops::set_judges::{Entry as JudgedEntry, SetJudges};
use crate::speed::ops::set_station_judges::SetStationJudges;
use crate::speed::ops::start_heat::{self, StartHeat};
use crate::speed::ops::stop_heat::StopHeat;
use crate::speed::ops::unlock_heat::UnlockHeat;
use crate::speed::{tally::tally, Judges};
use crate::store::runner::Storage;

/// A `speed_heats` row selected as `number, started_at, stopped_at, locked`.
fn heat_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HeatRecord> {
    let (started_at, stopped_at) = (r.get(1)?, r.get(2)?);
    Ok(HeatRecord {
        heat: r.get(0)?,
        state: HeatState::of(started_at, stopped_at, r.get(3)?),
        started_at,
        stopped_at,
    })
}

fn heat_record(conn: &Connection, heat: u32) -> Result<Option<HeatRecord>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT number, started_at, stopped_at, locked FROM speed_heats WHERE number = ?1",
        )?
        .query_row([heat], heat_row)
        .optional()?)
}

fn heat_state(conn: &Connection, heat: u32) -> Result<Option<HeatState>, StoreError> {
    Ok(heat_record(conn, heat)?.map(|h| h.state))
}

/// What the store knows of each of a panel's clickers in `heat` (its
/// rule: `speed::guards::panel`); `entry` is the entry the panel is for, if it
/// is stored already.
fn panel_facts(
    conn: &Connection,
    heat: u32,
    entry: Option<EntryId>,
    judges: &Judges,
) -> Result<Vec<Clicker>, StoreError> {
    let mut known = conn.prepare_cached("SELECT 1 FROM clicker_devices WHERE id = ?1")?;
    let mut elsewhere = conn.prepare_cached(
        "SELECT e.station FROM speed_judges j JOIN speed_entries e ON e.id = j.entry_id
         WHERE e.heat = ?1 AND j.device_id = ?2 AND e.id IS NOT ?3",
    )?;
    let mut panel = Vec::with_capacity(judges.devices.len());
    for &device in &judges.devices {
        panel.push(Clicker {
            device,
            registered: known.query_row([device], |_| Ok(())).optional()?.is_some(),
            elsewhere: elsewhere
                .query_row(params![heat, device, entry], |r| r.get(0))
                .optional()?,
        });
    }
    Ok(panel)
}

/// An entry as setting its judges sees it: its heat, the heat's state and
/// the panel's clickers.
fn judged_entry(
    conn: &Connection,
    entry: EntryId,
    heat: u32,
    judges: &Judges,
) -> Result<JudgedEntry, StoreError> {
    Ok(JudgedEntry {
        heat,
        state: heat_state(conn, heat)?,
        panel: panel_facts(conn, heat, Some(entry), judges)?,
    })
}

fn write_judges(conn: &Connection, entry: EntryId, judges: &Judges) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM speed_judges WHERE entry_id = ?1")?
        .execute([entry])?;
    for (position, device) in judges.devices.iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO speed_judges (entry_id, device_id, position) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![entry, device, position as i64])?;
    }
    conn.prepare_cached("UPDATE speed_entries SET head_judge = ?2 WHERE id = ?1")?
        .execute(params![entry, judges.head])?;
    Ok(())
}

/// Inserts an entry the rule admitted, with its event and heat if new.
fn insert_entry(conn: &Connection, entry: &NewEntry) -> Result<EntryId, StoreError> {
    conn.prepare_cached("INSERT OR IGNORE INTO speed_events (name) VALUES (?1)")?
        .execute([&entry.event])?;
    conn.prepare_cached("INSERT OR IGNORE INTO speed_heats (number) VALUES (?1)")?
        .execute([entry.heat])?;
    conn.prepare_cached(
        "INSERT INTO speed_entries (event_id, heat, station, name, club)
         VALUES ((SELECT id FROM speed_events WHERE name = ?1), ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        entry.event,
        entry.heat,
        entry.station,
        entry.name,
        entry.club
    ])?;
    let id = conn.last_insert_rowid();
    if let Some(judges) = &entry.judges {
        write_judges(conn, id, judges)?;
    }
    Ok(id)
}

/// Adding entries' facts: what is stored of each heat, station and panel
/// clicker the entries name.
impl Storage<AddEntries> for Tx<'_> {
    async fn load(&mut self, op: &AddEntries) -> Result<add_entries::Facts, StoreError> {
        let mut facts = add_entries::Facts::default();
        let mut station =
            self.prepare_cached("SELECT name FROM speed_entries WHERE heat = ?1 AND station = ?2")?;
        for entry in &op.entries {
            let heat = entry.heat;
            if let Vacant(slot) = facts.heats.entry(heat) {
                slot.insert(heat_state(self, heat)?);
            }
            if let Some(name) = station
                .query_row([heat, entry.station], |r| r.get(0))
                .optional()?
            {
                facts.stations.insert((heat, entry.station), name);
            }
            if let Some(judges) = &entry.judges {
                facts.note_panel(heat, panel_facts(self, heat, None, judges)?);
            }
        }
        Ok(facts)
    }

    async fn apply(&mut self, op: &AddEntries, (): &()) -> Result<Vec<EntryId>, StoreError> {
        op.entries
            .iter()
            .map(|entry| insert_entry(self, entry))
            .collect()
    }
}

impl Storage<SetEvent> for Tx<'_> {
    async fn load(&mut self, _: &SetEvent) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, op: &SetEvent, (): &()) -> Result<(), StoreError> {
        self.prepare_cached(
            "INSERT INTO speed_events (name, switches) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET switches = excluded.switches",
        )?
        .execute(params![op.name, op.switches])?;
        Ok(())
    }
}

impl Storage<SetJudges> for Tx<'_> {
    async fn load(&mut self, op: &SetJudges) -> Result<Option<JudgedEntry>, StoreError> {
        let heat: Option<u32> = self
            .prepare_cached("SELECT heat FROM speed_entries WHERE id = ?1")?
            .query_row([op.entry], |r| r.get(0))
            .optional()?;
        heat.map(|heat| judged_entry(self, op.entry, heat, &op.judges))
            .transpose()
    }

    async fn apply(&mut self, op: &SetJudges, _: &u32) -> Result<(), StoreError> {
        write_judges(self, op.entry, &op.judges)
    }
}

impl Storage<SetStationJudges> for Tx<'_> {
    async fn load(
        &mut self,
        op: &SetStationJudges,
    ) -> Result<Vec<(EntryId, JudgedEntry)>, StoreError> {
        let entries: Vec<(EntryId, u32)> = self
            .prepare_cached("SELECT id, heat FROM speed_entries WHERE station = ?1 ORDER BY heat")?
            .query_map([op.station], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        entries
            .into_iter()
            .map(|(entry, heat)| Ok((entry, judged_entry(self, entry, heat, &op.judges)?)))
            .collect()
    }

    async fn apply(
        &mut self,
        op: &SetStationJudges,
        plan: &Vec<(EntryId, u32)>,
    ) -> Result<(), StoreError> {
        for &(entry, _) in plan {
            write_judges(self, entry, &op.judges)?;
        }
        Ok(())
    }
}

/// Deductions' facts: the entry's heat, its state and the event's switches.
impl Storage<SetDeductions> for Tx<'_> {
    async fn load(&mut self, op: &SetDeductions) -> Result<Option<DeductionEntry>, StoreError> {
        let found: Option<(u32, String, u32)> = self
            .prepare_cached(
                "SELECT e.heat, v.name, v.switches FROM speed_entries e
                 JOIN speed_events v ON v.id = e.event_id WHERE e.id = ?1",
            )?
            .query_row([op.entry], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((heat, event, switches)) = found else {
            return Ok(None);
        };
        Ok(Some(DeductionEntry {
            heat,
            state: heat_state(self, heat)?,
            event,
            switches,
        }))
    }

    async fn apply(&mut self, op: &SetDeductions, _: &u32) -> Result<(), StoreError> {
        self.prepare_cached(
            "UPDATE speed_entries SET false_starts = ?2, false_switches = ?3 WHERE id = ?1",
        )?
        .execute(params![op.entry, op.false_starts, op.false_switches])?;
        Ok(())
    }
}

/// Starting's facts: the heat's state and the heat running now.
impl Storage<StartHeat> for Tx<'_> {
    async fn load(&mut self, op: &StartHeat) -> Result<start_heat::Facts, StoreError> {
        let running = self
            .prepare_cached(
                "SELECT number FROM speed_heats WHERE started_at IS NOT NULL AND stopped_at IS NULL",
            )?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(start_heat::Facts {
            state: heat_state(self, op.heat)?,
            running,
        })
    }

    async fn apply(&mut self, op: &StartHeat, (): &()) -> Result<Vec<DeviceId>, StoreError> {
        self.prepare_cached(
            "UPDATE speed_heats SET started_at = ?2, stopped_at = NULL, locked = 0 WHERE number = ?1",
        )?
        .execute(params![op.heat, op.at])?;
        heat_devices(self, op.heat)
    }
}

impl Storage<StopHeat> for Tx<'_> {
    async fn load(&mut self, op: &StopHeat) -> Result<Option<HeatState>, StoreError> {
        heat_state(self, op.heat)
    }

    async fn apply(&mut self, op: &StopHeat, stop: &Stop) -> Result<(), StoreError> {
        match stop {
            Stop::Cut => self
                .prepare_cached(
                    "UPDATE speed_heats SET stopped_at = MAX(?2, started_at), locked = 1 WHERE number = ?1",
                )?
                .execute(params![op.heat, op.at])?,
            Stop::Relock => self
                .prepare_cached("UPDATE speed_heats SET locked = 1 WHERE number = ?1")?
                .execute([op.heat])?,
        };
        Ok(())
    }
}

impl Storage<UnlockHeat> for Tx<'_> {
    async fn load(&mut self, op: &UnlockHeat) -> Result<Option<HeatState>, StoreError> {
        heat_state(self, op.heat)
    }

    async fn apply(&mut self, op: &UnlockHeat, (): &()) -> Result<(), StoreError> {
        self.prepare_cached("UPDATE speed_heats SET locked = 0 WHERE number = ?1")?
            .execute([op.heat])?;
        Ok(())
    }
}

impl Store {
    /// Every heat, by number.
    pub async fn speed_heats(&self) -> Result<Vec<HeatRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT number, started_at, stopped_at, locked FROM speed_heats ORDER BY number",
            )?;
            let rows = stmt.query_map([], heat_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// One heat, if it has entries.
    pub async fn speed_heat(&self, heat: u32) -> Result<Option<HeatRecord>, StoreError> {
        self.read(move |conn| heat_record(conn, heat)).await
    }

    /// The current heat: the running one, else the one started last.
    pub async fn speed_current_heat(
        &self,
    ) -> Result<Option<(u32, Vec<DeviceId>, bool)>, StoreError> {
        self.read(|conn| {
            let current: Option<(u32, bool)> = conn
                .query_row(
                    "SELECT number, stopped_at IS NULL FROM speed_heats WHERE started_at IS NOT NULL
                     ORDER BY stopped_at IS NULL DESC, started_at DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match current {
                Some((heat, running)) => Ok(Some((heat, heat_devices(conn, heat)?, running))),
                None => Ok(None),
            }
        })
        .await
    }

    /// The entries `filter` selects, by heat and station, with every judge's tally.
    pub async fn speed_sheets(&self, filter: Filter) -> Result<Vec<EntrySheet>, StoreError> {
        self.read(move |conn| sheets(conn, &filter)).await
    }
}

fn heat_devices(conn: &Connection, heat: u32) -> Result<Vec<DeviceId>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.device_id FROM speed_judges j JOIN speed_entries e ON e.id = j.entry_id
         WHERE e.heat = ?1 ORDER BY j.device_id",
    )?;
    let rows = stmt.query_map([heat], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn sheets(conn: &Connection, filter: &Filter) -> Result<Vec<EntrySheet>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, v.name, e.heat, e.station, e.name, e.club, e.head_judge,
                e.false_starts, e.false_switches, h.started_at, h.stopped_at, h.locked
         FROM speed_entries e
         JOIN speed_events v ON v.id = e.event_id
         JOIN speed_heats h ON h.number = e.heat
         WHERE (?1 IS NULL OR v.name = ?1) AND (?2 IS NULL OR e.heat = ?2)
         ORDER BY e.heat, e.station",
    )?;
    let rows = stmt.query_map(params![filter.event, filter.heat], |r| {
        let started: Option<i64> = r.get(9)?;
        let stopped: Option<i64> = r.get(10)?;
        Ok((
            EntrySheet {
                entry: Entry {
                    id: r.get(0)?,
                    event: r.get(1)?,
                    heat: r.get(2)?,
                    station: r.get(3)?,
                    name: r.get(4)?,
                    club: r.get(5)?,
                },
                head_judge: r.get(6)?,
                false_starts: r.get(7)?,
                false_switches: r.get(8)?,
                heat_state: HeatState::of(started, stopped, r.get(11)?),
                tallies: Vec::new(),
            },
            started.map(|s| (s, stopped.unwrap_or(i64::MAX))),
        ))
    })?;
    let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
    let mut devices: HashMap<EntryId, Vec<DeviceId>> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT j.entry_id, j.device_id FROM speed_judges j
             JOIN speed_entries e ON e.id = j.entry_id
             WHERE (?1 IS NULL OR e.event_id = (SELECT id FROM speed_events WHERE name = ?1))
               AND (?2 IS NULL OR e.heat = ?2)
             ORDER BY j.entry_id, j.position",
        )?;
        let pairs = stmt.query_map(params![filter.event, filter.heat], |r| {
            Ok((r.get::<_, EntryId>(0)?, r.get::<_, DeviceId>(1)?))
        })?;
        for pair in pairs {
            let (entry, device) = pair?;
            devices.entry(entry).or_default().push(device);
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for (mut sheet, window) in rows {
        for device in devices.remove(&sheet.entry.id).unwrap_or_default() {
            let t = match window {
                Some((start, end)) => Some(device_tally(conn, device, start, end)?),
                None => None,
            };
            sheet.tallies.push((device, t));
        }
        out.push(sheet);
    }
    Ok(out)
}

/// What `device` added between `start` and `end` (cuts of the store's
/// receive clock, so `start <= received_at < end` splits scores exactly):
/// from the newest score received before the start, through those received
/// in the window, in the order the device's clock ran (a 32-bit wrap of
/// Espruino's `Date.now() | 0` included: see `crate::scoring::clock`).
fn device_tally(
    conn: &Connection,
    device: DeviceId,
    start: i64,
    end: i64,
) -> Result<i64, StoreError> {
    let baseline = latest_score_before(conn, device, start)?.map_or(0, |s| s.score);
    let mut stmt = conn.prepare_cached(
        "SELECT timestamp, score FROM clicker_scores WHERE device_id = ?1 AND received_at >= ?2 AND received_at < ?3
         ORDER BY timestamp",
    )?;
    let mut series = stmt
        .query_map(params![device, start, end], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    clock::sort_series(&mut series, |&(timestamp, _)| timestamp);
    Ok(tally(baseline, series.into_iter().map(|(_, score)| score)))
}
