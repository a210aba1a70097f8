//! The locks a batch takes before any of its jobs runs, in one global
//! order, so no two nodes' batches can wait on each other in a cycle.
//!
//! A node's writer runs every queued job in one transaction and holds every
//! lock until `COMMIT` (see [`super::writer`]). Each job declares what it
//! would otherwise lock as it goes ([`Locks`]); the writer takes the union
//! ([`BatchLocks`]) in the same pipeline as `BEGIN`, in this order:
//!
//! 1. advisory locks, in the order of [`Advisory`]: import, floor (shared
//!    or exclusive), speed, device ids, presence, settings, scores (shared,
//!    or exclusive for a batch of more than [`DEVICE_LOCKS`] devices);
//! 2. `judges` rows, by id, `FOR NO KEY UPDATE`;
//! 3. `absences` rows of the hacks named, by id, `FOR UPDATE`;
//! 4. `hacks` rows, by id, `FOR NO KEY UPDATE` (they stand for the hack's
//!    `withdrawals` row, which may not exist yet);
//! 5. an advisory lock per clicker device whose scores the batch inserts,
//!    by device id (none when the scores lock is exclusive: it stands for
//!    them all).
//!
//! Every row a job then writes is covered: each other writer of that row
//! declares the same lock (a rating's, a note's or a placement's row by its
//! judge; an absence by its judge when inserted, by its hack when changed;
//! a route by its judge, or the floor lock exclusive for assignment; an
//! email key, a hack's or a superlative's name by the import lock; presence
//! and the nodes' leases by the presence lock; the health probe's row, the
//! operator secrets and the link key by the settings lock; a score's
//! (device, timestamp) key by its device). So no batch that has started its
//! jobs waits for another batch, except at `change_head` just before the
//! commit, which is always the last lock taken. Waits happen only here,
//! in the global order: a batch waiting for a lock holds only locks before
//! it in the order, so no cycle can close.
//!
//! Rows are locked through the row, not an advisory lock per id: row locks
//! live in the rows and cost no shared memory however many a batch holds.
//! Scores are the exception: locking their devices' rows would write each
//! row on the hottest path, so they take an advisory lock per device, a
//! bounded number per batch. Per device, not per stripe of devices: the two
//! nodes' clickers are different devices, so their score batches do not
//! wait for each other (stripes would make them take turns).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Key of the floor lock ("floor" in ASCII): writes that check the pause or
/// change what assignment reads take it shared, the pause and assignment
/// exclusive (see [`super::judging_rows`]).
pub(super) const FLOOR_LOCK: i64 = 0x66_6c6f_6f72;
/// Key of the import lock ("import"): imports, new hacks, superlatives and
/// judges, which read which names and emails exist and add what is missing.
pub(super) const IMPORT_LOCK: i64 = 0x696d_706f_7274;
/// Key of the lock every speed write is made under ("speed").
pub(super) const SPEED_LOCK: i64 = 0x73_7065_6564;
/// Key of the lock new device ids are taken under ("ids").
pub(super) const DEVICE_IDS_LOCK: i64 = 0x0069_6473;
/// Key of the lock writes of device presence and node leases take ("presnc").
const PRESENCE_LOCK: i64 = 0x7072_6573_6e63;
/// Key of the lock writes of the operator's settings rows take ("settng").
const SETTINGS_LOCK: i64 = 0x7365_7474_6e67;
/// Key of the lock batches of scores take ("scores"): shared beside one
/// lock per device, exclusive instead of them.
const SCORES_LOCK: i64 = 0x7363_6f72_6573;
/// The class (first key) of the per-device locks of scores ("SC").
const DEVICE_CLASS: i32 = 0x5343;
/// Most per-device locks a batch takes: advisory locks live in PostgreSQL's
/// shared lock table, sized for about 64 per connection.
pub const DEVICE_LOCKS: usize = 512;

/// The advisory locks a batch may take, in the order they are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Advisory {
    Import,
    Floor,
    Speed,
    DeviceIds,
    Presence,
    Settings,
    Scores,
}

impl Advisory {
    fn key(self) -> i64 {
        match self {
            Advisory::Import => IMPORT_LOCK,
            Advisory::Floor => FLOOR_LOCK,
            Advisory::Speed => SPEED_LOCK,
            Advisory::DeviceIds => DEVICE_IDS_LOCK,
            Advisory::Presence => PRESENCE_LOCK,
            Advisory::Settings => SETTINGS_LOCK,
            Advisory::Scores => SCORES_LOCK,
        }
    }
}

/// How an advisory lock is held; exclusive wins in a union.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// What one job locks (taken for it at the start of its batch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locks {
    advisory: Vec<(Advisory, Mode)>,
    judges: Vec<i64>,
    absences_of: Vec<i64>,
    hacks: Vec<i64>,
    devices: Vec<i64>,
}

impl Locks {
    /// Nothing: the job writes only rows no other node's batch writes.
    pub fn none() -> Locks {
        Locks::default()
    }

    pub fn exclusive(lock: Advisory) -> Locks {
        Locks::none().and(lock, Mode::Exclusive)
    }

    pub fn shared(lock: Advisory) -> Locks {
        Locks::none().and(lock, Mode::Shared)
    }

    /// These locks and `lock` in `mode`.
    pub fn and(mut self, lock: Advisory, mode: Mode) -> Locks {
        self.advisory.push((lock, mode));
        self
    }

    /// These locks and the `judges` rows of `ids`.
    pub fn judges(mut self, ids: impl IntoIterator<Item = i64>) -> Locks {
        self.judges.extend(ids);
        self
    }

    /// These locks and every `absences` row of `hack`.
    pub fn absences_of(mut self, hack: i64) -> Locks {
        self.absences_of.push(hack);
        self
    }

    /// These locks and the `hacks` row of `hack`.
    pub fn hack(mut self, hack: i64) -> Locks {
        self.hacks.push(hack);
        self
    }

    /// These locks and `device`'s scores.
    pub fn device(mut self, device: i64) -> Locks {
        self.devices.push(device);
        self
    }
}

/// The union of a batch's [`Locks`], kept in the global order.
#[derive(Debug, Default)]
pub struct BatchLocks {
    advisory: BTreeMap<Advisory, Mode>,
    judges: BTreeSet<i64>,
    absences_of: BTreeSet<i64>,
    hacks: BTreeSet<i64>,
    devices: BTreeSet<i64>,
}

impl BatchLocks {
    pub fn add(&mut self, locks: &Locks) {
        for &(lock, mode) in &locks.advisory {
            let held = self.advisory.entry(lock).or_insert(mode);
            *held = (*held).max(mode);
        }
        self.judges.extend(&locks.judges);
        self.absences_of.extend(&locks.absences_of);
        self.hacks.extend(&locks.hacks);
        self.devices.extend(&locks.devices);
    }

    /// The statements that take the locks, in order, each after a `; ` (to
    /// follow `BEGIN` in one simple query; empty when there are none). Only
    /// numbers are written into them.
    pub fn sql(&self) -> String {
        let mut advisory = self.advisory.clone();
        let per_device = self.devices.len() <= DEVICE_LOCKS;
        if !self.devices.is_empty() {
            let mode = match per_device {
                true => Mode::Shared,
                false => Mode::Exclusive,
            };
            let held = advisory.entry(Advisory::Scores).or_insert(mode);
            *held = (*held).max(mode);
        }
        let mut sql = String::new();
        for (lock, mode) in advisory {
            let function = match mode {
                Mode::Shared => "pg_advisory_xact_lock_shared",
                Mode::Exclusive => "pg_advisory_xact_lock",
            };
            let _ = write!(sql, "; SELECT {function}({})", lock.key());
        }
        // ORDER BY with FOR UPDATE: rows are locked as they leave the sort.
        let rows = [
            ("judges", "id", &self.judges, "FOR NO KEY UPDATE"),
            ("absences", "hack_id", &self.absences_of, "FOR UPDATE"),
            ("hacks", "id", &self.hacks, "FOR NO KEY UPDATE"),
        ];
        for (table, column, ids, mode) in rows {
            if !ids.is_empty() {
                let _ = write!(
                    sql,
                    "; SELECT 1 FROM {table} WHERE {column} IN ({}) ORDER BY id {mode}",
                    list(ids)
                );
            }
        }
        if per_device && !self.devices.is_empty() {
            // unnest yields in the array's (ascending) order. Device ids
            // are at most 999,999: they fit the second (int) key.
            let _ = write!(
                sql,
                "; SELECT pg_advisory_xact_lock({DEVICE_CLASS}, d) FROM unnest(ARRAY[{}]::int[]) AS d",
                list(&self.devices)
            );
        }
        sql
    }
}

fn list(ids: &BTreeSet<i64>) -> String {
    let mut list = String::new();
    for id in ids {
        if !list.is_empty() {
            list.push(',');
        }
        let _ = write!(list, "{id}");
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_union_is_taken_in_the_global_order_whatever_order_jobs_came_in() {
        let mut batch = BatchLocks::default();
        batch.add(&Locks::exclusive(Advisory::DeviceIds));
        batch.add(&Locks::shared(Advisory::Floor).judges([7]).absences_of(3));
        batch.add(&Locks::exclusive(Advisory::Floor));
        batch.add(&Locks::shared(Advisory::Floor).judges([2, 7]).hack(9));
        batch.add(&Locks::exclusive(Advisory::Import));
        let sql = batch.sql();
        let at = |s: &str| sql.find(s).unwrap_or_else(|| panic!("{s} in {sql}"));
        let import = at(&format!("pg_advisory_xact_lock({IMPORT_LOCK})"));
        let floor = at(&format!("pg_advisory_xact_lock({FLOOR_LOCK})"));
        let ids = at(&format!("pg_advisory_xact_lock({DEVICE_IDS_LOCK})"));
        let judges = at("FROM judges WHERE id IN (2,7) ORDER BY id");
        let absences = at("FROM absences WHERE hack_id IN (3)");
        let hacks = at("FROM hacks WHERE id IN (9)");
        assert!(import < floor && floor < ids && ids < judges);
        assert!(judges < absences && absences < hacks);
        assert!(!sql.contains("_shared"), "exclusive wins: {sql}");
    }

    #[test]
    fn scores_lock_their_devices_or_all_devices_in_a_big_batch() {
        let mut batch = BatchLocks::default();
        for device in [5, 1, 5] {
            batch.add(&Locks::none().device(device));
        }
        assert_eq!(
            batch.sql(),
            format!(
                "; SELECT pg_advisory_xact_lock_shared({SCORES_LOCK}); SELECT \
                 pg_advisory_xact_lock({DEVICE_CLASS}, d) FROM unnest(ARRAY[1,5]::int[]) AS d"
            )
        );

        let mut big = BatchLocks::default();
        for device in 0..=DEVICE_LOCKS as i64 {
            big.add(&Locks::none().device(device));
        }
        assert_eq!(
            big.sql(),
            format!("; SELECT pg_advisory_xact_lock({SCORES_LOCK})")
        );
    }

    #[test]
    fn no_locks_no_statements() {
        let mut batch = BatchLocks::default();
        batch.add(&Locks::none());
        assert_eq!(batch.sql(), "");
    }
}
