//! The clicker protocol (draft-1 and draft-2) over WebSocket at `/ws`.
//!
//! * [`protocol`]: pure parsing and formatting of frames.
//! * [`clock`]: which of two timestamps is newer, 32-bit wrap included.
//! * [`hub`]: live fan-out of device events to listeners.
//! * [`follow`]: the hub's newest scores, from the store's change log.
//! * [`queue`]: a listener's bounded queue of frames, filled by the hub.
//! * [`connection`]: one connection's loop, from upgrade to close.
//! * [`history`]: the HTTP API that reads devices and score series back.
//! * [`marks`]: a score series as RopeScore-style step marks.

pub mod clock;
pub mod connection;
pub mod follow;
pub mod history;
pub mod hub;
pub mod marks;
pub mod protocol;
pub mod queue;
