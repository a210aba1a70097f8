//! Property tests of the Sledge payload decoder ([`requests::parse`]) against
//! hostile input: arbitrary JSON trees, arbitrary event names, and valid
//! payloads mutated one way at a time (a field of the wrong type, a float, a
//! huge or negative integer, an extra field, a missing field).
//!
//! None may panic. Each input is accepted exactly when an independent
//! statement of the schema ([`accepts`]) says it should be, an accepted one
//! carries the values sent, and a refusal is a typed [`ParseError`] whose
//! message stays short whatever was sent.

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

use super::requests::{self, ParseError, Request};

/// What one payload field must be.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    /// A whole number (`3`, or `3.0` written with a fraction) in `min..=i64::MAX`.
    Int {
        min: i64,
    },
}

const ANY_INT: Kind = Kind::Int { min: i64::MIN };
const ID: Kind = Kind::Int { min: 0 };

/// Every event a client may send, written out independently of the decoder.
const EVENTS: [&str; 11] = [
    "add-hack",
    "add-judge",
    "add-superlative",
    "authenticate",
    "login",
    "rate-hack",
    "unrate-hack",
    "rank-superlative",
    "subscribe-database",
    "mark-absent",
    "note-hack",
];

/// The schema of each event, written out independently of the decoder.
fn schema(event: &str) -> &'static [(&'static str, Kind)] {
    use Kind::Str;
    match event {
        "add-hack" => &[("name", Str), ("description", Str), ("location", ANY_INT)],
        "add-judge" => &[("name", Str), ("email", Str)],
        "add-superlative" => &[("name", Str)],
        "authenticate" => &[("secret", Str), ("userId", ID)],
        "login" => &[("judgeId", Kind::Int { min: 1 }), ("loginCode", Str)],
        "rate-hack" => &[("judgeId", ID), ("hackId", ID), ("rating", ANY_INT)],
        "unrate-hack" => &[("judgeId", ID), ("hackId", ID)],
        "rank-superlative" => &[
            ("judgeId", ID),
            ("superId", ID),
            ("firstId", ID),
            ("secondId", ID),
        ],
        "subscribe-database" => &[],
        "mark-absent" => &[("judgeId", ID), ("hackId", ID)],
        "note-hack" => &[("judgeId", ID), ("hackId", ID), ("text", Str)],
        other => unreachable!("{other} is not in EVENTS"),
    }
}

/// Whether `payload` fits `event`'s schema: an object with exactly its
/// fields, each of the right kind.
fn accepts(event: &str, payload: &Value) -> bool {
    let Value::Object(map) = payload else {
        return false;
    };
    let spec = schema(event);
    map.len() == spec.len()
        && spec
            .iter()
            .all(|(name, kind)| match (map.get(*name), kind) {
                (Some(Value::String(_)), Kind::Str) => true,
                (Some(Value::Number(n)), Kind::Int { min }) => whole(n).is_some_and(|v| v >= *min),
                _ => false,
            })
}

/// `n` as an i64 if it is a whole number in range, however it is written
/// (`3`, `3.0`).
fn whole(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        (f.fract() == 0.0
            && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f))
        .then_some(f as i64)
    })
}

/// An accepted request written back as the payload it came from.
fn to_json(request: &Request) -> (&'static str, Value) {
    let value = match request {
        Request::Authenticate(a) => serde_json::json!({"secret": a.secret, "userId": a.user_id}),
        Request::Login(l) => serde_json::json!({"judgeId": l.judge_id, "loginCode": l.login_code}),
        Request::SubscribeDatabase => serde_json::json!({}),
        Request::Command(c) => c.to_json(),
    };
    (request.event(), value)
}

/// The longest refusal message, in bytes, whatever the input: the fixed
/// text and schema, plus at most 200 quoted characters of 4 bytes (or 64 of
/// an unknown event name, each escaped to at most 10 bytes).
const MAX_MESSAGE: usize = 1024;

/// Decodes `payload` as `name` and checks every property; the one place the
/// tests below call the decoder.
fn check(name: &str, payload: Option<Value>) -> Result<Result<Request, ParseError>, TestCaseError> {
    let expected = EVENTS.into_iter().find(|e| *e == name).map(|event| {
        (
            event,
            accepts(event, payload.as_ref().unwrap_or(&Value::Null)),
        )
    });
    let outcome = requests::parse(name, payload.clone());
    match (&outcome, expected) {
        (Ok(request), Some((event, true))) => {
            let (decoded_as, value) = to_json(request);
            prop_assert_eq!(decoded_as, event);
            let mut sent = payload.clone();
            if let Some(sent) = &mut sent {
                requests::integral_numbers(sent);
            }
            prop_assert_eq!(Some(&value), sent.as_ref(), "values carried unchanged");
        }
        (Err(ParseError::UnknownEvent(_)), None) => {}
        (Err(e), Some((event, false))) => {
            let fits_shape = matches!(payload, Some(Value::Object(_)));
            match e {
                ParseError::NotAnObject { .. } => prop_assert!(!fits_shape),
                ParseError::Schema { event: ev, .. } | ParseError::TooSmall { event: ev, .. } => {
                    prop_assert!(fits_shape);
                    prop_assert_eq!(*ev, event);
                }
                ParseError::UnknownEvent(_) => prop_assert!(false, "{name} is a known event"),
            }
        }
        (outcome, expected) => {
            prop_assert!(
                false,
                "{name} {payload:?}: decoder said {outcome:?}, schema said {expected:?}"
            )
        }
    }
    if let Err(e) = &outcome {
        let message = e.to_string();
        prop_assert!(
            message.len() <= MAX_MESSAGE,
            "message of {} bytes",
            message.len()
        );
    }
    Ok(outcome)
}

fn event() -> impl Strategy<Value = &'static str> {
    prop::sample::select(EVENTS.to_vec())
}

/// Strings a client might send: anything, long ones, and the field names.
fn text() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = EVENTS
        .iter()
        .flat_map(|e| schema(e).iter().map(|(n, _)| *n))
        .collect();
    prop_oneof![
        4 => any::<String>(),
        1 => prop::sample::select(names).prop_map(str::to_string),
        1 => (any::<char>(), 300..3000usize).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

/// Numbers of every sort serde_json holds: small, negative, beyond i64
/// (u64), floats with and without a fraction.
fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        (-3i64..25).prop_map(Number::from),
        any::<i64>().prop_map(Number::from),
        ((i64::MAX as u64)..=u64::MAX).prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        (-5i64..5).prop_filter_map("integral float", |v| Number::from_f64(v as f64)),
    ]
}

/// Arbitrary JSON trees, with objects keyed by field names half the time.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn field_value(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Str => text().prop_map(Value::String).boxed(),
        Kind::Int { min } => (min..=i64::MAX).prop_map(Value::from).boxed(),
    }
}

/// A valid payload for `event`.
fn valid(event: &'static str) -> impl Strategy<Value = Value> {
    schema(event)
        .iter()
        .map(|(name, kind)| field_value(*kind).prop_map(move |v| (name.to_string(), v)))
        .collect::<Vec<_>>()
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>()))
}

/// One way to spoil a valid payload.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace a field's value with any JSON value.
    Replace(prop::sample::Index, Value),
    /// A float where a value belongs.
    Float(prop::sample::Index, Number),
    /// An integer beyond i64 where a value belongs.
    Huge(prop::sample::Index, u64),
    /// A negative integer where a value belongs.
    Negative(prop::sample::Index, i64),
    /// A field the schema does not have.
    Extra(String, Value),
    Missing(prop::sample::Index),
    /// Something else in place of the whole object.
    Whole(Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        (any::<prop::sample::Index>(), any::<f64>()).prop_filter_map("finite", |(i, f)| Some(
            Mutation::Float(i, Number::from_f64(f)?)
        )),
        (
            any::<prop::sample::Index>(),
            (i64::MAX as u64 + 1)..=u64::MAX
        )
            .prop_map(|(i, v)| Mutation::Huge(i, v)),
        (any::<prop::sample::Index>(), i64::MIN..0).prop_map(|(i, v)| Mutation::Negative(i, v)),
        (text(), json()).prop_map(|(k, v)| Mutation::Extra(k, v)),
        any::<prop::sample::Index>().prop_map(Mutation::Missing),
        json().prop_map(Mutation::Whole),
    ]
}

/// Applies `mutation`; returns the spoilt payload and whether it must now be
/// refused whatever the values (`None`: the schema decides).
fn spoil(event: &str, payload: Value, mutation: Mutation) -> (Value, Option<bool>) {
    let Value::Object(mut map) = payload else {
        unreachable!("valid payloads are objects")
    };
    let spec = schema(event);
    let field = |i: &prop::sample::Index| (!spec.is_empty()).then(|| spec[i.index(spec.len())]);
    let must_refuse = match &mutation {
        // A whole float is an integer: the schema decides.
        Mutation::Float(i, n) if n.as_f64().is_some_and(|f| f.fract() != 0.0) => {
            field(i).map(|_| true)
        }
        Mutation::Huge(i, _) => field(i).map(|_| true),
        Mutation::Missing(i) => field(i).map(|_| true),
        Mutation::Extra(key, _) => Some(!spec.iter().any(|(name, _)| name == key)),
        _ => None,
    };
    match mutation {
        Mutation::Replace(i, v) => set(&mut map, field(&i), v),
        Mutation::Float(i, n) => set(&mut map, field(&i), Value::Number(n)),
        Mutation::Huge(i, n) => set(&mut map, field(&i), Value::from(n)),
        Mutation::Negative(i, n) => set(&mut map, field(&i), Value::from(n)),
        Mutation::Extra(key, v) => {
            map.insert(key, v);
        }
        Mutation::Missing(i) => {
            if let Some((name, _)) = field(&i) {
                map.remove(name);
            }
        }
        Mutation::Whole(v) => return (v, None),
    }
    (Value::Object(map), must_refuse)
}

fn set(map: &mut Map<String, Value>, field: Option<(&str, Kind)>, value: Value) {
    if let Some((name, _)) = field {
        map.insert(name.to_string(), value);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn valid_payloads_are_accepted_with_their_values(
        (event, payload) in event().prop_flat_map(|e| (Just(e), valid(e)))
    ) {
        prop_assert!(accepts(event, &payload));
        prop_assert!(check(event, Some(payload))?.is_ok());
    }

    #[test]
    fn mutated_payloads_are_refused_unless_still_valid(
        (event, payload) in event().prop_flat_map(|e| (Just(e), valid(e))),
        mutation in mutation(),
    ) {
        let (payload, must_refuse) = spoil(event, payload, mutation);
        let outcome = check(event, Some(payload))?;
        if must_refuse == Some(true) {
            prop_assert!(outcome.is_err());
        }
    }

    #[test]
    fn arbitrary_json_never_panics(event in event(), payload in proptest::option::of(json())) {
        let _ = check(event, payload)?;
    }

    #[test]
    fn arbitrary_event_names_are_unknown_or_decoded(name in text(), payload in json()) {
        let _ = check(&name, Some(payload))?;
    }
}

#[test]
fn huge_echoes_are_cut() {
    let long = "x".repeat(100_000);
    for (name, payload) in [
        (long.as_str(), serde_json::json!({})),
        ("add-superlative", serde_json::json!({ long.clone(): 1 })),
        (
            "rate-hack",
            serde_json::json!({"judgeId": long, "hackId": 1, "rating": 1}),
        ),
    ] {
        let message = requests::parse(name, Some(payload))
            .unwrap_err()
            .to_string();
        assert!(message.len() < MAX_MESSAGE, "{} bytes", message.len());
        assert!(message.contains("more characters)"), "{message}");
    }
}

#[test]
fn every_command_the_server_knows_is_in_the_schemas_here() {
    for command in super::commands::COMMANDS {
        let name = command.op.event_name();
        assert!(
            EVENTS.contains(&name),
            "{name} needs its schema in this file"
        );
    }
}
