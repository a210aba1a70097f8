//! CSV uploads (the imports): the request body is handed to the parser as
//! it arrives, through a blocking reader, so a 64 MiB export is never held
//! whole in memory; the configured import limit (`--max-import-mib`) is
//! enforced as bytes arrive, and announced sizes over it are refused before
//! any is read.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use futures_util::{Stream, StreamExt};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::http_error::ApiError;

type Chunks = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// The body of an upload, as a blocking reader for the parser.
pub type UploadReader = SyncIoBridge<StreamReader<Chunks, Bytes>>;

/// Why an upload could not be read to its end.
#[derive(Debug, Clone)]
enum Broken {
    TooLarge,
    Transport(String),
}

/// An upload being read; what stopped it, if anything, is kept for
/// [`Upload::refusal`], since the parser sees only an I/O error.
pub struct Upload {
    limit: usize,
    broken: Arc<Mutex<Option<Broken>>>,
}

impl Upload {
    /// Starts reading `body` (must be called inside the runtime); refuses
    /// at once a body whose `Content-Length` is over `limit`.
    pub fn start(
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<(Upload, UploadReader), ApiError> {
        let announced = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        let broken = Arc::new(Mutex::new(None));
        let mut seen = 0usize;
        let record = broken.clone();
        let chunks = body.into_data_stream().map(move |chunk| {
            let failure = match chunk {
                Ok(bytes) => {
                    seen += bytes.len();
                    if seen <= limit {
                        return Ok(bytes);
                    }
                    Broken::TooLarge
                }
                Err(e) => Broken::Transport(e.to_string()),
            };
            *record.lock().expect("upload state lock") = Some(failure);
            Err(io::Error::other("the upload was not read to its end"))
        });
        let reader = SyncIoBridge::new(StreamReader::new(Box::pin(chunks) as Chunks));
        Ok((Upload { limit, broken }, reader))
    }

    /// The refusal to give instead of the parser's error when the body
    /// itself was the problem (too large, or broken off).
    pub fn refusal(&self) -> Option<ApiError> {
        match self.broken.lock().expect("upload state lock").clone()? {
            Broken::TooLarge => Some(too_large(self.limit)),
            Broken::Transport(e) => Some(ApiError::bad_request(format!(
                "the upload broke off before its end ({e}); nothing was imported"
            ))),
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the CSV file is larger than the import limit of {} MiB (the server's \
             --max-import-mib); nothing was imported",
            limit >> 20
        ),
    )
}
