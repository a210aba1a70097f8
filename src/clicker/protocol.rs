//! The clicker wire protocol, pure: text frames in, typed commands out, and
//! typed server messages back to text. No I/O here, so every rule is unit-
//! and property-tested on its own (see `docs/clicker-protocol.md`).
//!
//! A frame is split on ASCII whitespace (empty tokens ignored); the verb is
//! case-insensitive. Draft-1 and draft-2 differ only in SCORE's arity and in
//! the order of a broadcast SCORE's fields, so one parser serves both.

use std::fmt;

use thiserror::Error;

#[cfg(test)]
use crate::scoring::MAX_DEVICE_ID;
use crate::scoring::{self, DeviceId, Id};

/// The largest integer a JavaScript client can send exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// Protocol revision, chosen per connection by what the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Draft {
    /// `SCORE <ts> <score>`, `LISTEN`; broadcasts `SCORE <ts> <id> <score>`.
    One,
    /// `SCORE <msgId> <ts> <score>`, `SUBSCRIBE`; broadcasts `SCORE <ts> <score> <id>`.
    Two,
}

/// A SCORE from a clicker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// Present in draft-2 only.
    pub msg_id: Option<u64>,
    /// The device's clock in ms, any signed 64-bit value: the Espruino
    /// firmware wraps it to 32 bits (see [`super::clock`]).
    pub timestamp: i64,
    pub score: u64,
}

impl Score {
    pub fn draft(&self) -> Draft {
        match self.msg_id {
            Some(_) => Draft::Two,
            None => Draft::One,
        }
    }
}

/// A command a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `REGISTER [secret]`: become a sending client (a clicker).
    Register { secret: Option<String> },
    /// `SCORE ...`: a clicker's current count.
    Score(Score),
    /// `LISTEN <ids>` (draft-1) or `SUBSCRIBE <ids>` (draft-2): receive events
    /// of these devices.
    Listen { draft: Draft, ids: Vec<DeviceId> },
}

/// A message the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    Registered {
        id: DeviceId,
        secret: String,
    },
    Scored {
        msg_id: Option<u64>,
        timestamp: i64,
    },
    /// Reply to LISTEN (possibly with no ids), and the broadcast when a
    /// device connects.
    Connect(Vec<DeviceId>),
    Disconnect(DeviceId),
    /// A broadcast score; field order depends on the listener's draft.
    Score {
        draft: Draft,
        timestamp: i64,
        id: DeviceId,
        score: u64,
    },
    Error(String),
}

/// Why a frame is not a command. The message goes back as `ERROR <message>`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("empty command: expected REGISTER, SCORE, LISTEN or SUBSCRIBE")]
    Empty,
    #[error("unknown command {0:?}: expected REGISTER, SCORE, LISTEN or SUBSCRIBE")]
    UnknownVerb(String),
    #[error("{verb} takes {expected}, got {got} argument(s)")]
    Arity {
        verb: &'static str,
        expected: &'static str,
        got: usize,
    },
    #[error("{field} {value:?} is not a number: send a whole number in decimal digits")]
    NotANumber { field: &'static str, value: String },
    #[error("{field} {value} is out of range ({range})")]
    OutOfRange {
        field: &'static str,
        value: String,
        range: &'static str,
    },
    #[error("device id {0:?} is not valid: ids are 1 to 999999")]
    BadDeviceId(String),
}

/// Parses one text frame from a client.
pub fn parse_command(frame: &str) -> Result<Command, ParseError> {
    let mut tokens = frame.split_ascii_whitespace();
    let verb = tokens.next().ok_or(ParseError::Empty)?;
    let args: Vec<&str> = tokens.collect();
    if verb.eq_ignore_ascii_case("REGISTER") {
        match args.as_slice() {
            [] => Ok(Command::Register { secret: None }),
            [secret] => Ok(Command::Register {
                secret: Some((*secret).to_string()),
            }),
            _ => Err(ParseError::Arity {
                verb: "REGISTER",
                expected: "an optional secret",
                got: args.len(),
            }),
        }
    } else if verb.eq_ignore_ascii_case("SCORE") {
        let (msg_id, timestamp, score) = match args.as_slice() {
            [ts, score] => (None, *ts, *score),
            [id, ts, score] => (Some(*id), *ts, *score),
            _ => {
                return Err(ParseError::Arity {
                    verb: "SCORE",
                    expected:
                        "<timestamp> <score> (draft-1) or <msgId> <timestamp> <score> (draft-2)",
                    got: args.len(),
                })
            }
        };
        let msg_id = msg_id
            .map(|v| number("msgId", v, 1, "1 to 2^53-1"))
            .transpose()?;
        Ok(Command::Score(Score {
            msg_id,
            timestamp: signed("timestamp", timestamp, "-2^63 to 2^63-1")?,
            score: number("score", score, 0, "0 to 2^53-1")?,
        }))
    } else if verb.eq_ignore_ascii_case("LISTEN") || verb.eq_ignore_ascii_case("SUBSCRIBE") {
        let draft = if verb.eq_ignore_ascii_case("LISTEN") {
            Draft::One
        } else {
            Draft::Two
        };
        let ids = args
            .iter()
            .flat_map(|a| a.split(','))
            .filter(|t| !t.is_empty())
            .map(parse_device_id)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Command::Listen { draft, ids })
    } else {
        Err(ParseError::UnknownVerb(shorten(verb)))
    }
}

/// Parses a device id token (see [`scoring::device_id`]).
pub fn parse_device_id(token: &str) -> Result<DeviceId, ParseError> {
    scoring::device_id(token).ok_or_else(|| ParseError::BadDeviceId(shorten(token)))
}

/// A whole number from `min` to 2^53-1. A negative whole number is a
/// number, just out of range.
fn number(
    field: &'static str,
    token: &str,
    min: u64,
    range: &'static str,
) -> Result<u64, ParseError> {
    let out_of_range = || ParseError::OutOfRange {
        field,
        value: shorten(token),
        range,
    };
    match whole(field, token)? {
        Whole::Negative => Err(out_of_range()),
        Whole::Digits(digits) => match digits.parse::<u64>() {
            Ok(v) if v >= min && v <= MAX_SAFE_INTEGER => Ok(v),
            _ => Err(out_of_range()),
        },
    }
}

/// Any whole number that fits in 64 bits with a sign.
fn signed(field: &'static str, token: &str, range: &'static str) -> Result<i64, ParseError> {
    whole(field, token)?;
    token.parse::<i64>().map_err(|_| ParseError::OutOfRange {
        field,
        value: shorten(token),
        range,
    })
}

/// What a token holding a whole number looks like.
enum Whole<'a> {
    Negative,
    Digits(&'a str),
}

/// Decimal digits, optionally after a `-`; anything else is not a number.
fn whole<'a>(field: &'static str, token: &'a str) -> Result<Whole<'a>, ParseError> {
    let (negative, digits) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::NotANumber {
            field,
            value: shorten(token),
        });
    }
    Ok(if negative && digits.bytes().any(|b| b != b'0') {
        Whole::Negative
    } else {
        Whole::Digits(digits)
    })
}

/// Keeps error messages short whatever a client sent.
fn shorten(token: &str) -> String {
    const MAX: usize = 32;
    match token.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &token[..cut]),
        None => token.to_string(),
    }
}

fn write_ids(f: &mut fmt::Formatter<'_>, verb: &str, ids: &[DeviceId]) -> fmt::Result {
    f.write_str(verb)?;
    for id in ids {
        write!(f, " {}", Id(*id))?;
    }
    Ok(())
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Register { secret: None } => f.write_str("REGISTER"),
            Command::Register {
                secret: Some(secret),
            } => write!(f, "REGISTER {secret}"),
            Command::Score(Score {
                msg_id: Some(id),
                timestamp,
                score,
            }) => write!(f, "SCORE {id} {timestamp} {score}"),
            Command::Score(Score {
                msg_id: None,
                timestamp,
                score,
            }) => write!(f, "SCORE {timestamp} {score}"),
            Command::Listen { draft, ids } => {
                let verb = match draft {
                    Draft::One => "LISTEN",
                    Draft::Two => "SUBSCRIBE",
                };
                write_ids(f, verb, ids)
            }
        }
    }
}

impl fmt::Display for ServerMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerMessage::Registered { id, secret } => {
                write!(f, "REGISTERED {} {secret}", Id(*id))
            }
            ServerMessage::Scored {
                msg_id: Some(m),
                timestamp,
            } => write!(f, "SCORED {m} {timestamp}"),
            ServerMessage::Scored {
                msg_id: None,
                timestamp,
            } => write!(f, "SCORED {timestamp}"),
            ServerMessage::Connect(ids) => write_ids(f, "CONNECT", ids),
            ServerMessage::Disconnect(id) => write!(f, "DISCONNECT {}", Id(*id)),
            ServerMessage::Score {
                draft: Draft::One,
                timestamp,
                id,
                score,
            } => write!(f, "SCORE {timestamp} {} {score}", Id(*id)),
            ServerMessage::Score {
                draft: Draft::Two,
                timestamp,
                id,
                score,
            } => write!(f, "SCORE {timestamp} {score} {}", Id(*id)),
            ServerMessage::Error(message) => write!(f, "ERROR {message}"),
        }
    }
}

impl ServerMessage {
    /// Parses a server frame as a client of `draft` reads it (the draft
    /// decides the field order of a broadcast SCORE and whether SCORED has a
    /// msgId: a two-field SCORED is draft-2).
    pub fn parse(frame: &str, draft: Draft) -> Option<ServerMessage> {
        let (verb, rest) = frame.split_once(' ').unwrap_or((frame, ""));
        let args: Vec<&str> = rest.split_ascii_whitespace().collect();
        let num = |s: &str| s.parse::<u64>().ok();
        let time = |s: &str| s.parse::<i64>().ok();
        let id = |s: &str| parse_device_id(s).ok();
        match (verb, args.as_slice()) {
            ("REGISTERED", [i, secret]) => Some(ServerMessage::Registered {
                id: id(i)?,
                secret: (*secret).to_string(),
            }),
            ("SCORED", [ts]) => Some(ServerMessage::Scored {
                msg_id: None,
                timestamp: time(ts)?,
            }),
            ("SCORED", [m, ts]) => Some(ServerMessage::Scored {
                msg_id: Some(num(m)?),
                timestamp: time(ts)?,
            }),
            ("CONNECT", ids) => Some(ServerMessage::Connect(
                ids.iter().map(|i| id(i)).collect::<Option<_>>()?,
            )),
            ("DISCONNECT", [i]) => Some(ServerMessage::Disconnect(id(i)?)),
            ("SCORE", [ts, a, b]) => {
                let (i, score) = match draft {
                    Draft::One => (a, b),
                    Draft::Two => (b, a),
                };
                Some(ServerMessage::Score {
                    draft,
                    timestamp: time(ts)?,
                    id: id(i)?,
                    score: num(score)?,
                })
            }
            ("ERROR", _) if !rest.is_empty() => Some(ServerMessage::Error(rest.to_string())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_seed_commands() {
        assert_eq!(
            parse_command("REGISTER"),
            Ok(Command::Register { secret: None })
        );
        assert_eq!(
            parse_command("register abc123"),
            Ok(Command::Register {
                secret: Some("abc123".into())
            })
        );
        assert_eq!(
            parse_command("SCORE 1700000000000 5"),
            Ok(Command::Score(Score {
                msg_id: None,
                timestamp: 1_700_000_000_000,
                score: 5
            }))
        );
        assert_eq!(
            parse_command("  SCORE\t7 1700000000000 5 \r\n"),
            Ok(Command::Score(Score {
                msg_id: Some(7),
                timestamp: 1_700_000_000_000,
                score: 5
            }))
        );
        assert_eq!(
            parse_command("LISTEN 000001 2,3"),
            Ok(Command::Listen {
                draft: Draft::One,
                ids: vec![1, 2, 3]
            })
        );
        assert_eq!(
            parse_command("subscribe"),
            Ok(Command::Listen {
                draft: Draft::Two,
                ids: vec![]
            })
        );
    }

    #[test]
    fn refuses_what_it_cannot_accept() {
        assert_eq!(parse_command(" \t "), Err(ParseError::Empty));
        assert!(matches!(parse_command("HELLO"), Err(ParseError::UnknownVerb(v)) if v == "HELLO"));
        assert!(matches!(
            parse_command("SCORE 1"),
            Err(ParseError::Arity { .. })
        ));
        assert!(matches!(
            parse_command("SCORE 1 2 3 4"),
            Err(ParseError::Arity { .. })
        ));
        assert!(matches!(
            parse_command("REGISTER a b"),
            Err(ParseError::Arity { .. })
        ));
        assert!(matches!(
            parse_command("SCORE 1.5 2"),
            Err(ParseError::NotANumber {
                field: "timestamp",
                ..
            })
        ));
        assert!(matches!(
            parse_command("SCORE 1 -2"),
            Err(ParseError::OutOfRange { field: "score", .. })
        ));
        assert!(matches!(
            parse_command("SCORE 1 +2"),
            Err(ParseError::NotANumber { field: "score", .. })
        ));
        assert!(matches!(
            parse_command("SCORE - 2"),
            Err(ParseError::NotANumber {
                field: "timestamp",
                ..
            })
        ));
        assert!(matches!(
            parse_command("SCORE 1 9007199254740992"),
            Err(ParseError::OutOfRange { field: "score", .. })
        ));
        assert!(matches!(
            parse_command("SCORE 9223372036854775808 2"),
            Err(ParseError::OutOfRange {
                field: "timestamp",
                ..
            })
        ));
        assert!(matches!(
            parse_command("SCORE -9223372036854775809 2"),
            Err(ParseError::OutOfRange {
                field: "timestamp",
                ..
            })
        ));
        assert!(matches!(
            parse_command("SCORE 0 1 2"),
            Err(ParseError::OutOfRange { field: "msgId", .. })
        ));
        assert!(matches!(
            parse_command("LISTEN 0"),
            Err(ParseError::BadDeviceId(_))
        ));
        assert!(matches!(
            parse_command("LISTEN 1000000"),
            Err(ParseError::BadDeviceId(_))
        ));
        assert!(matches!(
            parse_command("LISTEN abc"),
            Err(ParseError::BadDeviceId(_))
        ));
        let long = "X".repeat(5000);
        let ParseError::UnknownVerb(v) = parse_command(&long).unwrap_err() else {
            panic!()
        };
        assert!(v.len() < 40);
    }

    #[test]
    fn timestamps_are_any_signed_64_bit_number() {
        // `Date.now() | 0` from the Espruino firmware, on a day it is negative.
        assert_eq!(
            parse_command("SCORE 12 -2147476840 31"),
            Ok(Command::Score(Score {
                msg_id: Some(12),
                timestamp: -2_147_476_840,
                score: 31
            }))
        );
        for ts in [i64::MIN, -1, 0, i64::MAX] {
            let Ok(Command::Score(score)) = parse_command(&format!("SCORE {ts} 1")) else {
                panic!("{ts}")
            };
            assert_eq!(score.timestamp, ts);
        }
        assert_eq!(
            parse_command("SCORE -0 1"),
            Ok(Command::Score(Score {
                msg_id: None,
                timestamp: 0,
                score: 1
            }))
        );
        let e = parse_command("SCORE 1 -2147476840 -3")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("out of range") && !e.contains("whole number"),
            "{e}"
        );
        let e = parse_command("SCORE 1 12abc 3").unwrap_err().to_string();
        assert!(e.contains("not a number"), "{e}");
        assert_eq!(
            ServerMessage::Scored {
                msg_id: Some(12),
                timestamp: -2_147_476_840
            }
            .to_string(),
            "SCORED 12 -2147476840"
        );
    }

    #[test]
    fn formats_per_draft() {
        let d1 = ServerMessage::Score {
            draft: Draft::One,
            timestamp: 10,
            id: 42,
            score: 3,
        };
        let d2 = ServerMessage::Score {
            draft: Draft::Two,
            timestamp: 10,
            id: 42,
            score: 3,
        };
        assert_eq!(d1.to_string(), "SCORE 10 000042 3");
        assert_eq!(d2.to_string(), "SCORE 10 3 000042");
        assert_eq!(ServerMessage::Connect(vec![]).to_string(), "CONNECT");
        assert_eq!(
            ServerMessage::Connect(vec![1, 2]).to_string(),
            "CONNECT 000001 000002"
        );
        assert_eq!(
            ServerMessage::Scored {
                msg_id: Some(3),
                timestamp: 9
            }
            .to_string(),
            "SCORED 3 9"
        );
    }

    const MAX_ERROR_BYTES: usize = 512;

    fn draft() -> impl Strategy<Value = Draft> {
        prop_oneof![Just(Draft::One), Just(Draft::Two)]
    }

    fn command() -> impl Strategy<Value = Command> {
        let safe = 0..=MAX_SAFE_INTEGER;
        prop_oneof![
            proptest::option::of("[A-Za-z0-9_-]{1,64}")
                .prop_map(|secret| Command::Register { secret }),
            (
                proptest::option::of(1..=MAX_SAFE_INTEGER),
                any::<i64>(),
                safe
            )
                .prop_map(|(msg_id, timestamp, score)| Command::Score(Score {
                    msg_id,
                    timestamp,
                    score
                })),
            (draft(), proptest::collection::vec(1..=MAX_DEVICE_ID, 0..8))
                .prop_map(|(draft, ids)| Command::Listen { draft, ids }),
        ]
    }

    fn server_message() -> impl Strategy<Value = (ServerMessage, Draft)> {
        let safe = 0..=MAX_SAFE_INTEGER;
        let id = 1..=MAX_DEVICE_ID;
        prop_oneof![
            (id.clone(), "[0-9a-f]{32}")
                .prop_map(|(id, secret)| (ServerMessage::Registered { id, secret }, Draft::One)),
            (proptest::option::of(1..=MAX_SAFE_INTEGER), any::<i64>()).prop_map(
                |(msg_id, timestamp)| {
                    let d = if msg_id.is_some() {
                        Draft::Two
                    } else {
                        Draft::One
                    };
                    (ServerMessage::Scored { msg_id, timestamp }, d)
                }
            ),
            proptest::collection::vec(id.clone(), 0..8)
                .prop_map(|ids| (ServerMessage::Connect(ids), Draft::One)),
            id.clone()
                .prop_map(|id| (ServerMessage::Disconnect(id), Draft::Two)),
            (draft(), any::<i64>(), id, safe).prop_map(|(draft, timestamp, id, score)| {
                (
                    ServerMessage::Score {
                        draft,
                        timestamp,
                        id,
                        score,
                    },
                    draft,
                )
            }),
            "[ -~]{1,60}"
                .prop_filter("no leading space", |s| !s.starts_with(' '))
                .prop_map(|m| (ServerMessage::Error(m), Draft::One)),
        ]
    }

    proptest! {
        #[test]
        fn every_valid_command_round_trips(cmd in command()) {
            prop_assert_eq!(parse_command(&cmd.to_string()), Ok(cmd));
        }

        #[test]
        fn every_server_message_round_trips((msg, draft) in server_message()) {
            prop_assert_eq!(ServerMessage::parse(&msg.to_string(), draft), Some(msg));
        }

        #[test]
        fn no_string_panics(s in any::<String>()) {
            let _ = parse_command(&s);
            let _ = ServerMessage::parse(&s, Draft::One);
            let _ = ServerMessage::parse(&s, Draft::Two);
        }

        #[test]
        fn random_bytes_parse_or_get_a_short_error(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            // Only valid UTF-8 reaches the parser (the WebSocket layer closes
            // with 1007 otherwise); lossy decoding keeps whatever else came.
            let frame = String::from_utf8_lossy(&bytes);
            match parse_command(&frame) {
                Ok(cmd) => prop_assert_eq!(parse_command(&cmd.to_string()), Ok(cmd)),
                // Quoted input is cut to 32 characters, each at most a
                // 10-byte escape: a reply never grows with the frame.
                Err(e) => prop_assert!(e.to_string().len() <= MAX_ERROR_BYTES, "{e}"),
            }
        }

        #[test]
        fn long_tokens_get_a_short_error(
            verb in prop_oneof![Just("SCORE"), Just("LISTEN"), Just("REGISTER"), Just("BOGUS")],
            c in any::<char>(),
            n in 33..4096usize,
            at in 0..3usize,
        ) {
            let long = c.to_string().repeat(n);
            let mut tokens = vec!["1".to_string(), "2".to_string()];
            tokens.insert(at.min(tokens.len()), long);
            let frame = format!("{verb} {}", tokens.join(" "));
            if let Err(e) = parse_command(&frame) {
                prop_assert!(e.to_string().len() <= MAX_ERROR_BYTES, "{e}");
            }
        }

        #[test]
        fn no_token_soup_panics(tokens in proptest::collection::vec(
            prop_oneof![
                Just("SCORE".to_string()), Just("REGISTER".to_string()), Just("LISTEN".to_string()),
                Just("subscribe".to_string()), "[0-9]{0,25}", "-?[0-9]{1,5}\\.[0-9]", "[,\\s]{0,3}", ".{0,8}"
            ], 0..6)) {
            let frame = tokens.join(" ");
            if let Ok(cmd) = parse_command(&frame) {
                // Anything accepted formats back to something that parses the same.
                prop_assert_eq!(parse_command(&cmd.to_string()), Ok(cmd));
            }
        }
    }
}
