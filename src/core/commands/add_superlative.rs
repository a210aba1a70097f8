//! `add-superlative` / `POST /api/superlatives` (admin): a prize judges
//! pick their first and second choice for.

use serde::{Deserialize, Serialize};

use super::Command;
use crate::core::auth::{self, Action, Identity, Op};
use crate::core::ops::OpError;
use crate::core::Core;
use crate::judging::error::JudgingError;
use crate::judging::inputs::NewSuperlative;
use crate::judging::model::Superlative;
use crate::judging::validate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSuperlative {
    /// One line, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
}

impl Command for AddSuperlative {
    const OP: Op = Op::new("add-superlative", "POST /api/superlatives");
    const SCHEMA: &'static str = r#"{"name": string}"#;
    const REPLY: &'static str = "superlative";
    type Reply = Superlative;

    async fn apply(self, core: &Core, who: Identity) -> Result<Superlative, OpError> {
        auth::authorize(who, Action::Administer(Self::OP))?;
        validate::name("name", &self.name).map_err(JudgingError::from)?;
        Ok(core
            .store
            .perform(NewSuperlative { name: self.name })
            .await?)
    }
}
