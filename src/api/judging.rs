//! The writes socket.io events make, as endpoints: adding hacks, judges and
//! superlatives (admin), rating and ranking (the admin, or the judge named
//! by `judgeId`). Bodies are the events' payloads, checked by the same
//! parser; each answers with the row as stored, which subscribers also get
//! as an `update-partial`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::body::{self, Body};
use super::caller::Caller;
use super::query::PathParam;
use super::Api;
use crate::core::commands::{
    AddHack, AddJudge, AddSuperlative, RankSuperlative, RateHack, UnrateHack,
};
use crate::http_error::ApiError;
use crate::judging::model::{Hack, Judge, Rating, Superlative, SuperlativePlacement};

/// `POST /api/hacks {name, description, location}` -> 201 and the hack.
#[utoipa::path(
    post,
    path = "/api/hacks",
    tag = "judging",
    operation_id = "addHack",
    summary = "Add a hack (admin)",
    description = "Like socket.io `add-hack`; subscribers get it as an `update-partial`.",
    request_body(content = crate::core::commands::AddHack, content_type = "application/json"),
    responses(
        (status = 201, description = "The hack as stored.", body = Hack),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn add_hack(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<(StatusCode, Json<Hack>), ApiError> {
    let hack: AddHack = body::command(&bytes)?;
    let row = app.core.run(who, hack).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `POST /api/judges {name, email}` -> 201 and the judge.
#[utoipa::path(
    post,
    path = "/api/judges",
    tag = "judging",
    operation_id = "addJudge",
    summary = "Add a judge (admin)",
    description = "Like socket.io `add-judge`.",
    request_body(content = crate::core::commands::AddJudge, content_type = "application/json"),
    responses(
        (status = 201, description = "The judge as stored.", body = Judge),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 409, description = "Another judge has this email (ignoring case).", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn add_judge(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<(StatusCode, Json<Judge>), ApiError> {
    let judge: AddJudge = body::command(&bytes)?;
    let row = app.core.run(who, judge).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `POST /api/superlatives {name}` -> 201 and the superlative.
#[utoipa::path(
    post,
    path = "/api/superlatives",
    tag = "judging",
    operation_id = "addSuperlative",
    summary = "Add a superlative (admin)",
    description = "Like socket.io `add-superlative`.",
    request_body(content = crate::core::commands::AddSuperlative, content_type = "application/json"),
    responses(
        (status = 201, description = "The superlative as stored.", body = Superlative),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn add_superlative(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<(StatusCode, Json<Superlative>), ApiError> {
    let superlative: AddSuperlative = body::command(&bytes)?;
    let row = app.core.run(who, superlative).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `POST /api/ratings {judgeId, hackId, rating}` -> the rating (rating
/// again replaces it, keeping its id).
#[utoipa::path(
    post,
    path = "/api/ratings",
    tag = "judging",
    operation_id = "rate",
    summary = "Rate a hack",
    description = "The admin, or the judge named by judgeId. Rating again replaces the rating, keeping its id.",
    request_body(content = crate::core::commands::RateHack, content_type = "application/json"),
    responses(
        (status = 200, description = "The rating as stored.", body = Rating),
        (status = 403, description = "Not allowed: a judge doing the admin's work, or acting as another judge (judgeId must be the caller's own).", body = ApiError),
        (status = 404, description = "No such judge or hack.", body = ApiError),
        (status = 409, description = "Judging is paused.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn rate(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Rating>, ApiError> {
    let rate: RateHack = body::command(&bytes)?;
    Ok(Json(app.core.run(who, rate).await?))
}

/// `DELETE /api/judges/{judgeId}/ratings/{hackId}` -> 204: the judge takes
/// its rating back.
#[utoipa::path(
    delete,
    path = "/api/judges/{judgeId}/ratings/{hackId}",
    tag = "judging",
    operation_id = "unrate",
    summary = "Take a rating back (undo)",
    description = "The admin, or the judge judgeId; like socket.io `unrate-hack`. The rating's row stays with rating 0 (subscribers get it as an `update-partial`) and counts nowhere; rating the hack again reuses the row.",
    params(
        ("judgeId" = i64, Path, description = "The judge's id.", minimum = 0),
        ("hackId" = i64, Path, description = "The hack's id.", minimum = 0),
    ),
    responses(
        (status = 204, description = "Taken back."),
        (status = 400, description = "An id is not a whole number from 0.", body = ApiError),
        (status = 403, description = "Not allowed: a judge taking back another judge's rating.", body = ApiError),
        (status = 404, description = "No such judge or hack, or the judge has no rating of the hack (never rated, or already taken back).", body = ApiError),
        (status = 409, description = "Judging is paused.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn unrate(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    PathParam((judge, hack)): PathParam<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = |name: &str, text: &str| {
        super::query::whole_number(text)
            .filter(|id| *id >= 0)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{name} {text:?} is not an id: a whole number from 0"
                ))
            })
    };
    let (judge, hack) = (id("judgeId", &judge)?, id("hackId", &hack)?);
    let unrate = UnrateHack {
        judge_id: judge,
        hack_id: hack,
    };
    app.core.run(who, unrate).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/placements {judgeId, superId, firstId, secondId}` -> the
/// placement (ranking again replaces it, keeping its id).
#[utoipa::path(
    post,
    path = "/api/placements",
    tag = "judging",
    operation_id = "rank",
    summary = "Rank hacks for a superlative",
    description = "The admin, or the judge named by judgeId. Ranking again replaces the placement, keeping its id. firstId and secondId must differ unless 0 (no choice): JSON Schema cannot say so, and the server answers 400.",
    request_body(content = crate::core::commands::RankSuperlative, content_type = "application/json"),
    responses(
        (status = 200, description = "The placement as stored.", body = SuperlativePlacement),
        (status = 400, description = "Bad input, or firstId and secondId name the same hack.", body = ApiError),
        (status = 403, description = "Not allowed: a judge doing the admin's work, or acting as another judge (judgeId must be the caller's own).", body = ApiError),
        (status = 404, description = "No such judge, superlative, or hack eligible for it.", body = ApiError),
        (status = 409, description = "Judging is paused.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn rank(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<SuperlativePlacement>, ApiError> {
    let rank: RankSuperlative = body::command(&bytes)?;
    Ok(Json(app.core.run(who, rank).await?))
}
