//! Optional TLS: the operator's PEM certificate and key, loaded once at
//! start into a rustls server configuration (ring provider).
//!
//! Every mistake an operator can make with the two files (missing, not
//! readable, not PEM, the key of another certificate, a key type rustls
//! cannot use) is a [`TlsError`] naming the file, so `podium serve` stops
//! at start-up with a message saying what to fix, rather than failing on the
//! first judge's connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} file {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the TLS certificate file {path} holds no usable PEM certificate \
         (expected \"-----BEGIN CERTIFICATE-----\"): {reason}"
    )]
    Certificate { path: PathBuf, reason: String },
    #[error(
        "the TLS key file {path} holds no usable PEM private key \
         (expected \"-----BEGIN PRIVATE KEY-----\", or an RSA or EC key, unencrypted): {reason}"
    )]
    Key { path: PathBuf, reason: String },
    #[error(
        "the TLS key {key} cannot be used with the certificate {cert} \
         (is it the key of that certificate, and an RSA, ECDSA or Ed25519 key?): {source}"
    )]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// Builds the acceptor from a PEM certificate chain (the server's own
/// certificate first, then any intermediates) and its private key.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain = read_chain(cert)?;
    let private_key = read_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|source| TlsError::Mismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            source,
        })?;
    // HTTP/1.1 only: WebSocket upgrades and the header-read bound are
    // HTTP/1.1 things, and browsers offered nothing else fall back to it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read("certificate", path)?;
    let bad = |reason: String| TlsError::Certificate {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no certificate found".into()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    #[test]
    fn the_test_certificate_loads() {
        acceptor(&fixture("cert.pem"), &fixture("key.pem")).unwrap();
    }

    fn error(cert: &Path, key: &Path) -> TlsError {
        match acceptor(cert, key) {
            Ok(_) => panic!("{} and {} were accepted", cert.display(), key.display()),
            Err(e) => e,
        }
    }

    #[test]
    fn each_mistake_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = error(&missing, &fixture("key.pem"));
        assert!(matches!(e, TlsError::Read { .. }), "{e}");
        assert!(e.to_string().contains("missing.pem"), "{e}");

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let e = error(&garbage, &fixture("key.pem"));
        assert!(matches!(e, TlsError::Certificate { .. }), "{e}");
        assert!(e.to_string().contains("garbage.pem"), "{e}");

        // The certificate given as the key: PEM, but no key in it.
        let e = error(&fixture("cert.pem"), &fixture("cert.pem"));
        assert!(matches!(e, TlsError::Key { .. }), "{e}");
        assert!(e.to_string().contains("cert.pem"), "{e}");

        // A well-formed key that belongs to another certificate.
        let other = dir.path().join("other-key.pem");
        std::fs::write(&other, OTHER_KEY).unwrap();
        let e = error(&fixture("cert.pem"), &other);
        assert!(matches!(e, TlsError::Mismatch { .. }), "{e}");
        assert!(e.to_string().contains("other-key.pem"), "{e}");
    }

    /// A P-256 key that is not the fixture certificate's.
    const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgifPZe0hGcqJQFmM7
6alIUuHo8s7noyHvhe8qMkSRkCihRANCAAS2RCQTUKnqN70sMYkee+Xkn6TL8LLz
6BNxFPFZ1Gicj410e09XCOjnEKinrYwxaMUcRjpANha6D41LmNvF+9uj
-----END PRIVATE KEY-----
";
}
