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
use axum::extract::{Query, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::{stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::body::{json_value, Body};
use super::caller::{self, Caller};
use super::import::not_a_form;
use super::query::{self, PathParam};
use super::upload::Upload;
use super::Api;
use crate::core::auth::Identity;
use crate::core::heats::{self, Published};
use crate::http_error::ApiError;
use crate::scoring::{DeviceId, MAX_DEVICE_ID};
use crate::speed::heatlist::{self, MAX_NAME};
use crate::speed::model::{EntryId, Filter, HeatRecord, NewEntry};
use crate::speed::ops::add_entries::AddEntries;
use crate::speed::ops::set_deductions::SetDeductions;
use crate::speed::ops::set_event::SetEvent;
use crate::speed::ops::set_judges::SetJudges;
use crate::speed::ops::set_station_judges::SetStationJudges;
use crate::speed::ops::start_heat::StartHeat;
use crate::speed::ops::stop_heat::StopHeat;
use crate::speed::ops::unlock_heat::UnlockHeat;
use crate::speed::results::{self, EntryResult};
use crate::speed::{Judges, SpeedError};
use crate::store::WriteError;

/// One event of the live stream, as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // only described, never built
pub struct HeatEvent {
    #[schema(pattern = "^heat$")]
    event: String,
    /// JSON: a HeatView.
    #[schema(content_media_type = "application/json")]
    data: String,
}

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

/// A speed write's failure: its rule's refusal, an idempotency key reused
/// for another request, or storage.
impl From<WriteError<SpeedError>> for ApiError {
    fn from(e: WriteError<SpeedError>) -> ApiError {
        write_error(e, ApiError::from)
    }
}

/// `e` as the caller is told it, the refusal by `refused`.
fn write_error<R>(e: WriteError<R>, refused: impl FnOnce(R) -> ApiError) -> ApiError {
    match e {
        WriteError::Refused(refusal) => refused(refusal),
        WriteError::KeyReused(e) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        WriteError::Store(e) => ApiError::from(e),
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
    let number = query::whole_number(text).and_then(|n| u32::try_from(n).ok());
    number.filter(|n| *n >= 1).ok_or_else(|| {
        ApiError::bad_request(format!("{what} \"{text}\" is not a whole number from 1 up"))
    })
}

/// A device id as JSON gives it: `7` or `"000007"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DeviceRef {
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

/// `DeviceRef`: `7` or `"000007"` (a string may have leading zeros and
/// surrounding spaces).
impl utoipa::PartialSchema for DeviceRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(MAX_DEVICE_ID)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\+?0*[1-9][0-9]{0,5}[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$")),
            )
            .description(Some("A clicker's device id, 1 to 999999."))
            .into()
    }
}

impl utoipa::ToSchema for DeviceRef {}

/// A `{devices, headJudge}` body as a checked panel of judges.
fn panel(bytes: &[u8]) -> Result<Judges, ApiError> {
    let body: JudgesBody = parse(bytes, "{devices: [deviceId, ...], headJudge}")?;
    Ok(judges(&body.devices, body.head_judge.as_ref())?)
}

fn judges(devices: &[DeviceRef], head: Option<&DeviceRef>) -> Result<Judges, SpeedError> {
    let devices = devices
        .iter()
        .map(DeviceRef::id)
        .collect::<Result<_, _>>()?;
    let head = head.map(DeviceRef::id).transpose()?;
    Judges::new(devices, head)
}

/// A name as sent: at most [`MAX_NAME`] characters as sent (the limit the
/// OpenAPI document states), stored trimmed.
fn text(field: &str, value: &str, required: bool) -> Result<Option<String>, SpeedError> {
    if value.chars().count() > MAX_NAME {
        return Err(SpeedError::Invalid(format!(
            "{field} is longer than {MAX_NAME} characters"
        )));
    }
    let value = value.trim();
    if value.is_empty() {
        return if required {
            Err(SpeedError::Invalid(format!("{field} is empty")))
        } else {
            Ok(None)
        };
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    /// The event's name (trimmed), e.g. `SRSS`.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    name: String,
    /// Switches in the event (for false-switch deductions).
    #[schema(minimum = 0, maximum = 100)]
    switches: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventSet {
    name: String,
    switches: u32,
}

/// `POST /api/speed/events {name, switches}`: creates an event or sets its switches.
#[utoipa::path(
    post,
    path = "/api/speed/events",
    tag = "speed",
    operation_id = "setSpeedEvent",
    summary = "Create a speed event or set its switches (admin)",
    request_body(content = EventBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The event.", body = EventSet),
        (status = 403, description = "Not the admin: speed events are managed by the admin only.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn set_event(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<EventSet>, ApiError> {
    admin(who)?;
    let body: EventBody = parse(&bytes, "{name, switches}")?;
    let name = text("name", &body.name, true)?.unwrap_or_default();
    if body.switches > 100 {
        return Err(ApiError::bad_request("switches is more than 100"));
    }
    app.store
        .perform(SetEvent {
            name: name.clone(),
            switches: body.switches,
        })
        .await?;
    Ok(Json(EventSet {
        name,
        switches: body.switches,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EntryBody {
    /// The event's name, as set with POST /api/speed/events.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    event: String,
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    heat: u32,
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    station: u32,
    /// The skipper's name.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    name: String,
    /// Empty or absent: none.
    #[schema(max_length = 200)]
    club: Option<String>,
    /// The judges' clickers; absent or empty (with no headJudge): judges set later.
    #[serde(default)]
    #[schema(max_items = 9)]
    devices: Vec<DeviceRef>,
    /// One of `devices`; by default the first.
    head_judge: Option<DeviceRef>,
}

/// `POST /api/entries {event, heat, station, name, club?, devices, headJudge}` -> 201 and the entry.
#[utoipa::path(
    post,
    path = "/api/entries",
    tag = "speed",
    operation_id = "addEntry",
    summary = "Add an entry to a heat (admin)",
    description = "Judges (devices and headJudge) may be given now or later. The head judge, by default the first device, must be one of the devices, and no device may be listed twice: JSON Schema cannot say so, and the server answers 400.",
    request_body(content = EntryBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The entry with its result so far.", body = EntryResult),
        (status = 400, description = "Bad input, or a headJudge not among the devices, or a device listed twice.", body = ApiError),
        (status = 403, description = "Not the admin: speed events are managed by the admin only.", body = ApiError),
        (status = 409, description = "The station already has an entry in the heat, a device is not registered or judges another station in the heat, or the heat is running or stopped.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
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
        .perform(AddEntries {
            entries: vec![entry],
        })
        .await
        .map_err(|e| write_error(e, |(_, refusal)| ApiError::from(refusal)))?;
    let result = entry_result(&app, heat, ids[0]).await?;
    Ok((StatusCode::CREATED, Json(result)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Imported {
    imported: usize,
    ids: Vec<EntryId>,
}

/// `POST /api/import/entries`: the heat list CSV, all or nothing, read as
/// it arrives up to the import limit (`--max-import-mib`).
#[utoipa::path(
    post,
    path = "/api/import/entries",
    tag = "speed",
    operation_id = "importEntries",
    summary = "Import a heat list CSV (admin)",
    description = "Columns event, heat, station, name, club. All or nothing: the first bad row is named in `row`.",
    request_body(content = super::upload::CsvFile, content_type = "text/csv", description = "The CSV file itself (not a multipart form), with its header row; at most --max-import-mib (64 MiB by default). An empty body is refused."),
    responses(
        (status = 200, description = "The entries added.", body = Imported),
        (status = 400, description = "An empty body, a multipart form, or a bad row (named in `row`); nothing was imported.", body = ApiError),
        (status = 403, description = "Not the admin: speed events are managed by the admin only.", body = ApiError),
        (status = 409, description = "A row conflicts with what is stored (named in `row`); nothing was imported.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
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
    let ids = app
        .store
        .perform(AddEntries { entries })
        .await
        .map_err(|e| {
            write_error(e, |(index, refusal)| {
                let row = rows[index];
                let status = ApiError::from(refusal.clone()).status;
                ApiError::new(status, format!("row {row}: {refusal}")).with_field("row", row)
            })
        })?;
    Ok(Json(Imported {
        imported: ids.len(),
        ids,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JudgesBody {
    /// The judges' clickers, each listed once.
    #[schema(min_items = 1, max_items = 9)]
    devices: Vec<DeviceRef>,
    /// One of `devices`; by default the first.
    head_judge: Option<DeviceRef>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StationJudges {
    station: u32,
    /// The heats whose entry at the station now has these judges.
    heats: Vec<u32>,
}

/// `POST /api/entries/{id}/judges {devices, headJudge}` -> the entry.
#[utoipa::path(
    post,
    path = "/api/entries/{id}/judges",
    tag = "speed",
    operation_id = "setEntryJudges",
    summary = "Set an entry's judges (admin)",
    description = "The head judge, by default the first device, must be one of the devices, and no device may be listed twice: JSON Schema cannot say so, and the server answers 400.",
    params(("id" = u32, Path, description = "The entry id.", minimum = 1, maximum = 4294967295_u32)),
    request_body(content = JudgesBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The entry.", body = EntryResult),
        (status = 400, description = "Bad input, or a headJudge not among the devices, or a device listed twice.", body = ApiError),
        (status = 403, description = "Not the admin: speed events are managed by the admin only.", body = ApiError),
        (status = 404, description = "No such entry.", body = ApiError),
        (status = 409, description = "A device not registered or judging another station in the heat, or a heat that is running or stopped.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn set_entry_judges(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    PathParam(id): PathParam,
    Body(bytes): Body,
) -> Result<Json<EntryResult>, ApiError> {
    admin(who)?;
    let id = i64::from(path_number("entry id", &id)?);
    let judges = panel(&bytes)?;
    let heat = app.store.perform(SetJudges { entry: id, judges }).await?;
    Ok(Json(entry_result(&app, heat, id).await?))
}

/// `POST /api/speed/stations/{station}/judges {devices, headJudge}`: the
/// same judges for the station's entries in every heat pending or unlocked.
#[utoipa::path(
    post,
    path = "/api/speed/stations/{station}/judges",
    tag = "speed",
    operation_id = "setStationJudges",
    summary = "Set a station's judges in every heat not yet run (admin)",
    description = "The head judge, by default the first device, must be one of the devices, and no device may be listed twice: JSON Schema cannot say so, and the server answers 400.",
    params(("station" = u32, Path, description = "The station number.", minimum = 1, maximum = 4294967295_u32)),
    request_body(content = JudgesBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The heats changed.", body = StationJudges),
        (status = 400, description = "Bad input, or a headJudge not among the devices, or a device listed twice.", body = ApiError),
        (status = 403, description = "Not the admin: speed events are managed by the admin only.", body = ApiError),
        (status = 404, description = "No entry at this station.", body = ApiError),
        (status = 409, description = "A device not registered or judging another station in a heat.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn set_station_judges(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    PathParam(station): PathParam,
    Body(bytes): Body,
) -> Result<Json<StationJudges>, ApiError> {
    admin(who)?;
    let station = path_number("station", &station)?;
    let judges = panel(&bytes)?;
    let heats = app
        .store
        .perform(SetStationJudges { station, judges })
        .await?;
    Ok(Json(StationJudges { station, heats }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeductionsBody {
    #[schema(minimum = 0, maximum = 1)]
    false_starts: u32,
    /// At most the event's switches.
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    false_switches: u32,
}

/// `POST /api/entries/{id}/deductions {falseStarts, falseSwitches}` -> the entry.
#[utoipa::path(
    post,
    path = "/api/entries/{id}/deductions",
    tag = "speed",
    operation_id = "setDeductions",
    summary = "Set an entry's deductions (admin)",
    description = "falseSwitches may not exceed the event's switches (409).",
    params(("id" = u32, Path, description = "The entry id.", minimum = 1, maximum = 4294967295_u32)),
    request_body(content = DeductionsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The entry.", body = EntryResult),
        (status = 403, description = "Not the admin: speed events are managed by the admin only.", body = ApiError),
        (status = 404, description = "No such entry.", body = ApiError),
        (status = 409, description = "The heat is stopped (unlock it first), or more false switches than the event has switches.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn set_deductions(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    PathParam(id): PathParam,
    Body(bytes): Body,
) -> Result<Json<EntryResult>, ApiError> {
    admin(who)?;
    let id = i64::from(path_number("entry id", &id)?);
    let body: DeductionsBody = parse(&bytes, "{falseStarts, falseSwitches}")?;
    let heat = app
        .store
        .perform(SetDeductions {
            entry: id,
            false_starts: body.false_starts,
            false_switches: body.false_switches,
        })
        .await?;
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
#[utoipa::path(
    post,
    path = "/api/heats/{heat}/start",
    tag = "speed",
    operation_id = "startHeat",
    summary = "Start a heat (admin)",
    description = "The heat runs from now.",
    params(("heat" = u32, Path, description = "The heat number.", minimum = 1, maximum = 4294967295_u32)),
    responses(
        (status = 200, description = "The heat.", body = HeatRecord),
        (status = 403, description = "Not the admin: speed events are managed by the admin only.", body = ApiError),
        (status = 404, description = "No such heat.", body = ApiError),
        (status = 409, description = "The heat or another one is running, or the heat is stopped (unlock it first).", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn start_heat(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    PathParam(heat): PathParam,
) -> Result<Json<HeatRecord>, ApiError> {
    admin(who)?;
    let heat = path_number("heat", &heat)?;
    app.store.perform(StartHeat::new(heat)).await?;
    heat_record(&app, heat).await
}

/// `POST /api/heats/{heat}/stop`: the heat ends now; its results are locked.
#[utoipa::path(
    post,
    path = "/api/heats/{heat}/stop",
    tag = "speed",
    operation_id = "stopHeat",
    summary = "Stop a heat (admin)",
    description = "Its results are locked.",
    params(("heat" = u32, Path, description = "The heat number.", minimum = 1, maximum = 4294967295_u32)),
    responses(
        (status = 200, description = "The heat.", body = HeatRecord),
        (status = 403, description = "Not the admin: speed events are managed by the admin only.", body = ApiError),
        (status = 404, description = "No such heat.", body = ApiError),
        (status = 409, description = "The heat is not running (nor unlocked).", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn stop_heat(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    PathParam(heat): PathParam,
) -> Result<Json<HeatRecord>, ApiError> {
    admin(who)?;
    let heat = path_number("heat", &heat)?;
    app.store.perform(StopHeat::new(heat)).await?;
    heat_record(&app, heat).await
}

/// `POST /api/heats/{heat}/unlock`: a stopped heat's results may change again.
#[utoipa::path(
    post,
    path = "/api/heats/{heat}/unlock",
    tag = "speed",
    operation_id = "unlockHeat",
    summary = "Unlock a stopped heat (admin)",
    description = "Its results may change again, and it may run again.",
    params(("heat" = u32, Path, description = "The heat number.", minimum = 1, maximum = 4294967295_u32)),
    responses(
        (status = 200, description = "The heat.", body = HeatRecord),
        (status = 403, description = "Not the admin: speed events are managed by the admin only.", body = ApiError),
        (status = 404, description = "No such heat.", body = ApiError),
        (status = 409, description = "The heat is not stopped.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn unlock_heat(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    PathParam(heat): PathParam,
) -> Result<Json<HeatRecord>, ApiError> {
    admin(who)?;
    let heat = path_number("heat", &heat)?;
    app.store.perform(UnlockHeat { heat }).await?;
    heat_record(&app, heat).await
}

/// `GET /api/speed/heats`: every heat and its state.
#[utoipa::path(
    get,
    path = "/api/speed/heats",
    tag = "speed",
    operation_id = "speedHeats",
    summary = "Every heat and its state",
    description = "Public, like the hall screen that shows them.",
    responses(
        (status = 200, description = "The heats, in number order.", body = Vec<HeatRecord>),
        (status = 503, description = "Storage failed or the server is shutting down.", body = ApiError),
    ),
)]
pub async fn heats(State(app): State<Arc<Api>>) -> Result<Json<Vec<HeatRecord>>, ApiError> {
    Ok(Json(app.store.speed_heats().await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// Only this event's entries.
    event: Option<String>,
    /// `json` (the default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResultsBody {
    entries: Vec<EntryResult>,
}

/// `GET /api/speed/results?event=...[&format=csv]`: every entry of the
/// event (of every event without `event`), ranked within its event.
#[utoipa::path(
    get,
    path = "/api/speed/results",
    tag = "speed",
    operation_id = "speedResults",
    summary = "Speed results",
    description = "Public. Every entry of the event (of every event without `event`), ranked within its event; as JSON or, with format=csv, as CSV.",
    params(ResultsQuery),
    responses(
        (status = 200, description = "The results.", content((ResultsBody = "application/json"), (String = "text/csv"))),
        (status = 503, description = "Storage failed or the server is shutting down.", body = ApiError),
    ),
)]
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// `current` (the default) or a heat number from 1.
    #[param(pattern = r"^(current|\+?0*[1-9][0-9]{0,8})$")]
    heat: Option<String>,
}

/// `GET /api/speed/live?heat=current|N`: event `heat` with the whole heat
/// view at once, then again whenever it changes.
#[utoipa::path(
    get,
    path = "/api/speed/live",
    tag = "speed",
    operation_id = "speedLive",
    summary = "The live heat (Server-Sent Events)",
    description = "Public. Event `heat` with the whole heat view (HeatView as JSON) at once, then again whenever it changes; heat=current follows the current heat. A comment line every 15 s.",
    params(LiveQuery),
    responses(
        (status = 200, description = "The event stream; it ends when the server stops.", body = HeatEvent, content_type = "text/event-stream"),
        (status = 404, description = "No such heat.", body = ApiError),
        (status = 503, description = "Storage failed or the server is shutting down.", body = ApiError),
    ),
)]
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
    })
    // The body is polled once more after the stream ended when the server
    // stops (seen in tests/api.rs); fused, the stream keeps answering
    // "ended" rather than panicking, which broke the connection off
    // mid-body instead of ending the response.
    .fuse();
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    let no_buffering = (
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(([no_buffering], sse).into_response())
}
