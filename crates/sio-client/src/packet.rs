//! Engine.IO and socket.io packet text: `0{open}`, `2`/`3` ping-pong,
//! `40` connect, `42[ackId]["event",data]` events and `43<ackId>[data]` acks.

use serde_json::Value;

/// The Engine.IO protocol revision: 3 is what socket.io 2.x clients speak,
/// 4 what socket.io 3.x and 4.x clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eio {
    V3,
    V4,
}

impl Eio {
    /// The path and query that open `/socket.io/` over WebSocket at once.
    pub fn query(self) -> &'static str {
        match self {
            Eio::V3 => "/socket.io/?EIO=3&transport=websocket",
            Eio::V4 => "/socket.io/?EIO=4&transport=websocket",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// Engine.IO handshake with its JSON (sid, pingInterval, ...).
    Open(Value),
    Close,
    Ping,
    Pong,
    Noop,
    /// socket.io CONNECT for the default namespace (payload, if any).
    Connect(Option<Value>),
    Disconnect,
    ConnectError(Value),
    Event {
        name: String,
        data: Value,
        ack: Option<u64>,
    },
    Ack {
        id: u64,
        data: Value,
    },
    /// Anything this client does not handle (binary, other namespaces, junk).
    Other(String),
}

/// `42["name",data]`, or `42<ack>["name",data]` when an ack is wanted.
pub fn event(name: &str, data: &Value, ack: Option<u64>) -> String {
    let body = Value::Array(vec![Value::String(name.to_string()), data.clone()]);
    match ack {
        Some(id) => format!("42{id}{body}"),
        None => format!("42{body}"),
    }
}

pub fn parse(text: &str) -> Packet {
    let mut chars = text.chars();
    match chars.next() {
        Some('0') => serde_json::from_str(&text[1..])
            .map(Packet::Open)
            .unwrap_or_else(|_| Packet::Other(text.to_string())),
        Some('1') => Packet::Close,
        Some('2') => Packet::Ping,
        Some('3') => Packet::Pong,
        Some('6') => Packet::Noop,
        Some('4') => parse_socket(&text[1..]).unwrap_or_else(|| Packet::Other(text.to_string())),
        _ => Packet::Other(text.to_string()),
    }
}

fn parse_socket(s: &str) -> Option<Packet> {
    let kind = s.chars().next()?;
    let mut rest = &s[1..];
    if rest.starts_with('/') {
        // Namespaced packet: only the default namespace ("/") is ours.
        let (nsp, tail) = rest.split_once(',').unwrap_or((rest, ""));
        if nsp != "/" {
            return None;
        }
        rest = tail;
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack: Option<u64> = if digits > 0 {
        Some(rest[..digits].parse().ok()?)
    } else {
        None
    };
    let payload = &rest[digits..];
    let json = || -> Option<Value> {
        if payload.is_empty() {
            Some(Value::Null)
        } else {
            serde_json::from_str(payload).ok()
        }
    };
    match kind {
        '0' => Some(Packet::Connect(json().filter(|v| !v.is_null()))),
        '1' => Some(Packet::Disconnect),
        '2' => {
            let Value::Array(mut items) = json()? else {
                return None;
            };
            if items.is_empty() {
                return None;
            }
            let name = items.remove(0).as_str()?.to_string();
            let data = if items.is_empty() {
                Value::Null
            } else {
                items.swap_remove(0)
            };
            Some(Packet::Event { name, data, ack })
        }
        '3' => {
            let Value::Array(mut items) = json()? else {
                return None;
            };
            let data = if items.is_empty() {
                Value::Null
            } else {
                items.swap_remove(0)
            };
            Some(Packet::Ack { id: ack?, data })
        }
        '4' => Some(Packet::ConnectError(json()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_events() {
        assert_eq!(
            event("rate-hack", &json!({"a":1}), None),
            r#"42["rate-hack",{"a":1}]"#
        );
        assert_eq!(event("x", &json!({}), Some(12)), r#"4212["x",{}]"#);
    }

    #[test]
    fn parses_packets() {
        assert_eq!(parse("2"), Packet::Ping);
        assert_eq!(parse("3"), Packet::Pong);
        assert_eq!(parse("40"), Packet::Connect(None));
        assert_eq!(
            parse(r#"40{"sid":"x"}"#),
            Packet::Connect(Some(json!({"sid":"x"})))
        );
        assert_eq!(
            parse(r#"0{"sid":"a","pingInterval":25000}"#),
            Packet::Open(json!({"sid":"a","pingInterval":25000}))
        );
        assert_eq!(
            parse(r#"42["update-partial",{"diff":{}}]"#),
            Packet::Event {
                name: "update-partial".into(),
                data: json!({"diff":{}}),
                ack: None
            }
        );
        assert_eq!(
            parse(r#"437[{"ok":true}]"#),
            Packet::Ack {
                id: 7,
                data: json!({"ok":true})
            }
        );
        assert_eq!(
            parse(r#"43/,7[{"ok":true}]"#),
            Packet::Ack {
                id: 7,
                data: json!({"ok":true})
            }
        );
        assert!(matches!(parse(r#"42/admin,["x"]"#), Packet::Other(_)));
        assert!(matches!(
            parse(r#"44{"message":"no"}"#),
            Packet::ConnectError(_)
        ));
    }
}
