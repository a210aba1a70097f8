//! How a commit's changes are packed into one change-log row, the same in
//! both engines (SQLite's `change_log.body`, PostgreSQL's): a score in
//! [`SCORE_BYTES`], a presence change in a few bytes, a judging diff as
//! compact JSON. Why one row per commit: see the SQLite log
//! (`sqlite/log.rs`).

use serde::{Deserialize, Serialize};

use super::changes::{Change, Entry, HeatChange, Presence, Score};
use super::StoreError;
use crate::judging::model::{
    Absence, DataStore, Hack, Judge, JudgeHack, JudgingStatus, Note, Rating, Superlative,
    SuperlativeHack, SuperlativePlacement, Withdrawal,
};
use crate::scoring::Holder;

/// Changes retained by default: [`crate::config::ServeConfig::change_log_retain`].
pub const DEFAULT_RETAIN: u64 = 10_000;

/// Tag of a judging change in a packed row: then its JSON's length and it.
const JUDGING: u8 = 0;
/// Tag of a score in a packed row: then device, timestamp and score.
const SCORE: u8 = 1;
/// Bytes of one packed score: seq, tag, device, timestamp, score
/// (little-endian).
pub const SCORE_BYTES: usize = 8 + 1 + 4 + 8 + 8;
/// Tag of a presence change: then device, node, session, connected (0 or 1).
const PRESENCE: u8 = 2;
/// Tag of a speed heat change: then its kind (below), the heat, and for a
/// start the number of clickers and each one.
const HEAT: u8 = 3;
const HEAT_EDITED: u8 = 0;
const HEAT_STARTED: u8 = 1;
const HEAT_STOPPED: u8 = 2;

/// A judging diff as the log stores it: the tables it has rows for (most
/// diffs have rows in one or two of the eleven; `DataStore`'s own JSON
/// always lists every table, which more than doubled a rating's log bytes).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Compact {
    h: Vec<Hack>,
    j: Vec<Judge>,
    jh: Vec<JudgeHack>,
    s: Vec<Superlative>,
    sp: Vec<SuperlativePlacement>,
    r: Vec<Rating>,
    sh: Vec<SuperlativeHack>,
    a: Vec<Absence>,
    n: Vec<Note>,
    st: Vec<JudgingStatus>,
    w: Vec<Withdrawal>,
}

/// [`Compact`], borrowed: how a diff is encoded without a copy.
#[derive(Serialize)]
struct CompactRef<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    h: &'a [Hack],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    j: &'a [Judge],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    jh: &'a [JudgeHack],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    s: &'a [Superlative],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    sp: &'a [SuperlativePlacement],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    r: &'a [Rating],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    sh: &'a [SuperlativeHack],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    a: &'a [Absence],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    n: &'a [Note],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    st: &'a [JudgingStatus],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    w: &'a [Withdrawal],
}

fn encode_diff(d: &DataStore) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&CompactRef {
        h: &d.hacks,
        j: &d.judges,
        jh: &d.judge_hacks,
        s: &d.superlatives,
        sp: &d.superlative_placements,
        r: &d.ratings,
        sh: &d.superlative_hacks,
        a: &d.absences,
        n: &d.notes,
        st: &d.judging_status,
        w: &d.withdrawals,
    })
}

fn decode_diff(json: &[u8]) -> serde_json::Result<DataStore> {
    let c: Compact = serde_json::from_slice(json)?;
    Ok(DataStore {
        hacks: c.h,
        judges: c.j,
        judge_hacks: c.jh,
        superlatives: c.s,
        superlative_placements: c.sp,
        ratings: c.r,
        superlative_hacks: c.sh,
        absences: c.a,
        notes: c.n,
        judging_status: c.st,
        withdrawals: c.w,
    })
}

/// Packs a commit's changes into one `change_log` body.
pub(crate) fn pack(entries: &[Entry]) -> Result<Vec<u8>, StoreError> {
    let mut body = Vec::with_capacity(entries.len() * SCORE_BYTES);
    for entry in entries {
        body.extend_from_slice(&entry.seq.to_le_bytes());
        match &entry.change {
            Change::Score(score) => {
                body.push(SCORE);
                body.extend_from_slice(&score.device.to_le_bytes());
                body.extend_from_slice(&score.timestamp.to_le_bytes());
                body.extend_from_slice(&score.score.to_le_bytes());
            }
            Change::Presence(p) => {
                body.push(PRESENCE);
                body.extend_from_slice(&p.device.to_le_bytes());
                body.extend_from_slice(&p.holder.node.to_le_bytes());
                body.extend_from_slice(&p.holder.session.to_le_bytes());
                body.push(u8::from(p.connected));
            }
            Change::Heat(change) => {
                body.push(HEAT);
                let (kind, heat, devices): (u8, u32, &[u32]) = match change {
                    HeatChange::Edited(heat) => (HEAT_EDITED, *heat, &[]),
                    HeatChange::Started { heat, devices } => (HEAT_STARTED, *heat, devices),
                    HeatChange::Stopped(heat) => (HEAT_STOPPED, *heat, &[]),
                };
                body.push(kind);
                body.extend_from_slice(&heat.to_le_bytes());
                if kind == HEAT_STARTED {
                    // A panel has at most `speed::MAX_JUDGES` clickers per
                    // station; a heat's clickers fit a u32 count.
                    body.extend_from_slice(&(devices.len() as u32).to_le_bytes());
                    for device in devices {
                        body.extend_from_slice(&device.to_le_bytes());
                    }
                }
            }
            Change::Judging(diff) => {
                let json = encode_diff(diff)
                    .map_err(|e| StoreError::Worker(format!("cannot encode a change: {e}")))?;
                let len = u32::try_from(json.len())
                    .map_err(|_| StoreError::Worker("a change of more than 4 GiB".into()))?;
                body.push(JUDGING);
                body.extend_from_slice(&len.to_le_bytes());
                body.extend_from_slice(&json);
            }
        }
    }
    Ok(body)
}

/// The entries of one `change_log` body.
pub(crate) fn unpack(mut body: &[u8], out: &mut Vec<Entry>) -> Result<(), String> {
    fn take<'a>(body: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if body.len() < n {
            return Err("the row ends early".into());
        }
        let (head, rest) = body.split_at(n);
        *body = rest;
        Ok(head)
    }
    fn int<const N: usize>(body: &mut &[u8]) -> Result<[u8; N], String> {
        Ok(take(body, N)?.try_into().expect("N bytes"))
    }
    while !body.is_empty() {
        let seq = u64::from_le_bytes(int(&mut body)?);
        let change = match int::<1>(&mut body)?[0] {
            SCORE => Change::Score(Score {
                device: u32::from_le_bytes(int(&mut body)?),
                timestamp: i64::from_le_bytes(int(&mut body)?),
                score: i64::from_le_bytes(int(&mut body)?),
            }),
            JUDGING => {
                let len = u32::from_le_bytes(int(&mut body)?) as usize;
                let json = take(&mut body, len)?;
                let diff = decode_diff(json).map_err(|e| e.to_string())?;
                Change::Judging(Box::new(diff))
            }
            PRESENCE => Change::Presence(Presence {
                device: u32::from_le_bytes(int(&mut body)?),
                holder: Holder {
                    node: u64::from_le_bytes(int(&mut body)?),
                    session: u64::from_le_bytes(int(&mut body)?),
                },
                connected: int::<1>(&mut body)?[0] != 0,
            }),
            HEAT => {
                let kind = int::<1>(&mut body)?[0];
                let heat = u32::from_le_bytes(int(&mut body)?);
                Change::Heat(match kind {
                    HEAT_EDITED => HeatChange::Edited(heat),
                    HEAT_STOPPED => HeatChange::Stopped(heat),
                    HEAT_STARTED => {
                        let n = u32::from_le_bytes(int(&mut body)?) as usize;
                        // Bounded by what the row holds, not by what it claims.
                        let mut devices = Vec::with_capacity(n.min(body.len() / 4));
                        for _ in 0..n {
                            devices.push(u32::from_le_bytes(int(&mut body)?));
                        }
                        HeatChange::Started { heat, devices }
                    }
                    kind => return Err(format!("unknown heat change {kind}")),
                })
            }
            tag => return Err(format!("unknown tag {tag}")),
        };
        out.push(Entry { seq, change });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of change comes back as it went in, in order, from one row.
    #[test]
    fn a_row_of_every_kind_of_change_unpacks_as_packed() {
        let changes = [
            Change::Score(Score {
                device: 7,
                timestamp: -5,
                score: 12,
            }),
            Change::presence(
                7,
                Holder {
                    node: 3,
                    session: 9,
                },
                true,
            ),
            Change::Heat(HeatChange::Started {
                heat: 4,
                devices: vec![7, 8, 999_999],
            }),
            Change::Heat(HeatChange::Edited(4)),
            Change::Heat(HeatChange::Stopped(4)),
            Change::Judging(Box::default()),
        ];
        let entries: Vec<Entry> = changes
            .iter()
            .cloned()
            .zip(10..)
            .map(|(change, seq)| Entry { seq, change })
            .collect();
        let mut out = Vec::new();
        unpack(&pack(&entries).unwrap(), &mut out).unwrap();
        let shown = |e: &[Entry]| format!("{:?}", e);
        assert_eq!(shown(&out), shown(&entries));
    }

    #[test]
    fn a_cut_short_heat_change_is_an_error_not_a_panic() {
        let entry = Entry {
            seq: 1,
            change: Change::Heat(HeatChange::Started {
                heat: 1,
                devices: vec![1, 2],
            }),
        };
        let body = pack(&[entry]).unwrap();
        let mut out = Vec::new();
        assert!(unpack(&body[..body.len() - 1], &mut out).is_err());
    }
}
