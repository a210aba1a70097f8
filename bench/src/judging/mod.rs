//! The Sledge judging side of the generator: an admin sets up hacks and
//! judges, judges log in and rate, subscribed admins watch the database.

pub mod book;
pub mod db;
pub mod judge;
pub mod run;
pub mod setup;
pub mod subscriber;
