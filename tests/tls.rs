//! TLS on the listen port (`--tls-cert`, `--tls-key`): `https://` and
//! `wss://` work with the test certificate (tests/fixtures/tls, self-signed
//! for localhost and 127.0.0.1, valid to 2120), plain `http://` and `ws://`
//! keep working on the same port at the same time, the connection limits
//! see TLS clients' addresses, and a bad certificate or key file stops the
//! start with a message naming the file.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Client, TestServer, PATIENCE};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

async fn tls_server() -> TestServer {
    TestServer::start_with(|c| {
        c.tls.tls_cert = Some(fixture("cert.pem"));
        c.tls.tls_key = Some(fixture("key.pem"));
        c.limits.max_connections_per_ip = 4;
    })
    .await
}

/// A client configuration that trusts the test certificate only.
fn client_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("cert.pem")).unwrap())
        .unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

async fn tls_connect(addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(Arc::new(client_config()))
        .connect(ServerName::IpAddress(addr.ip().into()), tcp)
        .await
        .expect("the TLS handshake succeeds")
}

type Wss = WebSocketStream<TlsStream<TcpStream>>;

/// A `wss://` clicker, or the HTTP status its upgrade was refused with.
async fn wss(addr: SocketAddr) -> Result<Wss, u16> {
    let stream = tls_connect(addr).await;
    match tokio_tungstenite::client_async(format!("wss://{addr}/ws"), stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("unexpected handshake failure: {e}"),
    }
}

async fn ask(ws: &mut Wss, command: &str) -> String {
    ws.send(Message::text(command)).await.unwrap();
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await.unwrap() {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn https_wss_and_plain_share_the_port() {
    let server = tls_server().await;
    let addr = server.addr;

    let https = reqwest::Client::builder()
        .use_preconfigured_tls(client_config())
        .build()
        .unwrap();
    let health = https
        .get(format!("https://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    // Plain HTTP on the same port, at the same time.
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    // But a browser asking for a page in plain text is sent to https, so a
    // judge who types http:// never sends the login code in clear text.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = plain.get(server.url("/judge?x=1")).send().await.unwrap();
    assert_eq!(page.status(), 308);
    assert_eq!(
        page.headers()["location"],
        format!("https://{addr}/judge?x=1").as_str()
    );
    let page = https
        .get(format!("https://{addr}/judge"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));

    // A clicker over wss:// scores, and a plain ws:// scoreboard sees it.
    let mut secure = wss(addr).await.unwrap();
    let registered = ask(&mut secure, "REGISTER").await;
    let id = registered.split(' ').nth(1).unwrap().to_string();
    let mut board = Client::connect(addr).await;
    assert_eq!(
        board.ask(&format!("LISTEN {id}")).await,
        format!("CONNECT {id}")
    );
    assert_eq!(
        ask(&mut secure, "SCORE 1 1700000000000 5").await,
        "SCORED 1 1700000000000"
    );
    assert_eq!(board.recv().await, format!("SCORE 1700000000000 {id} 5"));
    // And a plain clicker alongside.
    let mut plain = Client::connect(addr).await;
    plain.register(None).await;
    assert_eq!(plain.ask("SCORE 1 1").await, "SCORED 1");

    // The history API answers over https with the stored score.
    let rows: serde_json::Value = https
        .get(format!("https://{addr}/api/clicker/devices/{id}/scores"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");

    // Three connections open from 127.0.0.1; the limit of 4 counts TLS
    // clients by their address too.
    let _fourth = wss(addr).await.unwrap();
    assert_eq!(wss(addr).await.err(), Some(429));

    // What a handshake costs on loopback (a figure for the report).
    let mut took = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        drop(tls_connect(addr).await);
        took.push(started.elapsed());
    }
    took.sort();
    eprintln!(
        "TLS 1.3 handshake on loopback, 20 runs: median {:?}, max {:?}",
        took[10], took[19]
    );

    // An immediate stop still closes a wss:// clicker with 1001.
    let running = server.running.as_ref().unwrap();
    running.app.shutdown.cancel();
    let close = loop {
        match tokio::time::timeout(PATIENCE, secure.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(common::close_code(&close), 1001);
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_fails_and_others_carry_on() {
    let server = tls_server().await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let empty = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let refused = TlsConnector::from(Arc::new(empty))
        .connect(ServerName::IpAddress(server.addr.ip().into()), tcp)
        .await;
    assert!(refused.is_err());
    let mut secure = wss(server.addr).await.unwrap();
    assert!(ask(&mut secure, "REGISTER")
        .await
        .starts_with("REGISTERED "));
    server.shutdown().await;
}

/// `podium serve` with a bad file exits non-zero at once, naming the file.
#[test]
fn bad_certificate_files_stop_the_start_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let missing = dir.path().join("missing-key.pem");
    let cases = [
        (not_pem.clone(), fixture("key.pem"), "not-a-cert.pem"),
        (fixture("cert.pem"), missing, "missing-key.pem"),
    ];
    for (cert, key, named) in cases {
        let started = Instant::now();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_podium"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{named}: {:?}", output.status);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(said.contains(named), "{named}: {said}");
        assert!(started.elapsed() < Duration::from_secs(10));
        eprintln!("{}", said.trim());
    }
}
