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

/// The client-to-server events, by wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    AddHack,
    AddJudge,
    AddSuperlative,
    Authenticate,
    Login,
    RateHack,
    UnrateHack,
    RankSuperlative,
    SubscribeDatabase,
    MarkAbsent,
    NoteHack,
}

impl EventName {
    pub const ALL: [EventName; 11] = [
        EventName::AddHack,
        EventName::AddJudge,
        EventName::AddSuperlative,
        EventName::Authenticate,
        EventName::Login,
        EventName::RateHack,
        EventName::UnrateHack,
        EventName::RankSuperlative,
        EventName::SubscribeDatabase,
        EventName::MarkAbsent,
        EventName::NoteHack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventName::AddHack => "add-hack",
            EventName::AddJudge => "add-judge",
            EventName::AddSuperlative => "add-superlative",
            EventName::Authenticate => "authenticate",
            EventName::Login => "login",
            EventName::RateHack => "rate-hack",
            EventName::UnrateHack => "unrate-hack",
            EventName::RankSuperlative => "rank-superlative",
            EventName::SubscribeDatabase => "subscribe-database",
            EventName::MarkAbsent => "mark-absent",
            EventName::NoteHack => "note-hack",
        }
    }

    pub fn from_wire(name: &str) -> Option<EventName> {
        EventName::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// The payload's shape, for error messages.
    pub fn schema(self) -> &'static str {
        match self {
            EventName::AddHack => r#"{"name": string, "description": string, "location": integer}"#,
            EventName::AddJudge => r#"{"name": string, "email": string}"#,
            EventName::AddSuperlative => r#"{"name": string}"#,
            EventName::Authenticate => r#"{"secret": string, "userId": integer}"#,
            EventName::Login => r#"{"judgeId": integer, "loginCode": string}"#,
            EventName::RateHack => r#"{"judgeId": integer, "hackId": integer, "rating": integer}"#,
            EventName::UnrateHack => r#"{"judgeId": integer, "hackId": integer}"#,
            EventName::RankSuperlative => {
                r#"{"judgeId": integer, "superId": integer, "firstId": integer, "secondId": integer}"#
            }
            EventName::SubscribeDatabase => "{} (an empty object)",
            EventName::MarkAbsent => r#"{"judgeId": integer, "hackId": integer}"#,
            EventName::NoteHack => r#"{"judgeId": integer, "hackId": integer, "text": string}"#,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddHack {
    /// One line, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// May be empty and span lines (tabs and line breaks are the only control characters allowed).
    #[schema(
        max_length = 10000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub description: String,
    /// The table number.
    #[schema(minimum = 0, maximum = 999999)]
    pub location: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddJudge {
    /// One line, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// name@domain.tld: one `@`, a dot between non-empty labels in the domain, no spaces, control characters or `<>,;`. Unique among judges, ignoring case.
    #[schema(
        min_length = 5,
        max_length = 254,
        pattern = r"^[^@\s<>,;\u0000-\u001f\u007f-\u009f]+@[^@.\s<>,;\u0000-\u001f\u007f-\u009f]+(\.[^@.\s<>,;\u0000-\u001f\u007f-\u009f]+)+$"
    )]
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSuperlative {
    /// One line, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateHack {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub hack_id: i64,
    #[schema(minimum = 1, maximum = 20)]
    pub rating: i64,
}

/// A judge takes back its rating of a hack ("undo").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UnrateHack {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub hack_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RankSuperlative {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub super_id: i64,
    /// A hack id, or 0 for no choice.
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub first_id: i64,
    /// A hack id, or 0 for no choice; not the same hack as `firstId`.
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub second_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeDatabase {}

/// A judge found nobody at the hack's table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MarkAbsent {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub hack_id: i64,
}

/// A judge's private note on a hack.
#[derive(Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NoteHack {
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub judge_id: i64,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub hack_id: i64,
    /// May be empty (clearing the note) and span lines.
    #[schema(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub text: String,
}

// A note is the judge's and the organiser's business: kept out of logs.
impl std::fmt::Debug for NoteHack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NoteHack {{ judge_id: {}, hack_id: {}, .. }}",
            self.judge_id, self.hack_id
        )
    }
}

/// One parsed client event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    AddHack(AddHack),
    AddJudge(AddJudge),
    AddSuperlative(AddSuperlative),
    Authenticate(Authenticate),
    Login(Login),
    RateHack(RateHack),
    UnrateHack(UnrateHack),
    RankSuperlative(RankSuperlative),
    SubscribeDatabase,
    MarkAbsent(MarkAbsent),
    NoteHack(NoteHack),
}

/// Why an event could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("unknown event {0:?}; Podium understands add-hack, add-judge, add-superlative, authenticate, login, rate-hack, unrate-hack, rank-superlative, subscribe-database, mark-absent and note-hack")]
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
    let event =
        EventName::from_wire(name).ok_or_else(|| ParseError::UnknownEvent(shorten(name, 64)))?;
    let payload = payload.unwrap_or(Value::Null);
    let request = match event {
        EventName::AddHack => Request::AddHack(fields(event, payload)?),
        EventName::AddJudge => Request::AddJudge(fields(event, payload)?),
        EventName::AddSuperlative => Request::AddSuperlative(fields(event, payload)?),
        EventName::Authenticate => Request::Authenticate(fields(event, payload)?),
        EventName::Login => Request::Login(fields(event, payload)?),
        EventName::RateHack => Request::RateHack(fields(event, payload)?),
        EventName::UnrateHack => Request::UnrateHack(fields(event, payload)?),
        EventName::RankSuperlative => Request::RankSuperlative(fields(event, payload)?),
        EventName::SubscribeDatabase => {
            let SubscribeDatabase {} = fields(event, payload)?;
            Request::SubscribeDatabase
        }
        EventName::MarkAbsent => Request::MarkAbsent(fields(event, payload)?),
        EventName::NoteHack => Request::NoteHack(fields(event, payload)?),
    };
    for (field, got, min) in request.ids() {
        at_least(event, field, got, min)?;
    }
    Ok(request)
}

impl Request {
    /// The ids the request names, in field order, each with the least
    /// value it may have (0 means "none" where a field allows it).
    fn ids(&self) -> Vec<(&'static str, i64, i64)> {
        match self {
            Request::AddHack(_)
            | Request::AddJudge(_)
            | Request::AddSuperlative(_)
            | Request::SubscribeDatabase => Vec::new(),
            Request::Authenticate(a) => vec![("userId", a.user_id, 0)],
            Request::Login(l) => vec![("judgeId", l.judge_id, 1)],
            Request::RateHack(r) => vec![("judgeId", r.judge_id, 0), ("hackId", r.hack_id, 0)],
            Request::UnrateHack(u) => vec![("judgeId", u.judge_id, 0), ("hackId", u.hack_id, 0)],
            Request::RankSuperlative(r) => vec![
                ("judgeId", r.judge_id, 0),
                ("superId", r.super_id, 0),
                ("firstId", r.first_id, 0),
                ("secondId", r.second_id, 0),
            ],
            Request::MarkAbsent(a) => vec![("judgeId", a.judge_id, 0), ("hackId", a.hack_id, 0)],
            Request::NoteHack(n) => vec![("judgeId", n.judge_id, 0), ("hackId", n.hack_id, 0)],
        }
    }

    pub fn event(&self) -> EventName {
        match self {
            Request::AddHack(_) => EventName::AddHack,
            Request::AddJudge(_) => EventName::AddJudge,
            Request::AddSuperlative(_) => EventName::AddSuperlative,
            Request::Authenticate(_) => EventName::Authenticate,
            Request::Login(_) => EventName::Login,
            Request::RateHack(_) => EventName::RateHack,
            Request::UnrateHack(_) => EventName::UnrateHack,
            Request::RankSuperlative(_) => EventName::RankSuperlative,
            Request::SubscribeDatabase => EventName::SubscribeDatabase,
            Request::MarkAbsent(_) => EventName::MarkAbsent,
            Request::NoteHack(_) => EventName::NoteHack,
        }
    }
}

fn fields<T: DeserializeOwned>(event: EventName, mut payload: Value) -> Result<T, ParseError> {
    let got = match &payload {
        Value::Object(_) => None,
        Value::Null => Some("nothing (or null)"),
        Value::Bool(_) => Some("a boolean"),
        Value::Number(_) => Some("a number"),
        Value::String(_) => Some("a string"),
        Value::Array(_) => Some("an array"),
    };
    if let Some(got) = got {
        return Err(ParseError::NotAnObject {
            event: event.as_str(),
            schema: event.schema(),
            got,
        });
    }
    integral_numbers(&mut payload);
    serde_json::from_value(payload).map_err(|e| ParseError::Schema {
        event: event.as_str(),
        // serde quotes the offending field name or string value in full.
        detail: shorten(&e.to_string(), MAX_DETAIL),
        schema: event.schema(),
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

fn at_least(event: EventName, field: &'static str, got: i64, min: i64) -> Result<(), ParseError> {
    if got < min {
        return Err(ParseError::TooSmall {
            event: event.as_str(),
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

    #[test]
    fn parses_every_event() {
        assert_eq!(
            parse(
                "add-hack",
                Some(json!({"name": "Tally", "description": "", "location": 3}))
            ),
            Ok(Request::AddHack(AddHack {
                name: "Tally".into(),
                description: "".into(),
                location: 3
            }))
        );
        assert!(matches!(
            parse("add-judge", Some(json!({"name": "Ada", "email": "a@b.co"}))),
            Ok(Request::AddJudge(_))
        ));
        assert!(matches!(
            parse("add-superlative", Some(json!({"name": "Best"}))),
            Ok(Request::AddSuperlative(_))
        ));
        assert_eq!(
            parse("authenticate", Some(json!({"secret": "s", "userId": 0}))),
            Ok(Request::Authenticate(Authenticate {
                secret: "s".into(),
                user_id: 0
            }))
        );
        assert!(matches!(
            parse("login", Some(json!({"judgeId": 1, "loginCode": "c"}))),
            Ok(Request::Login(_))
        ));
        assert_eq!(
            parse(
                "rate-hack",
                Some(json!({"judgeId": 1, "hackId": 2, "rating": 20}))
            ),
            Ok(Request::RateHack(RateHack {
                judge_id: 1,
                hack_id: 2,
                rating: 20
            }))
        );
        assert_eq!(
            parse(
                "rank-superlative",
                Some(json!({"judgeId": 1, "superId": 2, "firstId": 3, "secondId": 0}))
            ),
            Ok(Request::RankSuperlative(RankSuperlative {
                judge_id: 1,
                super_id: 2,
                first_id: 3,
                second_id: 0
            }))
        );
        assert_eq!(
            parse("subscribe-database", Some(json!({}))),
            Ok(Request::SubscribeDatabase)
        );
    }

    #[test]
    fn rejects_unknown_events() {
        assert_eq!(
            parse("delete-everything", Some(json!({}))),
            Err(ParseError::UnknownEvent("delete-everything".into()))
        );
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
            parse("rate-hack", Some(written_as_float)),
            Ok(Request::RateHack(RateHack {
                judge_id: 1,
                hack_id: 2,
                rating: 10
            }))
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
        assert!(string.contains(EventName::RateHack.schema()));
    }

    #[test]
    fn rejects_negative_ids() {
        assert_eq!(
            parse(
                "rate-hack",
                Some(json!({"judgeId": 1, "hackId": -2, "rating": 5}))
            ),
            Err(ParseError::TooSmall {
                event: "rate-hack",
                field: "hackId",
                min: 0,
                got: -2
            })
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
