//! Fuzzes the Sledge payload decoder. An input is an event name, a newline,
//! then the JSON text of the argument, decoded the way socket.io hands it
//! over (a `serde_json::Value`, or nothing when it does not decode). The
//! decoder must never panic, what it accepts must respect the id minimums,
//! and its refusals must stay short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podium::core::requests::{self, Request};

/// Refusals quote at most a few hundred characters of the input.
const MAX_ERROR_BYTES: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let (name, json) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(name) = std::str::from_utf8(name) else {
        return;
    };
    let payload = serde_json::from_slice::<serde_json::Value>(json).ok();
    match requests::parse(name, payload) {
        Ok(request) => {
            assert_eq!(request.event(), name);
            let ids: Vec<i64> = match &request {
                Request::Authenticate(a) => vec![a.user_id],
                Request::Login(l) => vec![l.judge_id - 1],
                // A command's ids are its fields named `...Id`.
                Request::Command(c) => match c.to_json() {
                    serde_json::Value::Object(fields) => fields
                        .iter()
                        .filter(|(name, _)| name.ends_with("Id"))
                        .filter_map(|(_, v)| v.as_i64())
                        .collect(),
                    _ => Vec::new(),
                },
                Request::SubscribeDatabase => Vec::new(),
            };
            assert!(ids.iter().all(|id| *id >= 0), "{request:?}");
        }
        Err(e) => assert!(e.to_string().len() <= MAX_ERROR_BYTES, "{e}"),
    }
});
