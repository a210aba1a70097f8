//! `rank-superlative` / `POST /api/placements`: judge `judgeId`'s first and
//! second choice for a superlative (the admin, or that judge); ranking again
//! replaces the placement, keeping its id.

use serde::{Deserialize, Serialize};

use super::Command;
use crate::core::auth::{self, Action, Identity, Op};
use crate::core::ops::OpError;
use crate::core::Core;
use crate::judging::inputs::Ranking;
use crate::judging::model::SuperlativePlacement;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RankSuperlative {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub super_id: i64,
    /// A hack id, or 0 for no choice.
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub first_id: i64,
    /// A hack id, or 0 for no choice; not the same hack as `firstId`.
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub second_id: i64,
}

impl Command for RankSuperlative {
    const OP: Op = Op::new("rank-superlative", "POST /api/placements");
    const SCHEMA: &'static str =
        r#"{"judgeId": integer, "superId": integer, "firstId": integer, "secondId": integer}"#;
    const REPLY: &'static str = "superlativePlacement";
    type Reply = SuperlativePlacement;

    fn ids(&self) -> Vec<(&'static str, i64, i64)> {
        vec![
            ("judgeId", self.judge_id, 0),
            ("superId", self.super_id, 0),
            ("firstId", self.first_id, 0),
            ("secondId", self.second_id, 0),
        ]
    }

    async fn apply(self, core: &Core, who: Identity) -> Result<SuperlativePlacement, OpError> {
        auth::authorize(who, Action::ActAsJudge(Self::OP, self.judge_id))?;
        let ranking = Ranking {
            judge_id: self.judge_id,
            superlative_id: self.super_id,
            first_choice_id: self.first_id,
            second_choice_id: self.second_id,
        };
        Ok(core.store.perform(ranking).await?)
    }
}
