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
}

impl EventStream {
    /// Opens `url` (with an optional bearer secret); asserts a 200 event stream.
    pub async fn open(url: &str, secret: Option<&str>) -> EventStream {
        let mut request = reqwest::Client::new().get(url);
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
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
        }
    }

    /// The next event (comments skipped): its name and its JSON data.
    pub async fn next(&mut self) -> (String, Value) {
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
                    }
                }
                match event {
                    Some(event) => return (event, serde_json::from_str(&data).unwrap()),
                    None => continue,
                }
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("an event within the patience window")
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
}
