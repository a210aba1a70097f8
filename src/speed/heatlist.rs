//! The heat list an organiser keeps in a spreadsheet: one row per entry,
//! `event,heat,station,name,club` (club may be blank), optionally under a
//! header row naming those columns, in any order. All rows are checked
//! before any is stored; a heat and station may appear only once.

use std::collections::HashMap;
use std::io::Read;

use crate::judging::import_error::{rows, ImportError};

/// Longest event, skipper or club name accepted.
pub const MAX_NAME: usize = 200;

/// One entry of the heat list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// The CSV row, for errors found later (against what is stored).
    pub row: u64,
    pub event: String,
    pub heat: u32,
    pub station: u32,
    pub name: String,
    pub club: Option<String>,
}

const COLUMNS: [&str; 5] = ["event", "heat", "station", "name", "club"];

/// Parses a heat list as it is read. Rows whose cells are all blank are skipped.
pub fn parse(reader: impl Read) -> Result<Vec<ListedEntry>, ImportError> {
    // Column index of each field: from the header, or the documented order.
    let mut order: [usize; 5] = [0, 1, 2, 3, 4];
    let mut entries = Vec::new();
    let mut seen: HashMap<(u32, u32), u64> = HashMap::new();
    for (index, row) in rows(reader).enumerate() {
        let row = row?;
        let cells = &row.cells;
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let fail = |reason: String| ImportError::new(row.number, reason);
        let names_a_column = |c: &String| {
            COLUMNS
                .iter()
                .any(|name| c.trim().eq_ignore_ascii_case(name))
        };
        if index == 0 && cells.iter().any(names_a_column) {
            order = header_order(cells).map_err(fail)?;
            continue;
        }
        let cell = |field: usize| cells.get(order[field]).map(|c| c.trim()).unwrap_or("");
        let text = |field: usize| -> Result<String, ImportError> {
            let value = cell(field);
            if value.chars().count() > MAX_NAME {
                return Err(fail(format!(
                    "{} is longer than {MAX_NAME} characters",
                    COLUMNS[field]
                )));
            }
            Ok(value.to_string())
        };
        let number = |field: usize| -> Result<u32, ImportError> {
            let value = cell(field);
            value
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    fail(format!(
                        "{} \"{value}\" is not a whole number from 1 up",
                        COLUMNS[field]
                    ))
                })
        };
        let event = text(0)?;
        let name = text(3)?;
        let club = text(4)?;
        if event.is_empty() {
            return Err(fail("event is empty".into()));
        }
        if name.is_empty() {
            return Err(fail("name is empty".into()));
        }
        let (heat, station) = (number(1)?, number(2)?);
        if let Some(first) = seen.insert((heat, station), row.number) {
            return Err(fail(format!(
                "heat {heat} station {station} is also on row {first}: one entry per station in a heat"
            )));
        }
        entries.push(ListedEntry {
            row: row.number,
            event,
            heat,
            station,
            name,
            club: (!club.is_empty()).then_some(club),
        });
    }
    if entries.is_empty() {
        return Err(ImportError::new(
            1,
            "the file has no entries: expected rows of event,heat,station,name,club",
        ));
    }
    Ok(entries)
}

fn header_order(cells: &[String]) -> Result<[usize; 5], String> {
    let mut order = [usize::MAX; 5];
    for (column, cell) in cells.iter().enumerate() {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        let field = COLUMNS
            .iter()
            .position(|c| c.eq_ignore_ascii_case(cell))
            .ok_or_else(|| {
                format!(
                    "unknown column \"{cell}\": the columns are event, heat, station, name, club"
                )
            })?;
        order[field] = column;
    }
    // Club may be left out; the others are needed.
    if let Some(missing) = (0..4).find(|&f| order[f] == usize::MAX) {
        return Err(format!("the header has no {} column", COLUMNS[missing]));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_in_any_order_bom_and_blank_club() {
        let csv = "\u{feff}Heat,Station,Event,Name,Club\r\n1,1,SRSS,Ada,North\r\n1,2,SRSS,Bo,\r\n,,,,\r\n";
        let got = parse(csv.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            ListedEntry {
                row: 2,
                event: "SRSS".into(),
                heat: 1,
                station: 1,
                name: "Ada".into(),
                club: Some("North".into())
            }
        );
        assert_eq!(got[1].club, None);
    }

    #[test]
    fn without_header_the_documented_order() {
        let got = parse(&b"SRSS,3,2,Cy"[..]).unwrap();
        assert_eq!(
            (got[0].heat, got[0].station, got[0].club.clone()),
            (3, 2, None)
        );
    }

    #[test]
    fn bad_rows_are_named() {
        let cases: &[(&str, u64, &str)] = &[
            ("event,heat,station,name\nSRSS,x,1,Ada", 2, "heat \"x\""),
            ("SRSS,1,0,Ada", 1, "station \"0\""),
            ("SRSS,1,1,", 1, "name is empty"),
            ("SRSS,1,1,Ada\nSRSE,1,1,Bo", 2, "also on row 1"),
            ("event,heat,lane,name", 1, "unknown column \"lane\""),
            ("event,heat,name", 1, "no station column"),
            ("", 1, "no entries"),
        ];
        for (csv, row, words) in cases {
            let err = parse(csv.as_bytes()).unwrap_err();
            assert_eq!(err.row, *row, "{csv}: {err}");
            assert!(err.reason.contains(words), "{csv}: {err}");
        }
    }
}
