//! What both engines' storage unit tests share: a hack, a judge and a
//! superlative to rate.

use super::JudgingStore;
use crate::judging::inputs::{NewHack, NewJudge, NewSuperlative};
use crate::judging::model::{Hack, Judge, Superlative};

/// Adds hack "Tally", judge Ada and superlative "Best hardware" to either store.
pub async fn seed(store: &dyn JudgingStore) -> (Hack, Judge, Superlative) {
    let hack = store
        .perform(NewHack {
            name: "Tally".into(),
            description: "counts things".into(),
            location: 12,
        })
        .await
        .unwrap();
    let judge = store
        .perform(NewJudge {
            name: "Ada".into(),
            email: "Ada@Example.org".into(),
        })
        .await
        .unwrap();
    let superlative = store
        .perform(NewSuperlative::new("Best hardware"))
        .await
        .unwrap();
    (hack, judge, superlative)
}
