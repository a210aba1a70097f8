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
use super::Api;
use crate::core::requests::{EventName, Request};
use crate::http_error::ApiError;
use crate::judging::inputs::{NewHack, NewJudge, Ranking};
use crate::judging::model::{Hack, Judge, Rating, Superlative, SuperlativePlacement};

/// `POST /api/hacks {name, description, location}` -> 201 and the hack.
pub async fn add_hack(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<(StatusCode, Json<Hack>), ApiError> {
    let Request::AddHack(hack) = body::event(EventName::AddHack, &bytes)? else {
        unreachable!("parsed as add-hack")
    };
    let hack = NewHack {
        name: hack.name,
        description: hack.description,
        location: hack.location,
    };
    let row = app.core.add_hack(who, hack).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `POST /api/judges {name, email}` -> 201 and the judge.
pub async fn add_judge(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<(StatusCode, Json<Judge>), ApiError> {
    let Request::AddJudge(judge) = body::event(EventName::AddJudge, &bytes)? else {
        unreachable!("parsed as add-judge")
    };
    let judge = NewJudge {
        name: judge.name,
        email: judge.email,
    };
    let row = app.core.add_judge(who, judge).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `POST /api/superlatives {name}` -> 201 and the superlative.
pub async fn add_superlative(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<(StatusCode, Json<Superlative>), ApiError> {
    let Request::AddSuperlative(superlative) = body::event(EventName::AddSuperlative, &bytes)?
    else {
        unreachable!("parsed as add-superlative")
    };
    let row = app.core.add_superlative(who, superlative.name).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `POST /api/ratings {judgeId, hackId, rating}` -> the rating (rating
/// again replaces it, keeping its id).
pub async fn rate(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Rating>, ApiError> {
    let Request::RateHack(rate) = body::event(EventName::RateHack, &bytes)? else {
        unreachable!("parsed as rate-hack")
    };
    let row = app
        .core
        .rate(who, rate.judge_id, rate.hack_id, rate.rating)
        .await?;
    Ok(Json(row))
}

/// `POST /api/placements {judgeId, superId, firstId, secondId}` -> the
/// placement (ranking again replaces it, keeping its id).
pub async fn rank(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<SuperlativePlacement>, ApiError> {
    let Request::RankSuperlative(rank) = body::event(EventName::RankSuperlative, &bytes)? else {
        unreachable!("parsed as rank-superlative")
    };
    let ranking = Ranking {
        judge_id: rank.judge_id,
        superlative_id: rank.super_id,
        first_choice_id: rank.first_id,
        second_choice_id: rank.second_id,
    };
    Ok(Json(app.core.rank(who, ranking).await?))
}
