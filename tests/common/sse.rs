//! A Server-Sent Events reader over reqwest, as a script or a page's
//! `EventSource` reads `GET /api/events` or `GET /api/speed/live`; it can
//! also decode a gzip-compressed stream chunk by chunk, to show that each
//! event arrives at once through the compressor.

use std::io::Write;

use serde_json::Value;

use super::PATIENCE;

pub struct EventStream {
    response: reqwest::Response,
    /// Set when the stream is gzip-compressed: decodes each chunk as it comes.
    decoder: Option<flate2::write::GzDecoder<Vec<u8>>>,
    buffer: Vec<u8>,
    /// The `id` of the last event read, as `EventSource` keeps it to send
    /// back in `Last-Event-ID` when it reconnects.
    pub last_id: Option<String>,
}

impl EventStream {
    /// Opens `url` (with an optional bearer secret); asserts a 200 event stream.
    pub async fn open(url: &str, secret: Option<&str>) -> EventStream {
        EventStream::resume(url, secret, None).await
    }

    /// Opens `url` again as a reconnecting `EventSource` does, sending the
    /// last id it had (if any) in `Last-Event-ID`.
    pub async fn resume(url: &str, secret: Option<&str>, last_id: Option<&str>) -> EventStream {
        let mut request = reqwest::Client::new().get(url);
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
        }
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        EventStream::read(response, false)
    }

    /// Reads an answer already checked by the caller; `gzip` when it is
    /// gzip-compressed.
    pub fn read(response: reqwest::Response, gzip: bool) -> EventStream {
        EventStream {
            response,
            decoder: gzip.then(|| flate2::write::GzDecoder::new(Vec::new())),
            buffer: Vec::new(),
            last_id: None,
        }
    }

    /// The next event (comments skipped): its name and its JSON data.
    pub async fn next(&mut self) -> (String, Value) {
        self.next_within(PATIENCE)
            .await
            .expect("an event within the patience window")
    }

    /// The next event if one arrives within `wait`.
    pub async fn next_within(&mut self, wait: std::time::Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame = String::from_utf8(self.buffer.drain(..end + 2).collect()).unwrap();
                let mut event = None;
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event = Some(name.trim().to_string());
                    } else if let Some(chunk) = line.strip_prefix("data:") {
                        data.push_str(chunk.strip_prefix(' ').unwrap_or(chunk));
                    } else if let Some(id) = line.strip_prefix("id:") {
                        self.last_id = Some(id.strip_prefix(' ').unwrap_or(id).to_string());
                    }
                }
                match event {
                    Some(event) => return Some((event, serde_json::from_str(&data).unwrap())),
                    None => continue,
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .expect("the stream is readable")
                .expect("the stream is open");
            match &mut self.decoder {
                Some(decoder) => {
                    decoder.write_all(&chunk).unwrap();
                    decoder.flush().unwrap();
                    self.buffer.append(decoder.get_mut());
                }
                None => self.buffer.extend_from_slice(&chunk),
            }
        }
    }

    /// Reads to the end of the stream: `Ok` when the server ended it
    /// cleanly (the last chunk of the body came), `Err` with what went wrong
    /// when the connection broke off instead. Events still unread are skipped.
    pub async fn end(mut self) -> Result<(), String> {
        loop {
            match tokio::time::timeout(PATIENCE, self.response.chunk()).await {
                Err(_) => return Err("the stream did not end".into()),
                Ok(Err(error)) => return Err(format!("the stream broke off: {error:?}")),
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(_))) => {}
            }
        }
    }
}
