//! `add-hack` / `POST /api/hacks` (admin): a hack for the judges to visit.

use serde::{Deserialize, Serialize};

use super::Command;
use crate::core::auth::{self, Action, Identity, Op};
use crate::core::ops::OpError;
use crate::core::Core;
use crate::judging::error::JudgingError;
use crate::judging::inputs::NewHack;
use crate::judging::model::Hack;
use crate::judging::validate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddHack {
    /// One line, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// May be empty and span lines (tabs and line breaks are the only control characters allowed).
    #[schema(
        max_length = 10000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub description: String,
    /// The table number.
    #[schema(minimum = 0, maximum = 999999)]
    pub location: i64,
}

impl Command for AddHack {
    const OP: Op = Op::new("add-hack", "POST /api/hacks");
    const SCHEMA: &'static str = r#"{"name": string, "description": string, "location": integer}"#;
    const REPLY: &'static str = "hack";
    type Reply = Hack;

    async fn apply(self, core: &Core, who: Identity) -> Result<Hack, OpError> {
        auth::authorize(who, Action::Administer(Self::OP))?;
        validate::name("name", &self.name).map_err(JudgingError::from)?;
        validate::description(&self.description).map_err(JudgingError::from)?;
        validate::location(self.location).map_err(JudgingError::from)?;
        let hack = NewHack {
            name: self.name,
            description: self.description,
            location: self.location,
        };
        Ok(core.store.perform(hack).await?)
    }
}
