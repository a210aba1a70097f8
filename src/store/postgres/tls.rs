//! TLS to PostgreSQL: the libpq `sslmode` and `sslrootcert` of the
//! database URL, with rustls (ring). tokio-postgres parses only
//! `sslmode=disable|prefer|require` and knows no `sslrootcert`, so both are
//! taken out of the URL here, into a [`TlsMode`], before tokio-postgres
//! parses the rest. [`Connector`] is the one place every connection Podium
//! makes to PostgreSQL (pool, writer, follower, migrations, `podium secrets`)
//! is opened from.
//!
//! As libpq defines them: `disable` no TLS; `prefer` (the default) TLS if
//! the server offers it, no certificate check; `require` TLS, no
//! certificate check unless a root certificate is given (then as
//! `verify-ca`); `verify-ca` the server's chain must lead to `sslrootcert`;
//! `verify-full` that too, and the certificate must name the host connected
//! to (each host of a multi-host URL is checked against its own name).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Connection, Socket};

use crate::store::StoreError;

/// The libpq `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    fn name(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for TlsMode {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<TlsMode, TlsError> {
        Ok(match s {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            // libpq's `allow` prefers no TLS; a node never wants that.
            other => return Err(TlsError::Mode(other.to_string())),
        })
    }
}

/// Why the TLS settings of a database URL cannot be used.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error(
        "the database URL has sslmode={0}: use disable, prefer, require, verify-ca or verify-full"
    )]
    Mode(String),
    #[error("the database URL gives {0} twice")]
    Twice(&'static str),
    #[error("the database URL has sslrootcert=system, which Podium does not support: give the path of the CA certificate file")]
    SystemRoots,
    #[error("sslmode={mode} checks the server's certificate, and needs the CA certificate: add sslrootcert=/path/to/ca.pem to the database URL (or put it in {default})")]
    NoRoot { mode: &'static str, default: String },
    #[error("cannot read the CA certificates in sslrootcert {path}: {reason}")]
    Root { path: PathBuf, reason: String },
    #[error("cannot set up TLS to PostgreSQL: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The TLS settings taken out of a database URL, and the rest of the URL.
#[derive(Debug, PartialEq, Eq)]
pub struct SplitUrl {
    pub rest: String,
    pub mode: TlsMode,
    pub root: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of a URL (`postgres://…?…`) or a
/// key=value connection string, leaving the rest as it was.
pub fn split(url: &str) -> Result<SplitUrl, TlsError> {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: String| -> Result<bool, TlsError> {
        match key {
            "sslmode" if mode.is_some() => Err(TlsError::Twice("sslmode")),
            "sslmode" => {
                mode = Some(value.parse()?);
                Ok(true)
            }
            "sslrootcert" if root.is_some() => Err(TlsError::Twice("sslrootcert")),
            "sslrootcert" => {
                root = Some(value);
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(url, &mut take)?
    } else {
        split_key_values(url, &mut take)?
    };
    let root = match root {
        Some(r) if r == "system" => return Err(TlsError::SystemRoots),
        r => r.map(PathBuf::from),
    };
    Ok(SplitUrl {
        rest,
        mode: mode.unwrap_or(TlsMode::Prefer),
        root,
    })
}

type Take<'a> = dyn FnMut(&str, String) -> Result<bool, TlsError> + 'a;

fn split_url(url: &str, take: &mut Take) -> Result<String, TlsError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(url.to_string());
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !take(&percent_decode(key), percent_decode(value))? {
            kept.push(pair);
        }
    }
    Ok(if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap() * 16 + hex(l).unwrap()) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `key = value` pairs separated by spaces; a value may be in single
/// quotes, with `\'` and `\\` inside (libpq's rules).
fn split_key_values(s: &str, take: &mut Take) -> Result<String, TlsError> {
    let chars: Vec<char> = s.chars().collect();
    let mut kept: Vec<String> = Vec::new();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_space(&mut i);
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        skip_space(&mut i);
        // A pair without '=' is left for tokio-postgres to refuse.
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            skip_space(&mut i);
        }
        let mut value = String::new();
        if i < chars.len() && chars[i] == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                value.push(chars[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                value.push(chars[i]);
                i += 1;
            }
        }
        let end = i.min(chars.len());
        if !take(&key, value)? {
            kept.push(chars[start..end].iter().collect());
        }
    }
    Ok(kept.join(" "))
}

/// Opens connections to PostgreSQL with the URL's TLS settings.
#[derive(Clone)]
pub struct Connector {
    pub config: Config,
    pub tls: PgTls,
}

impl Connector {
    /// Reads the database URL: the TLS settings (and the CA certificate
    /// file, now, so a wrong path stops the start) and the rest.
    pub fn from_url(url: &str) -> Result<Connector, StoreError> {
        let split = split(url).map_err(|e| StoreError::Unreachable(e.to_string()))?;
        let mut config = Config::from_str(&split.rest)
            .map_err(|e| StoreError::Unreachable(format!("the database URL is not valid: {e}")))?;
        config.ssl_mode(match split.mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        let tls = PgTls::new(split.mode, split.root, default_root().as_deref())
            .map_err(|e| StoreError::Unreachable(e.to_string()))?;
        Ok(Connector { config, tls })
    }

    /// Opens one connection; a server that offers no TLS to a URL that
    /// requires it is named in the error.
    pub async fn connect(&self) -> Result<(Client, Connection<Socket, PgTlsStream>), StoreError> {
        self.config
            .connect(self.tls.clone())
            .await
            .map_err(|e| self.explain(e))
    }

    fn explain(&self, e: tokio_postgres::Error) -> StoreError {
        // tokio-postgres makes this error itself, without a type to match:
        // its text is the only sign.
        let no_tls = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string() == "server does not support TLS");
        if !no_tls {
            return StoreError::from(e);
        }
        StoreError::Unreachable(format!(
            "PostgreSQL at {} does not offer TLS, but the database URL asks for sslmode={}: \
             turn on ssl in the server's postgresql.conf, or change sslmode",
            self.addresses(),
            self.tls.mode.name()
        ))
    }

    fn addresses(&self) -> String {
        let ports = self.config.get_ports();
        let port = |i: usize| match ports {
            [] => 5432,
            [one] => *one,
            many => many.get(i).copied().unwrap_or(5432),
        };
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| match host {
                Host::Tcp(name) => format!("{name}:{}", port(i)),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        hosts.join(", ")
    }
}

/// libpq's default CA file, `~/.postgresql/root.crt`.
fn default_root() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".postgresql/root.crt"))
}

/// The TLS side of every connection: tokio-postgres asks it for a
/// connector per host.
#[derive(Clone)]
pub struct PgTls {
    mode: TlsMode,
    /// What the certificate was checked against, for error messages.
    checked: Option<String>,
    config: Arc<ClientConfig>,
}

impl PgTls {
    /// `default_root` is libpq's file used when the URL names none: needed
    /// by verify-ca and verify-full, and turns `require` into verify-ca
    /// when it exists.
    pub fn new(
        mode: TlsMode,
        root: Option<PathBuf>,
        default_root: Option<&Path>,
    ) -> Result<PgTls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let default = default_root.filter(|p| p.exists()).map(Path::to_path_buf);
        let root = match mode {
            TlsMode::Disable | TlsMode::Prefer => None,
            TlsMode::Require => root.or(default),
            TlsMode::VerifyCa | TlsMode::VerifyFull => Some(root.or(default).ok_or_else(|| {
                TlsError::NoRoot {
                    mode: mode.name(),
                    default: default_root
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "~/.postgresql/root.crt".into()),
                }
            })?),
        };
        let verifier: Arc<dyn ServerCertVerifier> = match &root {
            None => Arc::new(Unchecked(provider.clone())),
            Some(path) => {
                let roots = Arc::new(read_roots(path)?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| TlsError::Root {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                if mode == TlsMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let checked = root.map(|path| {
            let name = if mode == TlsMode::VerifyFull {
                " and the host name"
            } else {
                ""
            };
            format!(
                "sslmode={}: checked against the CA certificate in {}{name}",
                mode.name(),
                path.display()
            )
        });
        Ok(PgTls {
            mode,
            checked,
            config: Arc::new(config),
        })
    }
}

fn read_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let fail = |reason: String| TlsError::Root {
        path: path.to_path_buf(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))? {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("the file holds no PEM certificate".into()));
    }
    Ok(roots)
}

/// `require` (and `prefer`) without a CA: any certificate, as libpq; the
/// handshake's signatures are still checked, so the session is with the
/// holder of the certificate's key.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to the CA; the name is not checked.
/// webpki checks the chain before the name, so a name error means the
/// chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

impl MakeTlsConnect<Socket> for PgTls {
    type Stream = PgTlsStream;
    type TlsConnect = HostTls;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> Result<HostTls, io::Error> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host} is not a host name TLS can check: {e}"),
            )
        })?;
        Ok(HostTls {
            tls: self.clone(),
            host: host.to_string(),
            name,
        })
    }
}

/// TLS to one host.
pub struct HostTls {
    tls: PgTls,
    host: String,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for HostTls {
    type Stream = PgTlsStream;
    type Error = io::Error;
    type Future = BoxFuture<'static, Result<PgTlsStream, io::Error>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.tls.config.clone());
            match connector.connect(self.name, stream).await {
                Ok(stream) => Ok(PgTlsStream(Box::new(stream))),
                Err(e) => {
                    let checked = match &self.tls.checked {
                        Some(checked) => format!(" ({checked})"),
                        None => String::new(),
                    };
                    Err(io::Error::new(
                        e.kind(),
                        format!("TLS with PostgreSQL at {} failed{checked}: {e}", self.host),
                    ))
                }
            }
        })
    }
}

/// A TLS session with PostgreSQL.
pub struct PgTlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl tokio_postgres::tls::TlsStream for PgTlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM without channel binding, as libpq with channel_binding=prefer
        // against a server certificate it cannot hash.
        ChannelBinding::none()
    }
}

impl AsyncRead for PgTlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for PgTlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> SplitUrl {
        split(url).unwrap()
    }

    #[test]
    fn default_is_prefer_and_the_url_is_untouched() {
        let s = ok("postgres://podium@db:5432/podium");
        assert_eq!(s.mode, TlsMode::Prefer);
        assert_eq!(s.root, None);
        assert_eq!(s.rest, "postgres://podium@db:5432/podium");
    }

    #[test]
    fn url_form_takes_out_sslmode_and_sslrootcert_only() {
        let s = ok("postgres://u@h1:5432,h2:5433/db?sslmode=verify-full&connect_timeout=5&sslrootcert=%2Fetc%2Fca%20x.pem");
        assert_eq!(s.mode, TlsMode::VerifyFull);
        assert_eq!(s.root, Some(PathBuf::from("/etc/ca x.pem")));
        assert_eq!(s.rest, "postgres://u@h1:5432,h2:5433/db?connect_timeout=5");
        let s = ok("postgresql://u@h/db?sslmode=verify-ca");
        assert_eq!(s.mode, TlsMode::VerifyCa);
        assert_eq!(s.rest, "postgresql://u@h/db");
        for (value, mode) in [
            ("disable", TlsMode::Disable),
            ("prefer", TlsMode::Prefer),
            ("require", TlsMode::Require),
        ] {
            assert_eq!(ok(&format!("postgres://h/db?sslmode={value}")).mode, mode);
        }
    }

    #[test]
    fn key_value_form() {
        let s = ok(
            "host=db port=5432 sslmode = verify-full user=podium sslrootcert='/etc/my ca\\'s.pem'",
        );
        assert_eq!(s.mode, TlsMode::VerifyFull);
        assert_eq!(s.root, Some(PathBuf::from("/etc/my ca's.pem")));
        assert_eq!(s.rest, "host=db port=5432 user=podium");
        // What remains parses as tokio-postgres reads it.
        let config = Config::from_str(&s.rest).unwrap();
        assert_eq!(config.get_user(), Some("podium"));
    }

    #[test]
    fn bad_settings_are_refused_with_what_to_write() {
        let e = split("postgres://h/db?sslmode=verify").unwrap_err();
        assert!(
            e.to_string()
                .contains("use disable, prefer, require, verify-ca or verify-full"),
            "{e}"
        );
        assert!(matches!(
            split("postgres://h/db?sslmode=require&sslmode=disable"),
            Err(TlsError::Twice("sslmode"))
        ));
        assert!(matches!(
            split("postgres://h/db?sslrootcert=system"),
            Err(TlsError::SystemRoots)
        ));
    }

    #[test]
    fn verifying_modes_need_a_ca_file_that_holds_certificates() {
        let e = PgTls::new(
            TlsMode::VerifyFull,
            None,
            Some(Path::new("/nonexistent/root.crt")),
        )
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("add sslrootcert=/path/to/ca.pem"),
            "{e}"
        );
        let e = PgTls::new(TlsMode::VerifyCa, Some("/nonexistent/ca.pem".into()), None)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("cannot read the CA certificates in sslrootcert /nonexistent/ca.pem"),
            "{e}"
        );
        // require without a CA checks nothing, as libpq.
        assert!(PgTls::new(TlsMode::Require, None, None)
            .unwrap()
            .checked
            .is_none());
    }

    #[test]
    fn a_url_with_verify_full_builds_a_connector_for_every_host() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let url = format!(
            "postgres://u@h1,h2/db?sslmode=verify-full&sslrootcert={}",
            ca.display()
        );
        let e = Connector::from_url(&url).err().unwrap();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
    }
}
