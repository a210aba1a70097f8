//! Clicker wire format: building commands and parsing server frames for
//! both drafts. Draft-1 and draft-2 differ only in the SCORE/SCORED shapes
//! and in LISTEN versus SUBSCRIBE.

use crate::cli::DraftChoice;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draft {
    One,
    Two,
}

/// The draft of the `i`th sender or listener; `mixed` alternates so both
/// drafts carry the same load.
pub fn draft_for(choice: DraftChoice, i: usize) -> Draft {
    match choice {
        DraftChoice::One => Draft::One,
        DraftChoice::Two => Draft::Two,
        DraftChoice::Mixed if i.is_multiple_of(2) => Draft::One,
        DraftChoice::Mixed => Draft::Two,
    }
}

pub fn fmt_id(id: u32) -> String {
    format!("{id:06}")
}

pub fn score_cmd(draft: Draft, msg_id: u64, ts: u64, score: u64) -> String {
    match draft {
        Draft::One => format!("SCORE {ts} {score}"),
        Draft::Two => format!("SCORE {msg_id} {ts} {score}"),
    }
}

pub fn subscribe_cmd(draft: Draft, ids: &[u32]) -> String {
    let mut s = String::from(match draft {
        Draft::One => "LISTEN",
        Draft::Two => "SUBSCRIBE",
    });
    for &id in ids {
        s.push(' ');
        s.push_str(&fmt_id(id));
    }
    s
}

/// A frame from the server, parsed for the role that received it.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Registered {
        id: u32,
        secret: &'a str,
    },
    /// `msg_id` is present for draft-2 acks only.
    Scored {
        msg_id: Option<u64>,
        ts: u64,
    },
    Score {
        ts: u64,
        id: u32,
        score: u64,
    },
    Connect(Vec<u32>),
    Disconnect(Vec<u32>),
    Error(&'a str),
    Other(&'a str),
}

/// Parses one text frame. `listener_draft` decides the field order of a
/// broadcast SCORE, which differs between the drafts. Allocation-free except
/// for id lists: this runs once per delivery, hundreds of thousands per second.
pub fn parse(text: &str, listener_draft: Draft) -> Frame<'_> {
    // ASCII splitting: the Unicode-aware kind showed in listener profiles.
    let mut it = text.split_ascii_whitespace();
    let Some(head) = it.next() else {
        return Frame::Other(text);
    };
    if head == "CONNECT" || head == "DISCONNECT" {
        let ids: Option<Vec<u32>> = it.map(|t| t.parse().ok()).collect();
        return match (head, ids) {
            ("CONNECT", Some(ids)) => Frame::Connect(ids),
            (_, Some(ids)) => Frame::Disconnect(ids),
            _ => Frame::Other(text),
        };
    }
    if head == "ERROR" {
        return Frame::Error(text.trim_start()["ERROR".len()..].trim());
    }
    let mut rest = [""; 3];
    let mut n = 0;
    for t in it {
        if n == rest.len() {
            return Frame::Other(text);
        }
        rest[n] = t;
        n += 1;
    }
    let parsed = match (head, &rest[..n]) {
        ("REGISTERED", [id, secret]) => id.parse().ok().map(|id| Frame::Registered { id, secret }),
        ("SCORED", [ts]) => ts.parse().ok().map(|ts| Frame::Scored { msg_id: None, ts }),
        ("SCORED", [m, ts]) => match (m.parse(), ts.parse()) {
            (Ok(m), Ok(ts)) => Some(Frame::Scored {
                msg_id: Some(m),
                ts,
            }),
            _ => None,
        },
        ("SCORE", [ts, a, b]) => {
            let (id, score) = match listener_draft {
                Draft::One => (a, b),
                Draft::Two => (b, a),
            };
            match (ts.parse(), id.parse(), score.parse()) {
                (Ok(ts), Ok(id), Ok(score)) => Some(Frame::Score { ts, id, score }),
                _ => None,
            }
        }
        _ => None,
    };
    parsed.unwrap_or(Frame::Other(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(score_cmd(Draft::One, 7, 1000, 3), "SCORE 1000 3");
        assert_eq!(score_cmd(Draft::Two, 7, 1000, 3), "SCORE 7 1000 3");
        assert_eq!(subscribe_cmd(Draft::One, &[1, 42]), "LISTEN 000001 000042");
        assert_eq!(subscribe_cmd(Draft::Two, &[5]), "SUBSCRIBE 000005");
    }

    #[test]
    fn frames() {
        assert_eq!(
            parse("REGISTERED 000012 abc", Draft::One),
            Frame::Registered {
                id: 12,
                secret: "abc"
            }
        );
        assert_eq!(
            parse("SCORED 99", Draft::One),
            Frame::Scored {
                msg_id: None,
                ts: 99
            }
        );
        assert_eq!(
            parse("SCORED 4 99", Draft::Two),
            Frame::Scored {
                msg_id: Some(4),
                ts: 99
            }
        );
        assert_eq!(
            parse("SCORE 99 000003 17", Draft::One),
            Frame::Score {
                ts: 99,
                id: 3,
                score: 17
            }
        );
        assert_eq!(
            parse("SCORE 99 17 000003", Draft::Two),
            Frame::Score {
                ts: 99,
                id: 3,
                score: 17
            }
        );
        assert_eq!(parse("CONNECT", Draft::One), Frame::Connect(vec![]));
        assert_eq!(
            parse("CONNECT 000001 000002", Draft::Two),
            Frame::Connect(vec![1, 2])
        );
        assert_eq!(
            parse("DISCONNECT 000002", Draft::Two),
            Frame::Disconnect(vec![2])
        );
        assert_eq!(
            parse("ERROR bad thing", Draft::Two),
            Frame::Error("bad thing")
        );
        assert_eq!(parse("SCORE x", Draft::Two), Frame::Other("SCORE x"));
    }
}
