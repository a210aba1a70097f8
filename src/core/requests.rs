//! The events a Sledge client sends, parsed at the edge into typed requests.
//!
//! Each event carries one JSON object. Parsing rejects unknown event names,
//! a missing or non-object argument, missing fields, wrong types (a string or
//! 1.5 where an integer belongs) and unknown fields, and checks that ids are
//! not negative. The limits that depend on meaning (name lengths, plausible
//! email, rating range) belong to the judging domain and are checked there.
//! Whatever a client sends, the error that goes back quotes at most a few
//! hundred characters of it, so a refusal is never larger than its cause.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use super::commands::{self, Parsed};

/// The events that act on the session itself rather than the judging
/// state; the judging writes are [`commands`](super::commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Authenticate,
    Login,
    SubscribeDatabase,
}

impl EventName {
    pub const ALL: [EventName; 3] = [
        EventName::Authenticate,
        EventName::Login,
        EventName::SubscribeDatabase,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Authenticate => "authenticate",
            EventName::Login => "login",
            EventName::SubscribeDatabase => "subscribe-database",
        }
    }

    pub fn from_wire(name: &str) -> Option<EventName> {
        EventName::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// The payload's shape, for error messages.
    pub fn schema(self) -> &'static str {
        match self {
            EventName::Authenticate => r#"{"secret": string, "userId": integer}"#,
            EventName::Login => r#"{"judgeId": integer, "loginCode": string}"#,
            EventName::SubscribeDatabase => "{} (an empty object)",
        }
    }
}

/// Every event name Podium understands, for the refusal of an unknown one.
pub fn known_events() -> String {
    let mut names: Vec<&str> = commands::COMMANDS
        .iter()
        .map(|c| c.op.event_name())
        .chain(EventName::ALL.iter().map(|e| e.as_str()))
        .collect();
    names.sort_unstable();
    let last = names.pop().unwrap_or_default();
    format!("{} and {last}", names.join(", "))
}

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Authenticate {
    pub secret: String,
    /// 0 asks for the admin, N asks to act as judge N.
    pub user_id: i64,
}

#[derive(Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Login {
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    pub login_code: String,
}

// Secrets stay out of debug output, and so out of any log line.
impl std::fmt::Debug for Authenticate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authenticate {{ user_id: {}, .. }}", self.user_id)
    }
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Login {{ judge_id: {}, .. }}", self.judge_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeDatabase {}

/// One parsed client event.
#[derive(Debug)]
pub enum Request {
    Authenticate(Authenticate),
    Login(Login),
    SubscribeDatabase,
    /// A judging write.
    Command(Box<dyn Parsed>),
}

/// Why an event could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("unknown event {0:?}; Podium understands {known}", known = known_events())]
    UnknownEvent(String),
    #[error("{event} takes one JSON object as its argument, shaped {schema}; got {got}")]
    NotAnObject {
        event: &'static str,
        schema: &'static str,
        got: &'static str,
    },
    #[error("{event} payload: {detail}; the payload is shaped {schema}")]
    Schema {
        event: &'static str,
        detail: String,
        schema: &'static str,
    },
    #[error("{event} payload: {field} must be an integer >= {min}; got {got}")]
    TooSmall {
        event: &'static str,
        field: &'static str,
        min: i64,
        got: i64,
    },
}

/// The field of a socket.io write's payload that holds its idempotency key
/// (`crate::store::idempotency`); HTTP sends it as a header instead.
pub const IDEMPOTENCY_KEY_FIELD: &str = "idempotencyKey";

/// Takes the idempotency key out of an event's payload object, leaving the
/// event's own fields to [`parse`]; refuses a key that is not a string of 1
/// to 255 visible ASCII characters.
pub fn take_idempotency_key(payload: &mut Option<Value>) -> Result<Option<String>, String> {
    let Some(Value::Object(fields)) = payload else {
        return Ok(None);
    };
    match fields.remove(IDEMPOTENCY_KEY_FIELD) {
        None => Ok(None),
        Some(Value::String(key)) => match crate::store::idempotency::check_key(&key) {
            Ok(()) => Ok(Some(key)),
            Err(bad) => Err(format!("{IDEMPOTENCY_KEY_FIELD}: {bad}")),
        },
        Some(_) => Err(format!(
            "{IDEMPOTENCY_KEY_FIELD} must be a string of 1 to 255 visible ASCII characters (a fresh UUID per action is a good key)"
        )),
    }
}

/// Parses event `name` with its first argument (`None` when the client sent
/// no argument or one the transport could not decode).
pub fn parse(name: &str, payload: Option<Value>) -> Result<Request, ParseError> {
    let payload = payload.unwrap_or(Value::Null);
    if let Some(command) = commands::find(name) {
        return Ok(Request::Command((command.parse)(payload)?));
    }
    let event =
        EventName::from_wire(name).ok_or_else(|| ParseError::UnknownEvent(shorten(name, 64)))?;
    let (wire, schema) = (event.as_str(), event.schema());
    let request = match event {
        EventName::Authenticate => {
            let a: Authenticate = fields(wire, schema, payload)?;
            at_least(wire, "userId", a.user_id, 0)?;
            Request::Authenticate(a)
        }
        EventName::Login => {
            let l: Login = fields(wire, schema, payload)?;
            at_least(wire, "judgeId", l.judge_id, 1)?;
            Request::Login(l)
        }
        EventName::SubscribeDatabase => {
            let SubscribeDatabase {} = fields(wire, schema, payload)?;
            Request::SubscribeDatabase
        }
    };
    Ok(request)
}

impl Request {
    /// The event name it was parsed from.
    pub fn event(&self) -> &'static str {
        match self {
            Request::Authenticate(_) => EventName::Authenticate.as_str(),
            Request::Login(_) => EventName::Login.as_str(),
            Request::SubscribeDatabase => EventName::SubscribeDatabase.as_str(),
            Request::Command(command) => command.event(),
        }
    }
}

/// `payload` as the fields of `event`, shaped `schema`.
pub(super) fn fields<T: DeserializeOwned>(
    event: &'static str,
    schema: &'static str,
    mut payload: Value,
) -> Result<T, ParseError> {
    let got = match &payload {
        Value::Object(_) => None,
        Value::Null => Some("nothing (or null)"),
        Value::Bool(_) => Some("a boolean"),
        Value::Number(_) => Some("a number"),
        Value::String(_) => Some("a string"),
        Value::Array(_) => Some("an array"),
    };
    if let Some(got) = got {
        return Err(ParseError::NotAnObject { event, schema, got });
    }
    integral_numbers(&mut payload);
    serde_json::from_value(payload).map_err(|e| ParseError::Schema {
        event,
        // serde quotes the offending field name or string value in full.
        detail: shorten(&e.to_string(), MAX_DETAIL),
        schema,
    })
}

/// Numbers written with a fraction or exponent that are whole (`3.0`,
/// `1e3`) become integers, so an integer field takes them: JSON has one
/// number type, JSON Schema (and so the OpenAPI document) counts `3.0` as an
/// integer, and a Python client's `json.dumps(3.0)` is an honest 3. Whole
/// numbers beyond 64 bits, and fractions, stay as they are (and are refused
/// where an integer belongs).
pub fn integral_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // 2^64 and -2^63 are exact in f64; -0.0 becomes 0.
            if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                *value = Value::from(f as u64);
            } else if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// Characters of a decoding error's detail kept in the message.
pub const MAX_DETAIL: usize = 200;

/// `text` cut to `max` characters, saying how much was cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => {
            let rest = text[cut..].chars().count();
            format!("{}... ({rest} more characters)", &text[..cut])
        }
        None => text.to_string(),
    }
}

pub(super) fn at_least(
    event: &'static str,
    field: &'static str,
    got: i64,
    min: i64,
) -> Result<(), ParseError> {
    if got < min {
        return Err(ParseError::TooSmall {
            event,
            field,
            min,
            got,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(name: &str, payload: Value) -> String {
        parse(name, Some(payload)).unwrap_err().to_string()
    }

    /// The command `name` parsed from `payload`, written back as JSON.
    fn command(name: &str, payload: Value) -> Value {
        match parse(name, Some(payload)) {
            Ok(Request::Command(c)) => {
                assert_eq!(c.event(), name);
                c.to_json()
            }
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn parses_every_event() {
        for (name, payload) in [
            (
                "add-hack",
                json!({"name": "Tally", "description": "", "location": 3}),
            ),
            ("add-judge", json!({"name": "Ada", "email": "a@b.co"})),
            ("add-superlative", json!({"name": "Best"})),
            (
                "rate-hack",
                json!({"judgeId": 1, "hackId": 2, "rating": 20}),
            ),
            ("unrate-hack", json!({"judgeId": 1, "hackId": 2})),
            (
                "rank-superlative",
                json!({"judgeId": 1, "superId": 2, "firstId": 3, "secondId": 0}),
            ),
            ("mark-absent", json!({"judgeId": 1, "hackId": 2})),
            (
                "note-hack",
                json!({"judgeId": 1, "hackId": 2, "text": "hi"}),
            ),
        ] {
            assert_eq!(command(name, payload.clone()), payload);
        }
        match parse("authenticate", Some(json!({"secret": "s", "userId": 0}))) {
            Ok(Request::Authenticate(a)) => {
                assert_eq!((a.secret.as_str(), a.user_id), ("s", 0))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("login", Some(json!({"judgeId": 1, "loginCode": "c"}))),
            Ok(Request::Login(_))
        ));
        assert!(matches!(
            parse("subscribe-database", Some(json!({}))),
            Ok(Request::SubscribeDatabase)
        ));
    }

    #[test]
    fn names_every_event_when_one_is_unknown() {
        let message = err("delete-everything", json!({}));
        for name in [
            "add-hack",
            "add-judge",
            "add-superlative",
            "authenticate",
            "login",
            "mark-absent",
            "note-hack",
            "rank-superlative",
            "rate-hack",
            "subscribe-database",
            "unrate-hack",
        ] {
            assert!(message.contains(name), "{message}");
        }
        assert!(message.ends_with(" and unrate-hack"), "{message}");
    }

    #[test]
    fn rejects_unknown_events() {
        assert!(matches!(
            parse("delete-everything", Some(json!({}))),
            Err(ParseError::UnknownEvent(name)) if name == "delete-everything"
        ));
    }

    #[test]
    fn rejects_non_objects_and_missing_payloads() {
        assert!(err("add-superlative", json!("Best")).contains("got a string"));
        assert!(err("add-superlative", json!([{"name": "x"}])).contains("got an array"));
        assert!(parse("subscribe-database", None)
            .unwrap_err()
            .to_string()
            .contains("got nothing"));
    }

    #[test]
    fn rejects_missing_unknown_and_mistyped_fields() {
        let missing = err("add-hack", json!({"name": "x", "description": ""}));
        assert!(missing.contains("missing field `location`"), "{missing}");
        let unknown = err("add-superlative", json!({"name": "x", "prize": 5}));
        assert!(unknown.contains("unknown field `prize`"), "{unknown}");
        let unknown = err("subscribe-database", json!({"all": true}));
        assert!(unknown.contains("unknown field `all`"), "{unknown}");
        let float = err(
            "rate-hack",
            json!({"judgeId": 1, "hackId": 1, "rating": 1.5}),
        );
        assert!(float.contains("floating point `1.5`"), "{float}");
        // Whole numbers written with a fraction or exponent are integers.
        let written_as_float: Value =
            serde_json::from_str(r#"{"judgeId": 1.0, "hackId": 2e0, "rating": 1.0e1}"#).unwrap();
        assert_eq!(
            command("rate-hack", written_as_float),
            json!({"judgeId": 1, "hackId": 2, "rating": 10})
        );
        let beyond: Value =
            serde_json::from_str(r#"{"judgeId": 1, "hackId": 1, "rating": 1e19}"#).unwrap();
        assert!(err("rate-hack", beyond).contains("invalid value"));
        let named_as_float: Value =
            serde_json::from_str(r#"{"name": 1.0, "email": "a@b.co"}"#).unwrap();
        assert!(err("add-judge", named_as_float).contains("invalid type: integer `1`"));
        let string = err(
            "rate-hack",
            json!({"judgeId": "1", "hackId": 1, "rating": 5}),
        );
        assert!(string.contains("invalid type: string \"1\""), "{string}");
        let null = err("add-judge", json!({"name": null, "email": "a@b.co"}));
        assert!(null.contains("invalid type: null"), "{null}");
        assert!(string.contains(<commands::RateHack as commands::Command>::SCHEMA));
    }

    #[test]
    fn rejects_negative_ids() {
        assert_eq!(
            parse(
                "rate-hack",
                Some(json!({"judgeId": 1, "hackId": -2, "rating": 5}))
            )
            .unwrap_err(),
            ParseError::TooSmall {
                event: "rate-hack",
                field: "hackId",
                min: 0,
                got: -2
            }
        );
        assert!(err("login", json!({"judgeId": 0, "loginCode": "c"}))
            .contains("judgeId must be an integer >= 1"));
        assert!(err("authenticate", json!({"secret": "s", "userId": -1})).contains("userId"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let Ok(request) = parse("login", Some(json!({"judgeId": 1, "loginCode": "hunter2"})))
        else {
            panic!()
        };
        assert!(!format!("{request:?}").contains("hunter2"));
    }
}
