//! Judges' sign-in links over the HTTP API, with reqwest against the real
//! server: listing (the same links on every visit and after a restart),
//! re-issuing (the old link is refused with a message saying why), signing
//! in with a link as `POST /api/login` does, who may see links, the links'
//! address (Host header or `--public-url`), and the typable login code.

mod common;

use common::{add_judges, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN: &str = "admin-secret-for-the-link-tests-0123";

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    secret: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, server.url(path));
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status();
    (status, reply.json().await.unwrap_or(Value::Null))
}

fn token_of(url: &str) -> &str {
    url.split_once("#token=")
        .expect("a token in the fragment")
        .1
}

async fn links(server: &TestServer) -> Vec<Value> {
    let (status, body) = call(
        server,
        reqwest::Method::GET,
        "/api/judges/links",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

async fn link_login(server: &TestServer, token: &str) -> (StatusCode, Value) {
    call(
        server,
        reqwest::Method::POST,
        "/api/login/link",
        None,
        Some(json!({ "token": token })),
    )
    .await
}

#[tokio::test]
async fn links_are_listed_kept_reissued_and_sign_judges_in() {
    if common::skip_unless_sqlite("links_are_listed_kept_reissued_and_sign_judges_in") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let start = || {
        let data = data.clone();
        TestServer::start_with(move |c| {
            c.data.data_dir = data;
            c.admin_secret = Some(ADMIN.into());
        })
    };
    let server = start().await;
    add_judges(server.db(), 3).await;

    let first = links(&server).await;
    assert_eq!(first.len(), 3);
    let base = format!("http://{}/judge#token=", server.addr);
    for (i, link) in first.iter().enumerate() {
        assert_eq!(link["judgeId"], i as i64 + 1);
        assert_eq!(link["name"], format!("Judge {}", i + 1));
        let url = link["url"].as_str().unwrap();
        assert!(url.starts_with(&base), "{url}");
        let token = token_of(url);
        assert_eq!(token.len(), 32, "128 bits in hex");
        assert!(link["qrSvg"].as_str().unwrap().contains("<svg"));
        assert_eq!(link["expiresAt"], Value::Null);
    }
    // A second visit shows the same links: printed cards stay good.
    assert!(
        links(&server).await == first,
        "the links changed between visits"
    );

    // Signing in by link answers as POST /api/login does, and the secret works.
    let token2 = token_of(first[1]["url"].as_str().unwrap()).to_string();
    let (status, answer) = link_login(&server, &token2).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["userId"], 2);
    let secret = answer["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 64);
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/state",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // A link works more than once (a judge's second phone, a cleared browser).
    assert_eq!(link_login(&server, &token2).await.0, StatusCode::OK);

    // Only the admin sees or issues links.
    let (status, body) = call(
        &server,
        reqwest::Method::GET,
        "/api/judges/links",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = call(
        &server,
        reqwest::Method::POST,
        "/api/judges/2/link",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/judges/links",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Re-issuing retires the old link, with a message a judge can act on.
    let (status, fresh) = call(
        &server,
        reqwest::Method::POST,
        "/api/judges/2/link",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let new_token = token_of(fresh["url"].as_str().unwrap()).to_string();
    assert_ne!(new_token, token2);
    let (status, refused) = link_login(&server, &token2).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("replaced by a newer one"),
        "{refused}"
    );
    assert_eq!(link_login(&server, &new_token).await.1["userId"], 2);
    // The secret the old link gave stays valid (as login's secrets do).
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/state",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // An expiring link says when; bad requests are told what to send.
    let (status, expiring) = call(
        &server,
        reqwest::Method::POST,
        "/api/judges/3/link",
        Some(ADMIN),
        Some(json!({"validHours": 12})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let expires_at = expiring["expiresAt"].as_i64().unwrap();
    let now = podium::store::now_ms();
    assert!((now + 12 * 3_600_000 - expires_at).abs() < 60_000);
    for (path, body, want) in [
        (
            "/api/judges/3/link",
            json!({"validHours": 0}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/judges/3/link",
            json!({"hours": 1}),
            StatusCode::BAD_REQUEST,
        ),
        ("/api/judges/99/link", json!({}), StatusCode::NOT_FOUND),
        ("/api/judges/x/link", json!({}), StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = call(
            &server,
            reqwest::Method::POST,
            path,
            Some(ADMIN),
            Some(body),
        )
        .await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    for body in [
        json!({}),
        json!({"token": 5}),
        json!({"token": "x", "more": 1}),
    ] {
        let (status, _) = call(
            &server,
            reqwest::Method::POST,
            "/api/login/link",
            None,
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    // After a restart (on another port) the links listed are still the same.
    let tokens = |links: Vec<Value>| -> Vec<String> {
        links
            .iter()
            .map(|l| {
                format!(
                    "{} {} {}",
                    l["judgeId"],
                    token_of(l["url"].as_str().unwrap()),
                    l["expiresAt"]
                )
            })
            .collect()
    };
    let listed = tokens(links(&server).await);
    server.shutdown().await;
    let server = start().await;
    assert_eq!(tokens(links(&server).await), listed);
    assert_eq!(link_login(&server, &new_token).await.1["userId"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn a_public_url_is_the_links_base() {
    if common::skip_unless_sqlite("a_public_url_is_the_links_base") {
        return;
    }
    let server = TestServer::start_with(|c| {
        c.admin_secret = Some(ADMIN.into());
        c.public_url = Some("https://podium.example.org".into());
    })
    .await;
    add_judges(server.db(), 1).await;
    let url = links(&server).await[0]["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("https://podium.example.org/judge#token="),
        "{url}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_generated_login_code_is_typable() {
    if common::skip_unless_sqlite("the_generated_login_code_is_typable") {
        return;
    }
    let server = TestServer::start().await;
    add_judges(server.db(), 1).await;
    let code = server.generated_login_code();
    let (a, b) = code.split_once('-').expect("two groups");
    assert_eq!((a.len(), b.len()), (5, 5));
    for typed in [
        code.clone(),
        format!("{a}{b}").to_lowercase(),
        format!("{a} {b}"),
    ] {
        let (status, body) = call(
            &server,
            reqwest::Method::POST,
            "/api/login",
            None,
            Some(json!({"judgeId": 1, "loginCode": typed})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{typed}: {body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_link_endpoints() {
    let server = TestServer::start().await;
    let (status, doc) = call(
        &server,
        reqwest::Method::GET,
        "/api/openapi.json",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for (path, method) in [
        ("/api/judges/links", "get"),
        ("/api/judges/{judgeId}/link", "post"),
        ("/api/login/link", "post"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]["200"].is_object(),
            "{method} {path} is not documented"
        );
    }
    assert!(doc["components"]["schemas"]["JudgeLink"].is_object());
    server.shutdown().await;
}
