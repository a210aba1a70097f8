//! Reading Sledge database snapshots and diffs. Tables arrive as arrays of
//! rows (possibly sparse, with nulls) or as objects keyed by id; both are
//! accepted so the generator does not depend on one serialisation.

use serde_json::{Map, Value};

pub fn rows<'a>(db: &'a Value, table: &str) -> Vec<&'a Map<String, Value>> {
    match db.get(table) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(by_id)) => by_id.values().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

pub fn int(row: &Map<String, Value>, key: &str) -> Option<u64> {
    let v = row.get(key)?;
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

/// A rating row: (judgeId, hackId, rating).
pub fn ratings(db: &Value) -> Vec<(u64, u64, u64)> {
    rows(db, "ratings")
        .into_iter()
        .filter_map(|r| Some((int(r, "judgeId")?, int(r, "hackId")?, int(r, "rating")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_shapes() {
        let a = json!({"ratings": [null, {"id":1,"judgeId":2,"hackId":3,"rating":4}]});
        let b = json!({"ratings": {"1": {"id":1,"judgeId":2,"hackId":3,"rating":4}}});
        assert_eq!(ratings(&a), vec![(2, 3, 4)]);
        assert_eq!(ratings(&b), vec![(2, 3, 4)]);
        assert!(ratings(&json!({})).is_empty());
    }
}
