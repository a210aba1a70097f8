//! Import of a judges list an organiser keeps in a spreadsheet: `name,email`
//! per row, optionally under a `name,email` header. All rows are checked
//! before any is accepted, and an email may appear only once, because a
//! judge's email is how they are told apart and invited.

use super::import_error::{rows, ImportError};
use super::validate;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Read;

/// One judge to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewJudge {
    pub name: String,
    pub email: String,
}

/// Parses a judges CSV. Rows whose cells are all blank (as spreadsheets
/// write below a list) are skipped; extra columns are allowed only if blank.
pub fn parse(bytes: &[u8]) -> Result<Vec<NewJudge>, ImportError> {
    Ok(parse_numbered(bytes)?
        .into_iter()
        .map(|(_, judge)| judge)
        .collect())
}

/// [`parse`], keeping each judge's row number, so that a check made later
/// against the judges already stored (is the email taken?) can name the row.
pub fn parse_numbered(bytes: &[u8]) -> Result<Vec<(u64, NewJudge)>, ImportError> {
    read_numbered(bytes)
}

/// [`parse_numbered`] reading the file as it arrives, a row at a time.
pub fn read_numbered(file: impl Read) -> Result<Vec<(u64, NewJudge)>, ImportError> {
    let is_header = |cells: &[String]| {
        cells.len() >= 2
            && cells[0].trim().eq_ignore_ascii_case("name")
            && cells[1].trim().eq_ignore_ascii_case("email")
            && cells[2..].iter().all(|c| c.trim().is_empty())
    };
    let mut judges = Vec::new();
    // Lower-cased email -> the row that first used it.
    let mut first_row: HashMap<String, u64> = HashMap::new();
    for (index, row) in rows(file).enumerate() {
        let row = row?;
        let cells = &row.cells;
        if cells.iter().all(|c| c.trim().is_empty()) || (index == 0 && is_header(cells)) {
            continue;
        }
        let fail = |reason: String| ImportError::new(row.number, reason);
        if cells.len() < 2 {
            return Err(fail(format!(
                "has {} column; expected two columns, name,email",
                cells.len()
            )));
        }
        if let Some(extra) = cells[2..].iter().position(|c| !c.trim().is_empty()) {
            return Err(fail(format!(
                "column {} is not empty; expected two columns, name,email",
                extra + 3
            )));
        }
        let name = cells[0].trim();
        let email = cells[1].trim();
        validate::name("name", name).map_err(|e| fail(e.to_string()))?;
        validate::email(email).map_err(|e| fail(e.to_string()))?;
        if let Some(earlier) = first_row.insert(email.to_lowercase(), row.number) {
            return Err(fail(format!(
                "email {email} is already used on row {earlier}; each judge needs their own email"
            )));
        }
        judges.push((
            row.number,
            NewJudge {
                name: name.to_string(),
                email: email.to_string(),
            },
        ));
    }
    Ok(judges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(name: &str, email: &str) -> NewJudge {
        NewJudge {
            name: name.into(),
            email: email.into(),
        }
    }

    #[test]
    fn with_header_bom_crlf_and_quotes() {
        let csv = "\u{feff}Name , EMAIL\r\n\"Lovelace, Ada\",ada@example.org\r\n Grace Hopper , grace@example.org \r\n";
        assert_eq!(
            parse(csv.as_bytes()).unwrap(),
            vec![
                judge("Lovelace, Ada", "ada@example.org"),
                judge("Grace Hopper", "grace@example.org")
            ]
        );
    }

    #[test]
    fn numbered_rows_count_the_header_and_blank_rows() {
        let csv = "name,email\nAda,ada@example.org\n,\nGrace,grace@example.org\n";
        let rows: Vec<u64> = parse_numbered(csv.as_bytes())
            .unwrap()
            .iter()
            .map(|(row, _)| *row)
            .collect();
        assert_eq!(rows, [2, 4]);
    }

    #[test]
    fn without_header() {
        let csv = "Ada,ada@example.org\nGrace,grace@example.org";
        assert_eq!(parse(csv.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn header_only_skipped_on_the_first_row() {
        let err = parse(b"Ada,ada@example.org\nname,email\n").unwrap_err();
        assert_eq!(err.row, 2);
        assert!(err.reason.contains("not a plausible address"), "{err}");
    }

    #[test]
    fn blank_rows_and_blank_extra_columns_are_fine() {
        let csv = "name,email,\nAda,ada@example.org,\n,,\n\nGrace,grace@example.org\n";
        assert_eq!(parse(csv.as_bytes()).unwrap().len(), 2);
        assert_eq!(parse(b"").unwrap(), vec![]);
        assert_eq!(parse(b"name,email\r\n").unwrap(), vec![]);
    }

    #[test]
    fn duplicate_email_names_both_rows() {
        let csv =
            "name,email\nAda,ada@example.org\nGrace,grace@example.org\nAda L,ADA@example.org\n";
        let err = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(err.row, 4);
        assert_eq!(
            err.reason,
            "email ADA@example.org is already used on row 2; each judge needs their own email"
        );
    }

    #[test]
    fn bad_rows() {
        let cases: &[(&str, u64, &str)] = &[
            ("Ada,ada@example.org\nGrace\n", 2, "has 1 column"),
            ("Ada,ada@example.org,extra\n", 1, "column 3 is not empty"),
            ("  ,ada@example.org\n", 1, "name must not be empty"),
            ("Ada,\n", 1, "not a plausible address"),
            ("Ada,ada at example.org\n", 1, "not a plausible address"),
            (
                "\"Ada\nLovelace\",ada@example.org\n",
                1,
                "control characters",
            ),
        ];
        for (csv, row, reason) in cases {
            let err = parse(csv.as_bytes()).unwrap_err();
            assert_eq!(err.row, *row, "{csv:?}: {err}");
            assert!(err.reason.contains(reason), "{csv:?}: {err}");
        }
    }
}
