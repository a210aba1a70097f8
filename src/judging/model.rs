//! The judging data model: the rows of the Sledge `DataStore`, as they go
//! over the wire (camelCase JSON, every row keyed by its integer `id`).
//!
//! A [`DataStore`] is both the whole state (`update-full`) and a diff
//! (`update-partial`): clients merge rows by id, so a diff carries whole rows.
//! Rows are never deleted.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hack {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub location: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Judge {
    pub id: i64,
    pub name: String,
    /// Empty in what one judge is sent about another: emails are the
    /// organiser's and each judge's own business.
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JudgeHack {
    pub id: i64,
    pub judge_id: i64,
    pub hack_id: i64,
    /// The judge's visiting order, 0 first.
    pub priority: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Superlative {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuperlativePlacement {
    pub id: i64,
    pub judge_id: i64,
    pub superlative_id: i64,
    /// 0 when the judge has not chosen.
    pub first_choice_id: i64,
    /// 0 when the judge has not chosen.
    pub second_choice_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rating {
    pub id: i64,
    pub judge_id: i64,
    pub hack_id: i64,
    /// 1 to 20; [`Rating::TAKEN_BACK`] once the judge took it back.
    pub rating: i64,
}

impl Rating {
    /// The value of a rating its judge took back (`unrate-hack`). The row
    /// stays, as every row does, so clients merging by id see it go; the
    /// same 0 the protocol uses for a placement's "not chosen".
    pub const TAKEN_BACK: i64 = 0;

    /// Whether the judge took this rating back: it counts nowhere.
    pub fn taken_back(&self) -> bool {
        self.rating == Rating::TAKEN_BACK
    }
}

/// A hack's eligibility for a superlative (a Podium extension: Devpost's
/// opt-in prizes). Clients that do not know the table ignore it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuperlativeHack {
    pub id: i64,
    pub superlative_id: i64,
    pub hack_id: i64,
}

/// A judge found nobody at a hack's table (a Podium extension). `active`
/// until any judge rates the hack or the organiser clears it; marking again
/// makes the same row active again. Scoped like ratings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Absence {
    pub id: i64,
    pub judge_id: i64,
    pub hack_id: i64,
    pub active: bool,
}

/// A judge's private note on a hack (a Podium extension), seen by that judge
/// and the admin only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: i64,
    pub judge_id: i64,
    pub hack_id: i64,
    pub text: String,
}

/// Whether judging is paused (a Podium extension): one row, id 1, seen by
/// everyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JudgingStatus {
    pub id: i64,
    pub paused: bool,
}

/// A hack the organiser withdrew (a Podium extension): it leaves the
/// results and stays in the exports, marked. Seen by everyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawal {
    pub id: i64,
    pub hack_id: i64,
    pub withdrawn: bool,
}

/// The six Sledge tables plus Podium's extensions; every key always present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataStore {
    pub hacks: Vec<Hack>,
    pub judges: Vec<Judge>,
    pub judge_hacks: Vec<JudgeHack>,
    pub superlatives: Vec<Superlative>,
    pub superlative_placements: Vec<SuperlativePlacement>,
    pub ratings: Vec<Rating>,
    pub superlative_hacks: Vec<SuperlativeHack>,
    pub absences: Vec<Absence>,
    pub notes: Vec<Note>,
    pub judging_status: Vec<JudgingStatus>,
    pub withdrawals: Vec<Withdrawal>,
}

impl DataStore {
    /// True when no table has a row.
    pub fn is_empty(&self) -> bool {
        self.hacks.is_empty()
            && self.judges.is_empty()
            && self.judge_hacks.is_empty()
            && self.superlatives.is_empty()
            && self.superlative_placements.is_empty()
            && self.ratings.is_empty()
            && self.superlative_hacks.is_empty()
            && self.absences.is_empty()
            && self.notes.is_empty()
            && self.judging_status.is_empty()
            && self.withdrawals.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_present_and_camel_case() {
        let json = serde_json::to_value(DataStore::default()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "absences",
                "hacks",
                "judgeHacks",
                "judges",
                "judgingStatus",
                "notes",
                "ratings",
                "superlativeHacks",
                "superlativePlacements",
                "superlatives",
                "withdrawals"
            ]
        );
    }
}
