//! `mark-absent` / `POST /api/absences`: judge `judgeId` found nobody at the
//! hack's table (the admin, or that judge).

use serde::{Deserialize, Serialize};

use super::Command;
use crate::core::auth::{self, Action, Identity, Op};
use crate::core::ops::OpError;
use crate::core::Core;
use crate::judging::model::Absence;
use crate::judging::ops::absent;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MarkAbsent {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub hack_id: i64,
}

impl Command for MarkAbsent {
    const OP: Op = Op::new("mark-absent", "POST /api/absences");
    const SCHEMA: &'static str = r#"{"judgeId": integer, "hackId": integer}"#;
    const REPLY: &'static str = "absence";
    type Reply = Absence;

    fn ids(&self) -> Vec<(&'static str, i64, i64)> {
        vec![("judgeId", self.judge_id, 0), ("hackId", self.hack_id, 0)]
    }

    async fn apply(self, core: &Core, who: Identity) -> Result<Absence, OpError> {
        auth::authorize(who, Action::ActAsJudge(Self::OP, self.judge_id))?;
        let mark = absent::MarkAbsent::new(self.judge_id, self.hack_id);
        Ok(core.store.perform(mark).await?)
    }
}
