//! End-to-end tests of the judging floor over HTTP (reqwest against the real
//! server): pausing and resuming (409 while paused, nothing half-applied,
//! the pause surviving kill -9 and a restart), absent teams (moved to the
//! end of the judge's route, flagged after two different judges, cleared by
//! the organiser or by a later rating, withdrawal), judges' notes (limits,
//! permissions, the ratings export), the floor view, and what each judge
//! may see of the others' absences and notes.

mod common;

use common::{ChildServer, TestServer, PATIENCE};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN: &str = "admin-secret-for-the-floor-tests-01";
const LOGIN_CODE: &str = "login-code-for-the-floor-tests-0123";

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn at(base: String) -> Api {
        Api {
            http: reqwest::Client::new(),
            base,
        }
    }

    async fn call(
        &self,
        get: bool,
        path: &str,
        secret: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = if get {
            self.http.get(url)
        } else {
            self.http.post(url)
        };
        request = request.bearer_auth(secret);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = tokio::time::timeout(PATIENCE, request.send())
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

    async fn post(&self, path: &str, secret: &str, body: Value) -> (StatusCode, Value) {
        self.call(false, path, secret, Some(body)).await
    }

    async fn post_empty(&self, path: &str, secret: &str) -> (StatusCode, Value) {
        self.call(false, path, secret, None).await
    }

    async fn get(&self, path: &str, secret: &str) -> Value {
        let (status, body) = self.call(true, path, secret, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Three hacks at tables 1 to 3, `judges` judges, assigned with k judges
    /// per hack; answers each judge's secret (index 0 is judge 1).
    async fn competition(&self, judges: i64, k: i64) -> Vec<String> {
        for table in 1..=3 {
            let (status, body) = self
                .post(
                    "/api/hacks",
                    ADMIN,
                    json!({"name": format!("Hack {table}"), "description": "", "location": table}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let mut secrets = Vec::new();
        for id in 1..=judges {
            let (status, body) = self
                .post(
                    "/api/judges",
                    ADMIN,
                    json!({"name": format!("Judge {id}"), "email": format!("j{id}@example.org")}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let (status, body) = self
                .call(
                    false,
                    "/api/login",
                    "",
                    Some(json!({"judgeId": id, "loginCode": LOGIN_CODE})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            secrets.push(body["secret"].as_str().unwrap().to_string());
        }
        let (status, body) = self
            .post("/api/assignments", ADMIN, json!({"judgesPerHack": k}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        secrets
    }
}

async fn start() -> (TestServer, Api) {
    let server = TestServer::start_with(|c| {
        c.admin_secret = Some(ADMIN.into());
        c.login_code = Some(LOGIN_CODE.into());
    })
    .await;
    let api = Api::at(server.url(""));
    (server, api)
}

fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("an error message in {body}"))
}

/// Hack ids on `judge`'s route, in visiting order.
fn route(state: &Value, judge: i64) -> Vec<i64> {
    let mut rows: Vec<&Value> = state["judgeHacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["judgeId"] == judge)
        .collect();
    rows.sort_by_key(|r| r["priority"].as_i64().unwrap());
    rows.iter().map(|r| r["hackId"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_pause_refuses_ratings_placements_and_absences_and_lets_notes_through() {
    let (_server, api) = start().await;
    let judges = api.competition(1, 1).await;
    let judge = &judges[0];
    let (status, _) = api
        .post("/api/superlatives", ADMIN, json!({"name": "Best"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api
        .post(
            "/api/ratings",
            judge,
            json!({"judgeId": 1, "hackId": 1, "rating": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Only the admin pauses.
    let (status, body) = api.post_empty("/api/judging/pause", judge).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = api.post_empty("/api/judging/pause", ADMIN).await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &json!({"id": 1, "paused": true}))
    );
    assert_eq!(
        api.get("/api/state", judge).await["judgingStatus"],
        json!([{"id": 1, "paused": true}]),
        "a judge's state shows the pause"
    );

    // Every scoring write is refused with 409 and a message, by the judge
    // and by the admin alike, and nothing changes.
    let writes = [
        (
            "/api/ratings",
            json!({"judgeId": 1, "hackId": 1, "rating": 19}),
        ),
        (
            "/api/ratings",
            json!({"judgeId": 1, "hackId": 2, "rating": 3}),
        ),
        (
            "/api/placements",
            json!({"judgeId": 1, "superId": 1, "firstId": 1, "secondId": 0}),
        ),
        ("/api/absences", json!({"judgeId": 1, "hackId": 3})),
    ];
    let before = api.get("/api/state", ADMIN).await;
    for secret in [judge.as_str(), ADMIN] {
        for (path, body) in &writes {
            let (status, reply) = api.post(path, secret, body.clone()).await;
            assert_eq!(status, StatusCode::CONFLICT, "{path}: {reply}");
            assert!(error_of(&reply).contains("judging is paused"), "{reply}");
        }
    }
    let after = api.get("/api/state", ADMIN).await;
    assert_eq!(before, after, "a refused write changes nothing");
    assert_eq!(
        after["ratings"],
        json!([{"id": 1, "judgeId": 1, "hackId": 1, "rating": 7}])
    );

    // Notes are still taken: a judge may write down thoughts while paused.
    let (status, body) = api
        .post(
            "/api/notes",
            judge,
            json!({"judgeId": 1, "hackId": 2, "text": "ask about the battery"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Pausing twice is harmless; resuming lets writes in again.
    assert_eq!(
        api.post_empty("/api/judging/pause", ADMIN).await.0,
        StatusCode::OK
    );
    let (status, body) = api.post_empty("/api/judging/resume", ADMIN).await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &json!({"id": 1, "paused": false}))
    );
    let (status, body) = api
        .post(
            "/api/ratings",
            judge,
            json!({"judgeId": 1, "hackId": 1, "rating": 19}),
        )
        .await;
    assert_eq!(
        (status, body["rating"].clone()),
        (StatusCode::OK, json!(19))
    );
}

#[tokio::test]
async fn the_pause_survives_kill_9_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--admin-secret", ADMIN, "--login-code", LOGIN_CODE];
    let server = ChildServer::start_with_args(dir.path(), &args).await;
    let api = Api::at(format!("http://{}", server.addr));
    api.competition(1, 1).await;
    let (status, _) = api.post_empty("/api/judging/pause", ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    server.kill9();

    let server = ChildServer::start_with_args(dir.path(), &args).await;
    let api = Api::at(format!("http://{}", server.addr));
    assert_eq!(
        api.get("/api/state", ADMIN).await["judgingStatus"],
        json!([{"id": 1, "paused": true}])
    );
    let (status, body) = api
        .post(
            "/api/ratings",
            ADMIN,
            json!({"judgeId": 1, "hackId": 1, "rating": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(api.get("/api/floor", ADMIN).await["paused"]
        .as_bool()
        .unwrap());
    server.kill9();
}

#[tokio::test]
async fn an_absent_team_goes_last_is_flagged_by_two_judges_and_cleared() {
    let (_server, api) = start().await;
    // Three judges, every one assigned every hack (k = 3).
    let judges = api.competition(3, 3).await;
    let state = api.get("/api/state", &judges[0]).await;
    let first = route(&state, 1)[0];

    // Judge 1 finds nobody at its first table: the hack goes last.
    let (status, absence) = api
        .post(
            "/api/absences",
            &judges[0],
            json!({"judgeId": 1, "hackId": first}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{absence}");
    assert_eq!(absence["active"], true);
    let mine = api.get("/api/state", &judges[0]).await;
    assert_eq!(*route(&mine, 1).last().unwrap(), first);
    assert_eq!(mine["absences"], json!([absence]));
    // A judge marks only for itself; the admin may mark for anyone.
    let (status, body) = api
        .post(
            "/api/absences",
            &judges[0],
            json!({"judgeId": 2, "hackId": first}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = api
        .post(
            "/api/absences",
            &judges[0],
            json!({"judgeId": 1, "hackId": 99}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // One judge is not enough to flag; marking again is the same row.
    let floor = api.get("/api/floor", ADMIN).await;
    let hack = &floor["hacks"][(first - 1) as usize];
    assert_eq!(
        (hack["absentBy"].clone(), hack["flagged"].clone()),
        (json!([1]), json!(false))
    );
    let (_, again) = api
        .post(
            "/api/absences",
            &judges[0],
            json!({"judgeId": 1, "hackId": first}),
        )
        .await;
    assert_eq!(again, absence);
    let floor = api.get("/api/floor", ADMIN).await;
    assert_eq!(floor["hacks"][(first - 1) as usize]["flagged"], false);

    // A second, different judge: flagged.
    let (status, _) = api
        .post(
            "/api/absences",
            &judges[1],
            json!({"judgeId": 2, "hackId": first}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let floor = api.get("/api/floor", ADMIN).await;
    let hack = &floor["hacks"][(first - 1) as usize];
    assert_eq!(
        (hack["absentBy"].clone(), hack["flagged"].clone()),
        (json!([1, 2]), json!(true))
    );
    assert_eq!(hack["ratings"], 0, "an absence is not a rating");
    assert_eq!(floor["absentFlagJudges"], 2);

    // Only the admin clears; clearing answers the rows cleared.
    let (status, _) = api
        .post("/api/absences/clear", &judges[0], json!({"hackId": first}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = api
        .post("/api/absences/clear", ADMIN, json!({"hackId": first}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cleared"].as_array().unwrap().len(), 2);
    let floor = api.get("/api/floor", ADMIN).await;
    let hack = &floor["hacks"][(first - 1) as usize];
    assert_eq!(
        (hack["absentBy"].clone(), hack["flagged"].clone()),
        (json!([]), json!(false))
    );
    assert_eq!(
        api.get("/api/state", &judges[0]).await["absences"][0]["active"],
        false,
        "the judge sees its absence cleared"
    );

    // Marked again by two judges, then a third judge rates it: the rating
    // clears every absence of the hack.
    for judge in 1..=2 {
        let (status, _) = api
            .post(
                "/api/absences",
                ADMIN,
                json!({"judgeId": judge, "hackId": first}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        api.get("/api/floor", ADMIN).await["hacks"][(first - 1) as usize]["flagged"],
        true
    );
    let (status, _) = api
        .post(
            "/api/ratings",
            &judges[2],
            json!({"judgeId": 3, "hackId": first, "rating": 12}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let floor = api.get("/api/floor", ADMIN).await;
    let hack = &floor["hacks"][(first - 1) as usize];
    assert_eq!(
        (
            hack["absentBy"].clone(),
            hack["flagged"].clone(),
            hack["ratings"].clone()
        ),
        (json!([]), json!(false), json!(1))
    );
    let admin_state = api.get("/api/state", ADMIN).await;
    assert!(admin_state["absences"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["active"] == false));
}

#[tokio::test]
async fn the_flag_threshold_is_configurable_and_withdrawn_hacks_leave_the_results() {
    let server = TestServer::start_with(|c| {
        c.admin_secret = Some(ADMIN.into());
        c.login_code = Some(LOGIN_CODE.into());
        c.absent_flag_judges = 1;
    })
    .await;
    let api = Api::at(server.url(""));
    api.competition(2, 2).await;
    let (status, _) = api
        .post("/api/absences", ADMIN, json!({"judgeId": 1, "hackId": 2}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let floor = api.get("/api/floor", ADMIN).await;
    assert_eq!(
        (
            floor["absentFlagJudges"].clone(),
            floor["hacks"][1]["flagged"].clone()
        ),
        (json!(1), json!(true))
    );

    // Rate everything, then withdraw hack 2.
    for judge in 1..=2 {
        for hack in 1..=3 {
            let (status, _) = api
                .post(
                    "/api/ratings",
                    ADMIN,
                    json!({"judgeId": judge, "hackId": hack, "rating": 10 + hack}),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    let (status, body) = api
        .post(
            "/api/withdrawals",
            ADMIN,
            json!({"hackId": 2, "withdrawn": true}),
        )
        .await;
    assert_eq!(
        (status, &body),
        (
            StatusCode::OK,
            &json!({"id": 1, "hackId": 2, "withdrawn": true})
        )
    );
    let (status, _) = api
        .post("/api/withdrawals", ADMIN, json!({"hackId": 2}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let results = api.get("/api/results", ADMIN).await;
    let ranked: Vec<i64> = results["hacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hackId"].as_i64().unwrap())
        .collect();
    assert_eq!(ranked, [3, 1], "the withdrawn hack leaves the results");
    let hacks_csv = api.text("/api/export/hacks.csv").await;
    assert!(
        hacks_csv.starts_with("id,name,description,location,withdrawn\n"),
        "{hacks_csv}"
    );
    assert!(hacks_csv.contains("2,Hack 2,,2,true\n"), "{hacks_csv}");
    assert!(hacks_csv.contains("1,Hack 1,,1,false\n"), "{hacks_csv}");
    let floor = api.get("/api/floor", ADMIN).await;
    assert_eq!(
        (
            floor["hacks"][1]["withdrawn"].clone(),
            floor["hacks"][1]["flagged"].clone()
        ),
        (json!(true), json!(false))
    );
    // Taken back, it is ranked again.
    api.post(
        "/api/withdrawals",
        ADMIN,
        json!({"hackId": 2, "withdrawn": false}),
    )
    .await;
    assert_eq!(
        api.get("/api/results", ADMIN).await["hacks"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn notes_are_private_limited_and_in_the_ratings_export() {
    let (_server, api) = start().await;
    let judges = api.competition(2, 2).await;
    let (status, note) = api
        .post(
            "/api/notes",
            &judges[0],
            json!({"judgeId": 1, "hackId": 1, "text": "great demo,\nshaky pitch"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{note}");
    assert_eq!(note["text"], "great demo,\nshaky pitch");
    // Writing again replaces the note and keeps its id.
    let (_, edited) = api
        .post(
            "/api/notes",
            &judges[0],
            json!({"judgeId": 1, "hackId": 1, "text": "great demo"}),
        )
        .await;
    assert_eq!(
        (edited["id"].clone(), edited["text"].clone()),
        (note["id"].clone(), json!("great demo"))
    );
    api.post(
        "/api/notes",
        &judges[1],
        json!({"judgeId": 2, "hackId": 1, "text": "judge two's thoughts"}),
    )
    .await;
    api.post(
        "/api/absences",
        &judges[1],
        json!({"judgeId": 2, "hackId": 3}),
    )
    .await;

    // Limits: 2,000 characters (counted as characters, not bytes).
    let longest = "é".repeat(2000);
    let (status, _) = api
        .post(
            "/api/notes",
            &judges[0],
            json!({"judgeId": 1, "hackId": 2, "text": longest}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .post(
            "/api/notes",
            &judges[0],
            json!({"judgeId": 1, "hackId": 2, "text": "x".repeat(2001)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error_of(&body).contains("text is 2001 characters long; the limit is 2000"),
        "{body}"
    );
    let (status, _) = api
        .post(
            "/api/notes",
            &judges[0],
            json!({"judgeId": 1, "hackId": 2, "text": "bell\u{7}"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .post(
            "/api/notes",
            &judges[0],
            json!({"judgeId": 2, "hackId": 2, "text": "forged"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = api
        .post(
            "/api/notes",
            &judges[0],
            json!({"judgeId": 1, "hackId": 2, "note": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error_of(&body).contains("note-hack payload: unknown field `note`"),
        "{body}"
    );

    // Scoping: each judge sees its own notes and absences only; the admin all.
    let one = api.get("/api/state", &judges[0]).await;
    assert!(
        one["notes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["judgeId"] == 1),
        "{}",
        one["notes"]
    );
    assert_eq!(one["notes"].as_array().unwrap().len(), 2);
    assert_eq!(one["absences"], json!([]));
    let two = api.get("/api/state", &judges[1]).await;
    assert_eq!(
        two["notes"],
        json!([{"id": 2, "judgeId": 2, "hackId": 1, "text": "judge two's thoughts"}])
    );
    assert_eq!(two["absences"].as_array().unwrap().len(), 1);
    let admin = api.get("/api/state", ADMIN).await;
    assert_eq!(admin["notes"].as_array().unwrap().len(), 3);
    // The floor view is the admin's alone.
    let (status, _) = api.call(true, "/api/floor", &judges[0], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The ratings export carries each rating's note, then unrated notes.
    api.post(
        "/api/ratings",
        &judges[0],
        json!({"judgeId": 1, "hackId": 1, "rating": 16}),
    )
    .await;
    let csv = api.text("/api/export/ratings.csv").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,judgeId,hackId,rating,judgeName,hackName,note");
    assert_eq!(lines[1], "1,1,1,16,Judge 1,Hack 1,great demo");
    assert!(
        lines.contains(&",2,1,,Judge 2,Hack 1,judge two's thoughts"),
        "{csv}"
    );
}

#[tokio::test]
async fn the_floor_view_follows_each_judge_along_the_route() {
    let (_server, api) = start().await;
    let judges = api.competition(2, 1).await;
    let floor = api.get("/api/floor", ADMIN).await;
    assert_eq!(floor["idleMinutes"], 10);
    let state = api.get("/api/state", ADMIN).await;
    let j1 = &floor["judges"][0];
    let route1 = route(&state, 1);
    assert_eq!(j1["assigned"].as_u64().unwrap() as usize, route1.len());
    assert_eq!(
        (j1["rated"].clone(), j1["nextHackId"].clone()),
        (json!(0), json!(route1[0]))
    );
    assert_eq!(
        j1["nextTable"],
        json!(route1[0]),
        "tables are the hack numbers here"
    );
    assert_eq!(
        (j1["lastActionAt"].clone(), j1["idle"].clone()),
        (Value::Null, json!(false))
    );

    api.post(
        "/api/ratings",
        &judges[0],
        json!({"judgeId": 1, "hackId": route1[0], "rating": 9}),
    )
    .await;
    let floor = api.get("/api/floor", ADMIN).await;
    let j1 = &floor["judges"][0];
    assert_eq!(j1["rated"], 1);
    assert_eq!(j1["nextHackId"], json!(route1.get(1)));
    assert_eq!(j1["minutesSinceAction"], 0);
    assert!(j1["lastActionAt"].as_i64().unwrap() > 0);
    let hack = &floor["hacks"][(route1[0] - 1) as usize];
    assert_eq!(
        (hack["ratings"].clone(), hack["target"].clone()),
        (json!(1), json!(1))
    );
}

#[tokio::test]
async fn assignment_tops_up_hacks_found_absent_and_keeps_them_last() {
    let (_server, api) = start().await;
    let judges = api.competition(3, 1).await;
    let state = api.get("/api/state", ADMIN).await;
    let holder = state["judgeHacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["hackId"] == 1)
        .unwrap()["judgeId"]
        .as_i64()
        .unwrap();
    let (status, _) = api
        .post(
            "/api/absences",
            &judges[(holder - 1) as usize],
            json!({"judgeId": holder, "hackId": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Re-running assignment: hack 1 gets a judge who has not found it
    // absent; the judge who did keeps it, last on the route.
    let (status, run) = api.post("/api/assignments", ADMIN, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["created"].as_array().unwrap().len(), 1, "{run}");
    let state = api.get("/api/state", ADMIN).await;
    let holders: Vec<i64> = state["judgeHacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["hackId"] == 1)
        .map(|r| r["judgeId"].as_i64().unwrap())
        .collect();
    assert_eq!(holders.len(), 2);
    assert!(holders.contains(&holder));
    assert_eq!(route(&state, holder).last(), Some(&1));
    let floor = api.get("/api/floor", ADMIN).await;
    let newcomer = holders.iter().find(|&&j| j != holder).unwrap();
    assert_eq!(floor["judges"][(newcomer - 1) as usize]["assigned"], 2);

    // Again: nothing to change.
    let (_, again) = api.post("/api/assignments", ADMIN, json!({})).await;
    assert_eq!(again["created"], json!([]), "{again}");
    assert_eq!(again["updated"], json!([]), "{again}");
}

#[tokio::test]
async fn the_openapi_document_lists_the_floor_endpoints() {
    let (_server, api) = start().await;
    let doc = api.get("/api/openapi.json", "").await;
    for (path, method) in [
        ("/api/absences", "post"),
        ("/api/absences/clear", "post"),
        ("/api/notes", "post"),
        ("/api/withdrawals", "post"),
        ("/api/judging/pause", "post"),
        ("/api/judging/resume", "post"),
        ("/api/floor", "get"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]["200"].is_object(),
            "{method} {path} is not documented"
        );
    }
    let store = &doc["components"]["schemas"]["DataStore"]["required"];
    for key in ["absences", "notes", "judgingStatus", "withdrawals"] {
        assert!(store.as_array().unwrap().contains(&json!(key)), "{key}");
    }
}
