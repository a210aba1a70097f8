//! Official results from entry sheets as stored: each entry's `a`, `m`, `R`
//! and reskip flag by [`super::rules`], and ranks within each event. Also
//! the CSV export of the same rows.

use std::collections::HashMap;

use serde::Serialize;

use super::rules;
use crate::speed::model::{Entry, EntrySheet, HeatState};

/// One judge's clicker and tally (`null` before the heat starts).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JudgeTally {
    pub device_id: String,
    pub tally: Option<i64>,
    pub head_judge: bool,
}

/// An entry's official result, as `GET /api/speed/results` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryResult {
    #[serde(flatten)]
    pub entry: Entry,
    pub heat_state: HeatState,
    /// `null` until the heat starts (or without judges).
    pub a: Option<f64>,
    pub m: Option<f64>,
    #[serde(rename = "R")]
    pub r: Option<f64>,
    /// Within the event; `null` without a result (and in live heat views).
    pub rank: Option<u32>,
    pub reskip: bool,
    pub false_starts: u32,
    pub false_switches: u32,
    pub tallies: Vec<JudgeTally>,
}

/// Results of `sheets`, in their order. With `ranked`, ranks within each
/// event among the sheets given (so give every entry of the events ranked).
pub fn results(sheets: Vec<EntrySheet>, ranked: bool) -> Vec<EntryResult> {
    let mut out: Vec<EntryResult> = sheets.into_iter().map(result).collect();
    if ranked {
        let mut by_event: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in out.iter().enumerate() {
            by_event.entry(r.entry.event.clone()).or_default().push(i);
        }
        for indices in by_event.values() {
            let rs: Vec<Option<f64>> = indices.iter().map(|&i| out[i].r).collect();
            for (&i, rank) in indices.iter().zip(rules::ranks(&rs)) {
                out[i].rank = rank;
            }
        }
    }
    out
}

fn result(sheet: EntrySheet) -> EntryResult {
    let tallies: Vec<i64> = sheet.tallies.iter().filter_map(|(_, t)| *t).collect();
    let deduction = rules::deduction(sheet.false_starts, sheet.false_switches);
    // Only the head judge gives deductions: the average of one value.
    let outcome = rules::outcome(&tallies, &[deduction]);
    EntryResult {
        entry: sheet.entry,
        heat_state: sheet.heat_state,
        a: outcome.map(|o| o.a),
        m: outcome.map(|o| o.m),
        r: outcome.map(|o| o.r),
        rank: None,
        reskip: outcome.is_some_and(|o| o.reskip),
        false_starts: sheet.false_starts,
        false_switches: sheet.false_switches,
        tallies: sheet
            .tallies
            .iter()
            .map(|&(device, tally)| JudgeTally {
                device_id: format!("{device:06}"),
                tally,
                head_judge: sheet.head_judge == Some(device),
            })
            .collect(),
    }
}

/// The results as CSV: one row per entry, the judges' tallies in one cell
/// as `device=tally` pairs separated by spaces.
pub fn csv(results: &[EntryResult]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "rank",
        "event",
        "heat",
        "station",
        "name",
        "club",
        "a",
        "m",
        "R",
        "reskip",
        "falseStarts",
        "falseSwitches",
        "tallies",
    ])?;
    let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in results {
        let tallies: Vec<String> = r
            .tallies
            .iter()
            .map(|t| {
                let tally = t.tally.map(|v| v.to_string()).unwrap_or_default();
                format!("{}={tally}", t.device_id)
            })
            .collect();
        w.write_record([
            r.rank.map(|v| v.to_string()).unwrap_or_default(),
            r.entry.event.clone(),
            r.entry.heat.to_string(),
            r.entry.station.to_string(),
            r.entry.name.clone(),
            r.entry.club.clone().unwrap_or_default(),
            num(r.a),
            num(r.m),
            num(r.r),
            r.reskip.to_string(),
            r.false_starts.to_string(),
            r.false_switches.to_string(),
            tallies.join(" "),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(
        id: crate::speed::model::EntryId,
        event: &str,
        tallies: &[i64],
        starts: u32,
    ) -> EntrySheet {
        EntrySheet {
            entry: Entry {
                id,
                event: event.into(),
                heat: 1,
                station: id as u32,
                name: format!("skipper {id}"),
                club: None,
            },
            head_judge: Some(1),
            false_starts: starts,
            false_switches: 0,
            heat_state: HeatState::Stopped,
            tallies: tallies
                .iter()
                .enumerate()
                .map(|(i, &t)| (i as u32 + 1, Some(t)))
                .collect(),
        }
    }

    #[test]
    fn ranks_within_each_event_and_shares_ties() {
        let got = results(
            vec![
                sheet(1, "SRSS", &[100, 101, 102], 0),
                sheet(2, "SRSS", &[111, 111, 112], 1),
                sheet(3, "SRSE", &[50, 50], 0),
                sheet(4, "SRSS", &[120, 90, 103, 104], 0),
            ],
            true,
        );
        let summary: Vec<_> = got.iter().map(|r| (r.entry.id, r.r, r.rank)).collect();
        // 1: 100, 101, 102 are equally close: the higher pair, 101.5.
        // 2: the closest pair 111-111 -> 111, less a false start: 101.
        // 4: drop 90 and 120 -> 103.5.
        assert_eq!(
            summary,
            [
                (1, Some(101.5), Some(2)),
                (2, Some(101.0), Some(3)),
                (3, Some(50.0), Some(1)),
                (4, Some(103.5), Some(1)),
            ]
        );
        assert!(got[0].tallies[0].head_judge && !got[0].tallies[1].head_judge);
    }

    #[test]
    fn no_tallies_no_result_no_rank() {
        let mut s = sheet(1, "SRSS", &[], 0);
        s.heat_state = HeatState::Pending;
        s.tallies = vec![(1, None), (2, None)];
        let got = results(vec![s], true);
        assert_eq!((got[0].a, got[0].r, got[0].rank), (None, None, None));
        let text = String::from_utf8(csv(&got).unwrap()).unwrap();
        assert_eq!(
            text.lines().nth(1).unwrap(),
            ",SRSS,1,1,skipper 1,,,,,false,0,0,000001= 000002="
        );
    }
}
