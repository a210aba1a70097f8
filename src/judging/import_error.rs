//! The error every CSV import returns, and the record reader the importers
//! share. Imports are all-or-nothing, so one error names the first bad row
//! and why, in words an organiser can fix in their spreadsheet.

use std::io::{self, Read};

use thiserror::Error;

/// Why an import was refused: the first bad row and what is wrong with it.
///
/// `row` counts CSV records from 1, the header (if any) being row 1, which is
/// the row number a spreadsheet shows as long as the file has no blank lines
/// (the reader skips those). A record whose quoted field spans several lines
/// is still one row.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("row {row}: {reason}")]
pub struct ImportError {
    pub row: u64,
    pub reason: String,
}

impl ImportError {
    pub fn new(row: u64, reason: impl Into<String>) -> Self {
        ImportError {
            row,
            reason: reason.into(),
        }
    }
}

/// One CSV record with its 1-based row number.
pub(crate) struct Row {
    pub number: u64,
    pub cells: Vec<String>,
}

/// The records of a CSV file, read as they arrive: a leading UTF-8
/// byte-order mark is dropped, CRLF and LF both end a record, quoted fields
/// may hold commas, quotes and newlines, and rows may differ in length (each
/// importer checks its own). Only one record is held at a time, so a large
/// upload is never in memory whole.
pub(crate) struct Rows<R: Read> {
    reader: csv::Reader<io::Chain<io::Cursor<Vec<u8>>, R>>,
    record: csv::ByteRecord,
    number: u64,
    failed: bool,
}

/// [`Rows`] of `reader`.
pub(crate) fn rows<R: Read>(mut reader: R) -> Rows<R> {
    // Excel writes a BOM on "CSV UTF-8"; the csv crate would keep it as part
    // of the first header cell. A streamed body may deliver it piecemeal.
    let mut start = Vec::with_capacity(BOM.len());
    let read = (&mut reader).take(BOM.len() as u64).read_to_end(&mut start);
    if read.is_ok() && start == BOM {
        start.clear();
    }
    // A read error here recurs on the csv reader's first read, which reports it.
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(io::Cursor::new(start).chain(reader));
    Rows {
        reader,
        record: csv::ByteRecord::new(),
        number: 0,
        failed: false,
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<R: Read> Iterator for Rows<R> {
    type Item = Result<Row, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.number += 1;
        let number = self.number;
        let row = match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => return None,
            Ok(true) => cells(&self.record, number),
            Err(e) => Err(ImportError::new(number, format!("unreadable CSV: {e}"))),
        };
        self.failed = row.is_err();
        Some(row)
    }
}

fn cells(record: &csv::ByteRecord, number: u64) -> Result<Row, ImportError> {
    let mut cells = Vec::with_capacity(record.len());
    for (column, cell) in record.iter().enumerate() {
        let text = std::str::from_utf8(cell).map_err(|_| {
            ImportError::new(
                number,
                format!(
                    "column {} is not UTF-8 text; save the file as \"CSV UTF-8\" and try again",
                    column + 1
                ),
            )
        })?;
        cells.push(text.to_string());
    }
    Ok(Row { number, cells })
}

/// Every record of `bytes` at once.
#[cfg(test)]
pub(crate) fn read_rows(bytes: &[u8]) -> Result<Vec<Row>, ImportError> {
    rows(bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_row_and_reason() {
        let e = ImportError::new(4, "Project Title is empty");
        assert_eq!(e.to_string(), "row 4: Project Title is empty");
    }

    #[test]
    fn bom_crlf_quotes_and_ragged_rows() {
        let rows = read_rows(b"\xEF\xBB\xBFa,b\r\n\"x, \"\"y\"\"\nz\",2,3\r\nlast").unwrap();
        let cells: Vec<_> = rows.iter().map(|r| (r.number, r.cells.clone())).collect();
        assert_eq!(
            cells,
            vec![
                (1, vec!["a".to_string(), "b".to_string()]),
                (
                    2,
                    vec!["x, \"y\"\nz".to_string(), "2".to_string(), "3".to_string()]
                ),
                (3, vec!["last".to_string()]),
            ]
        );
    }

    #[test]
    fn a_bom_split_across_reads_is_still_dropped() {
        let file = b"\xEF\xBB\xBFa,b\n";
        let trickle = io::Read::chain(&file[..1], &file[1..]).chain(&b""[..]);
        let rows: Vec<_> = rows(trickle).map(|r| r.unwrap().cells).collect();
        assert_eq!(rows, vec![vec!["a".to_string(), "b".to_string()]]);
    }

    #[test]
    fn invalid_utf8_names_the_row() {
        let err = read_rows(b"a,b\nok,caf\xE9\n").err().unwrap();
        assert_eq!(err.row, 2);
        assert!(err.reason.contains("column 2"), "{err}");
    }
}
