//! Idempotency keys: a write sent again with the same key by the same caller
//! answers what the first one answered and changes nothing, on either
//! engine, after a restart, and (PostgreSQL) on another node.
//!
//! An adapter that read a key (HTTP `Idempotency-Key`, socket.io
//! `idempotencyKey`) runs the request inside [`with_claim`]; the caller's
//! scope is added once known ([`set_scope`]). The first judging write of
//! that request takes the claim ([`take`]) and, in the very transaction of
//! the write, either finds the key's stored outcome and answers it without
//! running the job, or runs the job and stores its outcome (the row it
//! answered, or its refusal) beside it. So a crash can never leave a write
//! applied without its key, nor a key without its write. The outcome is
//! kept as the job answered it, and the adapter renders it as it would a
//! fresh one: the same status and body, or the same acknowledgement.
//!
//! Keys are kept at least [`RETAIN_MS`] (24 hours): older ones are purged
//! by keyed writes, at most once a minute per node ([`purge_due`]).
//!
//! This module holds what both engines share and the SQLite statements;
//! `postgres/idempotency.rs` holds PostgreSQL's.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::StoreError;
use crate::judging::error::{JudgingError, RefusalKind, Replayed};
use crate::speed::SpeedError;

/// How long a key is kept at least: a day, in milliseconds.
pub const RETAIN_MS: i64 = 24 * 60 * 60 * 1000;
/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 255;
/// Keyed writes purge expired keys at most this often (per node).
const PURGE_EVERY_MS: i64 = 60 * 1000;

/// Why a key was refused before anything ran.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BadKey {
    #[error("the idempotency key is empty: send 1 to {MAX_KEY_LEN} visible ASCII characters (a fresh UUID per action is a good key)")]
    Empty,
    #[error(
        "the idempotency key is {0} bytes long: send 1 to {MAX_KEY_LEN} visible ASCII characters"
    )]
    TooLong(usize),
    #[error("the idempotency key holds a character that is not visible ASCII (space, control or non-ASCII): send 1 to {MAX_KEY_LEN} of '!' to '~'")]
    NotVisible,
}

/// Checks a key: 1 to 255 visible ASCII characters ('!' to '~').
pub fn check_key(key: &str) -> Result<(), BadKey> {
    if key.is_empty() {
        return Err(BadKey::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(BadKey::TooLong(key.len()));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(BadKey::NotVisible);
    }
    Ok(())
}

/// The key was used before, by the same caller, for another request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("this idempotency key was already used by this caller for a different request (another endpoint, event or body): nothing was changed; use a fresh key for each new action")]
pub struct KeyReused;

/// A fingerprint of a request: what a repeat must match to be a repeat.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        // Length-prefixed, so that parts cannot run into each other.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hex::encode(hash.finalize())
}

/// One request's key, as an adapter read it.
pub struct Claim {
    key: String,
    fingerprint: String,
    /// Who asks ("admin", "judge:3"): keys of different callers never meet.
    scope: OnceLock<String>,
    /// Taken by the request's first write; later ones run unkeyed.
    taken: AtomicBool,
    /// Set when the stored outcome was answered instead of running the write.
    replayed: AtomicBool,
}

impl Claim {
    /// `key` must have passed [`check_key`].
    pub fn new(key: String, fingerprint: String) -> Arc<Claim> {
        Arc::new(Claim {
            key,
            fingerprint,
            scope: OnceLock::new(),
            taken: AtomicBool::new(false),
            replayed: AtomicBool::new(false),
        })
    }

    /// Whether the request's write answered a stored outcome.
    pub fn replayed(&self) -> bool {
        self.replayed.load(Ordering::Acquire)
    }
}

tokio::task_local! {
    static CLAIM: Arc<Claim>;
}

/// Runs `request` with `claim` as its key.
pub async fn with_claim<F: std::future::Future>(claim: Arc<Claim>, request: F) -> F::Output {
    CLAIM.scope(claim, request).await
}

/// The caller of the request running now (if it carries a key) is `scope`.
pub fn set_scope(scope: String) {
    let _ = CLAIM.try_with(|claim| claim.scope.set(scope));
}

/// A key taken by one write job.
pub(super) struct Keyed {
    pub scope: String,
    pub key: String,
    pub fingerprint: String,
    claim: Arc<Claim>,
}

impl Keyed {
    pub fn mark_replayed(&self) {
        self.claim.replayed.store(true, Ordering::Release);
    }
}

/// Runs the request's writes unkeyed. For a write whose answer is a
/// secret (a judge's new secret, a sign-in link's token): a kept answer
/// would keep the secret in the clear, so a repeat issues another instead.
pub(super) fn decline() {
    let _ = CLAIM.try_with(|claim| claim.taken.store(true, Ordering::Release));
}

/// The key of the request running now, for its first write; `None`
/// when it has none, its caller is unknown, or a write took it already.
pub(super) fn take() -> Option<Keyed> {
    CLAIM
        .try_with(|claim| {
            let scope = claim.scope.get()?.clone();
            if claim.taken.swap(true, Ordering::AcqRel) {
                return None;
            }
            Some(Keyed {
                scope,
                key: claim.key.clone(),
                fingerprint: claim.fingerprint.clone(),
                claim: claim.clone(),
            })
        })
        .ok()
        .flatten()
}

/// A job's outcome as stored: the value it answered, or its refusal.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Stored<T> {
    Ok(T),
    Refused {
        kind: RefusalKind,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        row: Option<u64>,
    },
}

/// What a job's answer must be to be stored and answered again.
pub trait Replay: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> Replay for T {}

/// A job's refusal as it is kept with its key: its kind, its words, and the
/// row it names, and back. A replayed refusal answers the same status and
/// message as the first.
pub trait Refusal: Sized {
    fn keep(&self) -> (RefusalKind, String, Option<u64>);
    fn restore(kind: RefusalKind, message: String, row: Option<u64>) -> Self;
}

impl Refusal for JudgingError {
    fn keep(&self) -> (RefusalKind, String, Option<u64>) {
        (self.kind(), self.to_string(), self.row())
    }
    fn restore(kind: RefusalKind, message: String, row: Option<u64>) -> Self {
        JudgingError::Replayed(Box::new(Replayed { kind, message, row }))
    }
}

impl Refusal for SpeedError {
    fn keep(&self) -> (RefusalKind, String, Option<u64>) {
        let kind = match self {
            SpeedError::Invalid(_) => RefusalKind::Invalid,
            SpeedError::NotFound(_) => RefusalKind::NotFound,
            SpeedError::Conflict(_) => RefusalKind::Conflict,
        };
        (kind, self.to_string(), None)
    }
    fn restore(kind: RefusalKind, message: String, _: Option<u64>) -> Self {
        match kind {
            RefusalKind::Invalid => SpeedError::Invalid(message),
            RefusalKind::NotFound => SpeedError::NotFound(message),
            RefusalKind::Conflict => SpeedError::Conflict(message),
        }
    }
}

/// An import's refusal names the entry (by index) it stopped at.
impl Refusal for (usize, SpeedError) {
    fn keep(&self) -> (RefusalKind, String, Option<u64>) {
        let (kind, message, _) = self.1.keep();
        (kind, message, Some(self.0 as u64))
    }
    fn restore(kind: RefusalKind, message: String, row: Option<u64>) -> Self {
        let index = row.unwrap_or_default() as usize;
        (index, SpeedError::restore(kind, message, None))
    }
}

/// `outcome` as stored text.
pub(super) fn encode<T: Replay, E: Refusal>(outcome: &Result<T, E>) -> Result<String, StoreError> {
    let stored = match outcome {
        Ok(value) => Stored::Ok(value),
        Err(refusal) => {
            let (kind, message, row) = refusal.keep();
            Stored::Refused { kind, message, row }
        }
    };
    serde_json::to_string(&stored)
        .map_err(|e| StoreError::Worker(format!("cannot store an idempotent answer: {e}")))
}

/// A stored outcome, as the job first answered it.
pub(super) fn decode<T: Replay, E: Refusal>(text: &str) -> Result<Result<T, E>, StoreError> {
    let stored: Stored<T> = serde_json::from_str(text).map_err(|e| {
        StoreError::Worker(format!(
            "the answer stored for this idempotency key cannot be read back: {e}"
        ))
    })?;
    Ok(match stored {
        Stored::Ok(value) => Ok(value),
        Stored::Refused { kind, message, row } => Err(E::restore(kind, message, row)),
    })
}

/// The outcome of a keyed job: what it answered (or refused), or the key's
/// misuse.
pub(super) type KeyedJob<T, E = JudgingError> = Result<Result<Result<T, E>, KeyReused>, StoreError>;

/// When this node last purged expired keys.
static LAST_PURGE: AtomicI64 = AtomicI64::new(0);

/// Whether a keyed write should purge expired keys now (at most once a
/// [`PURGE_EVERY_MS`] per node); the cutoff below which keys go.
pub(super) fn purge_due(now: i64) -> Option<i64> {
    let last = LAST_PURGE.load(Ordering::Relaxed);
    if now - last < PURGE_EVERY_MS {
        return None;
    }
    LAST_PURGE
        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
        .ok()
        .map(|_| now - RETAIN_MS)
}

/// The answer to a key found stored with `fingerprint` and `outcome`: the
/// stored outcome again, if this is the same request. An outcome is missing
/// only for a claim of this very transaction (PostgreSQL claims a key before
/// running its job), and each job finishes its own before the next runs.
pub(super) fn replay<T: Replay, E: Refusal>(
    keyed: &Keyed,
    fingerprint: &str,
    outcome: Option<&str>,
) -> KeyedJob<T, E> {
    if fingerprint != keyed.fingerprint {
        return Ok(Err(KeyReused));
    }
    let Some(outcome) = outcome else {
        return Err(StoreError::Worker(
            "a request with this Idempotency-Key is still in progress".into(),
        ));
    };
    keyed.mark_replayed();
    Ok(Ok(decode(outcome)?))
}

/// Folds a keyed job's answer back into a write's.
pub(super) fn settle<T, R>(answer: KeyedJob<T, R>) -> Result<T, super::WriteError<R>> {
    match answer {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(refusal))) => Err(super::WriteError::Refused(refusal)),
        Ok(Err(reused)) => Err(super::WriteError::KeyReused(reused)),
        Err(e) => Err(super::WriteError::Store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_1_to_255() {
        assert_eq!(check_key("550e8400-e29b-41d4-a716-446655440000"), Ok(()));
        assert_eq!(check_key(&"k".repeat(255)), Ok(()));
        assert_eq!(check_key(""), Err(BadKey::Empty));
        assert_eq!(check_key(&"k".repeat(256)), Err(BadKey::TooLong(256)));
        assert_eq!(check_key("a b"), Err(BadKey::NotVisible));
        assert_eq!(check_key("é"), Err(BadKey::NotVisible));
        assert_eq!(check_key("a\tb"), Err(BadKey::NotVisible));
    }

    #[test]
    fn fingerprints_keep_parts_apart() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"a", b"b"]), fingerprint(&[b"a", b"b"]));
    }

    #[test]
    fn refusals_come_back_as_they_were_answered() {
        let refused: Result<i64, JudgingError> = Err(JudgingError::Paused);
        let text = encode(&refused).unwrap();
        let again: Result<i64, JudgingError> = decode(&text).unwrap();
        let again = again.unwrap_err();
        assert_eq!(again.kind(), RefusalKind::Conflict);
        assert_eq!(again.to_string(), JudgingError::Paused.to_string());
        let ok: Result<i64, JudgingError> = Ok(7);
        assert_eq!(
            decode::<i64, JudgingError>(&encode(&ok).unwrap())
                .unwrap()
                .unwrap(),
            7
        );

        let missing = SpeedError::NotFound("no heat 4".into());
        let refused: Result<(), (usize, SpeedError)> = Err((2, missing.clone()));
        let again: Result<(), (usize, SpeedError)> = decode(&encode(&refused).unwrap()).unwrap();
        assert_eq!(again, Err((2, missing)));
    }
}
