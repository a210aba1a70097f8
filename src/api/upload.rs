//! CSV uploads (the imports): the request body is handed to the parser as
//! it arrives, through a blocking reader, so a 64 MiB export is never held
//! whole in memory; the configured import limit (`--max-import-mib`) is
//! enforced as bytes arrive, and announced sizes over it are refused before
//! any is read. An empty body (or only blank space) is refused once read:
//! an empty upload is a mistake, not an import of nothing.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use futures_util::{stream, Stream, StreamExt};
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

/// What reading an upload found, for [`Upload::refusal`].
#[derive(Debug, Default)]
struct Seen {
    /// What stopped it, if anything (the parser sees only an I/O error).
    broken: Option<Broken>,
    /// Whether any byte but blank space arrived.
    content: bool,
    /// Whether the body was read to its end (a refusal of who is asking,
    /// say, comes before any of it is read).
    ended: bool,
}

/// An upload being read.
pub struct Upload {
    limit: usize,
    seen: Arc<Mutex<Seen>>,
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
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut total = 0usize;
        let record = seen.clone();
        let chunks = body.into_data_stream().map(move |chunk| {
            let mut seen = record.lock().expect("upload state lock");
            let failure = match chunk {
                Ok(bytes) => {
                    total += bytes.len();
                    if total <= limit {
                        seen.content |= !bytes.iter().all(u8::is_ascii_whitespace);
                        return Ok(bytes);
                    }
                    Broken::TooLarge
                }
                Err(e) => Broken::Transport(e.to_string()),
            };
            seen.broken = Some(failure);
            Err(io::Error::other("the upload was not read to its end"))
        });
        let record = seen.clone();
        let chunks = chunks.chain(stream::poll_fn(move |_| {
            record.lock().expect("upload state lock").ended = true;
            Poll::Ready(None)
        }));
        let reader = SyncIoBridge::new(StreamReader::new(Box::pin(chunks) as Chunks));
        Ok((Upload { limit, seen }, reader))
    }

    /// The refusal to give, once the parser is done, instead of whatever it
    /// made of the body, when the body itself was the problem: too large,
    /// broken off, or empty.
    pub fn refusal(&self) -> Option<ApiError> {
        let seen = self.seen.lock().expect("upload state lock");
        match seen.broken.clone() {
            Some(Broken::TooLarge) => Some(too_large(self.limit)),
            Some(Broken::Transport(e)) => Some(ApiError::bad_request(format!(
                "the upload broke off before its end ({e}); nothing was imported"
            ))),
            None if seen.ended && !seen.content => Some(ApiError::bad_request(
                "the request body is empty: send the CSV file itself as the body \
                 (curl --data-binary @file.csv); nothing was imported",
            )),
            None => None,
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

/// A CSV upload's body, as the OpenAPI document describes it: the file's
/// text, not empty.
pub struct CsvFile;

impl utoipa::PartialSchema for CsvFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .description(Some(
                "The CSV file's text (UTF-8), header row first; not empty or blank.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for CsvFile {}
