//! Clicker writes as decisions, as judging's and speed's are
//! (`judging/ops/`, `speed/ops/`): each operation is a pure function from
//! the facts a store reads in the write's transaction to the writes it
//! makes, and from what those writes found to the reply and the change every
//! node's listeners hear. Each engine only loads facts and applies writes
//! (`store/runner.rs`), so a SCORE stays one statement on PostgreSQL: it
//! loads nothing, and its one write also answers whether a newer score is
//! stored.
//!
//! One file per operation, with its facts, its plan and its unit tests.

pub mod reclaim;
pub mod record_score;
pub mod register;
pub mod release;
