//! End-to-end tests of the HTTP API against a real server: every endpoint,
//! authentication and permission failures, CSV imports (the Devpost sample
//! fixture, a judges file that is refused whole), assignment, results,
//! exports, body limits, and live updates over Server-Sent Events.

mod common;

use std::time::{Duration, Instant};

use common::sse::EventStream;
use common::{TestServer, PATIENCE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ADMIN: &str = "admin-secret-for-the-api-tests-0123";
const LOGIN_CODE: &str = "login-code-for-the-api-tests-0123";
const DEVPOST_SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/devpost-sample.csv"
);

/// The Devpost sample fixture; where the shared fixtures are not checked
/// out beside the crate, a copy of it (BOM, CRLF, a quoted newline, a draft).
fn devpost_sample() -> Vec<u8> {
    std::fs::read(DEVPOST_SAMPLE).unwrap_or_else(|_| {
        eprintln!("{DEVPOST_SAMPLE} not found: using the built-in copy");
        "\u{feff}Project Title,Submission Url,Project Status,Judging Status,Highest Step Completed,Project Created At,About The Project,\"\"\"Try it out\"\" Links\",Video Demo Link,Opt-In Prizes,Built With,Notes,Team Colleges/Universities,Additional Team Member Count\r\n\
Tally Ho,https://devpost.example/software/tally-ho,Submitted,Pending,Submit,11/01/2026 10:02:11,\"Counts things, fast.\nSecond line of the story, with a comma, here.\",https://tally.example,https://video.example/1,\"Best Hardware Hack, Best Use of Data\",\"rust, esp32\",,State University,2\r\n\
Draft Idea,https://devpost.example/software/draft-idea,Draft,Pending,Details,11/01/2026 11:40:00,Not finished,,,,,,,0\r\n\
Quiet Room,https://devpost.example/software/quiet-room,Submitted,Pending,Submit,11/01/2026 12:15:48,\"A \"\"library\"\" for noise maps\",,https://video.example/3,Best Use of Data,python,,City College,3\r\n\
\u{dc}ber Bus,https://devpost.example/software/uber-bus,Submitted,Pending,Submit,11/01/2026 13:01:02,Transit times in real time,https://bus.example,,,typescript,late,Tech Institute,1\r\n"
            .as_bytes()
            .to_vec()
    })
}

async fn start() -> TestServer {
    TestServer::start_with(|c| {
        c.admin_secret = Some(ADMIN.into());
        c.login_code = Some(LOGIN_CODE.into());
    })
    .await
}

/// An HTTP client for one server.
struct Api {
    http: reqwest::Client,
    base: String,
}

/// A response: status, headers and the body (JSON when it parses, else a string).
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Api {
    fn new(server: &TestServer) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: server.url(""),
        }
    }

    async fn send(&self, method: Method, path: &str, secret: Option<&str>, body: Body) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Raw(bytes) => request.body(bytes),
        };
        let response = tokio::time::timeout(PATIENCE, request.send())
            .await
            .expect("an answer in time")
            .expect("a response");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    async fn get(&self, path: &str, secret: Option<&str>) -> Reply {
        self.send(Method::GET, path, secret, Body::None).await
    }

    async fn post(&self, path: &str, secret: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, secret, Body::Json(body))
            .await
    }

    async fn post_raw(&self, path: &str, secret: Option<&str>, body: impl Into<Vec<u8>>) -> Reply {
        self.send(Method::POST, path, secret, Body::Raw(body.into()))
            .await
    }

    /// Logs judge `id` in over HTTP; returns its secret.
    async fn login(&self, id: i64) -> String {
        let reply = self
            .post(
                "/api/login",
                None,
                json!({"judgeId": id, "loginCode": LOGIN_CODE}),
            )
            .await;
        reply.expect(StatusCode::OK);
        assert_eq!(reply.body["userId"], id);
        reply.body["secret"].as_str().unwrap().to_string()
    }
}

enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>),
}

impl Reply {
    /// Asserts the status; returns the body.
    fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        &self.body
    }

    /// Asserts an error reply: the status, and a message containing `part`.
    fn expect_error(&self, status: StatusCode, part: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        let message = self.body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("errors are JSON with an error message, got {}", self.text));
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

/// Three hacks (from the Devpost sample) and `judges` judges.
async fn seed(api: &Api, judges: usize) {
    let csv = devpost_sample();
    api.post_raw("/api/import/devpost", Some(ADMIN), csv)
        .await
        .expect(StatusCode::OK);
    let mut list = String::from("name,email\n");
    for i in 1..=judges {
        list.push_str(&format!("Judge {i},judge{i}@example.org\n"));
    }
    api.post_raw("/api/import/judges", Some(ADMIN), list)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn authentication_and_permission_failures() {
    let server = start().await;
    let api = Api::new(&server);
    seed(&api, 2).await;

    // No credentials, a malformed header, an unknown secret: 401.
    let reply = api.get("/api/state", None).await;
    reply.expect_error(StatusCode::UNAUTHORIZED, "Authorization: Bearer");
    assert!(reply.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let reply = api
        .http
        .get(server.url("/api/state"))
        .header("Authorization", format!("Basic {ADMIN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    api.get("/api/state", Some("not-a-secret"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "the secret is not valid");
    api.post(
        "/api/hacks",
        None,
        json!({"name": "x", "description": "", "location": 1}),
    )
    .await
    .expect(StatusCode::UNAUTHORIZED);

    // Login: a wrong code is 401, an unknown judge 404.
    api.post(
        "/api/login",
        None,
        json!({"judgeId": 1, "loginCode": "wrong"}),
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, "login code is wrong");
    api.post(
        "/api/login",
        None,
        json!({"judgeId": 9, "loginCode": LOGIN_CODE}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "judge 9 does not exist");
    api.post("/api/login", None, json!({"judgeId": 1}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "missing field `loginCode`");
    let judge1 = api.login(1).await;
    assert_eq!(judge1.len(), 64);

    // A judge may not do the admin's things: 403.
    for (path, body) in [
        (
            "/api/hacks",
            json!({"name": "x", "description": "", "location": 1}),
        ),
        (
            "/api/judges",
            json!({"name": "x", "email": "x@example.org"}),
        ),
        ("/api/superlatives", json!({"name": "x"})),
        ("/api/assignments", json!({})),
    ] {
        api.post(path, Some(&judge1), body)
            .await
            .expect_error(StatusCode::FORBIDDEN, "for the admin only");
    }
    api.post_raw("/api/import/judges", Some(&judge1), "Eve,eve@example.org\n")
        .await
        .expect_error(StatusCode::FORBIDDEN, "POST /api/import/judges");
    api.post_raw("/api/import/devpost", Some(&judge1), "garbage")
        .await
        .expect(StatusCode::FORBIDDEN);
    for path in [
        "/api/results",
        "/api/results.csv",
        "/api/export/hacks.csv",
        "/api/export/judges.csv",
        "/api/export/ratings.csv",
    ] {
        api.get(path, Some(&judge1))
            .await
            .expect(StatusCode::FORBIDDEN);
    }

    // A judge rates and ranks only as itself.
    api.post(
        "/api/ratings",
        Some(&judge1),
        json!({"judgeId": 2, "hackId": 1, "rating": 5}),
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, "judgeId must be 1");
    api.post(
        "/api/placements",
        Some(&judge1),
        json!({"judgeId": 2, "superId": 1, "firstId": 1, "secondId": 0}),
    )
    .await
    .expect_error(
        StatusCode::FORBIDDEN,
        "cannot POST /api/placements as judge 2",
    );
    api.post(
        "/api/ratings",
        Some(&judge1),
        json!({"judgeId": 1, "hackId": 1, "rating": 5}),
    )
    .await
    .expect(StatusCode::OK);
    // The admin may rate for anyone.
    api.post(
        "/api/ratings",
        Some(ADMIN),
        json!({"judgeId": 2, "hackId": 1, "rating": 7}),
    )
    .await
    .expect(StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn failed_secrets_over_http_share_the_login_throttle() {
    let server = start().await;
    let api = Api::new(&server);
    seed(&api, 1).await;
    let judge = api.login(1).await;
    // Wrong bearer secrets spend the address's budget of wrong guesses,
    // each told as wrong and none delayed...
    let budget = podium::core::throttle::ADDRESS.burst;
    for _ in 0..budget {
        api.get("/api/state", Some("wrong"))
            .await
            .expect(StatusCode::UNAUTHORIZED);
    }
    // ...then the next is refused unchecked, and so is a login code, right
    // or wrong, over either protocol: one budget for both.
    let refused = api.get("/api/state", Some("wrong")).await;
    assert!(refused.headers.contains_key("retry-after"));
    refused.expect_error(StatusCode::TOO_MANY_REQUESTS, "too many failed attempts");
    api.post(
        "/api/login",
        None,
        json!({"judgeId": 1, "loginCode": LOGIN_CODE}),
    )
    .await
    .expect_error(StatusCode::TOO_MANY_REQUESTS, "too many failed attempts");
    let mut sio = server.sledge().await;
    let ack = sio
        .request("login", json!({"judgeId": 1, "loginCode": LOGIN_CODE}))
        .await;
    assert!(
        ack.to_string().contains("too many failed attempts"),
        "{ack}"
    );
    // A judge's secret (256 bits, not guessable) still works, at once.
    let started = Instant::now();
    api.get("/api/state", Some(&judge))
        .await
        .expect(StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn writes_state_and_errors() {
    let server = start().await;
    let api = Api::new(&server);

    let hack = api
        .post(
            "/api/hacks",
            Some(ADMIN),
            json!({"name": "Tally", "description": "counts", "location": 4}),
        )
        .await;
    assert_eq!(
        hack.expect(StatusCode::CREATED),
        &json!({"id": 1, "name": "Tally", "description": "counts", "location": 4})
    );
    let judge = api
        .post(
            "/api/judges",
            Some(ADMIN),
            json!({"name": "Ada", "email": "ada@example.org"}),
        )
        .await;
    assert_eq!(judge.expect(StatusCode::CREATED)["id"], 1);
    api.post(
        "/api/judges",
        Some(ADMIN),
        json!({"name": "Ada", "email": "ADA@example.org"}),
    )
    .await
    .expect_error(StatusCode::CONFLICT, "already has the email");
    api.post(
        "/api/judges",
        Some(ADMIN),
        json!({"name": "Bob", "email": "bob@example.org"}),
    )
    .await
    .expect(StatusCode::CREATED);
    let best = api
        .post("/api/superlatives", Some(ADMIN), json!({"name": "Best"}))
        .await;
    assert_eq!(
        best.expect(StatusCode::CREATED),
        &json!({"id": 1, "name": "Best"})
    );

    // Bad input: 400 with the socket.io parser's messages.
    api.post(
        "/api/hacks",
        Some(ADMIN),
        json!({"name": "x", "description": "", "location": 1, "extra": 1}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "unknown field `extra`");
    api.post(
        "/api/hacks",
        Some(ADMIN),
        json!({"name": "", "description": "", "location": 1}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "name must not be empty");
    api.post_raw("/api/superlatives", Some(ADMIN), "{not json")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "not valid JSON");
    api.post(
        "/api/ratings",
        Some(ADMIN),
        json!({"judgeId": 1, "hackId": 1, "rating": 21}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "out of range");
    api.post(
        "/api/ratings",
        Some(ADMIN),
        json!({"judgeId": 1, "hackId": 1, "rating": 2.5}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "floating point");
    // Unknown ids: 404.
    api.post(
        "/api/ratings",
        Some(ADMIN),
        json!({"judgeId": 1, "hackId": 9, "rating": 3}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "hack 9 does not exist");
    api.post(
        "/api/placements",
        Some(ADMIN),
        json!({"judgeId": 1, "superId": 4, "firstId": 1, "secondId": 0}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "superlative 4 does not exist");
    api.post(
        "/api/placements",
        Some(ADMIN),
        json!({"judgeId": 1, "superId": 1, "firstId": 1, "secondId": 1}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "must be different");

    // Rating and ranking, as the judge itself; re-rating keeps the id.
    let ada = api.login(1).await;
    let first = api
        .post(
            "/api/ratings",
            Some(&ada),
            json!({"judgeId": 1, "hackId": 1, "rating": 12}),
        )
        .await;
    let again = api
        .post(
            "/api/ratings",
            Some(&ada),
            json!({"judgeId": 1, "hackId": 1, "rating": 14}),
        )
        .await;
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(
        again.expect(StatusCode::OK),
        &json!({"id": 1, "judgeId": 1, "hackId": 1, "rating": 14})
    );
    let placement = api
        .post(
            "/api/placements",
            Some(&ada),
            json!({"judgeId": 1, "superId": 1, "firstId": 1, "secondId": 0}),
        )
        .await;
    assert_eq!(
        placement.expect(StatusCode::OK),
        &json!({"id": 1, "judgeId": 1, "superlativeId": 1, "firstChoiceId": 1, "secondChoiceId": 0})
    );
    api.post(
        "/api/ratings",
        Some(ADMIN),
        json!({"judgeId": 2, "hackId": 1, "rating": 3}),
    )
    .await
    .expect(StatusCode::OK);

    // The state, scoped like update-full.
    let all = api.get("/api/state", Some(ADMIN)).await;
    let all = all.expect(StatusCode::OK);
    assert_eq!(all["ratings"].as_array().unwrap().len(), 2);
    assert_eq!(all["judges"][1]["email"], "bob@example.org");
    let mine = api.get("/api/state", Some(&ada)).await;
    let mine = mine.expect(StatusCode::OK);
    assert_eq!(
        mine["ratings"],
        json!([{"id": 1, "judgeId": 1, "hackId": 1, "rating": 14}])
    );
    assert_eq!(mine["judges"][0]["email"], "ada@example.org");
    assert_eq!(mine["judges"][1]["email"], "");
    assert_eq!(mine["superlativePlacements"].as_array().unwrap().len(), 1);
    for key in [
        "hacks",
        "judges",
        "judgeHacks",
        "superlatives",
        "superlativePlacements",
        "ratings",
        "superlativeHacks",
    ] {
        assert!(mine[key].is_array(), "{key} is always present");
    }

    // Body limits: 64 KiB for JSON (imports: tests/big_event.rs); 413 as JSON.
    let big = "x".repeat(70 * 1024);
    api.post(
        "/api/hacks",
        Some(ADMIN),
        json!({"name": "x", "description": big, "location": 1}),
    )
    .await
    .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too large");

    // Unknown endpoints and methods are JSON errors too.
    api.get("/api/nothing-here", Some(ADMIN))
        .await
        .expect_error(StatusCode::NOT_FOUND, "no such endpoint");
    api.get("/api/hacks", Some(ADMIN)).await.expect_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "GET is not allowed on /api/hacks",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn devpost_import_of_the_sample() {
    let server = start().await;
    let api = Api::new(&server);
    api.post(
        "/api/superlatives",
        Some(ADMIN),
        json!({"name": "best use of data"}),
    )
    .await
    .expect(StatusCode::CREATED);
    let csv = devpost_sample();
    let reply = api
        .post_raw("/api/import/devpost", Some(ADMIN), csv.clone())
        .await;
    assert_eq!(
        reply.expect(StatusCode::OK),
        &json!({
            "hacksAdded": 3,
            "hackIds": [1, 2, 3],
            "hacksMatched": [],
            "superlativesAdded": 1,
            "superlativeIds": [2],
            "superlativesMatched": [1],
            "eligibilityAdded": 3,
            "adjusted": [],
        })
    );
    let state = api.get("/api/state", Some(ADMIN)).await;
    let state = state.expect(StatusCode::OK);
    let hacks: Vec<(String, i64)> = state["hacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_string(),
                h["location"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        hacks,
        [
            ("Tally Ho".to_string(), 1),
            ("Quiet Room".to_string(), 2),
            ("Über Bus".to_string(), 3)
        ]
    );
    assert_eq!(
        state["hacks"][0]["description"],
        "Counts things, fast.\nSecond line of the story, with a comma, here."
    );
    assert_eq!(
        state["superlatives"],
        json!([{"id": 1, "name": "best use of data"}, {"id": 2, "name": "Best Hardware Hack"}])
    );
    assert_eq!(
        state["superlativeHacks"],
        json!([
            {"id": 1, "superlativeId": 2, "hackId": 1},
            {"id": 2, "superlativeId": 1, "hackId": 1},
            {"id": 3, "superlativeId": 1, "hackId": 2},
        ])
    );

    // The same export again adds nothing.
    let reply = api.post_raw("/api/import/devpost", Some(ADMIN), csv).await;
    let body = reply.expect(StatusCode::OK);
    assert_eq!(body["hacksAdded"], 0);
    assert_eq!(body["hacksMatched"], json!([1, 2, 3]));
    assert_eq!(body["eligibilityAdded"], 0);

    // A form upload is refused with advice.
    let form = api
        .http
        .post(server.url("/api/import/devpost"))
        .bearer_auth(ADMIN)
        .header("Content-Type", "multipart/form-data; boundary=x")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    assert!(form.text().await.unwrap().contains("not a multipart form"));

    // A wrong file is refused with its row; nothing is added.
    let reply = api
        .post_raw(
            "/api/import/devpost",
            Some(ADMIN),
            "name,email\nAda,ada@example.org\n",
        )
        .await;
    reply.expect_error(StatusCode::BAD_REQUEST, "row 1: the header has 2 columns");
    assert_eq!(reply.body["row"], 1);
    let broken = "Project Title,Submission Url,Project Status,a,b,c,About,d,e,Opt-In Prizes\n\
                  Fine,u,Submitted,,,,,,,\n\
                  ,u,Submitted,,,,,,,\n";
    let reply = api
        .post_raw("/api/import/devpost", Some(ADMIN), broken)
        .await;
    reply.expect_error(StatusCode::BAD_REQUEST, "row 3: Project Title is empty");
    let state = api.get("/api/state", Some(ADMIN)).await;
    assert_eq!(state.body["hacks"].as_array().unwrap().len(), 3);
    server.shutdown().await;
}

/// A Devpost export whose quoted cells hold line breaks: a project title
/// typed over two lines (CRLF), a prize name with a newline, a description
/// of several lines. It imports: names on one line, the description as
/// written. A bell character in a title is still refused, with its row.
#[tokio::test]
async fn devpost_import_with_line_breaks_inside_quotes() {
    let server = start().await;
    let api = Api::new(&server);
    let csv = "Project Title,Submission Url,Project Status,Judging Status,Highest Step Completed,\
               Project Created At,About The Project,Try it out,Video,Opt-In Prizes\r\n\
               \"Tally\r\nHo\",https://devpost.example/software/tally-ho,Submitted,,,,\
               \"Counts things.\r\nSecond line.\",,,\"Best\nHardware Hack\"\r\n\
               \"Quiet\tRoom \n\",https://devpost.example/software/quiet-room,Submitted,,,,,,,\r\n";
    let reply = api.post_raw("/api/import/devpost", Some(ADMIN), csv).await;
    assert_eq!(reply.expect(StatusCode::OK)["hacksAdded"], 2);
    let state = api.get("/api/state", Some(ADMIN)).await;
    let state = state.expect(StatusCode::OK);
    let names: Vec<&str> = state["hacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Tally Ho", "Quiet Room"]);
    assert_eq!(
        state["hacks"][0]["description"],
        "Counts things.\r\nSecond line."
    );
    assert_eq!(
        state["superlatives"],
        json!([{"id": 1, "name": "Best Hardware Hack"}])
    );

    let bell = "Project Title,Submission Url,Project Status,a,b,c,About,d,e,Opt-In Prizes\n\
                Fine,u,Submitted,,,,,,,\n\
                \"Ring\n\u{7}\",u,Submitted,,,,,,,\n";
    let reply = api.post_raw("/api/import/devpost", Some(ADMIN), bell).await;
    reply.expect_error(
        StatusCode::BAD_REQUEST,
        "row 3: Project Title: name must not contain control characters",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn judges_import_is_all_or_nothing() {
    let server = start().await;
    let api = Api::new(&server);
    let count = |state: &Value| state["judges"].as_array().unwrap().len();

    // A bad row rejects the whole file, naming the row.
    let bad = "name,email\nAda,ada@example.org\nGrace,not-an-address\nAlan,alan@example.org\n";
    let reply = api.post_raw("/api/import/judges", Some(ADMIN), bad).await;
    reply.expect_error(StatusCode::BAD_REQUEST, "row 3: ");
    assert!(reply.body["error"]
        .as_str()
        .unwrap()
        .contains("not a plausible address"));
    assert_eq!(reply.body["row"], 3);
    let state = api.get("/api/state", Some(ADMIN)).await;
    assert_eq!(count(&state.body), 0);

    // A repeated email within the file too.
    let twice = "Ada,ada@example.org\nAda again,ADA@example.org\n";
    api.post_raw("/api/import/judges", Some(ADMIN), twice)
        .await
        .expect_error(
            StatusCode::BAD_REQUEST,
            "row 2: email ADA@example.org is already used on row 1",
        );

    let good = "\u{feff}name,email\r\n\"Lovelace, Ada\",ada@example.org\r\nGrace Hopper,grace@example.org\r\n";
    let reply = api.post_raw("/api/import/judges", Some(ADMIN), good).await;
    assert_eq!(
        reply.expect(StatusCode::OK),
        &json!({"judgesAdded": 2, "judgeIds": [1, 2]})
    );

    // An email an existing judge has: 409 naming the row; nothing added.
    let clash = "name,email\nAlan,alan@example.org\nGrace H,Grace@Example.org\n";
    let reply = api.post_raw("/api/import/judges", Some(ADMIN), clash).await;
    reply.expect_error(StatusCode::CONFLICT, "row 3: judge 2 already has the email");
    assert_eq!(reply.body["row"], 3);
    let state = api.get("/api/state", Some(ADMIN)).await;
    assert_eq!(count(&state.body), 2);
    assert_eq!(state.body["judges"][0]["name"], "Lovelace, Ada");
    server.shutdown().await;
}

#[tokio::test]
async fn assignment_results_and_exports() {
    let server = start().await;
    let api = Api::new(&server);

    api.post("/api/assignments", Some(ADMIN), json!({}))
        .await
        .expect_error(StatusCode::CONFLICT, "no judges yet");
    seed(&api, 4).await;
    api.post("/api/assignments", Some(ADMIN), json!({"judgesPerHack": 0}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "judgesPerHack 0 is out of range");
    api.post("/api/assignments", Some(ADMIN), json!({"k": 2}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "unknown field `k`");

    let reply = api
        .post("/api/assignments", Some(ADMIN), json!({"judgesPerHack": 2}))
        .await;
    let assigned = reply.expect(StatusCode::OK);
    assert_eq!(assigned["judgesPerHack"], 2);
    assert_eq!(assigned["created"].as_array().unwrap().len(), 6);
    assert_eq!(assigned["total"], 6);
    // Again, with an empty body (k stays 2): nothing changes.
    let reply = api
        .post_raw("/api/assignments", Some(ADMIN), Vec::new())
        .await;
    let again = reply.expect(StatusCode::OK);
    assert_eq!(again["judgesPerHack"], 2);
    assert_eq!(again["created"], json!([]));
    assert_eq!(again["updated"], json!([]));

    // Every judge sees its own assignments, in table order.
    let mut secrets = Vec::new();
    let mut per_hack = std::collections::HashMap::<i64, usize>::new();
    for judge in 1..=4 {
        let secret = api.login(judge).await;
        let state = api.get("/api/state", Some(&secret)).await;
        let rows = state.body["judgeHacks"].as_array().unwrap().clone();
        assert!(!rows.is_empty() && rows.len() <= 2, "{rows:?}");
        assert!(rows.iter().all(|r| r["judgeId"] == judge));
        let priorities: Vec<_> = rows
            .iter()
            .map(|r| r["priority"].as_i64().unwrap())
            .collect();
        let mut sorted = priorities.clone();
        sorted.sort();
        assert_eq!(sorted, (0..rows.len() as i64).collect::<Vec<_>>());
        for row in &rows {
            *per_hack.entry(row["hackId"].as_i64().unwrap()).or_default() += 1;
        }
        secrets.push((judge, secret, rows));
    }
    assert_eq!(per_hack.len(), 3);
    assert!(per_hack.values().all(|&n| n == 2));

    // Before any rating: nothing ranked, everything short of ratings.
    let results = api.get("/api/results", Some(ADMIN)).await;
    let results = results.expect(StatusCode::OK);
    assert_eq!(results["judgesPerHack"], 2);
    assert!(results["hacks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["rank"].is_null()));
    assert_eq!(
        results["coverage"]["hacksShort"].as_array().unwrap().len(),
        3
    );
    assert_eq!(
        results["coverage"]["judgesBehind"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // Each judge rates its hacks: hack 3 best, hack 1 worst, for everyone.
    for (judge, secret, rows) in &secrets {
        for row in rows {
            let hack = row["hackId"].as_i64().unwrap();
            api.post(
                "/api/ratings",
                Some(secret),
                json!({"judgeId": judge, "hackId": hack, "rating": 5 * hack + *judge}),
            )
            .await
            .expect(StatusCode::OK);
        }
        // Judges 1 and 2 pick hack 1 for the superlative it is eligible for.
        if *judge <= 2 {
            api.post(
                "/api/placements",
                Some(secret),
                json!({"judgeId": judge, "superId": 2, "firstId": 1, "secondId": 2}),
            )
            .await
            .expect(StatusCode::OK);
        }
    }
    let results = api.get("/api/results", Some(ADMIN)).await;
    let results = results.expect(StatusCode::OK);
    let order: Vec<_> = results["hacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["hackId"].as_i64().unwrap(), h["rank"].as_i64().unwrap()))
        .collect();
    assert_eq!(order, [(3, 1), (2, 2), (1, 3)]);
    for hack in results["hacks"].as_array().unwrap() {
        assert_eq!(hack["ratings"], 2);
        assert!(hack["mean"].is_f64() && hack["normalized"].is_f64());
        assert!(hack["name"].is_string());
    }
    assert_eq!(results["coverage"]["hacksShort"], json!([]));
    assert_eq!(results["coverage"]["judgesBehind"], json!([]));
    // "Best Use of Data" (2): hack 1 twice first (4 points), hack 2 twice
    // second (2); both eligible.
    let superlative = results["superlatives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["superlativeId"] == 2)
        .unwrap();
    assert_eq!(superlative["name"], "Best Use of Data");
    assert_eq!(
        superlative["ranking"],
        json!([{"hackId": 1, "points": 4, "rank": 1}, {"hackId": 2, "points": 2, "rank": 2}])
    );
    // A query the endpoint cannot take is refused, naming what it takes.
    api.get("/api/results?judgesPerHack=three", Some(ADMIN))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "judgesPerHack=<integer>");
    api.get("/api/state?preview=-1", Some(ADMIN))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "preview=<characters>");
    // Coverage against another k on request.
    let results = api.get("/api/results?judgesPerHack=3", Some(ADMIN)).await;
    assert_eq!(
        results.expect(StatusCode::OK)["coverage"]["hacksShort"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    api.get("/api/results?k=3", Some(ADMIN))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "judgesPerHack");

    // CSV: results in rank order, and the exports.
    let csv = api.get("/api/results.csv", Some(ADMIN)).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let lines: Vec<_> = csv.text.lines().collect();
    assert_eq!(lines[0], "rank,hackId,name,ratings,mean,normalized");
    assert!(lines[1].starts_with("1,3,Über Bus,2,"), "{}", csv.text);
    let hacks = api.get("/api/export/hacks.csv", Some(ADMIN)).await;
    assert!(hacks.text.starts_with(
        "id,name,description,location,withdrawn\n1,Tally Ho,\"Counts things, fast.\n"
    ));
    assert!(hacks.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("hacks.csv"));
    let judges = api.get("/api/export/judges.csv", Some(ADMIN)).await;
    assert_eq!(judges.text.lines().count(), 5);
    assert!(judges.text.contains("1,Judge 1,judge1@example.org"));
    let ratings = api.get("/api/export/ratings.csv", Some(ADMIN)).await;
    assert_eq!(ratings.text.lines().count(), 7);
    assert!(ratings
        .text
        .starts_with("id,judgeId,hackId,rating,judgeName,hackName,note\n"));

    // A fifth judge and a new hack: re-running tops up, rated rows stay.
    api.post(
        "/api/judges",
        Some(ADMIN),
        json!({"name": "Judge 5", "email": "judge5@example.org"}),
    )
    .await
    .expect(StatusCode::CREATED);
    api.post(
        "/api/hacks",
        Some(ADMIN),
        json!({"name": "Late", "description": "", "location": 9}),
    )
    .await
    .expect(StatusCode::CREATED);
    let before = api.get("/api/state", Some(ADMIN)).await.body["judgeHacks"].clone();
    let reply = api.post("/api/assignments", Some(ADMIN), json!({})).await;
    let topped = reply.expect(StatusCode::OK);
    assert_eq!(topped["total"], 8);
    let after = api.get("/api/state", Some(ADMIN)).await.body["judgeHacks"].clone();
    for row in before.as_array().unwrap() {
        let now = after
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == row["id"])
            .unwrap();
        assert_eq!(
            (&now["judgeId"], &now["hackId"]),
            (&row["judgeId"], &row["hackId"])
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn live_updates_as_server_sent_events() {
    let server = start().await;
    let api = Api::new(&server);
    api.get("/api/events", None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    api.get("/api/events?secret=wrong", None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    api.post(
        "/api/hacks",
        Some(ADMIN),
        json!({"name": "First", "description": "", "location": 1}),
    )
    .await
    .expect(StatusCode::CREATED);

    let mut admin = EventStream::open(&server.url("/api/events"), Some(ADMIN)).await;
    let (event, data) = admin.next().await;
    assert_eq!(event, "update-full");
    assert_eq!(data["database"]["hacks"][0]["name"], "First");
    assert_eq!(data["database"]["judges"], json!([]));

    // An import arrives as one partial.
    api.post_raw(
        "/api/import/judges",
        Some(ADMIN),
        "Ada,ada@example.org\nGrace,grace@example.org\n",
    )
    .await
    .expect(StatusCode::OK);
    let (event, data) = admin.next().await;
    assert_eq!(event, "update-partial");
    assert_eq!(data["diff"]["judges"].as_array().unwrap().len(), 2);
    assert_eq!(data["diff"]["hacks"], json!([]));

    // A judge's stream, with the secret in the query as EventSource sends it.
    let ada = api.login(1).await;
    let mut judge =
        EventStream::open(&server.url(&format!("/api/events?secret={ada}")), None).await;
    let (event, data) = judge.next().await;
    assert_eq!(event, "update-full");
    assert_eq!(data["database"]["judges"][1]["email"], "");

    // Grace's rating reaches the admin only; Ada's reaches both.
    api.post(
        "/api/ratings",
        Some(ADMIN),
        json!({"judgeId": 2, "hackId": 1, "rating": 9}),
    )
    .await
    .expect(StatusCode::OK);
    api.post(
        "/api/ratings",
        Some(&ada),
        json!({"judgeId": 1, "hackId": 1, "rating": 11}),
    )
    .await
    .expect(StatusCode::OK);
    let mut admin_ratings = Vec::new();
    while admin_ratings.len() < 2 {
        let (event, data) = admin.next().await;
        assert_eq!(event, "update-partial");
        for rating in data["diff"]["ratings"].as_array().unwrap() {
            admin_ratings.push(rating["judgeId"].as_i64().unwrap());
        }
    }
    assert_eq!(admin_ratings, [2, 1], "in commit order");
    let (event, data) = judge.next().await;
    assert_eq!(event, "update-partial");
    assert_eq!(
        data["diff"]["ratings"],
        json!([{"id": 2, "judgeId": 1, "hackId": 1, "rating": 11}])
    );

    // Shutting down ends open streams rather than waiting on them, and ends
    // them cleanly: the browser's EventSource sees the end of the stream
    // and reconnects, not a connection broken off mid-body.
    let running = tokio::time::timeout(PATIENCE, server.shutdown()).await;
    assert!(running.is_ok(), "shutdown waited on the event streams");
    admin.end().await.expect("the admin's stream ends cleanly");
    judge.end().await.expect("the judge's stream ends cleanly");
}

#[tokio::test]
async fn openapi_document_describes_every_endpoint() {
    let server = start().await;
    let api = Api::new(&server);
    let reply = api.get("/api/openapi.json", None).await;
    let doc = reply.expect(StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/login", "post"),
        ("/api/state", "get"),
        ("/api/hacks", "post"),
        ("/api/judges", "post"),
        ("/api/superlatives", "post"),
        ("/api/ratings", "post"),
        ("/api/placements", "post"),
        ("/api/import/devpost", "post"),
        ("/api/import/judges", "post"),
        ("/api/assignments", "post"),
        ("/api/results", "get"),
        ("/api/results.csv", "get"),
        ("/api/export/hacks.csv", "get"),
        ("/api/export/judges.csv", "get"),
        ("/api/export/ratings.csv", "get"),
        ("/api/events", "get"),
        ("/api/openapi.json", "get"),
        ("/api/judges/names", "get"),
        ("/api/login-code", "get"),
        ("/api/clicker/devices", "get"),
        ("/api/clicker/devices/{id}/scores", "get"),
        ("/api/clicker/devices/{id}/marks", "get"),
    ] {
        let operation = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"))[method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        assert!(
            operation["responses"].is_object(),
            "{method} {path} has no responses"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn clicker_marks_endpoint() {
    let server = start().await;
    let mut clicker = server.client().await;
    let (id, _) = clicker.register(None).await;
    for (msg, timestamp, score) in [(1, 1000, 1), (2, 1500, 2), (3, 2100, 4)] {
        let reply = clicker
            .ask(&format!("SCORE {msg} {timestamp} {score}"))
            .await;
        assert_eq!(reply, format!("SCORED {msg} {timestamp}"));
    }
    let api = Api::new(&server);
    let reply = api
        .get(&format!("/api/clicker/devices/{id}/marks"), None)
        .await;
    let marks = reply.expect(StatusCode::OK).as_array().unwrap().clone();
    assert_eq!(marks.len(), 4, "one mark per counted step: {marks:?}");
    assert_eq!(marks[0]["sequence"], 0);
    assert_eq!(marks[0]["schema"], "step");
    api.get("/api/clicker/devices/999999/marks", None)
        .await
        .expect(StatusCode::NOT_FOUND);
    server.shutdown().await;
}

/// What Schemathesis found, as a client sees it: an empty upload is a clear
/// 400 (it used to import nothing and answer 200), whole numbers written
/// with a fraction are integers (JSON Schema, so the document, counts them
/// so), and refused query strings and path segments are JSON like every
/// other refusal (axum's own were plain text).
#[tokio::test]
async fn refusals_the_contract_test_found_are_fixed() {
    let server = start().await;
    let api = Api::new(&server);
    for path in [
        "/api/import/judges",
        "/api/import/devpost",
        "/api/import/entries",
    ] {
        let reply = api.post_raw(path, Some(ADMIN), "").await;
        reply.expect_error(StatusCode::BAD_REQUEST, "the request body is empty");
        assert!(
            reply.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
    }
    // Nothing was imported, and a judge named in the next import is added.
    let state = api.get("/api/state", Some(ADMIN)).await;
    assert_eq!(state.expect(StatusCode::OK)["judges"], json!([]));
    api.post_raw("/api/import/judges", Some(ADMIN), " \r\n")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "the request body is empty");
    api.post_raw("/api/import/judges", Some(ADMIN), "Ada,ada@example.org\n")
        .await
        .expect(StatusCode::OK);
    // A judge without admin rights is refused as such, body unread.
    let judge = api.login(1).await;
    api.post_raw("/api/import/judges", Some(&judge), "")
        .await
        .expect_error(StatusCode::FORBIDDEN, "for the admin only");

    // 3.0 and 1e1 are the integers 3 and 10; 2.5 is still refused.
    let hack = api
        .post(
            "/api/hacks",
            Some(ADMIN),
            json!({"name": "Tally", "description": "", "location": 3.0}),
        )
        .await;
    assert_eq!(hack.expect(StatusCode::CREATED)["location"], 3);
    let rating = api
        .post(
            "/api/ratings",
            Some(ADMIN),
            json!({"judgeId": 1.0, "hackId": 1, "rating": 1e1}),
        )
        .await;
    assert_eq!(rating.expect(StatusCode::OK)["rating"], 10);
    api.post(
        "/api/ratings",
        Some(ADMIN),
        json!({"judgeId": 1, "hackId": 1, "rating": 2.5}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "floating point `2.5`");

    // An integer id in a path may be written as JSON writes numbers too.
    let link = api
        .post("/api/judges/1.0/link", Some(ADMIN), Value::Null)
        .await;
    assert_eq!(link.expect(StatusCode::OK)["judgeId"], 1);
    api.post("/api/judges/1.5/link", Some(ADMIN), Value::Null)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "not a judge id");

    // An optional body is absent or JSON: blank space is neither.
    api.post_raw("/api/judges/1/link", Some(ADMIN), "\t")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "not valid JSON");
    api.post_raw("/api/judges/1/link", Some(ADMIN), "")
        .await
        .expect(StatusCode::OK);

    // Query strings and undecodable path segments: JSON 400s.
    for path in [
        "/api/clicker/devices/1/scores?format=csv&format=json",
        "/api/heats/%FF/start",
        "/api/clicker/devices/%FF/marks",
    ] {
        let reply = api.send(Method::GET, path, Some(ADMIN), Body::None).await;
        let reply = if reply.status == StatusCode::METHOD_NOT_ALLOWED {
            api.send(Method::POST, path, Some(ADMIN), Body::None).await
        } else {
            reply
        };
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text
        );
        assert!(reply.body["error"].is_string(), "{path}: {}", reply.text);
    }
    server.shutdown().await;
}

/// The served document is the one generated from the code, and says which
/// operations are public and which need the bearer secret.
#[tokio::test]
async fn the_openapi_document_says_who_may_call_what() {
    let server = start().await;
    let api = Api::new(&server);
    let doc = api.get("/api/openapi.json", None).await;
    let doc = doc.expect(StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let names = &doc["paths"]["/api/judges/names"]["get"];
    assert!(names["security"].is_null(), "public: {names}");
    // And it is: no credentials, 200.
    api.get("/api/judges/names", None)
        .await
        .expect(StatusCode::OK);
    let judges = &doc["paths"]["/api/judges"]["post"];
    assert_eq!(judges["security"], json!([{"bearer": []}]));
    for status in ["400", "401", "403", "409", "413", "429", "503"] {
        let content = &judges["responses"][status]["content"];
        assert_eq!(
            content["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
            "{status}: {content}"
        );
    }
    let device = &doc["paths"]["/api/clicker/devices/{id}/scores"]["get"]["parameters"][0];
    assert_eq!(
        device["schema"]["pattern"], "^0{0,5}[1-9][0-9]{0,5}$",
        "{device}"
    );
    assert_eq!(device["schema"]["maxLength"], 6, "{device}");
    server.shutdown().await;
}
