//! `rate-hack` / `POST /api/ratings`: judge `judgeId` rates a hack 1 to 20
//! (the admin, or that judge); rating again replaces it, keeping its id.

use serde::{Deserialize, Serialize};

use super::Command;
use crate::core::auth::{self, Action, Identity, Op};
use crate::core::ops::OpError;
use crate::core::Core;
use crate::judging::error::JudgingError;
use crate::judging::model::Rating;
use crate::judging::ops::rate::Rate;
use crate::judging::validate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateHack {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub hack_id: i64,
    #[schema(minimum = 1, maximum = 20)]
    pub rating: i64,
}

impl Command for RateHack {
    const OP: Op = Op::new("rate-hack", "POST /api/ratings");
    const SCHEMA: &'static str = r#"{"judgeId": integer, "hackId": integer, "rating": integer}"#;
    const REPLY: &'static str = "rating";
    type Reply = Rating;

    fn ids(&self) -> Vec<(&'static str, i64, i64)> {
        vec![("judgeId", self.judge_id, 0), ("hackId", self.hack_id, 0)]
    }

    async fn apply(self, core: &Core, who: Identity) -> Result<Rating, OpError> {
        auth::authorize(who, Action::ActAsJudge(Self::OP, self.judge_id))?;
        validate::rating(self.rating).map_err(JudgingError::from)?;
        let rate = Rate::new(self.judge_id, self.hack_id, self.rating);
        Ok(core.store.perform(rate).await?)
    }
}
