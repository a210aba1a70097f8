//! What the organiser and the judges ask the judging domain to record,
//! before validation: one struct per kind of input.

/// The most judges per hack assignment accepts: more is a typing mistake.
pub const MAX_JUDGES_PER_HACK: i64 = 100;

/// A hack to add.
#[derive(Debug, Clone)]
pub struct NewHack {
    pub name: String,
    pub description: String,
    pub location: i64,
}

/// A superlative (a special prize) to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSuperlative {
    pub name: String,
}

impl NewSuperlative {
    pub fn new(name: impl Into<String>) -> NewSuperlative {
        NewSuperlative { name: name.into() }
    }
}

/// A judge to add.
#[derive(Debug, Clone)]
pub struct NewJudge {
    pub name: String,
    pub email: String,
}

/// A judge's first and second choice for one superlative (0 = not chosen).
#[derive(Debug, Clone, Copy)]
pub struct Ranking {
    pub judge_id: i64,
    pub superlative_id: i64,
    pub first_choice_id: i64,
    pub second_choice_id: i64,
}
