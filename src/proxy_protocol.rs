//! The PROXY protocol header (versions 1 and 2) a load balancer such as
//! HAProxy sends first on every connection it opens to a node, naming the
//! client it accepted the connection from. Parsed here, at the edge, into a
//! [`Header`]: the listener ([`crate::listener`]) then uses the client's
//! address for every per-address rule and in the logs.
//!
//! The parser is pure ([`parse`] over the bytes read so far) and never asks
//! for a byte past the header's end, so what follows (a TLS handshake or an
//! HTTP request) stays in the socket for the first-byte detection.
//! Version 2's TLVs are skipped: nothing here needs them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Version 2 starts with this, which no HTTP request or TLS record does.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Version 1 starts with this.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest version 1 line, CRLF included (the protocol's own bound).
pub const V1_MAX: usize = 107;
/// Every header is at least this long (`PROXY UNKNOWN\r\n`; version 2 is 16),
/// so this much can always be read without reading past one.
const SHORTEST: usize = 15;
/// Version 2's fixed part: signature, version and command, family, length.
const V2_FIXED: usize = 16;

/// Whom a proxied connection is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// The proxy relays a client connecting from this address.
    Proxied(SocketAddr),
    /// The proxy speaks for itself (version 2 `LOCAL`, e.g. a health check)
    /// or does not know the client (version 1 `UNKNOWN`, a family other than
    /// TCP over IPv4 or IPv6): the connection's own address is the client's.
    Local,
}

impl Header {
    /// The client's address, given the connection's own peer address.
    pub fn client(self, connection: SocketAddr) -> SocketAddr {
        match self {
            Header::Proxied(client) => client,
            Header::Local => connection,
        }
    }
}

/// Why bytes are not a PROXY protocol header.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("no PROXY protocol header (the connection does not start with one)")]
    Missing,
    #[error("PROXY protocol v1 line longer than {V1_MAX} bytes")]
    TooLong,
    #[error("malformed PROXY protocol v1 line: {0}")]
    V1(&'static str),
    #[error("malformed PROXY protocol v2 header: {0}")]
    V2(&'static str),
}

/// What the bytes read so far make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// A whole header, `length` bytes long.
    Complete {
        header: Header,
        length: usize,
    },
    /// This many more bytes belong to the header before anything can be
    /// decided (reading them never reads past its end).
    Need(usize),
    Invalid(HeaderError),
}

/// Parses the start of a connection.
pub fn parse(bytes: &[u8]) -> Parse {
    let head = &bytes[..bytes.len().min(V2_SIGNATURE.len())];
    if V2_SIGNATURE.starts_with(head) && !head.is_empty() {
        if bytes.len() < V2_FIXED {
            return Parse::Need(V2_FIXED - bytes.len());
        }
        return parse_v2(bytes);
    }
    let head = &bytes[..bytes.len().min(V1_PREFIX.len())];
    if V1_PREFIX.starts_with(head) && !head.is_empty() {
        if bytes.len() < SHORTEST {
            return Parse::Need(SHORTEST - bytes.len());
        }
        return parse_v1(bytes);
    }
    if bytes.is_empty() {
        // The first byte alone tells a header from anything else, so a
        // client that sends something else is closed at once.
        return Parse::Need(1);
    }
    Parse::Invalid(HeaderError::Missing)
}

fn parse_v1(bytes: &[u8]) -> Parse {
    let Some(cr) = bytes.iter().position(|&b| b == b'\r') else {
        if bytes.len() >= V1_MAX {
            return Parse::Invalid(HeaderError::TooLong);
        }
        if bytes.iter().any(|b| !b.is_ascii_graphic() && *b != b' ') {
            return Parse::Invalid(HeaderError::V1("a control character in the line"));
        }
        return Parse::Need(1);
    };
    if cr + 2 > V1_MAX {
        return Parse::Invalid(HeaderError::TooLong);
    }
    match bytes.get(cr + 1) {
        None => return Parse::Need(1),
        Some(b'\n') => {}
        Some(_) => return Parse::Invalid(HeaderError::V1("CR not followed by LF")),
    }
    let length = cr + 2;
    match v1_line(&bytes[V1_PREFIX.len()..cr]) {
        Ok(header) => Parse::Complete { header, length },
        Err(e) => Parse::Invalid(e),
    }
}

/// The line after `PROXY `, without its CRLF.
fn v1_line(line: &[u8]) -> Result<Header, HeaderError> {
    let line = std::str::from_utf8(line).map_err(|_| HeaderError::V1("not ASCII"))?;
    if !line.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(HeaderError::V1("a control character in the line"));
    }
    let mut fields = line.split(' ');
    let protocol = fields.next().unwrap_or_default();
    if protocol == "UNKNOWN" {
        // The rest, if any, is to be ignored.
        return Ok(Header::Local);
    }
    let fields: Vec<&str> = fields.collect();
    let [source, _destination, source_port, destination_port] = fields[..] else {
        return Err(HeaderError::V1(
            "expected protocol, two addresses and two ports",
        ));
    };
    let ip: IpAddr = match protocol {
        "TCP4" => source
            .parse::<Ipv4Addr>()
            .map_err(|_| HeaderError::V1("bad IPv4 source address"))?
            .into(),
        "TCP6" => source
            .parse::<Ipv6Addr>()
            .map_err(|_| HeaderError::V1("bad IPv6 source address"))?
            .into(),
        _ => return Err(HeaderError::V1("protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    let port = v1_port(source_port)?;
    v1_port(destination_port)?;
    Ok(Header::Proxied(SocketAddr::new(ip, port)))
}

fn v1_port(field: &str) -> Result<u16, HeaderError> {
    // `u16::from_str` would also take a sign.
    if field.is_empty() || field.len() > 5 || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::V1("bad port"));
    }
    field.parse().map_err(|_| HeaderError::V1("bad port"))
}

fn parse_v2(bytes: &[u8]) -> Parse {
    let version_command = bytes[12];
    if version_command >> 4 != 2 {
        return Parse::Invalid(HeaderError::V2("version is not 2"));
    }
    let local = match version_command & 0x0f {
        0 => true,
        1 => false,
        _ => return Parse::Invalid(HeaderError::V2("command is neither LOCAL nor PROXY")),
    };
    let family = bytes[13];
    let (address_family, transport) = (family >> 4, family & 0x0f);
    if address_family > 3 || transport > 2 {
        return Parse::Invalid(HeaderError::V2("unknown address family or transport"));
    }
    let length = V2_FIXED + usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    if bytes.len() < length {
        return Parse::Need(length - bytes.len());
    }
    let addresses = &bytes[V2_FIXED..length];
    // Stream over IPv4 or IPv6 is all a TCP listener can be relayed; the
    // protocol says to fall back to the connection's own address otherwise.
    let header = match (local, address_family, transport) {
        (true, _, _) | (false, _, 0 | 2) | (false, 0 | 3, _) => Header::Local,
        (false, 1, _) => {
            let Some(a) = addresses.get(..12) else {
                return Parse::Invalid(HeaderError::V2("IPv4 addresses cut short"));
            };
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            Header::Proxied(SocketAddr::new(ip.into(), u16::from_be_bytes([a[8], a[9]])))
        }
        (false, _, _) => {
            let Some(a) = addresses.get(..36) else {
                return Parse::Invalid(HeaderError::V2("IPv6 addresses cut short"));
            };
            let ip: [u8; 16] = a[..16].try_into().expect("16 bytes");
            let port = u16::from_be_bytes([a[32], a[33]]);
            Header::Proxied(SocketAddr::new(Ipv6Addr::from(ip).into(), port))
        }
    };
    Parse::Complete { header, length }
}

/// Why no header could be read from a connection.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("the connection ended inside the PROXY protocol header")]
    Closed(#[source] std::io::Error),
}

/// Reads one header from the start of `stream`, and not a byte more.
pub async fn read<R: AsyncRead + Unpin>(stream: &mut R) -> Result<Header, ReadError> {
    let mut bytes = Vec::with_capacity(V2_FIXED + 64);
    loop {
        match parse(&bytes) {
            Parse::Complete { header, .. } => return Ok(header),
            Parse::Invalid(e) => return Err(e.into()),
            Parse::Need(more) => {
                let start = bytes.len();
                bytes.resize(start + more, 0);
                stream
                    .read_exact(&mut bytes[start..])
                    .await
                    .map_err(ReadError::Closed)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(command: u8, family: u8, addresses: &[u8]) -> Vec<u8> {
        let mut bytes = V2_SIGNATURE.to_vec();
        bytes.push(0x20 | command);
        bytes.push(family);
        bytes.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
        bytes.extend_from_slice(addresses);
        bytes
    }

    fn v2_ipv4(source: [u8; 4], port: u16) -> Vec<u8> {
        let mut a = source.to_vec();
        a.extend_from_slice(&[10, 0, 0, 11]);
        a.extend_from_slice(&port.to_be_bytes());
        a.extend_from_slice(&8080u16.to_be_bytes());
        a
    }

    /// Fed one byte more at a time, as a slow client sends it: every prefix
    /// asks for more, the whole is the header, and no request for more runs
    /// past its end.
    fn byte_by_byte(bytes: &[u8]) -> Parse {
        for end in 0..bytes.len() {
            match parse(&bytes[..end]) {
                Parse::Need(more) => assert!(end + more <= bytes.len(), "overreads at {end}"),
                other => return other,
            }
        }
        parse(bytes)
    }

    fn complete(bytes: &[u8]) -> Header {
        match byte_by_byte(bytes) {
            Parse::Complete { header, length } => {
                assert_eq!(length, bytes.len());
                header
            }
            other => panic!("{other:?} for {bytes:?}"),
        }
    }

    fn invalid(bytes: &[u8]) -> HeaderError {
        match byte_by_byte(bytes) {
            Parse::Invalid(e) => e,
            other => panic!("{other:?} for {bytes:?}"),
        }
    }

    #[test]
    fn version_1_tcp4_and_tcp6() {
        assert_eq!(
            complete(b"PROXY TCP4 192.0.2.7 10.0.0.11 51234 8080\r\n"),
            Header::Proxied("192.0.2.7:51234".parse().unwrap())
        );
        assert_eq!(
            complete(b"PROXY TCP6 2001:db8::7 2001:db8::1 443 8080\r\n"),
            Header::Proxied("[2001:db8::7]:443".parse().unwrap())
        );
    }

    #[test]
    fn version_1_unknown_is_the_connections_own_address() {
        assert_eq!(complete(b"PROXY UNKNOWN\r\n"), Header::Local);
        assert_eq!(
            complete(b"PROXY UNKNOWN ffff:: ffff:: 1 2\r\n"),
            Header::Local
        );
        let own: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        assert_eq!(Header::Local.client(own), own);
    }

    #[test]
    fn version_1_longest_line_passes_and_longer_fails() {
        // TCP6 with full-length addresses, and the protocol's own example
        // of the longest line (UNKNOWN with those).
        let address = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let line = format!("PROXY TCP6 {address} {address} 65535 65535\r\n");
        assert_eq!(
            complete(line.as_bytes()),
            Header::Proxied(SocketAddr::new(address.parse().unwrap(), 65535))
        );
        let line = format!("PROXY UNKNOWN {address} {address} 65535 65535\r\n");
        assert_eq!(line.len(), V1_MAX);
        assert_eq!(complete(line.as_bytes()), Header::Local);
        let padded = format!("PROXY UNKNOWN {}\r\n", "x".repeat(V1_MAX));
        assert_eq!(invalid(padded.as_bytes()), HeaderError::TooLong);
        // No CRLF ever: refused at the bound, without waiting for more.
        assert_eq!(parse(b"P"), Parse::Need(14));
        let endless = format!("PROXY UNKNOWN {}", "x".repeat(200));
        assert_eq!(
            parse(endless.as_bytes()),
            Parse::Invalid(HeaderError::TooLong)
        );
    }

    #[test]
    fn version_1_garbage() {
        for bad in [
            &b"PROXY TCP4 192.0.2.7 10.0.0.11 51234\r\n"[..],
            b"PROXY TCP4 2001:db8::7 10.0.0.11 1 2\r\n",
            b"PROXY TCP6 192.0.2.7 10.0.0.11 1 2\r\n",
            b"PROXY TCP4 192.0.2.7 10.0.0.11 +1 2\r\n",
            b"PROXY TCP4 192.0.2.7 10.0.0.11 65536 2\r\n",
            b"PROXY TCP4  192.0.2.7 10.0.0.11 1 2\r\n",
            b"PROXY UDP4 192.0.2.7 10.0.0.11 1 2\r\n",
            b"PROXY TCP4 192.0.2.7 10.0.0.11 1 2\rX",
            b"PROXY TCP4 192.0.2.7\n10.0.0.11 1 2\r\n",
        ] {
            assert!(matches!(invalid(bad), HeaderError::V1(_)), "{bad:?}");
        }
    }

    #[test]
    fn not_a_header_at_all() {
        assert_eq!(invalid(b"GET / HTTP/1.1\r\n\r\n"), HeaderError::Missing);
        assert_eq!(invalid(&[0x16, 3, 1, 0, 200]), HeaderError::Missing);
        // Detected at the first byte that cannot start a header.
        assert_eq!(parse(b"PROXX"), Parse::Invalid(HeaderError::Missing));
        assert_eq!(parse(b"\r\n\r\nX"), Parse::Invalid(HeaderError::Missing));
        assert_eq!(parse(b""), Parse::Need(1));
    }

    #[test]
    fn version_2_ipv4_and_ipv6() {
        assert_eq!(
            complete(&v2(1, 0x11, &v2_ipv4([192, 0, 2, 7], 51234))),
            Header::Proxied("192.0.2.7:51234".parse().unwrap())
        );
        let mut a = "2001:db8::7".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        a.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        a.extend_from_slice(&[0x01, 0xbb, 0x1f, 0x90]);
        assert_eq!(
            complete(&v2(1, 0x21, &a)),
            Header::Proxied("[2001:db8::7]:443".parse().unwrap())
        );
    }

    #[test]
    fn version_2_skips_tlvs() {
        let mut a = v2_ipv4([198, 51, 100, 9], 80);
        // PP2_TYPE_ALPN "http/1.1", then a NOOP.
        a.extend_from_slice(&[0x01, 0x00, 0x08]);
        a.extend_from_slice(b"http/1.1");
        a.extend_from_slice(&[0x04, 0x00, 0x00]);
        assert_eq!(
            complete(&v2(1, 0x11, &a)),
            Header::Proxied("198.51.100.9:80".parse().unwrap())
        );
    }

    #[test]
    fn version_2_local_and_unspecified_are_the_connections_own_address() {
        // HAProxy's health checks: LOCAL, family UNSPEC, no addresses.
        assert_eq!(complete(&v2(0, 0x00, &[])), Header::Local);
        // LOCAL ignores whatever addresses come along.
        assert_eq!(
            complete(&v2(0, 0x11, &v2_ipv4([1, 2, 3, 4], 5))),
            Header::Local
        );
        assert_eq!(complete(&v2(1, 0x00, &[])), Header::Local);
        // A UNIX socket's paths (216 bytes), and datagrams.
        assert_eq!(complete(&v2(1, 0x31, &[0; 216])), Header::Local);
        assert_eq!(
            complete(&v2(1, 0x12, &v2_ipv4([1, 2, 3, 4], 5))),
            Header::Local
        );
    }

    #[test]
    fn version_2_garbage() {
        let good = v2(1, 0x11, &v2_ipv4([192, 0, 2, 7], 1));
        let mut version_1 = good.clone();
        version_1[12] = 0x11;
        let mut command = good.clone();
        command[12] = 0x22;
        let mut family = good.clone();
        family[13] = 0x41;
        let mut transport = good.clone();
        transport[13] = 0x13;
        for bad in [version_1, command, family, transport] {
            assert!(matches!(invalid(&bad), HeaderError::V2(_)), "{bad:?}");
        }
        // Addresses shorter than their family's.
        assert!(matches!(
            invalid(&v2(1, 0x11, &[1, 2, 3, 4])),
            HeaderError::V2(_)
        ));
        assert!(matches!(
            invalid(&v2(1, 0x21, &[0; 12])),
            HeaderError::V2(_)
        ));
    }

    #[test]
    fn truncated_headers_ask_for_exactly_the_rest() {
        let good = v2(1, 0x11, &v2_ipv4([192, 0, 2, 7], 1));
        assert_eq!(parse(&good[..20]), Parse::Need(good.len() - 20));
        assert_eq!(parse(&good[..3]), Parse::Need(V2_FIXED - 3));
        assert_eq!(parse(b"PROXY UNKNOWN\r"), Parse::Need(1));
    }

    #[tokio::test]
    async fn reads_a_header_and_leaves_what_follows() {
        let mut bytes = v2(1, 0x11, &v2_ipv4([192, 0, 2, 7], 51234));
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let mut stream = &bytes[..];
        let header = read(&mut stream).await.unwrap();
        assert_eq!(header, Header::Proxied("192.0.2.7:51234".parse().unwrap()));
        assert_eq!(stream, b"GET / HTTP/1.1\r\n");

        let mut stream = &b"PROXY TCP4 192.0.2.7 10.0.0.11 1 2\r\n\x16\x03"[..];
        read(&mut stream).await.unwrap();
        assert_eq!(stream, b"\x16\x03");

        let mut cut = &b"PROXY TCP4 192.0.2.7"[..];
        assert!(matches!(read(&mut cut).await, Err(ReadError::Closed(_))));
    }
}
