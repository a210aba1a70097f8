//! The change log as users see it: every committed change has a number, with
//! no gap across kill -9 and across batches that failed on a bad disk, and
//! `GET /api/events` resumes from `Last-Event-ID` (as a reconnecting
//! `EventSource` sends it) with exactly the changes missed, scoped per
//! caller, or starts over with `update-full` when it cannot.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::sse::EventStream;
use common::{ChildServer, Client, ScoreFlood, TestServer};
use podium::store::{Change, Fault, Store, SyncMode};
use serde_json::{json, Value};

const ADMIN: &str = "admin-secret-for-the-change-log-tests";
const LOGIN_CODE: &str = "login-code-for-the-change-log-tests";

async fn start(retain: u64) -> TestServer {
    TestServer::start_with(|c| {
        c.admin_secret = Some(ADMIN.into());
        c.login_code = Some(LOGIN_CODE.into());
        c.change_log_retain = retain;
    })
    .await
}

async fn post(base: &str, path: &str, secret: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{base}{path}"));
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    let reply = request.json(&body).send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

async fn add_hack(base: &str, name: &str) -> u16 {
    let body = json!({"name": name, "description": format!("The story of {name}"), "location": 1});
    post(base, "/api/hacks", Some(ADMIN), body).await.0
}

async fn rate(base: &str, judge: i64, hack: i64) {
    let body = json!({"judgeId": judge, "hackId": hack, "rating": 1 + hack % 20});
    let (status, reply) = post(base, "/api/ratings", Some(ADMIN), body).await;
    assert_eq!(status, 200, "{reply}");
}

async fn login(base: &str, judge: i64) -> String {
    let body = json!({"judgeId": judge, "loginCode": LOGIN_CODE});
    let (status, reply) = post(base, "/api/login", None, body).await;
    assert_eq!(status, 200, "{reply}");
    reply["secret"].as_str().unwrap().to_string()
}

/// The sequence number of an event id `<epoch>:<sequence>`.
fn seq_of(id: &str) -> u64 {
    id.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// Reads updates until `count` ratings have arrived (and asserts that none
/// of them is an `update-full`); returns the ratings' (id, judgeId).
async fn ratings(stream: &mut EventStream, count: usize) -> Vec<(i64, i64)> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let (event, data) = stream.next().await;
        assert_eq!(event, "update-partial", "a resumed stream gets no {event}");
        for rating in data["diff"]["ratings"].as_array().unwrap() {
            seen.push((
                rating["id"].as_i64().unwrap(),
                rating["judgeId"].as_i64().unwrap(),
            ));
        }
    }
    seen
}

/// Reconnecting with the last id after 500 changes brings exactly those
/// 500, in commit order, once each, and no update-full; each caller gets
/// them scoped as its live updates are (a judge sees only its own ratings).
/// Then the stream goes on live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_500_changes_delivers_exactly_those_scoped_per_caller() {
    if common::skip_unless_sqlite(
        "resume_after_500_changes_delivers_exactly_those_scoped_per_caller",
    ) {
        return;
    }
    let server = start(10_000).await;
    let base = server.url("");
    common::add_judges(server.db(), 2).await;
    for n in 1..=250 {
        assert_eq!(add_hack(&base, &format!("Hack {n}")).await, 201);
    }
    let judge = login(&base, 1).await;
    let events = server.url("/api/events");
    let mut admin = EventStream::open(&events, Some(ADMIN)).await;
    let mut ada = EventStream::open(&events, Some(&judge)).await;
    for stream in [&mut admin, &mut ada] {
        assert_eq!(stream.next().await.0, "update-full");
    }
    let admin_id = admin.last_id.clone().expect("update-full has an id");
    let ada_id = ada.last_id.clone().expect("update-full has an id");
    assert_eq!(admin_id, ada_id, "both are at the same position");
    drop((admin, ada));

    // 500 changes while both are away: each judge rates every hack, in turn.
    for hack in 1..=250 {
        rate(&base, 1, hack).await;
        rate(&base, 2, hack).await;
    }

    let mut admin = EventStream::resume(&events, Some(ADMIN), Some(&admin_id)).await;
    let seen = ratings(&mut admin, 500).await;
    let ids: Vec<i64> = seen.iter().map(|r| r.0).collect();
    assert_eq!(ids, (1..=500).collect::<Vec<_>>(), "in order, once each");
    assert_eq!(
        seq_of(admin.last_id.as_deref().unwrap()),
        seq_of(&admin_id) + 500,
        "the last id names the last change"
    );

    let mut ada = EventStream::resume(&events, Some(&judge), Some(&ada_id)).await;
    let seen = ratings(&mut ada, 250).await;
    assert!(seen.iter().all(|r| r.1 == 1), "only its own ratings");
    let ids: Vec<i64> = seen.iter().map(|r| r.0).collect();
    assert_eq!(ids, (1..=500).step_by(2).collect::<Vec<_>>());

    // Live again: the next changes arrive once, after the catch-up.
    assert_eq!(add_hack(&base, "Hack 251").await, 201);
    rate(&base, 1, 251).await;
    assert_eq!(ratings(&mut admin, 1).await, [(501, 1)]);
    assert_eq!(ratings(&mut ada, 1).await, [(501, 1)]);
    for stream in [&mut admin, &mut ada] {
        assert!(
            stream
                .next_within(Duration::from_millis(300))
                .await
                .is_none(),
            "nothing twice"
        );
    }

    // Resumed at the end: nothing to catch up, the stream just goes on.
    let last = admin.last_id.clone().unwrap();
    let mut again = EventStream::resume(&events, Some(ADMIN), Some(&last)).await;
    assert!(again
        .next_within(Duration::from_millis(300))
        .await
        .is_none());
    rate(&base, 2, 251).await;
    assert_eq!(ratings(&mut again, 1).await, [(502, 2)]);
    server.shutdown().await;
}

/// Ids the server cannot resume from get a fresh update-full, never an
/// error: another epoch, one older than the log keeps, malformed ones.
#[tokio::test]
async fn unknown_old_or_malformed_ids_get_update_full() {
    let server = start(50).await;
    let base = server.url("");
    let events = server.url("/api/events");
    let mut admin = EventStream::open(&events, Some(ADMIN)).await;
    admin.next().await;
    let first = admin.last_id.clone().unwrap();
    let epoch = first.rsplit_once(':').unwrap().0.to_string();
    for n in 1..=100 {
        assert_eq!(add_hack(&base, &format!("Hack {n}")).await, 201);
    }
    let position = seq_of(&first) + 100;
    let cases = [
        ("an id older than the 50 changes kept", first.clone()),
        ("another epoch", format!("0123456789abcdef:{position}")),
        (
            "a position beyond the end",
            format!("{epoch}:{}", position + 5),
        ),
        ("no number", epoch.clone()),
        ("not an id at all", "garbage: \u{1f600}".into()),
        ("a negative number", format!("{epoch}:-1")),
    ];
    for (what, id) in cases {
        let mut stream = EventStream::resume(&events, Some(ADMIN), Some(&id)).await;
        let (event, data) = stream.next().await;
        assert_eq!(event, "update-full", "{what}");
        assert_eq!(
            data["database"]["hacks"].as_array().unwrap().len(),
            100,
            "{what}"
        );
        assert_eq!(
            stream.last_id.as_deref(),
            Some(format!("{epoch}:{position}").as_str()),
            "{what}"
        );
    }
    // Within the window, the same stream resumes.
    let recent = format!("{epoch}:{}", position - 40);
    let mut stream = EventStream::resume(&events, Some(ADMIN), Some(&recent)).await;
    let mut names = Vec::new();
    while names.len() < 40 {
        let (event, data) = stream.next().await;
        assert_eq!(event, "update-partial");
        for hack in data["diff"]["hacks"].as_array().unwrap() {
            names.push(hack["name"].as_str().unwrap().to_string());
        }
    }
    let expected: Vec<String> = (61..=100).map(|n| format!("Hack {n}")).collect();
    assert_eq!(names, expected);
    server.shutdown().await;
}

/// Every change in the log, checked gapless (`changes_after` refuses a
/// log with a gap): the hack names and score timestamps, in order.
async fn logged(store: &Store) -> (Vec<u64>, Vec<String>) {
    let entries = store.changes_after(0, None).await.expect("a whole log");
    let seqs = entries.iter().map(|e| e.seq).collect();
    let what = entries
        .iter()
        .map(|e| match &e.change {
            Change::Judging(diff) => format!("hack {}", diff.hacks[0].name),
            Change::Score(score) => format!("score {}", score.timestamp),
            Change::Presence(p) if p.connected => format!("device {} connected", p.device),
            Change::Presence(p) => format!("device {} disconnected", p.device),
            Change::Heat(change) => format!("{change:?}"),
        })
        .collect();
    (seqs, what)
}

/// Writes refused on a failing disk (whole batches rolled back) take no
/// numbers: the log holds exactly the acknowledged changes, numbered
/// 1, 2, 3, ... and a stream resumed across the fault gets exactly those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_gap_across_batches_that_fail() {
    if common::skip_unless_sqlite("no_gap_across_batches_that_fail") {
        return;
    }
    let server = start(10_000).await;
    let base = server.url("");
    let events = server.url("/api/events");
    let mut clicker = server.client().await;
    let (device, _) = clicker.register(None).await;
    let mut admin = EventStream::open(&events, Some(ADMIN)).await;
    admin.next().await;
    let before = admin.last_id.clone().unwrap();
    drop(admin);

    // Registering logged the device's connection first.
    let device: u32 = device.parse().unwrap();
    let mut acknowledged = vec![format!("device {device} connected")];
    let mut timestamp = 0;
    for round in 0..3 {
        for fault in [None, Some(Fault::DiskFull), Some(Fault::IoError)] {
            if let Some(fault) = fault {
                server.store().inject_fault(fault).await.unwrap();
            }
            for n in 0..3 {
                let name = format!("{round}-{fault:?}-{n}");
                if add_hack(&base, &name).await == 201 {
                    acknowledged.push(format!("hack {name}"));
                }
                timestamp += 1;
                let reply = clicker
                    .ask(&format!("SCORE {timestamp} {timestamp} 1"))
                    .await;
                if reply.starts_with("SCORED") {
                    acknowledged.push(format!("score {timestamp}"));
                } else {
                    assert!(reply.starts_with("ERROR"), "{reply}");
                }
            }
            if fault.is_some() {
                server.store().inject_fault(Fault::None).await.unwrap();
            }
        }
    }
    assert_eq!(
        acknowledged.len(),
        1 + 18,
        "only the healthy rounds were stored"
    );
    let (seqs, what) = logged(server.store()).await;
    assert_eq!(what, acknowledged, "exactly the acknowledged changes");
    assert_eq!(seqs, (1..=19).collect::<Vec<u64>>());

    let mut admin = EventStream::resume(&events, Some(ADMIN), Some(&before)).await;
    let mut names = Vec::new();
    while names.len() < 9 {
        let (event, data) = admin.next().await;
        assert_eq!(event, "update-partial");
        for hack in data["diff"]["hacks"].as_array().unwrap() {
            names.push(format!("hack {}", hack["name"].as_str().unwrap()));
        }
    }
    let hacks: Vec<&String> = acknowledged
        .iter()
        .filter(|a| a.starts_with("hack"))
        .collect();
    assert_eq!(names.iter().collect::<Vec<_>>(), hacks);
    server.shutdown().await;
}

/// kill -9 in the middle of a stream of SCOREs and judging writes: after
/// the restart the log is whole (1, 2, 3, ... with every acknowledged
/// change once), numbering goes on where it stopped in the same epoch, and
/// an event stream resumes across the crash with exactly the hacks added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_gap_across_kill_9() {
    if common::skip_unless_sqlite("no_gap_across_kill_9") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = ["--clicker-rate", "0", "--admin-secret", ADMIN];
    let server = ChildServer::start_with_args(dir.path(), &args).await;
    let base = format!("http://{}", server.addr);
    let events = format!("{base}/api/events");
    let mut admin = EventStream::open(&events, Some(ADMIN)).await;
    admin.next().await;
    let before = admin.last_id.clone().unwrap();
    let epoch = before.rsplit_once(':').unwrap().0.to_string();
    drop(admin);

    let mut clicker = Client::connect(server.addr).await;
    clicker.register(None).await;
    let mut flood = ScoreFlood::start(clicker.ws);
    let hacks = tokio::spawn({
        let base = base.clone();
        async move {
            let mut added = Vec::new();
            for n in 1.. {
                let body = json!({"name": format!("Hack {n}"), "description": "", "location": 1});
                let reply = reqwest::Client::new()
                    .post(format!("{base}/api/hacks"))
                    .bearer_auth(ADMIN)
                    .json(&body)
                    .send()
                    .await;
                match reply {
                    Ok(r) if r.status() == 201 => added.push(format!("Hack {n}")),
                    _ => break,
                }
            }
            added
        }
    });
    flood.until_acked(2000).await;
    server.kill9();
    let acked = flood.drain().await;
    let added = hacks.await.unwrap();
    assert!(!added.is_empty(), "some hacks were added before the kill");

    // The log on disk, read as the restarted server will read it.
    let (store, _changes) =
        Store::open(dir.path(), SyncMode::Full, Default::default()).expect("the database opens");
    assert_eq!(&*store.epoch(), epoch, "a crash is no new history");
    let (seqs, what) = logged(&store).await;
    let last = seqs.len() as u64;
    assert_eq!(seqs, (1..=last).collect::<Vec<u64>>());
    let logged_scores: BTreeSet<i64> = what
        .iter()
        .filter_map(|w| w.strip_prefix("score "))
        .map(|t| t.parse().unwrap())
        .collect();
    let scores_logged = what.iter().filter(|w| w.starts_with("score ")).count();
    assert_eq!(logged_scores.len(), scores_logged, "no score logged twice");
    assert!(acked.is_subset(&logged_scores), "every acknowledged score");
    let logged_hacks: Vec<&str> = what
        .iter()
        .filter_map(|w| w.strip_prefix("hack "))
        .collect();
    assert!(
        logged_hacks.starts_with(&added.iter().map(String::as_str).collect::<Vec<_>>()),
        "every acknowledged hack, in order"
    );
    store.close();
    drop(store);

    let server = ChildServer::start_with_args(dir.path(), &args).await;
    let mut admin = EventStream::resume(&events_of(&server), Some(ADMIN), Some(&before)).await;
    let mut names = Vec::new();
    while names.len() < logged_hacks.len() {
        let (event, data) = admin.next().await;
        assert_eq!(event, "update-partial", "resumed across the crash");
        for hack in data["diff"]["hacks"].as_array().unwrap() {
            names.push(hack["name"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(names, logged_hacks);
    let base = format!("http://{}", server.addr);
    assert_eq!(add_hack(&base, "After the crash").await, 201);
    admin.next().await;
    assert_eq!(
        admin.last_id.as_deref(),
        Some(format!("{epoch}:{}", last + 1).as_str()),
        "numbering goes on with the next number"
    );
    eprintln!(
        "{} changes logged before the kill ({} acknowledged scores, {} hacks)",
        last,
        acked.len(),
        added.len()
    );
}

fn events_of(server: &ChildServer) -> String {
    format!("http://{}/api/events", server.addr)
}
