//! Import of Devpost's project export CSV, so organisers need not retype the
//! hacks: one [`Project`] per submitted project, drafts left out, and
//! [`tables_around`] to give every new project a table number.
//!
//! Columns are read by position because Devpost's header texts have changed
//! between exports while the order of the columns used here has not. The one
//! exception is the table number column of newer exports, found by name.

use super::import_error::{rows, ImportError};
use super::validate;
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::Read;

const TITLE: usize = 0;
const URL: usize = 1;
const STATUS: usize = 2;
const ABOUT: usize = 6;
const PRIZES: usize = 9;
/// Columns a row needs to reach "Opt-In Prizes".
const MIN_COLUMNS: usize = PRIZES + 1;

/// One project from the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// The project's row in the file (the header is row 1).
    pub row: u64,
    pub title: String,
    pub submission_url: String,
    pub description: String,
    /// The table Devpost assigned, when the export has a table column and
    /// the cell is filled in.
    pub table: Option<i64>,
    /// Opt-in prizes in file order, each once.
    pub prizes: Vec<String>,
}

/// Parses a Devpost project export. Every row must be valid or nothing is
/// imported; the error names the first bad row.
pub fn parse(bytes: &[u8]) -> Result<Vec<Project>, ImportError> {
    read(bytes)
}

/// [`parse`] reading the file as it arrives, a row at a time, so that only
/// the projects are held, never the whole file.
pub fn read(file: impl Read) -> Result<Vec<Project>, ImportError> {
    let mut body = rows(file);
    let header = match body.next() {
        Some(header) => header?,
        None => {
            return Err(ImportError::new(
                1,
                "the file is empty; expected Devpost's project export with its header row",
            ))
        }
    };
    if header.cells.len() < MIN_COLUMNS {
        return Err(ImportError::new(
            header.number,
            format!(
                "the header has {} columns; Devpost's project export has at least {MIN_COLUMNS} \
                 (Project Title, Submission Url, Project Status, ..., Opt-In Prizes) - \
                 is this the right file?",
                header.cells.len()
            ),
        ));
    }
    let table_column = header.cells.iter().enumerate().position(|(i, name)| {
        !matches!(i, TITLE | URL | STATUS | ABOUT | PRIZES) && name.to_lowercase().contains("table")
    });
    let required = table_column.map_or(MIN_COLUMNS, |t| MIN_COLUMNS.max(t + 1));
    let column_name = |i: usize| header.cells[i].trim();

    let mut projects = Vec::new();
    for row in body {
        let row = row?;
        let cells = &row.cells;
        let fail = |reason: String| ImportError::new(row.number, reason);
        // Drafts are never judged, so whatever half-filled state they are in
        // must not block the import.
        if cells
            .get(STATUS)
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("draft"))
        {
            continue;
        }
        if cells.len() < required {
            return Err(fail(format!(
                "has {} columns; every project row needs at least {required} (through \"{}\")",
                cells.len(),
                column_name(required - 1)
            )));
        }
        let title = one_line(&cells[TITLE]);
        let title = title.as_str();
        if title.is_empty() {
            return Err(fail(format!("{} is empty", column_name(TITLE))));
        }
        validate::name("name", title).map_err(|e| fail(format!("{}: {e}", column_name(TITLE))))?;
        // Stories are kept whole, however long (see `story_adjustment`).
        let description = cells[ABOUT].trim();
        validate::story(description).map_err(|e| fail(format!("{}: {e}", column_name(ABOUT))))?;
        let table = match table_column {
            Some(t) => parse_table(&cells[t]).map_err(|reason| {
                fail(format!(
                    "{} {:?}: {reason}",
                    column_name(t),
                    cells[t].trim()
                ))
            })?,
            None => None,
        };
        let prizes = split_prizes(&cells[PRIZES]);
        // Each prize becomes a superlative, so it must be a valid name too.
        for prize in &prizes {
            validate::name("prize name", prize)
                .map_err(|e| fail(format!("{}: {e}", column_name(PRIZES))))?;
        }
        projects.push(Project {
            row: row.number,
            title: title.to_string(),
            submission_url: one_line(&cells[URL]),
            description: description.to_string(),
            table,
            prizes,
        });
    }
    Ok(projects)
}

/// What the import does about a story longer than a typed description
/// may be, for the import's answer; `None` for a story of usual length.
pub fn story_adjustment(project: &Project) -> Option<String> {
    let max = validate::MAX_DESCRIPTION_CHARS;
    if project.description.len() <= max {
        return None;
    }
    let chars = project.description.chars().count();
    (chars > max).then(|| {
        format!(
            "the story is {chars} characters long: it is kept whole (the admin and the \
             exports have all of it), and judges are sent its first part, up to {max} \
             characters, marked as shortened"
        )
    })
}

/// The tables of projects that want these (`None`: any), in file order:
/// a project's own table when it has one, otherwise the lowest number from
/// 1 up that no project uses yet and that is not in `taken` (the tables of
/// hacks entered earlier), so an import does not seat two teams at one
/// table. A table the file itself names is kept even if taken: the
/// organiser (or Devpost) chose it.
pub fn tables_around(wanted: &[Option<i64>], taken: &BTreeSet<i64>) -> Vec<i64> {
    let mut used: BTreeSet<i64> = wanted.iter().flatten().copied().collect();
    used.extend(taken);
    let mut next = 1;
    wanted
        .iter()
        .map(|table| {
            table.unwrap_or_else(|| {
                while used.contains(&next) {
                    next += 1;
                }
                used.insert(next);
                next
            })
        })
        .collect()
}

/// "12", "Table 12", "table #12" -> 12; blank -> None.
fn parse_table(cell: &str) -> Result<Option<i64>, String> {
    let text = cell.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let number = match text.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("table") => text[5..].trim_start(),
        _ => text,
    };
    let number = number.strip_prefix('#').unwrap_or(number).trim_start();
    let table: i64 = number
        .parse()
        .map_err(|_| "is not a table number (expected e.g. 12 or Table 12)".to_string())?;
    validate::location(table).map_err(|e| e.to_string())?;
    Ok(Some(table))
}

/// Devpost joins prize names with ", "; a prize name with a comma in it
/// cannot be told apart, so it is split too.
fn split_prizes(cell: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    cell.split(',')
        .map(one_line)
        .filter(|p| !p.is_empty())
        // The same prize typed twice with different case is still one prize.
        .filter(|p| seen.insert(p.to_lowercase()))
        .collect()
}

/// A one-line cell (a name, a URL) as a single line: Devpost keeps line
/// breaks typed into a title inside its quotes, so line breaks and tabs,
/// with the spaces around them, become one space. Other control characters
/// stay, for validation to refuse.
fn one_line(cell: &str) -> String {
    cell.split(['\r', '\n', '\t'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of `/work/shared/fixtures/devpost-sample.csv`: BOM, CRLF, a
    /// quoted newline, a draft, doubled quotes inside quotes.
    const SAMPLE: &str = "\u{feff}Project Title,Submission Url,Project Status,Judging Status,Highest Step Completed,Project Created At,About The Project,\"\"\"Try it out\"\" Links\",Video Demo Link,Opt-In Prizes,Built With,Notes,Team Colleges/Universities,Additional Team Member Count\r\n\
Tally Ho,https://devpost.example/software/tally-ho,Submitted,Pending,Submit,11/01/2026 10:02:11,\"Counts things, fast.\nSecond line of the story, with a comma, here.\",https://tally.example,https://video.example/1,\"Best Hardware Hack, Best Use of Data\",\"rust, esp32\",,State University,2\r\n\
Draft Idea,https://devpost.example/software/draft-idea,Draft,Pending,Details,11/01/2026 11:40:00,Not finished,,,,,,,0\r\n\
Quiet Room,https://devpost.example/software/quiet-room,Submitted,Pending,Submit,11/01/2026 12:15:48,\"A \"\"library\"\" for noise maps\",,https://video.example/3,Best Use of Data,python,,City College,3\r\n\
\u{dc}ber Bus,https://devpost.example/software/uber-bus,Submitted,Pending,Submit,11/01/2026 13:01:02,Transit times in real time,https://bus.example,,,typescript,late,Tech Institute,1\r\n";

    const HEADER: &str = "Project Title,Submission Url,Project Status,Judging Status,Highest Step Completed,Project Created At,About The Project,Try it out,Video,Opt-In Prizes";

    fn check_sample(projects: &[Project]) {
        let titles: Vec<_> = projects.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Tally Ho", "Quiet Room", "Über Bus"]);
        let tally = &projects[0];
        assert_eq!(
            tally.submission_url,
            "https://devpost.example/software/tally-ho"
        );
        assert_eq!(
            tally.description,
            "Counts things, fast.\nSecond line of the story, with a comma, here."
        );
        assert_eq!(tally.prizes, ["Best Hardware Hack", "Best Use of Data"]);
        assert_eq!(tally.table, None);
        assert_eq!(projects[1].description, "A \"library\" for noise maps");
        assert_eq!(projects[1].prizes, ["Best Use of Data"]);
        assert!(projects[2].prizes.is_empty());
    }

    #[test]
    fn sample_copy() {
        check_sample(&parse(SAMPLE.as_bytes()).unwrap());
    }

    #[test]
    fn sample_file_when_present() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/devpost-sample.csv"
        );
        let Ok(bytes) = std::fs::read(path) else {
            eprintln!("skipped: {path} not found");
            return;
        };
        check_sample(&parse(&bytes).unwrap());
    }

    fn row(title: &str, status: &str, about: &str, prizes: &str) -> String {
        format!("{title},https://x.example,{status},,,,{about},,,{prizes}")
    }

    #[test]
    fn lf_without_bom_and_quoted_cells() {
        let csv = format!(
            "{HEADER}\n{}\n{}\n",
            row(
                "\"Comma, Inc\"",
                "Submitted",
                "\"line 1\nline 2\"",
                "\"A, B\""
            ),
            row("Plain", "Submitted", "", "")
        );
        let projects = parse(csv.as_bytes()).unwrap();
        assert_eq!(projects.len(), 2);
        assert_eq!(projects[0].title, "Comma, Inc");
        assert_eq!(projects[0].description, "line 1\nline 2");
        assert_eq!(projects[0].prizes, ["A", "B"]);
    }

    #[test]
    fn crlf_with_bom() {
        let csv = format!(
            "\u{feff}{HEADER}\r\n{}\r\n",
            row("One", "Submitted", "", "")
        );
        let projects = parse(csv.as_bytes()).unwrap();
        assert_eq!(projects[0].title, "One");
        assert_eq!(projects[0].prizes, Vec::<String>::new());
    }

    #[test]
    fn drafts_are_skipped_in_any_case_even_when_incomplete() {
        let csv = format!(
            "{HEADER}\n{}\n,x,DRAFT\n{}\n",
            row("Draft One", " draft ", "", ""),
            row("Real", "Submitted", "", "")
        );
        let projects = parse(csv.as_bytes()).unwrap();
        assert_eq!(projects.len(), 1);
        assert_eq!(projects[0].title, "Real");
    }

    #[test]
    fn prizes_trimmed_deduped_and_empties_dropped() {
        let csv = format!(
            "{HEADER}\n{}\n",
            row("P", "Submitted", "", "\" Best UI ,,best ui, Best Data ,\"")
        );
        assert_eq!(
            parse(csv.as_bytes()).unwrap()[0].prizes,
            ["Best UI", "Best Data"]
        );
    }

    #[test]
    fn too_few_columns_is_an_error_naming_the_row() {
        let csv = format!(
            "{HEADER}\n{}\nShort,https://x.example,Submitted\n",
            row("Fine", "Submitted", "", "")
        );
        let err = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(err.row, 3);
        assert!(err.reason.contains("has 3 columns"), "{err}");
        assert!(err.reason.contains("Opt-In Prizes"), "{err}");
    }

    #[test]
    fn empty_title_is_an_error() {
        let csv = format!(
            "{HEADER}\n{}\n{}\n{}\n",
            row("A", "Submitted", "", ""),
            row("B", "Submitted", "", ""),
            row("  ", "Submitted", "", "")
        );
        let err = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(err, ImportError::new(4, "Project Title is empty"));
        assert_eq!(err.to_string(), "row 4: Project Title is empty");
    }

    #[test]
    fn row_numbers_count_records_not_lines() {
        // The first project spans three lines but is row 2.
        let csv = format!(
            "{HEADER}\n{}\n{}\n",
            row("A", "Submitted", "\"1\n2\n3\"", ""),
            row("", "Submitted", "", "")
        );
        assert_eq!(parse(csv.as_bytes()).unwrap_err().row, 3);
    }

    #[test]
    fn validation_errors_become_row_errors() {
        let long = "x".repeat(201);
        let csv = format!("{HEADER}\n{}\n", row(&long, "Submitted", "", ""));
        let err = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(err.row, 2);
        assert!(err.reason.starts_with("Project Title: "), "{err}");

        let csv = format!("{HEADER}\n{}\n", row("ok", "Submitted", "bell\u{7}", ""));
        let err = parse(csv.as_bytes()).unwrap_err();
        assert!(err.reason.starts_with("About The Project: "), "{err}");
    }

    #[test]
    fn wrong_or_empty_file() {
        assert_eq!(parse(b"").unwrap_err().row, 1);
        let err = parse(b"name,email\nAnn,ann@x.example\n").unwrap_err();
        assert_eq!(err.row, 1);
        assert!(err.reason.contains("right file"), "{err}");
        assert_eq!(parse(HEADER.as_bytes()).unwrap(), vec![]);
    }

    #[test]
    fn table_column_by_name() {
        let csv = format!(
            "{HEADER},Built With,Table Number\n\
             {},rust,12\n{},go,Table 7\n{},c,\n{}, zig , table #3 \n",
            row("A", "Submitted", "", ""),
            row("B", "Submitted", "", ""),
            row("C", "Submitted", "", ""),
            row("D", "Submitted", "", "")
        );
        let tables: Vec<_> = parse(csv.as_bytes())
            .unwrap()
            .iter()
            .map(|p| p.table)
            .collect();
        assert_eq!(tables, [Some(12), Some(7), None, Some(3)]);
    }

    #[test]
    fn table_column_errors() {
        let csv = format!(
            "{HEADER},TABLE\n{},Table twelve\n",
            row("A", "Submitted", "", "")
        );
        let err = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(err.row, 2);
        assert!(err.reason.contains("TABLE \"Table twelve\""), "{err}");
        assert!(err.reason.contains("not a table number"), "{err}");

        let csv = format!("{HEADER},Table\n{},-4\n", row("A", "Submitted", "", ""));
        assert!(parse(csv.as_bytes())
            .unwrap_err()
            .reason
            .contains("out of range"));

        // A row that stops before the table column is short.
        let csv = format!("{HEADER},x,Table\n{}\n", row("A", "Submitted", "", ""));
        let err = parse(csv.as_bytes()).unwrap_err();
        assert!(err.reason.contains("through \"Table\""), "{err}");
    }

    #[test]
    fn tables_assigned_in_file_order_around_explicit_ones() {
        let none = BTreeSet::new();
        let tables = tables_around(&[None, Some(2), None, Some(1), None], &none);
        assert_eq!(tables, [3, 2, 4, 1, 5]);
        assert_eq!(tables_around(&[], &none), Vec::<i64>::new());

        let taken = BTreeSet::from([1, 3, 4]);
        assert_eq!(tables_around(&[None, Some(3), None], &taken), [2, 3, 5]);
    }

    #[test]
    fn line_breaks_in_names_become_spaces_and_stay_in_descriptions() {
        let csv = format!(
            "{HEADER}\n{}\n",
            row(
                "\"Tally\r\n Ho\tagain\n\"",
                "Submitted",
                "\"Line one\r\n\tLine two\"",
                "\"Best\nHardware Hack, Best Use of Data\""
            )
        );
        let projects = parse(csv.as_bytes()).unwrap();
        assert_eq!(projects[0].title, "Tally Ho again");
        assert_eq!(projects[0].description, "Line one\r\n\tLine two");
        assert_eq!(
            projects[0].prizes,
            ["Best Hardware Hack", "Best Use of Data"]
        );
        // Other control characters are still refused, with the row.
        let csv = format!(
            "{HEADER}\n{}\n{}\n",
            row("Fine", "Submitted", "", ""),
            row("\"Bell\n\u{7}\"", "Submitted", "", "")
        );
        let err = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(err.row, 3);
        assert!(
            err.reason.contains("must not contain control characters"),
            "{err}"
        );
    }

    #[test]
    fn long_stories_are_kept_whole_and_noted() {
        let long = "word ".repeat(4_000);
        let csv = format!(
            "{HEADER}\n{}\n{}\n",
            row("Short", "Submitted", "fine", ""),
            row("Long", "Submitted", &long, "")
        );
        let projects = parse(csv.as_bytes()).unwrap();
        assert_eq!(projects[1].description, long.trim());
        assert_eq!(projects[1].row, 3);
        assert_eq!(story_adjustment(&projects[0]), None);
        let note = story_adjustment(&projects[1]).unwrap();
        assert!(note.contains("19999 characters long"), "{note}");
    }

    #[test]
    fn prize_names_are_validated_with_the_row() {
        let long = "p".repeat(201);
        let csv = format!("{HEADER}\n{}\n", row("A", "Submitted", "", &long));
        let err = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(err.row, 2);
        assert!(
            err.reason.starts_with("Opt-In Prizes: prize name is 201"),
            "{err}"
        );
    }
}
