//! `note-hack` / `POST /api/notes`: judge `judgeId`'s private note on a hack
//! (the admin, or that judge); an empty text clears it.

use serde::{Deserialize, Serialize};

use super::Command;
use crate::core::auth::{self, Action, Identity, Op};
use crate::core::ops::OpError;
use crate::core::Core;
use crate::judging::error::JudgingError;
use crate::judging::model::Note;
use crate::judging::ops::note::WriteNote;
use crate::judging::validate;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NoteHack {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub hack_id: i64,
    /// May be empty (clearing the note) and span lines.
    #[schema(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub text: String,
}

// A note is the judge's and the organiser's business: kept out of logs.
impl std::fmt::Debug for NoteHack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NoteHack {{ judge_id: {}, hack_id: {}, .. }}",
            self.judge_id, self.hack_id
        )
    }
}

impl Command for NoteHack {
    const OP: Op = Op::new("note-hack", "POST /api/notes");
    const SCHEMA: &'static str = r#"{"judgeId": integer, "hackId": integer, "text": string}"#;
    const REPLY: &'static str = "note";
    type Reply = Note;

    fn ids(&self) -> Vec<(&'static str, i64, i64)> {
        vec![("judgeId", self.judge_id, 0), ("hackId", self.hack_id, 0)]
    }

    async fn apply(self, core: &Core, who: Identity) -> Result<Note, OpError> {
        auth::authorize(who, Action::ActAsJudge(Self::OP, self.judge_id))?;
        validate::note(&self.text).map_err(JudgingError::from)?;
        let note = WriteNote::new(self.judge_id, self.hack_id, self.text);
        Ok(core.store.perform(note).await?)
    }
}
