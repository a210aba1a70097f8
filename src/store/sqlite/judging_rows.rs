//! What every module of the judging tables shares: whether a referenced row
//! exists. (What a write publishes, the shared runner publishes.)

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

pub(super) fn exists_hack(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    exists(conn, Table::Hacks, id)
}

/// The tables whose rows other rows refer to.
#[derive(Clone, Copy)]
pub(super) enum Table {
    Hacks,
    Judges,
    Superlatives,
}

pub(super) fn exists(conn: &Connection, table: Table, id: i64) -> Result<bool, StoreError> {
    let sql = match table {
        Table::Hacks => "SELECT 1 FROM hacks WHERE id = ?1",
        Table::Judges => "SELECT 1 FROM judges WHERE id = ?1",
        Table::Superlatives => "SELECT 1 FROM superlatives WHERE id = ?1",
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}
