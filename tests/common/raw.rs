//! A WebSocket client written by hand on a plain `TcpStream`, for tests that
//! must behave on the wire like clicker firmware does: send the exact
//! upgrade request a device sends (`Origin: Espruino`), or keep writing
//! frames while never reading and never answering a ping (a WebSocket
//! library would answer pings, and block or fail its writes, on its own).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Opcodes of the frames a server sends.
pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;

/// One frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// A connected socket, its receive buffer set before connecting when asked
/// (as small as a microcontroller's TCP window).
pub async fn connect(addr: SocketAddr, receive_buffer: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    socket.connect(addr).await.unwrap()
}

/// The upgrade request of `/ws` as Espruino's `ws` module writes it, with
/// `origin` (if any) in its `Origin` header.
pub fn upgrade_request(addr: SocketAddr, origin: Option<&str>) -> String {
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    )
}

/// Reads an HTTP response head; returns it and whatever came after it.
pub async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return (head, buf[end + 4..].to_vec());
        }
        let n = tokio::time::timeout(super::PATIENCE, stream.read(&mut chunk))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A WebSocket client frame: final, masked (as clients must).
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// An upgraded `/ws` connection driven by hand.
pub struct RawWs {
    pub stream: TcpStream,
    /// Bytes read but not yet taken as frames.
    buffered: Vec<u8>,
}

impl RawWs {
    /// Connects and upgrades with `origin`; panics unless the answer is 101.
    pub async fn open(
        addr: SocketAddr,
        origin: Option<&str>,
        receive_buffer: Option<u32>,
    ) -> RawWs {
        let mut stream = connect(addr, receive_buffer).await;
        stream
            .write_all(upgrade_request(addr, origin).as_bytes())
            .await
            .unwrap();
        let (head, rest) = read_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        RawWs {
            stream,
            buffered: rest,
        }
    }

    /// Writes one text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .write_all(&client_frame(TEXT, text.as_bytes()))
            .await
            .expect("the server takes the frame");
    }

    /// Writes several text frames in one write, as a burst.
    pub async fn send_burst(&mut self, texts: impl IntoIterator<Item = String>) {
        let bytes: Vec<u8> = texts
            .into_iter()
            .flat_map(|t| client_frame(TEXT, t.as_bytes()))
            .collect();
        self.stream
            .write_all(&bytes)
            .await
            .expect("the server takes the burst");
    }

    /// The next frame, or `None` when nothing comes within `wait` (or the
    /// server closed the TCP connection: see [`RawWs::closed`]).
    pub async fn next_frame(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(frame) = self.take_frame() {
                return Some(frame);
            }
            let mut chunk = [0u8; 4096];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await;
            match read {
                Ok(Ok(n)) if n > 0 => self.buffered.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// The next text frame, skipping pings; panics on anything else.
    pub async fn recv_text(&mut self) -> String {
        loop {
            let frame = self
                .next_frame(super::PATIENCE)
                .await
                .expect("a frame in time");
            match frame.opcode {
                TEXT => return frame.text(),
                PING => continue,
                other => panic!("expected a text frame, got opcode {other}: {frame:?}"),
            }
        }
    }

    /// A whole server frame (unmasked) from the front of the buffer.
    fn take_frame(&mut self) -> Option<Frame> {
        let b = &self.buffered;
        if b.len() < 2 {
            return None;
        }
        let opcode = b[0] & 0x0f;
        let (len, start) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => (
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if b.len() < start + len {
            return None;
        }
        let payload = b[start..start + len].to_vec();
        self.buffered.drain(..start + len);
        Some(Frame { opcode, payload })
    }
}
