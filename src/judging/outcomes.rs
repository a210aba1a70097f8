//! What the bulk operations (imports, assignment) report back: the rows
//! they added or changed. Both adapters send these as JSON in the same
//! camelCase shape (an acknowledgement on socket.io, a response over HTTP).

use serde::{Deserialize, Serialize};

use super::model::{DataStore, JudgeHack};

/// What a Devpost import added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevpostImported {
    /// Hacks created: one per project not already present, in file order.
    pub hacks_added: usize,
    pub hack_ids: Vec<i64>,
    /// Hacks that existed before and that projects matched by name (as in a
    /// repeated import): they only gain eligibility they lacked.
    pub hacks_matched: Vec<i64>,
    /// Superlatives created, one per prize name not seen before.
    pub superlatives_added: usize,
    pub superlative_ids: Vec<i64>,
    /// Superlatives that existed before and that prizes matched by name.
    pub superlatives_matched: Vec<i64>,
    /// `superlativeHacks` rows created.
    pub eligibility_added: usize,
    /// What the import kept but treats specially (a story longer than a
    /// typed description may be), by row: empty when nothing was.
    pub adjusted: Vec<Adjusted>,
}

impl DevpostImported {
    /// What an import that wrote `diff` (the rows it added) reports, with
    /// the existing hacks and superlatives it matched by name and the rows
    /// it adjusted.
    pub fn of(
        diff: &DataStore,
        hacks_matched: Vec<i64>,
        superlatives_matched: Vec<i64>,
        adjusted: Vec<Adjusted>,
    ) -> DevpostImported {
        DevpostImported {
            hacks_added: diff.hacks.len(),
            hack_ids: diff.hacks.iter().map(|h| h.id).collect(),
            hacks_matched,
            superlatives_added: diff.superlatives.len(),
            superlative_ids: diff.superlatives.iter().map(|s| s.id).collect(),
            superlatives_matched,
            eligibility_added: diff.superlative_hacks.len(),
            adjusted,
        }
    }
}

/// One row an import adjusted, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Adjusted {
    pub row: u64,
    pub hack_id: i64,
    pub note: String,
}

/// What a judges import added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JudgesImported {
    pub judges_added: usize,
    pub judge_ids: Vec<i64>,
}

/// What an assignment run wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assigned {
    pub judges_per_hack: i64,
    /// New `judgeHacks` rows.
    pub created: Vec<JudgeHack>,
    /// Existing rows given another judge (not yet rated) or another place
    /// in their judge's visiting order.
    pub updated: Vec<JudgeHack>,
    /// `judgeHacks` rows after the run.
    pub total: usize,
}
