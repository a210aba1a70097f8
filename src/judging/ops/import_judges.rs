//! The organiser imports a judges CSV (already parsed and checked, each
//! judge with its row in the file): all of it, or none of it when any email
//! belongs to a judge already (compared ignoring case, as adding one judge
//! does), naming the first such row. On PostgreSQL another node may claim
//! an email between the read and the inserts; the insert reports the
//! holder ([`Claimed::Taken`]) and the import is refused the same way.

use std::collections::HashMap;

use super::add_judge::{email_key, Claimed};
use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::judges_csv::NewJudge;
use crate::judging::model::{DataStore, Judge};
use crate::judging::outcomes::JudgesImported;

/// The import of a judges CSV: each judge with its row in the file.
#[derive(Debug, Clone)]
pub struct ImportJudges {
    pub judges: Vec<(u64, NewJudge)>,
}

impl ImportJudges {
    pub fn new(judges: Vec<(u64, NewJudge)>) -> ImportJudges {
        ImportJudges { judges }
    }

    /// Each judge's email key, in the file's order.
    pub fn keys(&self) -> impl Iterator<Item = String> + '_ {
        self.judges.iter().map(|(_, judge)| email_key(&judge.email))
    }

    fn taken(&self, index: usize, holder: i64) -> JudgingError {
        let (row, judge) = &self.judges[index];
        JudgingError::EmailTakenOnRow {
            row: *row,
            email: judge.email.clone(),
            judge: holder,
        }
    }
}

impl Operation for ImportJudges {
    /// Who holds each of the file's emails that is held, by email key.
    type Facts = HashMap<String, i64>;
    /// Insert every judge, in the file's order.
    type Plan = ();
    /// What each insert did, in the file's order.
    type Written = Vec<Claimed>;
    type Reply = JudgesImported;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, holders: HashMap<String, i64>) -> Result<(), JudgingError> {
        for (index, key) in self.keys().enumerate() {
            if let Some(&holder) = holders.get(&key) {
                return Err(self.taken(index, holder));
            }
        }
        Ok(())
    }

    fn finish(&self, (): (), claimed: Vec<Claimed>) -> Finished<JudgesImported> {
        let mut rows = Vec::with_capacity(claimed.len());
        for (index, claim) in claimed.into_iter().enumerate() {
            let id = match claim {
                Claimed::Added(id) => id,
                Claimed::Taken(holder) => return Err(self.taken(index, holder)),
            };
            let judge = &self.judges[index].1;
            rows.push(Judge {
                id,
                name: judge.name.clone(),
                email: judge.email.clone(),
            });
        }
        let imported = JudgesImported {
            judges_added: rows.len(),
            judge_ids: rows.iter().map(|j| j.id).collect(),
        };
        let change = (!rows.is_empty()).then(|| DataStore {
            judges: rows,
            ..DataStore::default()
        });
        Ok((imported, change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import() -> ImportJudges {
        let judge = |name: &str, email: &str| NewJudge {
            name: name.into(),
            email: email.into(),
        };
        ImportJudges::new(vec![
            (2, judge("Ada", "ada@example.org")),
            (3, judge("Bo", "Bo@Example.org")),
        ])
    }

    #[test]
    fn an_email_held_already_refuses_the_file_naming_its_first_row() {
        let holders = HashMap::from([("bo@example.org".to_string(), 7)]);
        let refused = import().decide(holders).unwrap_err();
        assert!(matches!(
            refused,
            JudgingError::EmailTakenOnRow {
                row: 3,
                judge: 7,
                ..
            }
        ));
    }

    #[test]
    fn an_email_claimed_during_the_inserts_refuses_the_file_too() {
        import().decide(HashMap::new()).unwrap();
        let raced = import()
            .finish((), vec![Claimed::Added(1), Claimed::Taken(9)])
            .unwrap_err();
        assert!(matches!(
            raced,
            JudgingError::EmailTakenOnRow {
                row: 3,
                judge: 9,
                ..
            }
        ));
    }

    #[test]
    fn every_judge_added_is_published_as_one_change() {
        let (imported, change) = import()
            .finish((), vec![Claimed::Added(4), Claimed::Added(5)])
            .unwrap();
        assert_eq!(imported.judge_ids, vec![4, 5]);
        let judges = change.unwrap().judges;
        assert_eq!(judges[1].email, "Bo@Example.org");
        let (empty, none) = ImportJudges::new(vec![]).finish((), vec![]).unwrap();
        assert_eq!(empty.judges_added, 0);
        assert!(none.is_none());
    }
}
