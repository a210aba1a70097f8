//! Who a caller is and what it may do, as pure functions: the rules of both
//! protocols, socket.io and the HTTP API.
//!
//! A socket starts anonymous; `authenticate` binds it to the admin or to one
//! judge, and a later `authenticate` replaces that. An HTTP request is the
//! identity its bearer secret names. The admin may do everything; a judge
//! may rate and rank only as itself and read its own view of the state; an
//! anonymous caller may only `login` and `authenticate`.

use thiserror::Error;

pub use super::operations::Op;
use super::view::Viewer;

/// The identity a socket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    Admin,
    Judge(i64),
}

impl Identity {
    /// Whose idempotency keys this identity's requests use (none for the
    /// anonymous: they write nothing).
    pub fn idempotency_scope(self) -> Option<String> {
        match self {
            Identity::Anonymous => None,
            Identity::Admin => Some("admin".into()),
            Identity::Judge(judge) => Some(format!("judge:{judge}")),
        }
    }

    /// What this identity sees of the database, if it may subscribe at all.
    pub fn viewer(self) -> Option<Viewer> {
        match self {
            Identity::Anonymous => None,
            Identity::Admin => Some(Viewer::Admin),
            Identity::Judge(id) => Some(Viewer::Judge(id)),
        }
    }

    /// The `userId` and `judgeId` of `authenticate-response`.
    pub fn user_and_judge_id(self) -> (i64, i64) {
        match self {
            Identity::Anonymous | Identity::Admin => (0, 0),
            Identity::Judge(id) => (id, id),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Anonymous => f.write_str("not authenticated"),
            Identity::Admin => f.write_str("authenticated as the admin"),
            Identity::Judge(id) => write!(f, "authenticated as judge {id}"),
        }
    }
}

/// What a request asks to do, as far as permission goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Adding, importing, assigning, results and exports.
    Administer(Op),
    /// Rating or ranking on behalf of judge `judge`.
    ActAsJudge(Op, i64),
    /// Reading the state as this identity sees it.
    Subscribe,
}

/// Why a request was not allowed. `Display` words it for a socket.io
/// client; the HTTP API words it for its own callers from the fields.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Denied {
    #[error("{} may only be sent by the admin, and this socket is {identity}: send authenticate with userId 0 and the admin secret first", op.event_name())]
    NeedsAdmin { op: Op, identity: Identity },
    #[error("{} needs an authenticated socket: send authenticate with your userId and secret (from login) first", op.event_name())]
    NotAuthenticated { op: Op },
    #[error("this socket is authenticated as judge {me} and cannot {} as judge {other}: judgeId must be {me}", op.event_name())]
    OtherJudge { op: Op, me: i64, other: i64 },
}

/// Whether `identity` may do `action`.
pub fn authorize(identity: Identity, action: Action) -> Result<(), Denied> {
    match (identity, action) {
        (Identity::Admin, _) => Ok(()),
        (_, Action::Administer(op)) => Err(Denied::NeedsAdmin { op, identity }),
        (Identity::Anonymous, Action::ActAsJudge(op, _)) => Err(Denied::NotAuthenticated { op }),
        (Identity::Anonymous, Action::Subscribe) => {
            Err(Denied::NotAuthenticated { op: Op::SUBSCRIBE })
        }
        (Identity::Judge(me), Action::ActAsJudge(op, other)) if me != other => {
            Err(Denied::OtherJudge { op, me, other })
        }
        (Identity::Judge(_), Action::ActAsJudge(..) | Action::Subscribe) => Ok(()),
    }
}

/// What the server recognised the presented secret as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The admin secret: valid for any userId.
    Admin,
    /// A secret `login` issued to this judge.
    Judge(i64),
    /// Neither.
    Unknown,
}

/// Why `authenticate` failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthFailure {
    #[error("the secret is not valid for userId 0: the admin needs the admin secret")]
    NotAdmin,
    #[error("the secret is not valid for userId {0}: use a secret that login issued to judge {0}, or the admin secret")]
    NotThisJudge(i64),
}

/// The identity `authenticate {secret, userId}` earns. Whether judge
/// `userId` exists is checked by the caller.
pub fn authenticate(user_id: i64, secret: SecretKind) -> Result<Identity, AuthFailure> {
    match (user_id, secret) {
        (0, SecretKind::Admin) => Ok(Identity::Admin),
        (0, _) => Err(AuthFailure::NotAdmin),
        (n, SecretKind::Admin) => Ok(Identity::Judge(n)),
        (n, SecretKind::Judge(j)) if j == n => Ok(Identity::Judge(n)),
        (n, SecretKind::Judge(_) | SecretKind::Unknown) => Err(AuthFailure::NotThisJudge(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::core::commands::{AddHack, AddJudge, Command, RankSuperlative, RateHack};

    const RATE: Op = RateHack::OP;
    const RANK: Op = RankSuperlative::OP;
    const ADD_HACK: Op = AddHack::OP;

    #[test]
    fn admin_may_do_everything() {
        for action in [
            Action::Administer(ADD_HACK),
            Action::Administer(Op::IMPORT_DEVPOST),
            Action::ActAsJudge(RATE, 7),
            Action::Subscribe,
        ] {
            assert_eq!(authorize(Identity::Admin, action), Ok(()));
        }
    }

    #[test]
    fn judges_act_only_as_themselves() {
        let judge = Identity::Judge(3);
        assert_eq!(authorize(judge, Action::ActAsJudge(RATE, 3)), Ok(()));
        assert_eq!(authorize(judge, Action::Subscribe), Ok(()));
        assert_eq!(
            authorize(judge, Action::ActAsJudge(RANK, 4)),
            Err(Denied::OtherJudge {
                op: RANK,
                me: 3,
                other: 4
            })
        );
        assert!(authorize(judge, Action::Administer(Op::ASSIGN)).is_err());
        let denied = authorize(judge, Action::Administer(ADD_HACK)).unwrap_err();
        assert!(denied.to_string().starts_with(
            "add-hack may only be sent by the admin, and this socket is authenticated as judge 3"
        ));
    }

    #[test]
    fn anonymous_sockets_may_do_nothing_privileged() {
        let anon = Identity::Anonymous;
        assert!(matches!(
            authorize(anon, Action::Administer(AddJudge::OP)),
            Err(Denied::NeedsAdmin { .. })
        ));
        let denied = authorize(anon, Action::ActAsJudge(RATE, 1)).unwrap_err();
        assert_eq!(denied, Denied::NotAuthenticated { op: RATE });
        assert!(denied
            .to_string()
            .starts_with("rate-hack needs an authenticated socket"));
        assert!(authorize(anon, Action::Subscribe).is_err());
    }

    #[test]
    fn authentication_rules() {
        assert_eq!(authenticate(0, SecretKind::Admin), Ok(Identity::Admin));
        assert_eq!(
            authenticate(0, SecretKind::Judge(0)),
            Err(AuthFailure::NotAdmin)
        );
        assert_eq!(
            authenticate(0, SecretKind::Unknown),
            Err(AuthFailure::NotAdmin)
        );
        assert_eq!(authenticate(5, SecretKind::Admin), Ok(Identity::Judge(5)));
        assert_eq!(RATE.endpoint(), "POST /api/ratings");
        assert_eq!(
            authenticate(5, SecretKind::Judge(5)),
            Ok(Identity::Judge(5))
        );
        assert_eq!(
            authenticate(5, SecretKind::Judge(6)),
            Err(AuthFailure::NotThisJudge(5))
        );
        assert_eq!(
            authenticate(5, SecretKind::Unknown),
            Err(AuthFailure::NotThisJudge(5))
        );
    }

    #[test]
    fn identities_map_to_viewers_and_response_ids() {
        assert_eq!(Identity::Anonymous.viewer(), None);
        assert_eq!(Identity::Admin.viewer(), Some(Viewer::Admin));
        assert_eq!(Identity::Judge(2).viewer(), Some(Viewer::Judge(2)));
        assert_eq!(Identity::Admin.user_and_judge_id(), (0, 0));
        assert_eq!(Identity::Judge(2).user_and_judge_id(), (2, 2));
    }
}
