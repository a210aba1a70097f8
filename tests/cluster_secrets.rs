//! The operator's secrets in cluster mode, end to end: real nodes
//! (`podium::server::start`) on one real PostgreSQL database, the real
//! `podium secrets` command making and rotating the secrets, and the
//! clients an organiser and judges use: reqwest on the HTTP API and the
//! socket.io client (`sio-client`) for Sledge's `authenticate` and `login`.
//!
//! Needs `PODIUM_TEST_DATABASE_URL` (a server the tests may create databases
//! on); without it each test says so loudly and passes, except under CI
//! (env `CI`), where it fails.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Sledge;
use podium::config::ServeConfig;
use podium::operator_secrets::cluster::REFRESH;
use podium::server::{Running, StartError};
use serde_json::{json, Value};

/// How soon docs/security.md promises a rotation reaches every node.
const ROTATION_BOUND: Duration = Duration::from_secs(2);

async fn delete_admin_hash(url: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    client
        .execute(
            "DELETE FROM operator_secrets WHERE name = 'admin_secret'",
            &[],
        )
        .await
        .unwrap();
    drop(client);
    let _ = connection.await;
}

/// One node: a server on its own data directory and the shared database.
struct Node {
    running: Running,
    dir: tempfile::TempDir,
}

impl Node {
    async fn start(url: &str, tweak: impl FnOnce(&mut ServeConfig)) -> Result<Node, StartError> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServeConfig::local(dir.path());
        config.database_url = Some(url.to_owned());
        tweak(&mut config);
        let running = podium::server::start(config).await?;
        Ok(Node { running, dir })
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Whether this node takes `secret` as the admin secret over socket.io
    /// (`authenticate` as user 0, which needs no judging table).
    async fn takes_admin_secret(&self, secret: &str) -> bool {
        let mut sledge = Sledge::connect(self.addr()).await;
        let ack = sledge
            .request("authenticate", json!({"secret": secret, "userId": 0}))
            .await;
        sledge.sio.close().await;
        ack["ok"] == true
    }

    /// `GET /api/login-code` with `secret` as the bearer: status and body.
    async fn login_code_page(&self, secret: &str) -> (u16, Value) {
        let reply = reqwest::Client::new()
            .get(format!("http://{}/api/login-code", self.addr()))
            .bearer_auth(secret)
            .send()
            .await
            .expect("the node answers");
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

/// Runs the real `podium` binary with `args` (no secrets in its
/// environment) and returns its stdout; panics unless it succeeds.
fn podium(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_podium"))
        .args(args)
        .env_remove("PODIUM_ADMIN_SECRET")
        .env_remove("PODIUM_LOGIN_CODE")
        .env_remove("PODIUM_DATABASE_URL")
        .output()
        .expect("podium runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "podium {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `podium secrets rotate <flag> --database-url url`: the values it printed
/// (admin secret, login code), each `None` when not rotated.
fn rotate(url: &str, flag: &str) -> (Option<String>, Option<String>) {
    let out = podium(&["secrets", "rotate", flag, "--database-url", url]);
    let value = |label: &str| {
        out.lines()
            .find_map(|line| line.strip_prefix(label))
            .map(|rest| rest.trim().to_owned())
    };
    assert!(out.contains("only time they are shown"), "{out}");
    (value("admin secret:"), value("login code:"))
}

/// Waits until `check` holds on every node, at most `bound` after `since`.
async fn within<F, Fut>(bound: Duration, since: Instant, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if check().await {
            return;
        }
        assert!(
            since.elapsed() < bound,
            "{what}: not so {:?} after the rotation (promised: {bound:?})",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_by_the_command_reaches_every_node_without_a_restart() {
    let Some(url) =
        common::cluster_database_url("a_rotation_by_the_command_reaches_every_node").await
    else {
        return;
    };
    assert_eq!(ROTATION_BOUND, REFRESH * 2);
    // Before the first node, as docs/security.md says: the command creates
    // the schema, prints both values once and keeps their hashes.
    let (admin, code) = rotate(&url, "--all");
    let (admin, code) = (admin.expect("an admin secret"), code.expect("a login code"));
    assert_eq!(admin.len(), 64);
    assert!(code.len() == 11 && code.as_bytes()[5] == b'-', "{code}");
    let shown = podium(&["secrets", "show", "--database-url", &url]);
    assert!(shown.contains("cannot be shown"), "{shown}");
    assert!(shown.contains("set, last rotated at"), "{shown}");
    assert!(!shown.contains(&admin) && !shown.contains(&code), "{shown}");

    let nodes = [
        Node::start(&url, |_| {}).await.expect("node A starts"),
        Node::start(&url, |_| {}).await.expect("node B starts"),
    ];
    for node in &nodes {
        assert!(node.takes_admin_secret(&admin).await);
        assert!(!node.takes_admin_secret(&code).await);
        // The admin page's login-code box: no node can show a hash's code,
        // and the note says what to do instead.
        let (status, body) = node.login_code_page(&admin).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["loginCode"], Value::Null, "{body}");
        assert_eq!(body["source"], "database", "{body}");
        let note = body["note"].as_str().unwrap_or_default();
        assert!(
            note.contains("podium secrets rotate --login-code"),
            "{body}"
        );
        let secrets = &node.running.app.core.secrets;
        assert!(secrets.is_login_code(&code));
        assert_eq!(secrets.readable_login_code().unwrap(), None);
        // No node wrote secrets into its data directory.
        assert!(!node.dir.path().join("secrets.json").exists());
        assert!(!node.dir.path().join("link-key").exists());
    }

    // Rotate the admin secret: both nodes take the new one and refuse the
    // old, within the bound, over socket.io and over HTTP.
    let (new_admin, no_code) = rotate(&url, "--admin");
    let rotated = Instant::now();
    let new_admin = new_admin.expect("a new admin secret");
    assert_eq!(no_code, None);
    for node in &nodes {
        within(
            ROTATION_BOUND,
            rotated,
            "the new admin secret accepted",
            || node.takes_admin_secret(&new_admin),
        )
        .await;
    }
    for node in &nodes {
        assert!(!node.takes_admin_secret(&admin).await);
        let (status, body) = node.login_code_page(&new_admin).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = node.login_code_page(&admin).await;
        assert_eq!(status, 401, "{body}");
        // The login code was not touched.
        assert!(node.running.app.core.secrets.is_login_code(&code));
    }

    // Rotate the login code: both nodes check against the new one (typed
    // any way a judge types it) and refuse the old.
    let (no_admin, new_code) = rotate(&url, "--login-code");
    let rotated = Instant::now();
    assert_eq!(no_admin, None);
    let new_code = new_code.expect("a new login code");
    for node in &nodes {
        let secrets = node.running.app.core.secrets.clone();
        let new_code = new_code.clone();
        within(
            ROTATION_BOUND,
            rotated,
            "the new login code accepted",
            || {
                let ok = secrets.is_login_code(&new_code);
                async move { ok }
            },
        )
        .await;
        let secrets = &node.running.app.core.secrets;
        assert!(!secrets.is_login_code(&code));
        assert!(secrets.is_login_code(&new_code.replace('-', " ").to_lowercase()));
        assert!(node.takes_admin_secret(&new_admin).await);
    }
    sledge_login_on_both_nodes(&nodes, &code, &new_code).await;
    for node in nodes {
        node.shutdown().await;
    }
}

/// A judge's `login` over socket.io on each node: the old code is refused
/// and the new one gives a secret that the other node accepts. Needs the
/// judging tables on PostgreSQL (postgres/judging.rs).
async fn sledge_login_on_both_nodes(nodes: &[Node; 2], old_code: &str, new_code: &str) {
    let judge = nodes[0]
        .running
        .app
        .db
        .perform(podium::judging::inputs::NewJudge {
            name: "Ada".into(),
            email: "ada@example.org".into(),
        })
        .await;
    let judge = judge.expect("a judge is added").id;
    for (node, other) in [(&nodes[0], &nodes[1]), (&nodes[1], &nodes[0])] {
        let mut sledge = Sledge::connect(node.addr()).await;
        let refused = sledge
            .request("login", json!({"judgeId": judge, "loginCode": old_code}))
            .await;
        assert_eq!(refused["ok"], false, "{refused}");
        let ack = sledge
            .request("login", json!({"judgeId": judge, "loginCode": new_code}))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        let secret = ack["secret"].as_str().expect("a judge secret").to_owned();
        sledge.sio.close().await;
        // Judge secrets live in the database: the other node takes it.
        let mut elsewhere = Sledge::connect(other.addr()).await;
        elsewhere.authenticate(&secret, judge).await;
        elsewhere.sio.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_a_database_without_secrets_refuses_to_start_and_says_what_to_run() {
    let Some(url) =
        common::cluster_database_url("a_node_on_a_database_without_secrets_refuses").await
    else {
        return;
    };
    let refusal = Node::start(&url, |_| {})
        .await
        .err()
        .expect("no node starts without secrets")
        .to_string();
    assert!(
        refusal.contains("podium secrets rotate --all --database-url")
            && refusal.contains("PODIUM_ADMIN_SECRET and PODIUM_LOGIN_CODE"),
        "{refusal}"
    );
    let refusal = Node::start(&url, |c| {
        c.admin_secret = Some("an-admin-secret-configured-on-this-node".into())
    })
    .await
    .err()
    .expect("the login code is still missing")
    .to_string();
    assert!(refusal.contains("no login code"), "{refusal}");
    assert!(refusal.contains("set PODIUM_LOGIN_CODE"), "{refusal}");
    let shown = podium(&["secrets", "show", "--database-url", &url]);
    assert!(
        shown.contains("admin secret: not set") && shown.contains("login code:   not set"),
        "{shown}"
    );

    // Configured values need nothing from the database, and win on their node.
    let configured = "an-admin-secret-configured-on-this-node";
    let node = Node::start(&url, |c| {
        c.admin_secret = Some(configured.into());
        c.login_code = Some("a-login-code-configured-on-this-node".into());
    })
    .await
    .expect("a node with both secrets configured starts");
    assert!(node.takes_admin_secret(configured).await);
    let (admin, _) = rotate(&url, "--all");
    let admin = admin.unwrap();
    let plain = Node::start(&url, |_| {}).await.expect("now a node starts");
    assert!(plain.takes_admin_secret(&admin).await);
    assert!(!plain.takes_admin_secret(configured).await);
    // A hash deleted by hand leaves the last one in force rather than
    // locking everyone out; and two refresh periods later the configured
    // node still takes only its own.
    delete_admin_hash(&url).await;
    tokio::time::sleep(ROTATION_BOUND).await;
    assert!(plain.takes_admin_secret(&admin).await);
    assert!(node.takes_admin_secret(configured).await);
    assert!(!node.takes_admin_secret(&admin).await);
    assert!(node
        .running
        .app
        .core
        .secrets
        .is_login_code("a-login-code-configured-on-this-node"));
    node.shutdown().await;
    plain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_derive_the_same_sign_in_links() {
    let Some(url) =
        common::cluster_database_url("nodes_starting_together_derive_the_same_links").await
    else {
        return;
    };
    // Configured secrets, so nothing but the nodes makes the link key:
    // three nodes on an empty database at once, and one key wins.
    let configure = |c: &mut ServeConfig| {
        c.admin_secret = Some("an-admin-secret-configured-on-every-node".into());
        c.login_code = Some("a-login-code-configured-on-every-node".into());
    };
    let (a, b, c) = tokio::join!(
        Node::start(&url, configure),
        Node::start(&url, configure),
        Node::start(&url, configure),
    );
    let nodes = [a.unwrap(), b.unwrap(), c.unwrap()];
    let tokens: Vec<String> = nodes
        .iter()
        .map(|node| node.running.app.core.secrets.link_key().token(7, 1))
        .collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
    // And a node started later reads the same key.
    let later = Node::start(&url, configure).await.unwrap();
    assert_eq!(
        later.running.app.core.secrets.link_key().token(7, 1),
        tokens[0]
    );
    for node in nodes.into_iter().chain([later]) {
        node.shutdown().await;
    }
}
