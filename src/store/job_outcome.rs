//! What becomes of a write job in a group commit, the same for the SQLite
//! writer (`writer.rs`) and each PostgreSQL node's (`postgres/writer.rs`):
//! how a job's own result and its batch's commit together make the answer
//! its caller hears, and how a batch that did not commit is answered.

use tokio::sync::oneshot;

use super::StoreError;

/// What a job made of its turn in the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ran {
    /// Its writes are to be kept.
    Kept,
    /// It refused (a domain error): its writes are undone, its answer stands.
    Refused,
    /// It failed with a storage error (or did not run): its writes are undone.
    Failed,
}

/// Runs after the batch commits (or fails), with the commit's outcome.
pub(super) type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// A job's result in the transaction (`None`: it did not run).
pub(super) type Outcome<T, E> = Option<Result<Result<T, E>, StoreError>>;

/// Sorts a job's `outcome` and makes the completion that answers `reply`
/// once the batch's commit is known: a kept write is acknowledged only if
/// the batch committed; a refusal stands either way (it wrote nothing).
pub(super) fn settle<T, E>(
    outcome: Outcome<T, E>,
    reply: oneshot::Sender<Result<Result<T, E>, StoreError>>,
) -> (Ran, Completion)
where
    T: Send + 'static,
    E: Send + 'static,
{
    let ran = match &outcome {
        Some(Ok(Ok(_))) => Ran::Kept,
        Some(Ok(Err(_))) => Ran::Refused,
        Some(Err(_)) | None => Ran::Failed,
    };
    let completion: Completion = Box::new(move |commit| {
        let result = match (commit, outcome) {
            (_, Some(Err(e))) => Err(e),
            (Err(e), None | Some(Ok(Ok(_)))) => Err(not_committed(e)),
            (_, Some(Ok(v))) => Ok(v),
            (Ok(()), None) => Err(StoreError::Worker("the write did not run".into())),
        };
        let _ = reply.send(result);
    });
    (ran, completion)
}

/// The error a job hears when its batch did not commit: an unreachable
/// database stays that, so the caller's message says what to do.
fn not_committed(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unreachable(reason) => StoreError::Unreachable(reason.clone()),
        StoreError::NotCommitted { reason } => StoreError::NotCommitted {
            reason: reason.clone(),
        },
        e => StoreError::NotCommitted {
            reason: e.to_string(),
        },
    }
}

/// Answers every job of a batch that did not commit; returns how many were
/// answered with an error (a refusal keeps its own answer).
pub(super) fn fail_all(completions: Vec<(Ran, Completion)>, err: &StoreError) -> usize {
    let mut failed = 0;
    for (ran, completion) in completions {
        if ran != Ran::Refused {
            failed += 1;
        }
        completion(Err(err));
    }
    failed
}
