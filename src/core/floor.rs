//! The judging floor's operations, each with its permission rule, for both
//! protocols: pausing and resuming judging, clearing absences and
//! withdrawing hacks (admin), and the organiser's floor view. Marking a team
//! absent and keeping notes are [`commands`](super::commands).

use super::auth::{self, Action, Identity, Op};
use super::ops::OpError;
use super::view::Viewer;
use super::Core;
use crate::judging::floor::{self, Floor, FloorInput};
use crate::judging::model::{Absence, JudgingStatus, Withdrawal};
use crate::judging::ops::clear_absences::ClearAbsences;
use crate::judging::ops::pause::SetPaused;
use crate::judging::ops::withdraw::Withdraw;
use crate::store::now_ms;

impl Core {
    /// Pauses (`true`) or resumes judging (admin).
    pub async fn set_paused(&self, who: Identity, paused: bool) -> Result<JudgingStatus, OpError> {
        let op = if paused {
            Op::PAUSE_JUDGING
        } else {
            Op::RESUME_JUDGING
        };
        auth::authorize(who, Action::Administer(op))?;
        Ok(self.store.perform(SetPaused { paused }).await?)
    }

    /// The team is back (admin): clears the hack's absences.
    pub async fn clear_absences(
        &self,
        who: Identity,
        hack_id: i64,
    ) -> Result<Vec<Absence>, OpError> {
        auth::authorize(who, Action::Administer(Op::CLEAR_ABSENCES))?;
        Ok(self.store.perform(ClearAbsences { hack: hack_id }).await?)
    }

    /// Withdraws a hack from the results, or takes it back (admin).
    pub async fn set_withdrawn(
        &self,
        who: Identity,
        hack_id: i64,
        withdrawn: bool,
    ) -> Result<Withdrawal, OpError> {
        auth::authorize(who, Action::Administer(Op::WITHDRAW))?;
        let withdraw = Withdraw::new(hack_id, withdrawn);
        Ok(self.store.perform(withdraw).await?)
    }

    /// The organiser's floor view (admin).
    pub async fn floor(&self, who: Identity) -> Result<Floor, OpError> {
        auth::authorize(who, Action::Administer(Op::FLOOR))?;
        let judges_per_hack = self.judges_per_hack(None).await?;
        let last_action = self.store.judge_activity().await?;
        let data = self.sync.snapshot(Viewer::Admin).await?;
        Ok(floor::compute(&FloorInput {
            data: &data,
            last_action: &last_action,
            now_ms: now_ms(),
            judges_per_hack,
            absent_flag_judges: self.absent_flag_judges,
        }))
    }
}
