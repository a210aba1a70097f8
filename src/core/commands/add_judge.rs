//! `add-judge` / `POST /api/judges` (admin): a judge, by name and email.

use serde::{Deserialize, Serialize};

use super::Command;
use crate::core::auth::{self, Action, Identity, Op};
use crate::core::ops::OpError;
use crate::core::Core;
use crate::judging::error::JudgingError;
use crate::judging::inputs::NewJudge;
use crate::judging::model::Judge;
use crate::judging::validate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddJudge {
    /// One line, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// name@domain.tld: one `@`, a dot between non-empty labels in the domain, no spaces, control characters or `<>,;`. Unique among judges, ignoring case.
    #[schema(
        min_length = 5,
        max_length = 254,
        pattern = r"^[^@\s<>,;\u0000-\u001f\u007f-\u009f]+@[^@.\s<>,;\u0000-\u001f\u007f-\u009f]+(\.[^@.\s<>,;\u0000-\u001f\u007f-\u009f]+)+$"
    )]
    pub email: String,
}

impl Command for AddJudge {
    const OP: Op = Op::new("add-judge", "POST /api/judges");
    const SCHEMA: &'static str = r#"{"name": string, "email": string}"#;
    const REPLY: &'static str = "judge";
    type Reply = Judge;

    async fn apply(self, core: &Core, who: Identity) -> Result<Judge, OpError> {
        auth::authorize(who, Action::Administer(Self::OP))?;
        validate::name("name", &self.name).map_err(JudgingError::from)?;
        validate::email(&self.email).map_err(JudgingError::from)?;
        let judge = NewJudge {
            name: self.name,
            email: self.email,
        };
        Ok(core.store.perform(judge).await?)
    }
}
