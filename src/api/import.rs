//! `POST /api/import/devpost` and `POST /api/import/judges` (admin): the
//! CSV file is the request body (up to `--max-import-mib`, 64 MiB by
//! default), parsed as it arrives. All or nothing: the first bad row is a
//! 400 naming it (`row` in the body too), a judge's email that is already
//! taken a 409 naming its row, and then nothing is added. Otherwise
//! everything is added in one write, which subscribers get as one
//! `update-partial`; a Devpost answer lists the rows it adjusted (stories
//! kept whole but shortened for judges).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;

use super::caller::Caller;
use super::upload::Upload;
use super::Api;
use crate::core::ops::OpError;
use crate::http_error::ApiError;
use crate::judging::outcomes::{DevpostImported, JudgesImported};

#[utoipa::path(
    post,
    path = "/api/import/devpost",
    tag = "import",
    operation_id = "importDevpost",
    summary = "Import a Devpost projects export (admin)",
    description = "All or nothing: the first bad row is a 400 naming it (`row`), and nothing is added. Hacks and superlatives already present (by name) are matched, not added again.",
    request_body(content = super::upload::CsvFile, content_type = "text/csv", description = "The CSV file itself (not a multipart form), UTF-8, with its header row; at most --max-import-mib (64 MiB by default). An empty body is refused."),
    responses(
        (status = 200, description = "What was added.", body = DevpostImported),
        (status = 400, description = "An empty body, a multipart form, or a bad row (named in `row`); nothing was imported.", body = ApiError),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn devpost(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<DevpostImported>, ApiError> {
    not_a_form(&headers)?;
    let (upload, csv) = Upload::start(&headers, body, app.settings.max_import_bytes)?;
    let answer = app.core.import_devpost(who, csv).await;
    Ok(Json(answered(&upload, answer)?))
}

#[utoipa::path(
    post,
    path = "/api/import/judges",
    tag = "import",
    operation_id = "importJudges",
    summary = "Import judges from a name,email CSV (admin)",
    description = "All or nothing: the first bad row is a 400 naming it (`row`); an email already taken is a 409 naming its row.",
    request_body(content = super::upload::CsvFile, content_type = "text/csv", description = "The CSV file itself (not a multipart form), UTF-8, with its header row; at most --max-import-mib (64 MiB by default). An empty body is refused."),
    responses(
        (status = 200, description = "What was added.", body = JudgesImported),
        (status = 400, description = "An empty body, a multipart form, or a bad row (named in `row`); nothing was imported.", body = ApiError),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 409, description = "A row's email is already a judge's (named in `row`); nothing was imported.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn judges(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<JudgesImported>, ApiError> {
    not_a_form(&headers)?;
    let (upload, csv) = Upload::start(&headers, body, app.settings.max_import_bytes)?;
    let answer = app.core.import_judges(who, csv).await;
    Ok(Json(answered(&upload, answer)?))
}

/// A body that was empty, too large or broke off is the reason the import
/// failed, whatever the parser made of it (an empty one adds nothing).
fn answered<T>(upload: &Upload, answer: Result<T, OpError>) -> Result<T, ApiError> {
    if let Some(refusal) = upload.refusal() {
        return Err(refusal);
    }
    answer.map_err(ApiError::from)
}

/// A file uploaded through an HTML form arrives wrapped in a multipart
/// body, which would otherwise fail as a puzzling CSV error on row 1.
pub(super) fn not_a_form(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        return Err(ApiError::bad_request(
            "send the CSV file itself as the request body (fetch(url, {method: 'POST', body: file}) \
             or curl --data-binary @file.csv), not a multipart form",
        ));
    }
    Ok(())
}
