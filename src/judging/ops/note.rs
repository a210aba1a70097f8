//! A judge writes (or rewrites) a private note on a hack. Notes may be
//! written while judging is paused: they change no result. The same text
//! again writes nothing but the judge's activity, and publishes nothing.

use super::{known_judge_and_hack, Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::{DataStore, Note};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteNote {
    pub judge: i64,
    pub hack: i64,
    pub text: String,
}

impl WriteNote {
    pub fn new(judge: i64, hack: i64, text: impl Into<String>) -> WriteNote {
        WriteNote {
            judge,
            hack,
            text: text.into(),
        }
    }
}

/// What a note needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub judge_exists: bool,
    pub hack_exists: bool,
    /// The pair's note, if there is one: (id, text).
    pub before: Option<(i64, String)>,
}

/// The writes. Every accepted note records the judge's activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Unchanged { id: i64 },
    Update { id: i64 },
    Insert,
}

impl Operation for WriteNote {
    type Facts = Facts;
    type Plan = Plan;
    /// The note's row id.
    type Written = i64;
    type Reply = Note;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, facts: Facts) -> Result<Plan, JudgingError> {
        known_judge_and_hack(self.judge, facts.judge_exists, self.hack, facts.hack_exists)?;
        Ok(match facts.before {
            Some((id, old)) if old == self.text => Plan::Unchanged { id },
            Some((id, _)) => Plan::Update { id },
            None => Plan::Insert,
        })
    }

    fn finish(&self, plan: Plan, id: i64) -> Finished<Note> {
        let row = Note {
            id,
            judge_id: self.judge,
            hack_id: self.hack,
            text: self.text.clone(),
        };
        let change = match plan {
            Plan::Unchanged { .. } => None,
            Plan::Update { .. } | Plan::Insert => Some(DataStore {
                notes: vec![row.clone()],
                ..DataStore::default()
            }),
        };
        Ok((row, change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(text: &str) -> WriteNote {
        WriteNote {
            judge: 1,
            hack: 2,
            text: text.into(),
        }
    }

    fn facts(before: Option<(i64, &str)>) -> Facts {
        Facts {
            judge_exists: true,
            hack_exists: true,
            before: before.map(|(id, text)| (id, text.into())),
        }
    }

    #[test]
    fn refuses_an_unknown_judge_then_an_unknown_hack() {
        let nobody = Facts {
            judge_exists: false,
            hack_exists: false,
            before: None,
        };
        assert!(matches!(
            note("x").decide(nobody.clone()),
            Err(JudgingError::NoSuchJudge(1))
        ));
        let no_hack = Facts {
            judge_exists: true,
            ..nobody
        };
        assert!(matches!(
            note("x").decide(no_hack),
            Err(JudgingError::NoSuchHack(2))
        ));
    }

    #[test]
    fn a_new_or_changed_note_is_published_and_the_same_text_is_not() {
        assert_eq!(
            note("team was great").decide(facts(None)).unwrap(),
            Plan::Insert
        );
        let changed = note("team was great")
            .decide(facts(Some((5, "ok"))))
            .unwrap();
        assert_eq!(changed, Plan::Update { id: 5 });
        let (reply, change) = note("team was great").finish(changed, 5).unwrap();
        assert_eq!(change.unwrap().notes, vec![reply]);
        let same = note("ok").decide(facts(Some((5, "ok")))).unwrap();
        assert_eq!(same, Plan::Unchanged { id: 5 });
        assert_eq!(note("ok").finish(same, 5).unwrap().1, None);
    }
}
