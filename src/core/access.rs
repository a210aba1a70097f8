//! Credentials, for both protocols: a judge's `login` with the global code,
//! a judge's sign-in link token, socket.io's `authenticate` (a userId and a
//! secret) and the HTTP API's bearer secret (which names its identity by
//! itself).
//!
//! Every check is admitted by the one [`Throttle`] (per address, and per
//! judge where the attempt names one) and every wrong guess counts there,
//! so guessing over HTTP is no faster than over socket.io, and a client
//! cannot switch protocols to escape its budget. Right answers cost nothing.
//! In cluster mode the budgets are the cluster's: a wrong answer is given
//! once the shared store counted it; a right one never waits on it.
//!
//! When a budget is spent, a login code (49.5 bits, or whatever was
//! configured) is refused unchecked. Secrets of 128 bits and more that
//! Podium generated (judge secrets, link tokens, a generated admin secret)
//! are still checked and a right one passes: guessing them is hopeless with
//! or without a budget, and this way someone who spends a venue's budget
//! does not stop the judges already signed in, or signing in by link.
//!
//! [`Throttle`]: super::throttle::Throttle

use std::net::IpAddr;
use std::time::Instant;

use thiserror::Error;

use super::auth::{self, AuthFailure, Identity, SecretKind};
use super::throttle::{Attempt, TooMany};
use super::Core;
use crate::judging::error::JudgingError;
use crate::judging::ops::issue_secret::IssueSecret;
use crate::operator_secrets::Source;
use crate::store::LinkLookup;
use crate::store::{StoreError, WriteError};

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
    #[error("this sign-in link is not valid: it was replaced by a newer one, or never issued; ask the organisers for your current link, or sign in with your name and the login code")]
    UnknownLink,
    #[error("this sign-in link has expired; ask the organisers for a new one, or sign in with your name and the login code")]
    ExpiredLink,
    /// The judge does not exist.
    #[error(transparent)]
    Judging(#[from] JudgingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<WriteError> for AccessError {
    fn from(e: WriteError) -> AccessError {
        match e {
            WriteError::Refused(e) => AccessError::Judging(e),
            WriteError::Store(e) => AccessError::Store(e),
            // Signing in has no caller yet, so no idempotency key applies
            // (see store::idempotency): this cannot arise.
            WriteError::KeyReused(e) => AccessError::Store(StoreError::Worker(e.to_string())),
        }
    }
}

impl Core {
    /// `login`: a new secret for judge `judge_id` if `code` is the login
    /// code. Each login issues a new secret; earlier ones stay valid.
    pub async fn login(
        &self,
        ip: Option<IpAddr>,
        judge_id: i64,
        code: &str,
    ) -> Result<String, AccessError> {
        let attempt = self.admit(ip, Some(judge_id))?;
        if !self.store.judge_exists(judge_id).await? {
            return Err(JudgingError::NoSuchJudge(judge_id).into());
        }
        if !self.secrets.is_login_code(code) {
            failed(attempt).await;
            return Err(AccessError::WrongLoginCode);
        }
        // Right: the guess is given back before the secret is written.
        drop(attempt);
        let secret = self.store.perform(IssueSecret::new(judge_id)).await?;
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
        let admitted = self.admit_strong(ip, (user_id > 0).then_some(user_id));
        let kind = if self.is_admin_secret(secret, &admitted) {
            SecretKind::Admin
        } else if user_id > 0 {
            self.judge_secret(secret).await?
        } else {
            SecretKind::Unknown
        };
        let identity = match auth::authenticate(user_id, kind) {
            Ok(identity) => identity,
            Err(failure) => return Err(admitted.wrong(AccessError::Authenticate(failure)).await),
        };
        if let (Identity::Judge(judge), SecretKind::Admin) = (identity, kind) {
            let exists = self.store.judge_exists(judge).await?;
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
        let admitted = self.admit_strong(ip, None);
        if self.is_admin_secret(secret, &admitted) {
            return Ok(Identity::Admin);
        }
        match self.judge_secret(secret).await? {
            SecretKind::Judge(judge) => Ok(Identity::Judge(judge)),
            _ => Err(admitted.wrong(AccessError::UnknownSecret).await),
        }
    }

    /// Whether `secret` is the admin secret, as far as `admitted` allows
    /// checking: over budget, only a generated (256-bit) one is checked.
    fn is_admin_secret(&self, secret: &str, admitted: &Admitted<'_>) -> bool {
        let checkable = match admitted {
            Admitted::Budgeted(_) => true,
            // Generated ones, in the file or (cluster mode) the database.
            Admitted::OverBudget(_) => self.secrets.admin_source() != Source::Configured,
        };
        checkable && self.secrets.is_admin_secret(secret)
    }

    async fn judge_secret(&self, secret: &str) -> Result<SecretKind, AccessError> {
        let judge = self.store.judge_for_secret(secret.to_owned()).await?;
        Ok(judge.map_or(SecretKind::Unknown, SecretKind::Judge))
    }

    /// A judge's sign-in link: a new secret for the judge whose current
    /// link `token` is, as `login` issues. Returns (secret, judge id).
    pub async fn login_link(
        &self,
        ip: Option<IpAddr>,
        token: &str,
    ) -> Result<(String, i64), AccessError> {
        let admitted = self.admit_strong(ip, None);
        let judge = match self.store.judge_for_link(token.to_owned()).await? {
            LinkLookup::Valid(judge) => judge,
            // The token was right once: not a guess, so no failure counts.
            LinkLookup::Expired { .. } => {
                return Err(match admitted {
                    Admitted::Budgeted(_) => AccessError::ExpiredLink,
                    Admitted::OverBudget(too_many) => too_many.into(),
                })
            }
            LinkLookup::Unknown => return Err(admitted.wrong(AccessError::UnknownLink).await),
        };
        let secret = self.store.perform(IssueSecret::new(judge)).await?;
        tracing::info!(judge, "judge signed in by link: a new secret was issued");
        Ok((secret, judge))
    }

    /// Admits the check of a strong secret (see the module's notes).
    fn admit_strong(&self, ip: Option<IpAddr>, judge: Option<i64>) -> Admitted<'_> {
        match self.admit(ip, judge) {
            Ok(attempt) => Admitted::Budgeted(attempt),
            Err(too_many) => Admitted::OverBudget(too_many),
        }
    }

    /// Admits an attempt under the client's budgets of wrong guesses; it
    /// counts as in flight until it is failed or dropped.
    fn admit(
        &self,
        ip: Option<IpAddr>,
        judge: Option<i64>,
    ) -> Result<Option<Attempt<'_>>, TooMany> {
        let Some(ip) = ip else { return Ok(None) };
        self.throttle
            .admit(ip, judge, Instant::now())
            .inspect_err(
                |refused| tracing::debug!(%ip, %refused, "a budget of wrong guesses is spent"),
            )
            .map(Some)
    }
}

/// How the check of a strong secret was admitted.
enum Admitted<'a> {
    /// Within the budgets (no attempt: the client's address is unknown).
    Budgeted(Option<Attempt<'a>>),
    /// Over a budget: only a right strong secret passes.
    OverBudget(TooMany),
}

impl Admitted<'_> {
    /// What a wrong answer gets: `refusal`, counted against the budgets; or,
    /// over budget, the budget's refusal (so it tells nothing more).
    async fn wrong(self, refusal: AccessError) -> AccessError {
        match self {
            Admitted::Budgeted(attempt) => {
                failed(attempt).await;
                refusal
            }
            Admitted::OverBudget(too_many) => too_many.into(),
        }
    }
}

/// Counts a wrong login code, token or secret against its budgets; in
/// cluster mode, resolves once the cluster counted it (one round trip: a
/// wrong answer can afford it, and the guesser hears only afterwards).
async fn failed(attempt: Option<Attempt<'_>>) {
    if let Some(attempt) = attempt {
        attempt.failed().recorded().await;
    }
}
