//! The clicker protocol side of the generator: text commands over `/ws`,
//! registered senders that SCORE and listeners that receive broadcasts.

pub mod devices;
pub mod listener;
pub mod progress;
pub mod proto;
pub mod run;
pub mod sender;
