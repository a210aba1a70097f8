//! The judging domain, independent of any wire protocol: the data model, the
//! rules a hack, a judge or a superlative must follow, import of Devpost and
//! judge CSVs, assignment of hacks to judges, results with per-judge
//! normalisation, CSV exports, and the organiser's view of the judging floor. All pure: the Sledge socket.io adapter and
//! the HTTP API call into this module, so one rule has one home.

pub mod absence;
pub mod assign;
pub mod devpost;
pub mod error;
pub mod export;
pub mod floor;
pub mod import_error;
pub mod inputs;
pub mod judges_csv;
pub mod model;
pub mod ops;
pub mod outcomes;
pub mod results;
pub mod validate;

pub use import_error::ImportError;
