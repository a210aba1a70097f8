//! The judging writes a client names (a socket.io event, an HTTP endpoint),
//! one file each: its payload as parsed at the edge, the [`Op`] it is in
//! the operations table, who may do it, and what it does. socket.io finds a
//! command by its event name in [`COMMANDS`]; HTTP parses the same payload
//! and calls the same [`Command::apply`], so the two protocols share one
//! parse and one permission rule per write.
//!
//! A new write is a file here and its line in [`COMMANDS`]; its rule lives
//! in its domain room (`crate::judging::ops`) and its SQL in each store.
//!
//! ```text
//! add_hack.rs, add_judge.rs, add_superlative.rs   the admin's additions
//! rate_hack.rs, unrate_hack.rs                    a judge's rating, and its undo
//! rank_superlative.rs                             a judge's superlative choices
//! mark_absent.rs, note_hack.rs                    the judging floor
//! ```

mod add_hack;
mod add_judge;
mod add_superlative;
mod mark_absent;
mod note_hack;
mod rank_superlative;
mod rate_hack;
mod unrate_hack;

use std::fmt::Debug;
use std::future::Future;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub use add_hack::AddHack;
pub use add_judge::AddJudge;
pub use add_superlative::AddSuperlative;
pub use mark_absent::MarkAbsent;
pub use note_hack::NoteHack;
pub use rank_superlative::RankSuperlative;
pub use rate_hack::RateHack;
pub use unrate_hack::UnrateHack;

use super::auth::{Identity, Op};
use super::ops::OpError;
use super::requests::{at_least, fields, ParseError};
use super::Core;

/// A write a client asks for by name.
pub trait Command: DeserializeOwned + Serialize + Debug + Send + 'static {
    /// Its entry in the operations table: event name and endpoint.
    const OP: Op;
    /// The payload's shape, quoted in parse errors.
    const SCHEMA: &'static str;
    /// The field of a socket.io acknowledgement that holds the reply:
    /// `{"ok": true, "<REPLY>": row}`.
    const REPLY: &'static str;
    /// What it answers: the row as stored.
    type Reply: Serialize + Send;

    /// The ids the payload names, each with the least value it may have
    /// (0 means "none" where a field allows it); checked after parsing.
    fn ids(&self) -> Vec<(&'static str, i64, i64)> {
        Vec::new()
    }

    /// Checks that `who` may do it, then does it.
    fn apply(
        self,
        core: &Core,
        who: Identity,
    ) -> impl Future<Output = Result<Self::Reply, OpError>> + Send;
}

impl Core {
    /// Runs `command` for `who`.
    pub async fn run<C: Command>(&self, who: Identity, command: C) -> Result<C::Reply, OpError> {
        command.apply(self, who).await
    }
}

/// Parses `payload` as command `C`, as strictly as any event.
pub fn parse<C: Command>(payload: Value) -> Result<C, ParseError> {
    let event = C::OP.event_name();
    let command: C = fields(event, C::SCHEMA, payload)?;
    for (field, got, min) in command.ids() {
        at_least(event, field, got, min)?;
    }
    Ok(command)
}

/// A parsed command of any kind, ready to run.
pub trait Parsed: Debug + Send {
    /// Its event name.
    fn event(&self) -> &'static str;
    /// The payload it was parsed from, as the server understood it.
    fn to_json(&self) -> Value;
    /// Runs it for `who`; the reply is ready for an acknowledgement.
    fn run<'a>(
        self: Box<Self>,
        core: &'a Core,
        who: Identity,
    ) -> BoxFuture<'a, Result<Written, OpError>>;
}

impl<C: Command> Parsed for C {
    fn event(&self) -> &'static str {
        C::OP.event_name()
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("payloads serialize")
    }

    fn run<'a>(
        self: Box<Self>,
        core: &'a Core,
        who: Identity,
    ) -> BoxFuture<'a, Result<Written, OpError>> {
        Box::pin(async move {
            let reply = self.apply(core, who).await?;
            Ok(Written {
                field: C::REPLY,
                row: serde_json::to_value(reply).expect("rows serialize"),
            })
        })
    }
}

/// What a command wrote, for its acknowledgement.
#[derive(Clone, PartialEq, Eq)]
pub struct Written {
    /// The acknowledgement's field for it.
    pub field: &'static str,
    /// The row as stored.
    pub row: Value,
}

// Logged at debug level: the row's id only, as a note's text or a judge's
// email is nobody's business in a log.
impl Debug for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Written {{ {}: id {} }}", self.field, self.row["id"])
    }
}

/// One row of the command table: a command's name, and how to parse it.
pub struct Entry {
    pub op: Op,
    pub parse: fn(Value) -> Result<Box<dyn Parsed>, ParseError>,
}

const fn entry<C: Command>() -> Entry {
    Entry {
        op: C::OP,
        parse: parse_boxed::<C>,
    }
}

fn parse_boxed<C: Command>(payload: Value) -> Result<Box<dyn Parsed>, ParseError> {
    Ok(Box::new(parse::<C>(payload)?))
}

/// Every command, in the order the protocol documents them.
pub static COMMANDS: &[Entry] = &[
    entry::<AddHack>(),
    entry::<AddJudge>(),
    entry::<AddSuperlative>(),
    entry::<RateHack>(),
    entry::<UnrateHack>(),
    entry::<RankSuperlative>(),
    entry::<MarkAbsent>(),
    entry::<NoteHack>(),
];

/// The command whose event name is `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    COMMANDS.iter().find(|e| e.op.event_name() == name)
}
