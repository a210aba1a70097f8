//! The judging domain, independent of any wire protocol: the rules a hack, a
//! judge or a superlative must follow, and (in later modules) import,
//! assignment and results. The Sledge socket.io adapter and the HTTP API both
//! call into this module, so one rule has one home.

pub mod validate;

pub mod assign;
pub mod devpost;
pub mod export;
pub mod import_error;
pub mod judges_csv;
pub mod results;

pub use import_error::ImportError;
