//! Who a socket is and what it may do, as pure functions.
//!
//! A socket starts anonymous; `authenticate` binds it to the admin or to one
//! judge, and a later `authenticate` replaces that. The admin may do
//! everything; a judge may rate and rank only as itself and subscribe; an
//! anonymous socket may only `login` and `authenticate`.

use thiserror::Error;

use super::events::EventName;
use super::view::Viewer;

/// The identity a socket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    Admin,
    Judge(i64),
}

impl Identity {
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
    /// add-hack, add-judge, add-superlative.
    Administer(EventName),
    /// rate-hack or rank-superlative on behalf of judge `judge`.
    ActAsJudge(EventName, i64),
    /// subscribe-database.
    Subscribe,
}

/// Why a request was not allowed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Denied {
    #[error("{event} may only be sent by the admin, and this socket is {identity}: send authenticate with userId 0 and the admin secret first")]
    NeedsAdmin {
        event: &'static str,
        identity: Identity,
    },
    #[error("{event} needs an authenticated socket: send authenticate with your userId and secret (from login) first")]
    NotAuthenticated { event: &'static str },
    #[error("this socket is authenticated as judge {me} and cannot {event} as judge {other}: judgeId must be {me}")]
    OtherJudge {
        event: &'static str,
        me: i64,
        other: i64,
    },
}

/// Whether `identity` may do `action`.
pub fn authorize(identity: Identity, action: Action) -> Result<(), Denied> {
    match (identity, action) {
        (Identity::Admin, _) => Ok(()),
        (_, Action::Administer(event)) => Err(Denied::NeedsAdmin {
            event: event.as_str(),
            identity,
        }),
        (Identity::Anonymous, Action::ActAsJudge(event, _)) => Err(Denied::NotAuthenticated {
            event: event.as_str(),
        }),
        (Identity::Anonymous, Action::Subscribe) => Err(Denied::NotAuthenticated {
            event: EventName::SubscribeDatabase.as_str(),
        }),
        (Identity::Judge(me), Action::ActAsJudge(event, other)) if me != other => {
            Err(Denied::OtherJudge {
                event: event.as_str(),
                me,
                other,
            })
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

    const RATE: EventName = EventName::RateHack;

    #[test]
    fn admin_may_do_everything() {
        for action in [
            Action::Administer(EventName::AddHack),
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
            authorize(judge, Action::ActAsJudge(EventName::RankSuperlative, 4)),
            Err(Denied::OtherJudge {
                event: "rank-superlative",
                me: 3,
                other: 4
            })
        );
        let denied = authorize(judge, Action::Administer(EventName::AddHack)).unwrap_err();
        assert!(denied.to_string().starts_with(
            "add-hack may only be sent by the admin, and this socket is authenticated as judge 3"
        ));
    }

    #[test]
    fn anonymous_sockets_may_do_nothing_privileged() {
        let anon = Identity::Anonymous;
        assert!(matches!(
            authorize(anon, Action::Administer(EventName::AddJudge)),
            Err(Denied::NeedsAdmin { .. })
        ));
        assert_eq!(
            authorize(anon, Action::ActAsJudge(RATE, 1)),
            Err(Denied::NotAuthenticated { event: "rate-hack" })
        );
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
