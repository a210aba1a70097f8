//! CSV exports for organisers: results, hacks, judges and ratings, one
//! header row each, written with the `csv` crate so commas, quotes and line
//! breaks in names and descriptions survive a round trip.
//!
//! Numbers are plain; fractions are rounded to 4 decimals. Text cells that
//! a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
//! tab or carriage return) get a leading `'`: names and descriptions come
//! from participants (e.g. via Devpost) and these files are opened in Excel.

use super::model::{Hack, Judge, Note, Rating};
use super::results::HackResult;
use std::collections::HashMap;

/// `rank,hackId,name,ratings,mean,normalized`, in the order given (results
/// come ranked); cells of unrated hacks are empty where there is no value.
pub fn results_csv(hacks: &[HackResult]) -> String {
    write(
        &["rank", "hackId", "name", "ratings", "mean", "normalized"],
        hacks.iter().map(|h| {
            vec![
                h.rank.map(|r| r.to_string()).unwrap_or_default(),
                h.hack_id.to_string(),
                text(&h.name),
                h.ratings.to_string(),
                decimal(h.mean),
                decimal(h.normalized),
            ]
        }),
    )
}

/// `id,name,description,location,withdrawn` (`withdrawn` is `true` or
/// `false`, as `withdrawn(id)` says).
pub fn hacks_csv(hacks: &[Hack], withdrawn: impl Fn(i64) -> bool) -> String {
    write(
        &["id", "name", "description", "location", "withdrawn"],
        hacks.iter().map(|h| {
            vec![
                h.id.to_string(),
                text(&h.name),
                text(&h.description),
                h.location.to_string(),
                withdrawn(h.id).to_string(),
            ]
        }),
    )
}

/// `id,name,email`.
pub fn judges_csv(judges: &[Judge]) -> String {
    write(
        &["id", "name", "email"],
        judges
            .iter()
            .map(|j| vec![j.id.to_string(), text(&j.name), text(&j.email)]),
    )
}

/// `id,judgeId,hackId,rating,judgeName,hackName,note`: each rating with
/// its judge's note on the hack, then the notes on hacks the judge has not
/// rated or took the rating back (with empty `id` and `rating`); empty notes are left out. A name
/// is empty when its judge or hack is not in the lists given.
pub fn ratings_csv(ratings: &[Rating], notes: &[Note], judges: &[Judge], hacks: &[Hack]) -> String {
    let notes: Vec<&Note> = notes.iter().filter(|n| !n.text.is_empty()).collect();
    let judge_names: HashMap<i64, &str> = judges.iter().map(|j| (j.id, j.name.as_str())).collect();
    let hack_names: HashMap<i64, &str> = hacks.iter().map(|h| (h.id, h.name.as_str())).collect();
    let mut notes_by: HashMap<(i64, i64), &str> = notes
        .iter()
        .map(|n| ((n.judge_id, n.hack_id), n.text.as_str()))
        .collect();
    let row = |id: String, judge: i64, hack: i64, rating: String, note: &str| {
        vec![
            id,
            judge.to_string(),
            hack.to_string(),
            rating,
            text(judge_names.get(&judge).copied().unwrap_or("")),
            text(hack_names.get(&hack).copied().unwrap_or("")),
            text(note),
        ]
    };
    let mut rows: Vec<Vec<String>> = ratings
        .iter()
        .filter(|r| !r.taken_back())
        .map(|r| {
            let note = notes_by.remove(&(r.judge_id, r.hack_id)).unwrap_or("");
            row(
                r.id.to_string(),
                r.judge_id,
                r.hack_id,
                r.rating.to_string(),
                note,
            )
        })
        .collect();
    rows.extend(
        notes
            .iter()
            .filter(|n| notes_by.contains_key(&(n.judge_id, n.hack_id)))
            .map(|n| row(String::new(), n.judge_id, n.hack_id, String::new(), &n.text)),
    );
    write(
        &[
            "id",
            "judgeId",
            "hackId",
            "rating",
            "judgeName",
            "hackName",
            "note",
        ],
        rows.into_iter(),
    )
}

fn write(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to memory fails only if a record's length differs from the
    // header's, which the callers above rule out.
    writer.write_record(header).expect("CSV header");
    for row in rows {
        writer.write_record(&row).expect("CSV row");
    }
    let bytes = writer.into_inner().expect("flush to memory");
    String::from_utf8(bytes).expect("CSV of UTF-8 strings is UTF-8")
}

/// Rounded to 4 decimals; empty for None. Never prints "-0.0000".
fn decimal(value: Option<f64>) -> String {
    match value {
        Some(v) => {
            let rounded = (v * 10_000.0).round() / 10_000.0;
            let rounded = if rounded == 0.0 { 0.0 } else { rounded };
            format!("{rounded:.4}")
        }
        None => String::new(),
    }
}

/// Text a spreadsheet will show as text rather than evaluate.
fn text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(csv: &str) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(csv.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn results_with_rounding_and_empty_cells() {
        let hacks = [
            HackResult {
                hack_id: 3,
                name: "Tally Ho".into(),
                ratings: 3,
                mean: Some(40.0 / 3.0),
                normalized: Some(14.666_666),
                rank: Some(1),
            },
            HackResult {
                hack_id: 1,
                name: "Quiet, Room".into(),
                ratings: 2,
                mean: Some(2.0 / 3.0),
                normalized: Some(-0.000_01),
                rank: Some(2),
            },
            HackResult {
                hack_id: 2,
                name: "Unseen".into(),
                ratings: 0,
                mean: None,
                normalized: None,
                rank: None,
            },
        ];
        assert_eq!(
            results_csv(&hacks),
            "rank,hackId,name,ratings,mean,normalized\n\
             1,3,Tally Ho,3,13.3333,14.6667\n\
             2,1,\"Quiet, Room\",2,0.6667,0.0000\n\
             ,2,Unseen,0,,\n"
        );
    }

    #[test]
    fn awkward_text_round_trips() {
        let awkward = [
            "Comma, separated",
            "Line one\nline two\r\nline three",
            "She said \"hi\"",
            "\"",
            "Über café 🚀",
            "",
            "  padded  ",
        ];
        let hacks: Vec<Hack> = awkward
            .iter()
            .enumerate()
            .map(|(i, s)| Hack {
                id: i as i64,
                name: s.to_string(),
                description: format!("{s}|{s}"),
                location: i as i64 * 10,
            })
            .collect();
        let rows = read(&hacks_csv(&hacks, |id| id == 1));
        assert_eq!(
            rows[0],
            ["id", "name", "description", "location", "withdrawn"]
        );
        for (hack, row) in hacks.iter().zip(&rows[1..]) {
            assert_eq!(
                row,
                &[
                    hack.id.to_string(),
                    hack.name.clone(),
                    hack.description.clone(),
                    hack.location.to_string(),
                    (hack.id == 1).to_string()
                ]
            );
        }
        assert_eq!(rows.len(), hacks.len() + 1);
    }

    #[test]
    fn formulas_are_defused() {
        let judges = [
            Judge {
                id: 1,
                name: "=HYPERLINK(\"http://x\",\"y\")".into(),
                email: "@ada@example.org".into(),
            },
            Judge {
                id: 2,
                name: "-1+2".into(),
                email: "grace@example.org".into(),
            },
        ];
        let rows = read(&judges_csv(&judges));
        assert_eq!(
            rows[1],
            ["1", "'=HYPERLINK(\"http://x\",\"y\")", "'@ada@example.org"]
        );
        assert_eq!(rows[2], ["2", "'-1+2", "grace@example.org"]);
    }

    #[test]
    fn ratings_with_names() {
        let judges = [Judge {
            id: 7,
            name: "Lovelace, Ada".into(),
            email: "ada@example.org".into(),
        }];
        let hacks = [Hack {
            id: 3,
            name: "Tally \"Ho\"".into(),
            description: String::new(),
            location: 1,
        }];
        let ratings = [
            Rating {
                id: 1,
                judge_id: 7,
                hack_id: 3,
                rating: 17,
            },
            Rating {
                id: 2,
                judge_id: 8,
                hack_id: 4,
                rating: 5,
            },
        ];
        let notes = [
            Note {
                id: 1,
                judge_id: 7,
                hack_id: 3,
                text: "demo crashed,\nretried".into(),
            },
            Note {
                id: 2,
                judge_id: 7,
                hack_id: 9,
                text: "=come back".into(),
            },
        ];
        let csv = ratings_csv(&ratings, &notes, &judges, &hacks);
        assert_eq!(
            csv,
            "id,judgeId,hackId,rating,judgeName,hackName,note\n\
             1,7,3,17,\"Lovelace, Ada\",\"Tally \"\"Ho\"\"\",\"demo crashed,\nretried\"\n\
             2,8,4,5,,,\n\
             ,7,9,,\"Lovelace, Ada\",,'=come back\n"
        );
        assert_eq!(
            read(&csv)[1][4..],
            ["Lovelace, Ada", "Tally \"Ho\"", "demo crashed,\nretried"]
        );
    }

    #[test]
    fn empty_exports_have_headers() {
        assert_eq!(
            results_csv(&[]),
            "rank,hackId,name,ratings,mean,normalized\n"
        );
        assert_eq!(
            hacks_csv(&[], |_| false),
            "id,name,description,location,withdrawn\n"
        );
        assert_eq!(judges_csv(&[]), "id,name,email\n");
        assert_eq!(
            ratings_csv(&[], &[], &[], &[]),
            "id,judgeId,hackId,rating,judgeName,hackName,note\n"
        );
    }
}
