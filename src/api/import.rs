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

/// A body that was too large or broke off is the reason the import failed,
/// whatever the parser made of its truncated end.
fn answered<T>(upload: &Upload, answer: Result<T, OpError>) -> Result<T, ApiError> {
    answer.map_err(|e| upload.refusal().unwrap_or_else(|| e.into()))
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
