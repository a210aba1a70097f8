//! Reports for the organiser, admin only: results (hacks ranked by
//! normalised score, superlative rankings, coverage) and CSV exports, all
//! computed by `judging::results` and `judging::export` from the state as
//! the live-update mirror holds it.

use serde::Serialize;

use super::auth::{self, Action, Identity, Op};
use super::ops::OpError;
use super::view::Viewer;
use super::Core;
use crate::judging::assign::AssignmentRow;
use crate::judging::export;
use crate::judging::model::DataStore;
use crate::judging::results::{self, Named, Results, ResultsInput};

/// `GET /api/results`: the results, and the judges per hack that coverage
/// was measured against.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultsReport {
    pub judges_per_hack: i64,
    #[serde(flatten)]
    pub results: Results,
}

/// The CSV files there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Results,
    Hacks,
    Judges,
    Ratings,
}

impl Core {
    /// The results, coverage measured against `judges_per_hack` (by default
    /// that of the latest assignment, or 3).
    pub async fn results(
        &self,
        who: Identity,
        judges_per_hack: Option<i64>,
    ) -> Result<ResultsReport, OpError> {
        auth::authorize(who, Action::Administer(Op::RESULTS))?;
        let k = self.judges_per_hack(judges_per_hack).await?;
        let data = self.sync.snapshot(Viewer::Admin).await?;
        Ok(ResultsReport {
            judges_per_hack: k,
            results: compute(&data, k as usize),
        })
    }

    /// One CSV export.
    pub async fn export(&self, who: Identity, what: Export) -> Result<String, OpError> {
        let op = match what {
            Export::Results => Op::RESULTS,
            _ => Op::EXPORT,
        };
        auth::authorize(who, Action::Administer(op))?;
        if what == Export::Results {
            let report = self.results(who, None).await?;
            return Ok(export::results_csv(&report.results.hacks));
        }
        let data = self.sync.snapshot(Viewer::Admin).await?;
        Ok(match what {
            Export::Hacks => export::hacks_csv(&data.hacks, |id| withdrawn(&data, id)),
            Export::Judges => export::judges_csv(&data.judges),
            Export::Ratings => {
                export::ratings_csv(&data.ratings, &data.notes, &data.judges, &data.hacks)
            }
            Export::Results => unreachable!("handled above"),
        })
    }
}

/// Whether the organiser withdrew hack `id`.
fn withdrawn(data: &DataStore, id: i64) -> bool {
    data.withdrawals
        .iter()
        .any(|w| w.hack_id == id && w.withdrawn)
}

/// Results from the whole state.
fn compute(data: &DataStore, judges_per_hack: usize) -> Results {
    let named = |id, name: &String| Named {
        id,
        name: name.clone(),
    };
    // A withdrawn hack leaves the results: its ratings count for nothing.
    let hacks: Vec<Named> = data
        .hacks
        .iter()
        .filter(|h| !withdrawn(data, h.id))
        .map(|h| named(h.id, &h.name))
        .collect();
    let judges: Vec<Named> = data.judges.iter().map(|j| named(j.id, &j.name)).collect();
    let superlatives: Vec<Named> = data
        .superlatives
        .iter()
        .map(|s| named(s.id, &s.name))
        .collect();
    let assignments: Vec<AssignmentRow> =
        data.judge_hacks.iter().map(AssignmentRow::from).collect();
    results::compute(&ResultsInput {
        hacks: &hacks,
        judges: &judges,
        assignments: &assignments,
        ratings: &data.ratings,
        superlatives: &superlatives,
        placements: &data.superlative_placements,
        eligibility: &data.superlative_hacks,
        judges_per_hack,
    })
}
