//! The error every CSV import returns, and the record reader the importers
//! share. Imports are all-or-nothing, so one error names the first bad row
//! and why, in words an organiser can fix in their spreadsheet.

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

/// Splits `bytes` into records: a leading UTF-8 byte-order mark is dropped,
/// CRLF and LF both end a record, quoted fields may hold commas, quotes and
/// newlines, and rows may differ in length (each importer checks its own).
pub(crate) fn read_rows(bytes: &[u8]) -> Result<Vec<Row>, ImportError> {
    // Excel writes a BOM on "CSV UTF-8"; the csv crate would keep it as part
    // of the first header cell.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = Vec::new();
    for (index, record) in reader.byte_records().enumerate() {
        let number = index as u64 + 1;
        let record =
            record.map_err(|e| ImportError::new(number, format!("unreadable CSV: {e}")))?;
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
        rows.push(Row { number, cells });
    }
    Ok(rows)
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
    fn invalid_utf8_names_the_row() {
        let err = read_rows(b"a,b\nok,caf\xE9\n").err().unwrap();
        assert_eq!(err.row, 2);
        assert!(err.reason.contains("column 2"), "{err}");
    }
}
