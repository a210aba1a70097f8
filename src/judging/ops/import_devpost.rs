//! The organiser imports a Devpost project export (already parsed and
//! checked): a hack per project, with tables numbered around those in use;
//! a superlative per prize name, reusing one of the same name (ignoring
//! case); and eligibility (a `superlativeHacks` row) per (prize, project).
//! A project whose name an existing hack has (ignoring case) is that hack,
//! so importing a newer export again adds only what is new. Existing rows
//! of the same name are matched to the first (lowest id).
//!
//! The store inserts in the plan's order (hacks, then superlatives, then
//! eligibility), so both engines hand out the same ids.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{Finished, Operation};
use crate::judging::devpost::{self, Project};
use crate::judging::error::JudgingError;
use crate::judging::model::{DataStore, Hack, Superlative, SuperlativeHack};
use crate::judging::outcomes::{Adjusted, DevpostImported};

/// The import of a Devpost export's projects.
#[derive(Debug, Clone)]
pub struct ImportDevpost {
    pub projects: Vec<Project>,
}

impl ImportDevpost {
    pub fn new(projects: Vec<Project>) -> ImportDevpost {
        ImportDevpost { projects }
    }
}

/// What is stored, as the import matches against it.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// Every hack's id, name and table, by id.
    pub hacks: Vec<(i64, String, i64)>,
    /// Every superlative's id and name, by id.
    pub superlatives: Vec<(i64, String)>,
    /// Every (superlative, hack) eligibility.
    pub eligible: HashSet<(i64, i64)>,
}

/// A row the plan names: one stored already, or the n-th of its kind the
/// import adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Row {
    Stored(i64),
    New(usize),
}

/// The writes of an import, in the order they are made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// New hacks: the project (an index into the import's) and its table.
    pub hacks: Vec<(usize, i64)>,
    /// New superlatives' names.
    pub superlatives: Vec<String>,
    /// New eligibility: (superlative, hack).
    pub eligibility: Vec<(Row, Row)>,
    hacks_matched: Vec<i64>,
    superlatives_matched: Vec<i64>,
}

/// The ids the inserts got, in the plan's order.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub hacks: Vec<i64>,
    pub superlatives: Vec<i64>,
    pub eligibility: Vec<i64>,
}

/// Names compare like this when an import looks for a row it already has.
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The id `row` has once the plan's inserts got `ids`.
fn id_of(row: Row, ids: &[i64]) -> i64 {
    match row {
        Row::Stored(id) => id,
        Row::New(index) => ids[index],
    }
}

impl Operation for ImportDevpost {
    type Facts = Stored;
    type Plan = Plan;
    type Written = Written;
    type Reply = DevpostImported;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, stored: Stored) -> Result<Plan, JudgingError> {
        let mut hack_by_name: HashMap<String, i64> = HashMap::new();
        let mut taken_tables = BTreeSet::new();
        for (id, name, table) in &stored.hacks {
            hack_by_name.entry(name_key(name)).or_insert(*id);
            taken_tables.insert(*table);
        }
        let mut superlative_by_name: HashMap<String, Row> = HashMap::new();
        for (id, name) in &stored.superlatives {
            superlative_by_name
                .entry(name_key(name))
                .or_insert(Row::Stored(*id));
        }
        let mut eligible: HashSet<(Row, Row)> = stored
            .eligible
            .iter()
            .map(|&(superlative, hack)| (Row::Stored(superlative), Row::Stored(hack)))
            .collect();

        let mut plan = Plan::default();
        // Each project is a stored hack or a new one.
        let mut fresh = Vec::new();
        let targets: Vec<Row> = self
            .projects
            .iter()
            .enumerate()
            .map(
                |(index, project)| match hack_by_name.get(&name_key(&project.title)) {
                    Some(&id) => Row::Stored(id),
                    None => {
                        fresh.push(index);
                        Row::New(fresh.len() - 1)
                    }
                },
            )
            .collect();
        let wanted: Vec<Option<i64>> = fresh.iter().map(|&i| self.projects[i].table).collect();
        let tables = devpost::tables_around(&wanted, &taken_tables);
        plan.hacks = fresh.into_iter().zip(tables).collect();

        for (project, hack) in self.projects.iter().zip(targets) {
            if let Row::Stored(id) = hack {
                if !plan.hacks_matched.contains(&id) {
                    plan.hacks_matched.push(id);
                }
            }
            for prize in &project.prizes {
                let key = name_key(prize);
                let superlative = match superlative_by_name.get(&key) {
                    Some(&found) => {
                        if let Row::Stored(id) = found {
                            if !plan.superlatives_matched.contains(&id) {
                                plan.superlatives_matched.push(id);
                            }
                        }
                        found
                    }
                    None => {
                        let added = Row::New(plan.superlatives.len());
                        plan.superlatives.push(prize.clone());
                        superlative_by_name.insert(key, added);
                        added
                    }
                };
                if eligible.insert((superlative, hack)) {
                    plan.eligibility.push((superlative, hack));
                }
            }
        }
        Ok(plan)
    }

    fn finish(&self, plan: Plan, written: Written) -> Finished<DevpostImported> {
        let mut diff = DataStore::default();
        let mut adjusted = Vec::new();
        for (&(index, table), &id) in plan.hacks.iter().zip(&written.hacks) {
            let project = &self.projects[index];
            if let Some(note) = devpost::story_adjustment(project) {
                adjusted.push(Adjusted {
                    row: project.row,
                    hack_id: id,
                    note,
                });
            }
            diff.hacks.push(Hack {
                id,
                name: project.title.clone(),
                description: project.description.clone(),
                location: table,
            });
        }
        // Before the names are moved out of the plan.
        diff.superlative_hacks = plan
            .eligibility_ids(&written.hacks, &written.superlatives)
            .into_iter()
            .zip(&written.eligibility)
            .map(|((superlative_id, hack_id), &id)| SuperlativeHack {
                id,
                superlative_id,
                hack_id,
            })
            .collect();
        diff.superlatives = plan
            .superlatives
            .into_iter()
            .zip(&written.superlatives)
            .map(|(name, &id)| Superlative { id, name })
            .collect();
        let imported = DevpostImported::of(
            &diff,
            plan.hacks_matched,
            plan.superlatives_matched,
            adjusted,
        );
        Ok((imported, (!diff.is_empty()).then_some(diff)))
    }
}

impl Plan {
    /// Eligibility with the ids the hacks and superlatives got.
    pub fn eligibility_ids(&self, hacks: &[i64], superlatives: &[i64]) -> Vec<(i64, i64)> {
        self.eligibility
            .iter()
            .map(|&(superlative, hack)| (id_of(superlative, superlatives), id_of(hack, hacks)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(row: u64, title: &str, table: Option<i64>, prizes: &[&str]) -> Project {
        Project {
            row,
            title: title.into(),
            submission_url: String::new(),
            description: format!("{title}'s story"),
            table,
            prizes: prizes.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn stored() -> Stored {
        Stored {
            hacks: vec![(1, "Tally".into(), 1), (2, "tally ".into(), 3)],
            superlatives: vec![(5, "Best Hardware".into())],
            eligible: HashSet::from([(5, 1)]),
        }
    }

    #[test]
    fn a_second_import_matches_what_the_first_added_by_name_ignoring_case() {
        let import = ImportDevpost::new(vec![
            project(2, "TALLY", None, &["best hardware", "Best UI"]),
            project(3, "Clicker", None, &["Best UI", "best ui"]),
            project(4, "Scoreboard", Some(3), &[]),
        ]);
        let plan = import.decide(stored()).unwrap();
        // Tables 1 and 3 are taken (3 is kept: the file names it).
        assert_eq!(plan.hacks, vec![(1, 2), (2, 3)]);
        assert_eq!(plan.superlatives, vec!["Best UI".to_string()]);
        assert_eq!(
            plan.eligibility,
            vec![(Row::New(0), Row::Stored(1)), (Row::New(0), Row::New(0)),],
            "Tally was eligible for Best Hardware already"
        );
        assert_eq!(plan.hacks_matched, vec![1], "the first of the same name");
        assert_eq!(plan.superlatives_matched, vec![5]);

        let written = Written {
            hacks: vec![10, 11],
            superlatives: vec![20],
            eligibility: vec![30, 31],
        };
        let (imported, diff) = import.finish(plan, written).unwrap();
        let diff = diff.unwrap();
        assert_eq!(imported.hack_ids, vec![10, 11]);
        assert_eq!(imported.hacks_matched, vec![1]);
        assert_eq!(imported.superlative_ids, vec![20]);
        assert_eq!(imported.eligibility_added, 2);
        assert_eq!(
            diff.superlative_hacks
                .iter()
                .map(|e| (e.id, e.superlative_id, e.hack_id))
                .collect::<Vec<_>>(),
            vec![(30, 20, 1), (31, 20, 10)]
        );
        assert_eq!(diff.hacks[1].location, 3);
    }

    #[test]
    fn importing_the_same_export_again_adds_nothing_and_publishes_nothing() {
        let import = ImportDevpost::new(vec![project(2, "Tally", Some(1), &["Best Hardware"])]);
        let plan = import.decide(stored()).unwrap();
        assert_eq!(plan.hacks, vec![]);
        assert!(plan.superlatives.is_empty() && plan.eligibility.is_empty());
        let (imported, diff) = import.finish(plan, Written::default()).unwrap();
        assert_eq!((imported.hacks_added, imported.hacks_matched), (0, vec![1]));
        assert!(diff.is_none());
    }
}
