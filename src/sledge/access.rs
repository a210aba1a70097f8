//! Credentials, for both protocols: a judge's `login` with the global code,
//! socket.io's `authenticate` (a userId and a secret) and the HTTP API's
//! bearer secret (which names its identity by itself).
//!
//! Every check waits its turn at the one per-address [`Throttle`], and every
//! failure counts there, so guessing over HTTP is no faster than over
//! socket.io, and a client cannot switch protocols to escape a delay.
//!
//! [`Throttle`]: super::throttle::Throttle

use std::net::IpAddr;
use std::time::Instant;

use thiserror::Error;

use super::auth::{self, AuthFailure, Identity, SecretKind};
use super::throttle::{Attempt, TooMany};
use super::Sledge;
use crate::store::judging::JudgingError;

/// Why a credential was not accepted.
#[derive(Debug, Error)]
pub enum AccessError {
    /// Too many failures from the client's address: refused unchecked.
    #[error(transparent)]
    Throttled(#[from] TooMany),
    /// `authenticate`: the secret does not fit the userId.
    #[error(transparent)]
    Authenticate(AuthFailure),
    /// A bearer secret that is neither the admin secret nor a judge's.
    #[error(
        "the secret is not valid: use the admin secret, or a secret that login issued to a judge"
    )]
    UnknownSecret,
    #[error("the login code is wrong: ask the organiser for the current code")]
    WrongLoginCode,
    /// The judge does not exist, or storage failed.
    #[error(transparent)]
    Judging(#[from] JudgingError),
}

impl Sledge {
    /// `login`: a new secret for judge `judge_id` if `code` is the login
    /// code. Each login issues a new secret; earlier ones stay valid.
    pub async fn login(
        &self,
        ip: Option<IpAddr>,
        judge_id: i64,
        code: &str,
    ) -> Result<String, AccessError> {
        let attempt = self.wait_turn(ip).await?;
        if !self
            .store
            .judge_exists(judge_id)
            .await
            .map_err(JudgingError::from)?
        {
            return Err(JudgingError::NoSuchJudge(judge_id).into());
        }
        if !self.secrets.is_login_code(code) {
            failed(attempt);
            return Err(AccessError::WrongLoginCode);
        }
        let secret = self.store.issue_judge_secret(judge_id).await?;
        tracing::info!(judge = judge_id, "judge logged in: a new secret was issued");
        Ok(secret)
    }

    /// `authenticate`: the identity that `secret` earns for `user_id` (0 the
    /// admin, N judge N).
    pub async fn authenticate(
        &self,
        ip: Option<IpAddr>,
        user_id: i64,
        secret: &str,
    ) -> Result<Identity, AccessError> {
        let attempt = self.wait_turn(ip).await?;
        let kind = if self.secrets.is_admin_secret(secret) {
            SecretKind::Admin
        } else if user_id > 0 {
            self.judge_secret(secret).await?
        } else {
            SecretKind::Unknown
        };
        let identity = auth::authenticate(user_id, kind).map_err(|failure| {
            failed(attempt);
            AccessError::Authenticate(failure)
        })?;
        if let (Identity::Judge(judge), SecretKind::Admin) = (identity, kind) {
            let exists = self
                .store
                .judge_exists(judge)
                .await
                .map_err(JudgingError::from)?;
            if !exists {
                return Err(JudgingError::NoSuchJudge(judge).into());
            }
        }
        Ok(identity)
    }

    /// The identity a bearer secret names by itself: the admin secret is
    /// the admin, a secret `login` issued to judge N is judge N.
    pub async fn identify(
        &self,
        ip: Option<IpAddr>,
        secret: &str,
    ) -> Result<Identity, AccessError> {
        let attempt = self.wait_turn(ip).await?;
        if self.secrets.is_admin_secret(secret) {
            return Ok(Identity::Admin);
        }
        match self.judge_secret(secret).await? {
            SecretKind::Judge(judge) => Ok(Identity::Judge(judge)),
            _ => {
                failed(attempt);
                Err(AccessError::UnknownSecret)
            }
        }
    }

    async fn judge_secret(&self, secret: &str) -> Result<SecretKind, AccessError> {
        let judge = self
            .store
            .judge_for_secret(secret)
            .await
            .map_err(JudgingError::from)?;
        Ok(judge.map_or(SecretKind::Unknown, SecretKind::Judge))
    }

    /// Holds an attempt as long as earlier failures (and attempts still
    /// being checked) from the client's address require; the attempt it
    /// returns counts as in flight until it is failed or dropped.
    async fn wait_turn(&self, ip: Option<IpAddr>) -> Result<Option<Attempt<'_>>, TooMany> {
        let Some(ip) = ip else { return Ok(None) };
        let attempt = self.throttle.admit(ip, Instant::now())?;
        let wait = attempt.wait();
        if !wait.is_zero() {
            tracing::debug!(%ip, ?wait, "throttling a login or authentication attempt");
            tokio::time::sleep(wait).await;
        }
        Ok(Some(attempt))
    }
}

/// Counts a wrong login code or secret towards throttling.
fn failed(attempt: Option<Attempt<'_>>) {
    if let Some(attempt) = attempt {
        attempt.failed(Instant::now());
    }
}
