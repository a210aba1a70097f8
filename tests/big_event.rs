//! A big event's real data, end to end over HTTP (reqwest): a 10 MiB
//! Devpost export with stories up to 20,000 characters imports whole; the
//! import limit refuses larger uploads, announced or streamed, and a bad
//! row late in a big file still refuses it all; a judge's state, event
//! stream and partial updates carry stories only of its own hacks;
//! compressed responses decode to the same JSON, and the compressed event
//! stream still delivers each update at once, while socket.io and the
//! clicker WebSocket are left alone.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

use common::sse::EventStream;
use common::{TestServer, PATIENCE};
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN: &str = "admin-secret-for-the-big-event-0123";
const LOGIN_CODE: &str = "login-code-for-the-big-event-0123";
/// The longest description a judge is sent (`validate::MAX_DESCRIPTION_CHARS`).
const JUDGE_MAX_CHARS: usize = 10_000;

async fn start() -> TestServer {
    TestServer::start_with(|c| {
        c.admin_secret = Some(ADMIN.into());
        c.login_code = Some(LOGIN_CODE.into());
    })
    .await
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// A Devpost-like story of exactly `chars` characters: markdown headings,
/// several lines, commas, quotes and non-ASCII text, as real ones have.
fn story(rng: &mut Rng, chars: usize) -> String {
    const WORDS: &[&str] = &[
        "we",
        "built",
        "a",
        "sensor",
        "that",
        "counts",
        "people,",
        "with",
        "\"real-time\"",
        "maps",
        "über",
        "café",
        "data",
        "and",
        "the",
        "team",
        "learned",
        "Rust",
        "ESP32",
        "dashboards",
        "🚀",
        "latency",
        "of",
        "our",
        "judges'",
        "phones",
        "wifi",
        "hall",
    ];
    let mut text = String::from("## Inspiration\n");
    let mut count = text.chars().count();
    while count < chars {
        let word = match rng.below(40) {
            0 => "\n\n## What it does\n",
            1 => "\n- ",
            _ => WORDS[rng.below(WORDS.len())],
        };
        text.push_str(word);
        text.push(' ');
        count += word.chars().count() + 1;
    }
    let mut text: String = text.chars().take(chars - 1).collect();
    text.push('.');
    text
}

fn quoted(cell: &str) -> String {
    format!("\"{}\"", cell.replace('"', "\"\""))
}

const HEADER: &str = "Project Title,Submission Url,Project Status,Judging Status,Highest Step Completed,Project Created At,About The Project,\"\"\"Try it out\"\" Links\",Video Demo Link,Opt-In Prizes,Built With,Notes,Team Colleges/Universities,Additional Team Member Count\r\n";

fn devpost_row(title: &str, about: &str) -> String {
    format!(
        "{title},https://devpost.example/software/{},Submitted,Pending,Submit,11/01/2026 10:02:11,{},https://try.example,,Best Use of Data,\"rust, esp32\",,State University,2\r\n",
        title.to_lowercase().replace(' ', "-"),
        quoted(about)
    )
}

/// A Devpost export of at least `bytes`, with its stories in file order:
/// every tenth 20,000 characters long, the others 6,000 to 12,000.
fn big_export(bytes: usize) -> (Vec<u8>, Vec<String>) {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut csv = format!("\u{feff}{HEADER}");
    let mut stories = Vec::new();
    while csv.len() < bytes {
        let chars = if stories.len() % 10 == 3 {
            20_000
        } else {
            6_000 + rng.below(6_000)
        };
        let about = story(&mut rng, chars);
        csv.push_str(&devpost_row(
            &format!("Project {}", stories.len() + 1),
            &about,
        ));
        stories.push(about);
    }
    (csv.into_bytes(), stories)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().build().unwrap()
}

async fn post(
    path: &str,
    server: &TestServer,
    secret: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let mut request = client().post(server.url(path)).body(body);
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    let response = tokio::time::timeout(Duration::from_secs(120), request.send())
        .await
        .expect("an answer in time")
        .expect("a response");
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post_json(path: &str, server: &TestServer, secret: Option<&str>, body: Value) -> Value {
    let mut request = client().post(server.url(path)).json(&body);
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn get_json(server: &TestServer, path: &str, secret: &str) -> Value {
    let response = client()
        .get(server.url(path))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// What a judge should be sent of a story on its route.
fn as_judge_gets_it(story: &str) -> String {
    let chars = story.chars().count();
    if chars <= JUDGE_MAX_CHARS {
        return story.to_string();
    }
    let mark = format!("\n\n[… shortened for judges: the whole story is {chars} characters long]");
    let keep = JUDGE_MAX_CHARS - mark.chars().count();
    story.chars().take(keep).collect::<String>() + &mark
}

/// Checks that `hacks` (a judge's view) carries full stories exactly for
/// `own`, shortened as judges get them, and empty ones for the rest.
fn check_judge_view(hacks: &Value, own: &HashSet<i64>, stories: &HashMap<i64, String>) {
    let hacks = hacks.as_array().unwrap();
    assert_eq!(hacks.len(), stories.len(), "every hack is there");
    for hack in hacks {
        let id = hack["id"].as_i64().unwrap();
        assert!(hack["name"].as_str().unwrap().starts_with("Project "));
        assert!(hack["location"].as_i64().unwrap() > 0);
        let description = hack["description"].as_str().unwrap();
        if own.contains(&id) {
            assert_eq!(description, as_judge_gets_it(&stories[&id]), "hack {id}");
        } else {
            assert_eq!(description, "", "hack {id} is not the judge's");
        }
    }
}

#[tokio::test]
async fn a_ten_mib_devpost_export_imports_whole_and_judges_get_their_own_stories() {
    let server = start().await;
    let (csv, stories) = big_export(10 << 20);
    assert!(csv.len() >= 10 << 20);
    let started = Instant::now();
    let (status, answer) = post("/api/import/devpost", &server, Some(ADMIN), csv).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    eprintln!(
        "imported {} projects in {:?}",
        stories.len(),
        started.elapsed()
    );
    assert_eq!(answer["hacksAdded"], stories.len());

    // Every story over 10,000 characters is listed by row (the header is row 1).
    let long_rows: Vec<u64> = (0..stories.len())
        .filter(|&i| stories[i].chars().count() > JUDGE_MAX_CHARS)
        .map(|i| i as u64 + 2)
        .collect();
    assert!(long_rows.len() > 100);
    let adjusted: Vec<u64> = answer["adjusted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["row"].as_u64().unwrap())
        .collect();
    assert_eq!(adjusted, long_rows);
    let first = &answer["adjusted"][0];
    assert!(
        first["note"].as_str().unwrap().contains("kept whole"),
        "{first}"
    );
    assert_eq!(
        first["hackId"],
        answer["hackIds"][first["row"].as_u64().unwrap() as usize - 2]
    );

    // The admin gets every story whole.
    let state = get_json(&server, "/api/state", ADMIN).await;
    let by_id: HashMap<i64, String> = state["hacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["id"].as_i64().unwrap(),
                h["description"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let ids: Vec<i64> = answer["hackIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let stories: HashMap<i64, String> = ids.iter().copied().zip(stories).collect();
    assert_eq!(by_id, stories, "every story arrived whole");

    // ?preview= cuts the stories, for a page that shows only their start.
    let previewed = get_json(&server, "/api/state?preview=80", ADMIN).await;
    for hack in previewed["hacks"].as_array().unwrap() {
        let whole = &stories[&hack["id"].as_i64().unwrap()];
        let start: String = whole.chars().take(80).collect();
        assert_eq!(hack["description"].as_str().unwrap(), format!("{start}…"));
    }
    let mut stream = open_events_at(&server, "/api/events?preview=80", ADMIN, true).await;
    let (_, data) = stream.next().await;
    assert_eq!(data["database"]["hacks"], previewed["hacks"]);

    // 30 judges, three per hack.
    let judges: String = (1..=30)
        .map(|i| format!("Judge {i},judge{i}@example.org\n"))
        .collect();
    let (status, answer) = post("/api/import/judges", &server, Some(ADMIN), judges).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    post_json(
        "/api/assignments",
        &server,
        Some(ADMIN),
        json!({"judgesPerHack": 3}),
    )
    .await;
    let state = get_json(&server, "/api/state", ADMIN).await;
    let mut routes: HashMap<i64, HashSet<i64>> = HashMap::new();
    for row in state["judgeHacks"].as_array().unwrap() {
        routes
            .entry(row["judgeId"].as_i64().unwrap())
            .or_default()
            .insert(row["hackId"].as_i64().unwrap());
    }
    // A judge with a 20,000-character story on its route.
    let (&judge, route) = routes
        .iter()
        .find(|(_, route)| {
            route
                .iter()
                .any(|h| stories[h].chars().count() > JUDGE_MAX_CHARS)
        })
        .expect("some judge visits a long story");
    let mut own = route.clone();

    let login = post_json(
        "/api/login",
        &server,
        None,
        json!({"judgeId": judge, "loginCode": LOGIN_CODE}),
    )
    .await;
    let secret = login["secret"].as_str().unwrap().to_string();
    let mine = get_json(&server, "/api/state", &secret).await;
    check_judge_view(&mine["hacks"], &own, &stories);
    let size = serde_json::to_string(&mine).unwrap().len();
    let whole = serde_json::to_string(&state).unwrap().len();
    assert!(
        size * 10 < whole,
        "a judge's state ({size} B) is a small part of the admin's ({whole} B)"
    );

    // The event stream's update-full is the same.
    let mut stream = open_events(&server, &secret, false).await;
    let (event, data) = stream.next().await;
    assert_eq!(event, "update-full");
    check_judge_view(&data["database"]["hacks"], &own, &stories);

    // A new hack reaches the judge without its story; once the judge has
    // rated it (the admin rating for it here), it comes along whole.
    let added = post_json(
        "/api/hacks",
        &server,
        Some(ADMIN),
        json!({"name": "Project Late", "description": "A late story.", "location": 5000}),
    )
    .await;
    let late = added["id"].as_i64().unwrap();
    let (event, data) = stream.next().await;
    assert_eq!(event, "update-partial");
    assert_eq!(
        data["diff"]["hacks"],
        json!([{"id": late, "name": "Project Late", "description": "", "location": 5000}])
    );
    // Off the route: a hack the judge never saw whole, rated for it.
    let other = *ids.iter().find(|id| !own.contains(id)).unwrap();
    post_json(
        "/api/ratings",
        &server,
        Some(ADMIN),
        json!({"judgeId": judge, "hackId": other, "rating": 7}),
    )
    .await;
    let (_, data) = stream.next().await;
    assert_eq!(data["diff"]["ratings"][0]["hackId"], other);
    assert_eq!(data["diff"]["hacks"][0]["id"], other);
    assert_eq!(
        data["diff"]["hacks"][0]["description"].as_str().unwrap(),
        as_judge_gets_it(&stories[&other])
    );
    own.insert(other);
    let mut stories = stories;
    stories.insert(late, String::new());
    check_judge_view(
        &get_json(&server, "/api/state", &secret).await["hacks"],
        &own,
        &stories,
    );
    server.shutdown().await;
}

#[tokio::test]
async fn imports_over_the_limit_or_with_a_late_bad_row_import_nothing() {
    let server = TestServer::start_with(|c| {
        c.admin_secret = Some(ADMIN.into());
        c.max_import_mib = 1;
    })
    .await;
    let (csv, _) = big_export(3 << 19);
    // Announced with Content-Length: refused before it is read.
    let (status, answer) = post("/api/import/devpost", &server, Some(ADMIN), csv.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("import limit of 1 MiB"),
        "{answer}"
    );
    // Streamed without a length (chunked): refused once past the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        csv.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (status, answer) = post("/api/import/devpost", &server, Some(ADMIN), streamed).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("nothing was imported"),
        "{answer}"
    );

    // Under the limit, a bad row near the end refuses the whole file.
    let (csv, stories) = big_export(900 << 10);
    let mut csv = String::from_utf8(csv).unwrap();
    csv.push_str(&devpost_row("", "no title"));
    let bad_row = stories.len() + 2;
    let (status, answer) = post("/api/import/devpost", &server, Some(ADMIN), csv).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["row"], bad_row);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("row {bad_row}: Project Title is empty")),
        "{answer}"
    );
    let state = get_json(&server, "/api/state", ADMIN).await;
    assert_eq!(state["hacks"], json!([]), "nothing was imported");
    server.shutdown().await;
}

#[tokio::test]
async fn compressed_responses_decode_to_the_same_json_and_assets_revalidate() {
    let server = start().await;
    let (csv, _) = big_export(200 << 10);
    let (status, _) = post("/api/import/devpost", &server, Some(ADMIN), csv).await;
    assert_eq!(status, StatusCode::OK);
    let plain = client()
        .get(server.url("/api/state"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert!(
        plain.headers().get(CONTENT_ENCODING).is_none(),
        "no compression unasked"
    );
    let plain = plain.bytes().await.unwrap();
    let state: Value = serde_json::from_slice(&plain).unwrap();

    // gzip on the wire, decoded by reqwest and by hand.
    let raw = client()
        .get(server.url("/api/state"))
        .bearer_auth(ADMIN)
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()[CONTENT_ENCODING], "gzip");
    let wire = raw.bytes().await.unwrap();
    assert!(
        wire.len() * 2 < plain.len(),
        "{} B compressed, {} B plain",
        wire.len(),
        plain.len()
    );
    let mut decoded = flate2::write::GzDecoder::new(Vec::new());
    decoded.write_all(&wire).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&decoded.finish().unwrap()).unwrap(),
        state
    );
    let auto = reqwest::Client::new()
        .get(server.url("/api/state"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(auto.json::<Value>().await.unwrap(), state);

    // Brotli when preferred; CSV exports too.
    for path in ["/api/state", "/api/export/hacks.csv"] {
        let br = client()
            .get(server.url(path))
            .bearer_auth(ADMIN)
            .header(ACCEPT_ENCODING, "br, gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(br.status(), StatusCode::OK, "{path}");
        assert_eq!(br.headers()[CONTENT_ENCODING], "br", "{path}");
    }

    // Page assets: compressed, tagged, and 304 when unchanged.
    for path in ["/judge", "/ui/judge.js", "/ui/style.css"] {
        let first = client()
            .get(server.url(path))
            .header(ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        assert_eq!(first.headers()[CONTENT_ENCODING], "gzip", "{path}");
        let etag = first.headers()[ETAG].clone();
        let again = client()
            .get(server.url(path))
            .header(ACCEPT_ENCODING, "gzip")
            .header(IF_NONE_MATCH, etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()[ETAG], etag);
        assert!(again.bytes().await.unwrap().is_empty());
    }

    // --compression false turns it off.
    let off = TestServer::start_with(|c| c.compression = false).await;
    let page = client()
        .get(off.url("/ui/judge.js"))
        .header(ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert!(page.headers().get(CONTENT_ENCODING).is_none());
    off.shutdown().await;
    server.shutdown().await;
}

/// socket.io answers through its own layer, outside the compression: a
/// long-polling client that asks for gzip still gets plain Engine.IO
/// packets (here the update-full, far above the size that is compressed),
/// and the clicker WebSocket still upgrades.
#[tokio::test]
async fn socket_io_polling_and_the_clicker_websocket_are_not_compressed() {
    let server = start().await;
    let (csv, _) = big_export(100 << 10);
    let (status, _) = post("/api/import/devpost", &server, Some(ADMIN), csv).await;
    assert_eq!(status, StatusCode::OK);
    let poll = |query: String| {
        client()
            .get(server.url(&format!("/socket.io/?EIO=4&transport=polling{query}")))
            .header(ACCEPT_ENCODING, "gzip, br")
    };
    let open = poll(String::new())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let handshake: Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
    let sid = format!("&sid={}", handshake["sid"].as_str().unwrap());
    let send = |packet: String| {
        client()
            .post(server.url(&format!("/socket.io/?EIO=4&transport=polling{sid}")))
            .body(packet)
            .send()
    };
    send("40".into()).await.unwrap();
    send(format!(
        r#"42["authenticate",{{"secret":"{ADMIN}","userId":0}}]"#
    ))
    .await
    .unwrap();
    send(r#"42["subscribe-database",{}]"#.into()).await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < deadline, "no update-full by long-polling");
        let reply = poll(sid.clone()).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        let encoding = reply.headers().get(CONTENT_ENCODING);
        assert!(encoding.is_none(), "socket.io polling was compressed");
        let body = reply.text().await.unwrap();
        if body.contains("update-full") {
            assert!(body.len() > 100_000, "{} bytes", body.len());
            break;
        }
    }

    let mut clicker = server.client().await;
    let (id, _) = clicker.register(None).await;
    assert!(!id.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn the_compressed_event_stream_delivers_each_update_at_once() {
    let server = start().await;
    post_json(
        "/api/hacks",
        &server,
        Some(ADMIN),
        json!({"name": "Tally", "description": "", "location": 1}),
    )
    .await;
    post_json(
        "/api/judges",
        &server,
        Some(ADMIN),
        json!({"name": "Ada", "email": "ada@example.org"}),
    )
    .await;
    let mut stream = open_events(&server, ADMIN, true).await;
    assert_eq!(stream.next().await.0, "update-full");
    let mut slowest = Duration::ZERO;
    for rating in 1..=20 {
        post_json(
            "/api/ratings",
            &server,
            Some(ADMIN),
            json!({"judgeId": 1, "hackId": 1, "rating": rating}),
        )
        .await;
        // Timed from the acknowledgement: the change is committed and published.
        let acknowledged = Instant::now();
        let (event, data) = stream.next().await;
        let took = acknowledged.elapsed();
        assert_eq!(event, "update-partial");
        assert_eq!(data["diff"]["ratings"][0]["rating"], rating);
        slowest = slowest.max(took);
    }
    assert!(
        slowest < Duration::from_millis(100),
        "an update took {slowest:?} to arrive"
    );
    server.shutdown().await;
}

/// Opens the admin's event stream at `path`, gzip-compressed or not, and
/// checks the answer's encoding.
async fn open_events_at(server: &TestServer, path: &str, secret: &str, gzip: bool) -> EventStream {
    let mut request = client().get(server.url(path)).bearer_auth(secret);
    if gzip {
        request = request.header(ACCEPT_ENCODING, "gzip");
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let encoding = response
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(encoding.as_deref(), gzip.then_some("gzip"));
    EventStream::read(response, gzip)
}

async fn open_events(server: &TestServer, secret: &str, gzip: bool) -> EventStream {
    open_events_at(server, "/api/events", secret, gzip).await
}
