//! Speed events over HTTP (see `docs/speed.md`). Writes are the admin's:
//! `POST /api/speed/events`, `POST /api/entries`, `POST /api/import/entries`
//! (the heat list CSV), `POST /api/entries/{id}/judges`,
//! `POST /api/speed/stations/{station}/judges`,
//! `POST /api/entries/{id}/deductions` and
//! `POST /api/heats/{heat}/start|stop|unlock`. Reads are public, like the
//! clicker history and the hall screen that shows them:
//! `GET /api/speed/heats`, `GET /api/speed/results?event=...` (JSON or
//! `format=csv`) and `GET /api/speed/live?heat=current|N`, the live heat as
//! Server-Sent Events.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::body::{json_value, Body};
use super::caller::{self, Caller};
use super::import::not_a_form;
use super::query;
use super::upload::Upload;
use super::Api;
use crate::core::auth::Identity;
use crate::core::heats::{self, Published};
use crate::http_error::ApiError;
use crate::scoring::DeviceId;
use crate::speed::heatlist::{self, MAX_NAME};
use crate::speed::model::{EntryId, Filter, HeatRecord, NewEntry};
use crate::speed::results::{self, EntryResult};
use crate::speed::{Judges, SpeedError};

/// How often an idle live stream gets a comment line.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

impl From<SpeedError> for ApiError {
    fn from(e: SpeedError) -> ApiError {
        let status = match e {
            SpeedError::Invalid(_) => StatusCode::BAD_REQUEST,
            SpeedError::NotFound(_) => StatusCode::NOT_FOUND,
            SpeedError::Conflict(_) => StatusCode::CONFLICT,
        };
        ApiError::new(status, e.to_string())
    }
}

fn admin(who: Identity) -> Result<(), ApiError> {
    caller::admin_only(who, "speed events are managed by the admin only")
}

/// The body as `T`, with the expected shape in the error.
fn parse<T: DeserializeOwned>(bytes: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_value(json_value(bytes)?)
        .map_err(|e| ApiError::bad_request(format!("{e}; the body is shaped {shape}")))
}

/// A number from 1 up in the path.
fn path_number(what: &str, text: &str) -> Result<u32, ApiError> {
    text.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
        ApiError::bad_request(format!("{what} \"{text}\" is not a whole number from 1 up"))
    })
}

/// A device id as JSON gives it: `7` or `"000007"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DeviceRef {
    Number(u64),
    Text(String),
}

impl DeviceRef {
    fn id(&self) -> Result<DeviceId, SpeedError> {
        let n = match self {
            DeviceRef::Number(n) => Some(*n),
            DeviceRef::Text(t) => t.trim().parse::<u64>().ok(),
        };
        n.filter(|n| (1..=999_999).contains(n))
            .map(|n| n as DeviceId)
            .ok_or_else(|| {
                SpeedError::Invalid(format!(
                    "device id {self:?} is not valid: ids are 1 to 999999"
                ))
            })
    }
}

fn judges(devices: &[DeviceRef], head: Option<&DeviceRef>) -> Result<Judges, SpeedError> {
    let devices = devices
        .iter()
        .map(DeviceRef::id)
        .collect::<Result<_, _>>()?;
    let head = head.map(DeviceRef::id).transpose()?;
    Judges::new(devices, head)
}

fn text(field: &str, value: &str, required: bool) -> Result<Option<String>, SpeedError> {
    let value = value.trim();
    if value.is_empty() {
        return if required {
            Err(SpeedError::Invalid(format!("{field} is empty")))
        } else {
            Ok(None)
        };
    }
    if value.chars().count() > MAX_NAME {
        return Err(SpeedError::Invalid(format!(
            "{field} is longer than {MAX_NAME} characters"
        )));
    }
    Ok(Some(value.to_string()))
}

/// One entry's result now (its heat's sheets only: no rank).
async fn entry_result(app: &Api, heat: u32, id: EntryId) -> Result<EntryResult, ApiError> {
    let sheets = app
        .store
        .speed_sheets(Filter {
            event: None,
            heat: Some(heat),
        })
        .await?;
    results::results(sheets, false)
        .into_iter()
        .find(|r| r.entry.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no entry {id}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    name: String,
    switches: u32,
}

/// `POST /api/speed/events {name, switches}`: creates an event or sets its switches.
pub async fn set_event(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(who)?;
    let body: EventBody = parse(&bytes, "{name, switches}")?;
    let name = text("name", &body.name, true)?.unwrap_or_default();
    if body.switches > 100 {
        return Err(ApiError::bad_request("switches is more than 100"));
    }
    app.store
        .speed_set_event(name.clone(), body.switches)
        .await?;
    Ok(Json(
        serde_json::json!({"name": name, "switches": body.switches}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EntryBody {
    event: String,
    heat: u32,
    station: u32,
    name: String,
    club: Option<String>,
    #[serde(default)]
    devices: Vec<DeviceRef>,
    head_judge: Option<DeviceRef>,
}

/// `POST /api/entries {event, heat, station, name, club?, devices, headJudge}` -> 201 and the entry.
pub async fn add_entry(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<(StatusCode, Json<EntryResult>), ApiError> {
    admin(who)?;
    let body: EntryBody = parse(
        &bytes,
        "{event, heat, station, name, club?, devices: [deviceId, ...], headJudge}",
    )?;
    if body.heat == 0 || body.station == 0 {
        return Err(ApiError::bad_request("heat and station count from 1"));
    }
    let judges = if body.devices.is_empty() && body.head_judge.is_none() {
        None
    } else {
        Some(judges(&body.devices, body.head_judge.as_ref())?)
    };
    let entry = NewEntry {
        event: text("event", &body.event, true)?.unwrap_or_default(),
        heat: body.heat,
        station: body.station,
        name: text("name", &body.name, true)?.unwrap_or_default(),
        club: text("club", body.club.as_deref().unwrap_or(""), false)?,
        judges,
    };
    let heat = entry.heat;
    let ids = app
        .store
        .speed_add_entries(vec![entry])
        .await?
        .map_err(|(_, e)| e)?;
    app.speed.touch(heat);
    let result = entry_result(&app, heat, ids[0]).await?;
    Ok((StatusCode::CREATED, Json(result)))
}

#[derive(Serialize)]
pub struct Imported {
    imported: usize,
    ids: Vec<EntryId>,
}

/// `POST /api/import/entries`: the heat list CSV, all or nothing, read as
/// it arrives up to the import limit (`--max-import-mib`).
pub async fn import_entries(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Json<Imported>, ApiError> {
    admin(who)?;
    not_a_form(&headers)?;
    let (upload, csv) = Upload::start(&headers, body, app.settings.max_import_bytes)?;
    let parsed = tokio::task::spawn_blocking(move || heatlist::parse(csv))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the import failed: {e}"),
            )
        })?;
    let listed = parsed.map_err(|e| {
        upload
            .refusal()
            .unwrap_or_else(|| ApiError::bad_request(e.to_string()).with_field("row", e.row))
    })?;
    let rows: Vec<u64> = listed.iter().map(|l| l.row).collect();
    let entries = listed
        .into_iter()
        .map(|l| NewEntry {
            event: l.event,
            heat: l.heat,
            station: l.station,
            name: l.name,
            club: l.club,
            judges: None,
        })
        .collect::<Vec<_>>();
    let heats: std::collections::BTreeSet<u32> = entries.iter().map(|e| e.heat).collect();
    let ids = app
        .store
        .speed_add_entries(entries)
        .await?
        .map_err(|(index, e)| {
            let row = rows[index];
            let status = ApiError::from(e.clone()).status;
            ApiError::new(status, format!("row {row}: {e}")).with_field("row", row)
        })?;
    for heat in heats {
        app.speed.touch(heat);
    }
    Ok(Json(Imported {
        imported: ids.len(),
        ids,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JudgesBody {
    devices: Vec<DeviceRef>,
    head_judge: Option<DeviceRef>,
}

/// `POST /api/entries/{id}/judges {devices, headJudge}` -> the entry.
pub async fn set_entry_judges(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Body(bytes): Body,
) -> Result<Json<EntryResult>, ApiError> {
    admin(who)?;
    let id = i64::from(path_number("entry id", &id)?);
    let body: JudgesBody = parse(&bytes, "{devices: [deviceId, ...], headJudge}")?;
    let judges = judges(&body.devices, body.head_judge.as_ref())?;
    let heat = app.store.speed_set_judges(id, judges).await??;
    app.speed.touch(heat);
    Ok(Json(entry_result(&app, heat, id).await?))
}

/// `POST /api/speed/stations/{station}/judges {devices, headJudge}`: the
/// same judges for the station's entries in every heat pending or unlocked.
pub async fn set_station_judges(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Path(station): Path<String>,
    Body(bytes): Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(who)?;
    let station = path_number("station", &station)?;
    let body: JudgesBody = parse(&bytes, "{devices: [deviceId, ...], headJudge}")?;
    let judges = judges(&body.devices, body.head_judge.as_ref())?;
    let heats = app
        .store
        .speed_set_station_judges(station, judges)
        .await??;
    for &heat in &heats {
        app.speed.touch(heat);
    }
    Ok(Json(
        serde_json::json!({"station": station, "heats": heats}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DeductionsBody {
    false_starts: u32,
    false_switches: u32,
}

/// `POST /api/entries/{id}/deductions {falseStarts, falseSwitches}` -> the entry.
pub async fn set_deductions(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Body(bytes): Body,
) -> Result<Json<EntryResult>, ApiError> {
    admin(who)?;
    let id = i64::from(path_number("entry id", &id)?);
    let body: DeductionsBody = parse(&bytes, "{falseStarts, falseSwitches}")?;
    let heat = app
        .store
        .speed_set_deductions(id, body.false_starts, body.false_switches)
        .await??;
    app.speed.touch(heat);
    Ok(Json(entry_result(&app, heat, id).await?))
}

async fn heat_record(app: &Api, heat: u32) -> Result<Json<HeatRecord>, ApiError> {
    let record = app
        .store
        .speed_heat(heat)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no heat {heat}")))?;
    Ok(Json(record))
}

/// `POST /api/heats/{heat}/start`: the heat runs from now.
pub async fn start_heat(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Path(heat): Path<String>,
) -> Result<Json<HeatRecord>, ApiError> {
    admin(who)?;
    let heat = path_number("heat", &heat)?;
    let devices = app.store.speed_start_heat(heat).await??;
    app.speed.watch(heat, &devices);
    heat_record(&app, heat).await
}

/// `POST /api/heats/{heat}/stop`: the heat ends now; its results are locked.
pub async fn stop_heat(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Path(heat): Path<String>,
) -> Result<Json<HeatRecord>, ApiError> {
    admin(who)?;
    let heat = path_number("heat", &heat)?;
    app.store.speed_stop_heat(heat).await??;
    app.speed.unwatch(heat);
    heat_record(&app, heat).await
}

/// `POST /api/heats/{heat}/unlock`: a stopped heat's results may change again.
pub async fn unlock_heat(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Path(heat): Path<String>,
) -> Result<Json<HeatRecord>, ApiError> {
    admin(who)?;
    let heat = path_number("heat", &heat)?;
    app.store.speed_unlock_heat(heat).await??;
    app.speed.touch(heat);
    heat_record(&app, heat).await
}

/// `GET /api/speed/heats`: every heat and its state.
pub async fn heats(State(app): State<Arc<Api>>) -> Result<Json<Vec<HeatRecord>>, ApiError> {
    Ok(Json(app.store.speed_heats().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    event: Option<String>,
    format: Option<String>,
}

#[derive(Serialize)]
pub struct ResultsBody {
    entries: Vec<EntryResult>,
}

/// `GET /api/speed/results?event=...[&format=csv]`: every entry of the
/// event (of every event without `event`), ranked within its event.
pub async fn results(
    State(app): State<Arc<Api>>,
    query: Result<Query<ResultsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query::parse(
        query,
        "the query parameters are event=<name> and format=json|csv",
    )?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format \"{other}\" is not known: use json or csv"
            )))
        }
    };
    let sheets = app
        .store
        .speed_sheets(Filter {
            event: query.event,
            heat: None,
        })
        .await?;
    let mut entries = results::results(sheets, true);
    // Ranked: best first, then by heat and station.
    let key = |e: &EntryResult| (e.rank.is_none(), e.rank, e.entry.heat, e.entry.station);
    entries.sort_by(|a, b| {
        a.entry
            .event
            .cmp(&b.entry.event)
            .then_with(|| key(a).cmp(&key(b)))
    });
    if !csv {
        return Ok(Json(ResultsBody { entries }).into_response());
    }
    let body = results::csv(&entries).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write CSV: {e}"),
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"speed-results.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveQuery {
    heat: Option<String>,
}

/// `GET /api/speed/live?heat=current|N`: event `heat` with the whole heat
/// view at once, then again whenever it changes.
pub async fn live(
    State(app): State<Arc<Api>>,
    query: Result<Query<LiveQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query::parse(
        query,
        "the only query parameter is heat=current or heat=<number>",
    )?;
    let heat = match query.heat.as_deref() {
        None | Some("current") => None,
        Some(n) => Some(path_number("heat", n)?),
    };
    // Subscribed before the first view is read, so no change falls between.
    let feed = app.speed.subscribe();
    let first = heats::view(&*app.store, heat).await?;
    let first = serde_json::to_string(&first).expect("a heat view serializes");
    let wanted = move |p: &Published| match heat {
        None => p.current,
        Some(n) => p.heat == Some(n),
    };
    // Ends at shutdown, so the server's graceful drain does not wait on it.
    let shutdown = app.shutdown.clone();
    let events = stream::unfold((Some(first), feed), move |(first, mut feed)| {
        let shutdown = shutdown.clone();
        async move {
            if let Some(json) = first {
                let event = Event::default().event("heat").data(json);
                return Some((Ok::<_, Infallible>(event), (None, feed)));
            }
            loop {
                let next = tokio::select! {
                    next = feed.recv() => next,
                    () = shutdown.cancelled() => return None,
                };
                match next {
                    Ok(p) if wanted(&p) => {
                        let event = Event::default().event("heat").data(p.json.clone());
                        return Some((Ok(event), (None, feed)));
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    let no_buffering = (
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(([no_buffering], sse).into_response())
}
