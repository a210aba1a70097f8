//! What the web pages need to sign judges in, beyond Sledge's protocol:
//! `GET /api/judges/names` (public: the names a judge picks from, ids and
//! names only, never emails) and `GET /api/login-code` (admin: the login
//! code to hand to judges).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::caller::{self, Caller};
use super::Api;
use crate::core::auth::Identity;
use crate::http_error::ApiError;
use crate::operator_secrets::Source;

#[derive(Serialize, utoipa::ToSchema)]
pub struct JudgeName {
    id: i64,
    name: String,
}

/// `GET /api/judges/names`: `[{id, name}]` in id order.
#[utoipa::path(
    get,
    path = "/api/judges/names",
    tag = "credentials",
    operation_id = "judgeNames",
    summary = "Judges' ids and names",
    description = "Public: what a judge picks its name from on the sign-in page; never emails.",
    responses(
        (status = 200, description = "Every judge, in id order.", body = Vec<JudgeName>),
        (status = 503, description = "Storage failed or the server is shutting down.", body = ApiError),
    ),
)]
pub async fn judge_names(State(app): State<Arc<Api>>) -> Result<Json<Vec<JudgeName>>, ApiError> {
    // The admin's view has every judge; only ids and names leave here.
    let state = app.core.state(Identity::Admin).await?;
    let mut names: Vec<JudgeName> = state
        .judges
        .into_iter()
        .map(|judge| JudgeName {
            id: judge.id,
            name: judge.name,
        })
        .collect();
    names.sort_by_key(|judge| judge.id);
    Ok(Json(names))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginCode {
    /// `null` when the server cannot tell it (see `note`).
    login_code: Option<String>,
    /// `"configured"` (PODIUM_LOGIN_CODE), `"file"` (secrets.json) or
    /// `"database"` (cluster mode: the database keeps only its hash).
    #[schema(value_type = String, pattern = "^(configured|file|database)$")]
    source: &'static str,
    /// Why `loginCode` is null, for a person to read.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    note: Option<&'static str>,
}

/// `GET /api/login-code` (admin only).
#[utoipa::path(
    get,
    path = "/api/login-code",
    tag = "credentials",
    operation_id = "loginCode",
    summary = "The login code to hand to judges (admin)",
    responses(
        (status = 200, description = "The code, or null with a note saying why it cannot be shown.", body = LoginCode),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn login_code(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Json<LoginCode>, ApiError> {
    caller::admin_only(who, "only the admin may read the login code")?;
    let secrets = &app.core.secrets;
    let code = secrets.readable_login_code().map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read the login code: {e}"),
        )
    })?;
    let (source, note) = match secrets.login_code_source() {
        Source::Configured => ("configured", Some("the login code was set with PODIUM_LOGIN_CODE when the server started; Podium keeps only its hash, so ask whoever started it")),
        Source::File if code.is_none() => ("file", Some("secrets.json holds a login code the server has not loaded yet: send the server SIGHUP (or restart it), or run `podium secrets show`")),
        Source::File => ("file", None),
        Source::Database => ("database", Some("in cluster mode the database keeps only the login code's hash, so no node can show it: the code was printed once by `podium secrets rotate --database-url ...`; run `podium secrets rotate --login-code --database-url ...` to make a new one (every node takes it within seconds; judges already signed in stay signed in)")),
    };
    Ok(Json(LoginCode {
        login_code: code,
        source,
        note,
    }))
}
