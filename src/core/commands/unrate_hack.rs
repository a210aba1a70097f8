//! `unrate-hack` / `DELETE /api/judges/{judgeId}/ratings/{hackId}`: judge
//! `judgeId` takes back its rating of a hack ("undo"); the admin, or that
//! judge. Answers the row as it now is (rating 0, see `Rating::TAKEN_BACK`).

use serde::{Deserialize, Serialize};

use super::Command;
use crate::core::auth::{self, Action, Identity, Op};
use crate::core::ops::OpError;
use crate::core::Core;
use crate::judging::model::Rating;
use crate::judging::ops::unrate::Unrate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UnrateHack {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub hack_id: i64,
}

impl Command for UnrateHack {
    const OP: Op = Op::new(
        "unrate-hack",
        "DELETE /api/judges/{judgeId}/ratings/{hackId}",
    );
    const SCHEMA: &'static str = r#"{"judgeId": integer, "hackId": integer}"#;
    const REPLY: &'static str = "rating";
    type Reply = Rating;

    fn ids(&self) -> Vec<(&'static str, i64, i64)> {
        vec![("judgeId", self.judge_id, 0), ("hackId", self.hack_id, 0)]
    }

    async fn apply(self, core: &Core, who: Identity) -> Result<Rating, OpError> {
        auth::authorize(who, Action::ActAsJudge(Self::OP, self.judge_id))?;
        let unrate = Unrate {
            judge: self.judge_id,
            hack: self.hack_id,
        };
        Ok(core.store.perform(unrate).await?)
    }
}
