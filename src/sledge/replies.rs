//! What the server sends: the Sledge server events and the acknowledgement
//! a client gets when it asks for one.
//!
//! Acknowledgement format (a Podium addition; the events are sent either way):
//! `{"ok": true, ...result}` when the request took effect, or
//! `{"ok": false, "error": {"original": <event>, "message": <reason>}}`.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::core::commands::Written;

pub const LOGIN_RESPONSE: &str = "login-response";
pub const AUTHENTICATE_RESPONSE: &str = "authenticate-response";
pub const PROTOCOL_ERROR: &str = "protocol-error";

/// `protocol-error`: the event the client sent and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtocolError {
    pub original: String,
    pub message: String,
}

/// `login-response`.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
}

impl LoginResponse {
    pub fn failed() -> LoginResponse {
        LoginResponse {
            success: false,
            secret: None,
            user_id: None,
        }
    }
}

/// `authenticate-response`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateResponse {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge_id: Option<i64>,
}

/// What a request did, as its acknowledgement reports it.
#[derive(Clone, PartialEq, Eq)]
pub enum Done {
    /// A judging write: the row as stored.
    Wrote(Written),
    Authenticated {
        user_id: i64,
        judge_id: i64,
    },
    LoggedIn {
        secret: String,
        user_id: i64,
    },
    Subscribed,
}

impl std::fmt::Debug for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Done::LoggedIn { user_id, .. } => write!(f, "LoggedIn {{ user_id: {user_id}, .. }}"),
            Done::Wrote(w) => write!(f, "{w:?}"),
            Done::Authenticated { user_id, judge_id } => {
                write!(
                    f,
                    "Authenticated {{ user_id: {user_id}, judge_id: {judge_id} }}"
                )
            }
            Done::Subscribed => f.write_str("Subscribed"),
        }
    }
}

/// `{"ok": true, ...}` for a request that took effect.
pub fn ack_ok(done: Done) -> Value {
    let mut body = Map::new();
    body.insert("ok".into(), Value::Bool(true));
    let mut put = |key: &str, value: Value| {
        body.insert(key.into(), value);
    };
    match done {
        Done::Wrote(w) => put(w.field, w.row),
        Done::Authenticated { user_id, judge_id } => {
            put("userId", json!(user_id));
            put("judgeId", json!(judge_id));
        }
        Done::LoggedIn { secret, user_id } => {
            put("secret", json!(secret));
            put("userId", json!(user_id));
        }
        Done::Subscribed => {}
    }
    Value::Object(body)
}

/// `{"ok": false, "error": {"original", "message"}}` for a refused request.
pub fn ack_err(error: &ProtocolError) -> Value {
    json!({ "ok": false, "error": error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_have_the_documented_shape() {
        let rating = Written {
            field: "rating",
            row: json!({"id": 4, "judgeId": 1, "hackId": 2, "rating": 9}),
        };
        assert_eq!(
            ack_ok(Done::Wrote(rating)),
            json!({"ok": true, "rating": {"id": 4, "judgeId": 1, "hackId": 2, "rating": 9}})
        );
        assert_eq!(
            ack_ok(Done::Authenticated {
                user_id: 3,
                judge_id: 3
            }),
            json!({"ok": true, "userId": 3, "judgeId": 3})
        );
        assert_eq!(ack_ok(Done::Subscribed), json!({"ok": true}));
        let error = ProtocolError {
            original: "rate-hack".into(),
            message: "no".into(),
        };
        assert_eq!(
            ack_err(&error),
            json!({"ok": false, "error": {"original": "rate-hack", "message": "no"}})
        );
    }

    #[test]
    fn responses_omit_absent_fields() {
        assert_eq!(
            serde_json::to_value(LoginResponse::failed()).unwrap(),
            json!({"success": false})
        );
        assert_eq!(
            serde_json::to_value(AuthenticateResponse {
                success: true,
                user_id: Some(0),
                judge_id: Some(0)
            })
            .unwrap(),
            json!({"success": true, "userId": 0, "judgeId": 0})
        );
    }
}
