//! TLS to PostgreSQL against a real server that insists on it: a throwaway
//! PostgreSQL (`scripts/postgres`) with `ssl = on`, a certificate signed by a
//! CA this test makes (`openssl`), and a `pg_hba.conf` of `hostssl` lines
//! only. The real `podium` binary (`secrets rotate`, which opens the store
//! and migrates it) and a real node (`/healthz` writes through its writer)
//! connect with each libpq `sslmode`; the refusals must say what is wrong.
//!
//! Needs `PODIUM_TEST_DATABASE_URL` (a plain PostgreSQL, as `scripts/test`
//! starts one): it marks a machine with PostgreSQL, and is the server
//! without TLS that `sslmode=require` must be refused by. Without it the
//! test says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use podium::config::ServeConfig;

/// A PostgreSQL cluster of its own, on a free loopback port, that speaks
/// only TLS; stopped and removed on drop.
struct TlsPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl TlsPostgres {
    fn start() -> TlsPostgres {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres");
        let started = run(Command::new(script).arg("start").arg(dir.path()));
        assert!(started.status.success(), "{}", text(&started));
        let url = String::from_utf8(started.stdout).unwrap();
        let port = url.trim().rsplit(':').next().unwrap();
        let port: u16 = port.split('/').next().unwrap().parse().unwrap();
        let pg = TlsPostgres { dir, port };
        pg.make_certificates();
        let data = pg.dir.path().join("data");
        append(
            &data.join("postgresql.conf"),
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        for file in ["server.crt", "server.key", "pg_hba.conf"] {
            owned_by_postgres(&data.join(file));
        }
        for action in ["stop", "resume"] {
            let done = run(Command::new(script).arg(action).arg(pg.dir.path()));
            assert!(done.status.success(), "{action}: {}", text(&done));
        }
        pg
    }

    fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// Two CAs (the server's and another), and the server's certificate for
    /// `localhost` and 127.0.0.1, signed by the first.
    fn make_certificates(&self) {
        let certs = self.certs();
        std::fs::create_dir(&certs).unwrap();
        let openssl = |args: &[&str]| {
            let out = run(Command::new("openssl").args(args).current_dir(&certs));
            assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
        };
        for ca in ["ca", "other-ca"] {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
                "-subj",
                &format!("/CN=Podium test {ca}"),
            ]);
        }
        std::fs::write(
            certs.join("server.ext"),
            "subjectAltName = DNS:localhost, IP:127.0.0.1\n\
             basicConstraints = CA:FALSE\n\
             keyUsage = digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        let data = self.dir.path().join("data");
        for file in ["server.crt", "server.key"] {
            std::fs::copy(certs.join(file), data.join(file)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }

    /// A database URL to this server as `host` (resolved to 127.0.0.1), with
    /// `settings` after `?`.
    fn url(&self, host: &str, settings: &str) -> String {
        format!(
            "postgres://podium@{host}:{}/postgres?hostaddr=127.0.0.1&{settings}",
            self.port
        )
    }

    fn ca(&self, name: &str) -> String {
        self.certs().join(name).display().to_string()
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres");
        let _ = run(Command::new(script).arg("stop").arg(self.dir.path()));
    }
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the command runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn append(path: &Path, lines: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(lines.as_bytes()).unwrap();
}

/// PostgreSQL runs as `postgres` when the tests run as root (scripts/postgres).
fn owned_by_postgres(path: &Path) {
    if unsafe { libc::geteuid() } == 0 {
        let out = run(Command::new("chown").arg("postgres:").arg(path));
        assert!(out.status.success(), "{}", text(&out));
    }
}

/// `podium secrets rotate --all --database-url url`: what it printed, and
/// whether it succeeded.
fn rotate(url: &str) -> (bool, String) {
    let out = run(Command::new(env!("CARGO_BIN_EXE_podium"))
        .args(["secrets", "rotate", "--all", "--database-url", url])
        .env_remove("PODIUM_DATABASE_URL")
        .env("HOME", "/nonexistent"));
    (out.status.success(), text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sslmode_against_a_server_that_speaks_only_tls() {
    let Ok(plain) = std::env::var("PODIUM_TEST_DATABASE_URL") else {
        eprintln!(
            "no PODIUM_TEST_DATABASE_URL: TLS to PostgreSQL not tested (scripts/test sets it)"
        );
        return;
    };
    let pg = TlsPostgres::start();
    let ca = pg.ca("ca.crt");
    let other_ca = pg.ca("other-ca.crt");

    for settings in [
        "sslmode=require".to_string(),
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        format!("sslmode=verify-full&sslrootcert={ca}"),
        // The default, as libpq's: prefer TLS.
        String::new(),
    ] {
        let (ok, out) = rotate(&pg.url("localhost", &settings));
        assert!(ok, "{settings}: {out}");
        assert!(
            out.contains("only time they are shown"),
            "{settings}: {out}"
        );
    }

    // The server itself refuses a connection without TLS.
    let (ok, out) = rotate(&pg.url("localhost", "sslmode=disable"));
    assert!(!ok, "{out}");
    assert!(out.contains("no encryption"), "the server's refusal: {out}");

    // A certificate from another CA does not verify.
    let (ok, out) = rotate(&pg.url(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={other_ca}"),
    ));
    assert!(!ok, "{out}");
    assert!(out.contains("UnknownIssuer"), "{out}");

    // verify-full checks the name; verify-ca does not.
    let wrong = "db.wrong.example";
    let (ok, out) = rotate(&pg.url(wrong, &format!("sslmode=verify-full&sslrootcert={ca}")));
    assert!(!ok, "{out}");
    assert!(out.contains("not valid for name"), "{out}");
    let (ok, out) = rotate(&pg.url(wrong, &format!("sslmode=verify-ca&sslrootcert={ca}")));
    assert!(ok, "{out}");

    // A server without TLS refuses `require` with a clear error.
    let sep = if plain.contains('?') { '&' } else { '?' };
    let (ok, out) = rotate(&format!("{plain}{sep}sslmode=require"));
    assert!(!ok, "{out}");
    assert!(out.contains("does not offer TLS"), "{out}");

    // A node serves over verify-full: its pool, writer and change-log
    // follower all connect with TLS, and /healthz writes through the writer.
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::local(dir.path());
    config.database_url = Some(pg.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    let node = podium::server::start(config)
        .await
        .expect("a node starts over TLS");
    let health = reqwest::get(format!("http://{}/healthz", node.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    node.shutdown().await;
}
