//! The route handlers. Each one's `#[utoipa::path]` is its OpenAPI entry.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, Method, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{TimeDelta, Timelike};
use futures_util::stream::{self, Stream, StreamExt};
use gantry_core::geo::haversine_km;
use gantry_core::iot::Point;
use gantry_core::time::format_pass_time;
use gantry_core::{CheckpointDirectory, DetectorConfig, Pass, Rule};
use gantry_store::{PassCursor, PassQuery, Store, WarningQuery};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use utoipa::OpenApi;

use super::error::{ApiError, ErrorBody};
use super::iot::PointOut;
use super::model::{
    CheckpointOut, Health, HourValue, NameValue, PassPage, PassRow, ShardHealth, Summary, Tick,
    Trail, TrailLeg, TrailPoint, WarningOut, WarningPage,
};
use super::params::{
    ApiJson, ApiQuery, FlowParams, LimitParams, PassFilter, TrailParams, WarningParams,
};
use super::state::AppState;
use super::windows::WindowEvent;
use super::{metrics, ApiDoc};
use crate::clock::china_now_seconds;

/// Passes per chunk of an export.
const EXPORT_CHUNK: u64 = 5_000;

/// The columns of an export: the fields of [`PassRow`], in order.
const EXPORT_COLUMNS: [&str; 10] = [
    "gcxh",
    "xzqhmc",
    "kkmc",
    "fxlx",
    "gcsj",
    "hpzl",
    "hphm",
    "clppxh",
    "province",
    "vehicle_type_name",
];

/// The most sightings a trail shows (the latest ones).
pub const TRAIL_MAX: u64 = 10_000;

/// Liveness, and the passes on each shard.
#[utoipa::path(get, path = "/api/health", tag = "meta",
    responses((status = 200, body = Health), (status = 500, body = ErrorBody)))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let mode = state.mode().as_str().to_owned();
    state
        .read(move |store| {
            let counts = store.shard_counts()?;
            Ok(Health {
                status: "ok".into(),
                total_records: counts.iter().sum(),
                shards: counts
                    .into_iter()
                    .enumerate()
                    .map(|(index, passes)| ShardHealth { index, passes })
                    .collect(),
                mode,
                version: env!("CARGO_PKG_VERSION").into(),
            })
        })
        .await
        .map(Json)
}

/// Pass records matching the filters, newest first, one page.
#[utoipa::path(get, path = "/api/query", tag = "passes", params(PassFilter),
    responses((status = 200, body = PassPage), (status = 400, body = ErrorBody)))]
pub async fn query_get(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<PassFilter>,
) -> Result<Json<PassPage>, ApiError> {
    query_passes(state, filter).await
}

/// The same as `GET /api/query`, with the filters in a JSON body.
#[utoipa::path(post, path = "/api/query", tag = "passes", request_body = PassFilter,
    responses((status = 200, body = PassPage), (status = 400, body = ErrorBody)))]
pub async fn query_post(
    State(state): State<AppState>,
    ApiJson(filter): ApiJson<PassFilter>,
) -> Result<Json<PassPage>, ApiError> {
    query_passes(state, filter).await
}

/// Every pass matching the filters as CSV, newest first: a header row of
/// the `/api/query` row fields, then one row per pass. UTF-8 with a BOM, so
/// Excel opens it as UTF-8. Streamed in chunks, each read with a cursor, so
/// neither side holds the whole result.
#[utoipa::path(get, path = "/api/export", tag = "passes", params(PassFilter),
    responses((status = 200, description = "CSV with a header row (page and size are refused)",
        content_type = "text/csv", body = String), (status = 400, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<PassFilter>,
) -> Result<Response, ApiError> {
    let query = filter.into_export_query()?;
    let head = stream::once(async { Ok::<_, std::io::Error>(csv_head()) });
    // State: None when done, else the cursor to go on from.
    let rows = stream::try_unfold(Some(None), move |cursor: Option<Option<PassCursor>>| {
        let (state, query) = (state.clone(), query.clone());
        async move {
            let Some(after) = cursor else {
                return Ok(None);
            };
            let passes = state
                .read(move |store| Ok(store.pass_chunk(&query, after.as_ref(), EXPORT_CHUNK)?))
                .await
                .map_err(|e| std::io::Error::other(e.body.error))?;
            if passes.is_empty() {
                return Ok(None);
            }
            let next =
                (passes.len() as u64 == EXPORT_CHUNK).then(|| passes.last().map(PassCursor::from));
            Ok(Some((csv_rows(&passes)?, next)))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"passes.csv\"",
            ),
        ],
        Body::from_stream(head.chain(rows)),
    )
        .into_response())
}

/// The BOM and the header row of an export.
fn csv_head() -> Bytes {
    let mut out = String::from("\u{feff}");
    out.push_str(&EXPORT_COLUMNS.join(","));
    out.push_str("\r\n");
    Bytes::from(out)
}

fn csv_rows(passes: &[Pass]) -> std::io::Result<Bytes> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(passes.len() * 128));
    for pass in passes {
        writer.serialize(PassRow::from(pass))?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

async fn query_passes(state: AppState, filter: PassFilter) -> Result<Json<PassPage>, ApiError> {
    let query = filter.into_query()?;
    state
        .read(move |store| {
            let page = store.query_passes(&query)?;
            Ok(PassPage {
                total: page.total,
                page: page.page,
                size: page.size,
                rows: page.items.iter().map(PassRow::from).collect(),
            })
        })
        .await
        .map(Json)
}

/// Totals for the dashboard's header. "Today" and "last minute" are
/// relative to the newest stored pass time (`as_of`); all of it comes from
/// rollups and indexes, never from counting rows.
#[utoipa::path(get, path = "/api/stats/summary", tag = "stats",
    responses((status = 200, body = Summary)))]
pub async fn summary(State(state): State<AppState>) -> Result<Json<Summary>, ApiError> {
    state
        .read(|store| {
            let newest = newest_pass_time(store)?;
            let as_of = newest.unwrap_or_else(china_now_seconds);
            let last_minute = match newest {
                Some(t) => {
                    let minute = t - TimeDelta::seconds(i64::from(t.second()));
                    store
                        .passes_per_minute(minute - TimeDelta::minutes(1)..minute)?
                        .iter()
                        .map(|&(_, n)| n)
                        .sum()
                }
                None => 0,
            };
            Ok(Summary {
                total_records: store.count_passes()?,
                records_today: store.flow_by_hour(as_of.date(), None)?.iter().sum(),
                checkpoints: store.top_checkpoints(usize::MAX)?.len() as u64,
                warnings_total: store
                    .warnings(&WarningQuery {
                        size: 0,
                        ..WarningQuery::default()
                    })?
                    .total,
                last_minute,
                as_of: format_pass_time(as_of),
            })
        })
        .await
        .map(Json)
}

/// Every known checkpoint with its coordinates, by name.
#[utoipa::path(get, path = "/api/checkpoints", tag = "stats",
    responses((status = 200, body = [CheckpointOut])))]
pub async fn checkpoints(
    State(state): State<AppState>,
) -> Result<Json<Vec<CheckpointOut>>, ApiError> {
    state
        .read(|store| {
            let directory = store.checkpoints()?;
            let mut list: Vec<CheckpointOut> = directory.iter().map(CheckpointOut::from).collect();
            list.sort_by(|a, b| a.kkmc.cmp(&b.kkmc));
            Ok(list)
        })
        .await
        .map(Json)
}

/// The busiest checkpoints: passes per KKMC, descending.
#[utoipa::path(get, path = "/api/stats/kkmc_count", tag = "stats", params(LimitParams),
    responses((status = 200, body = [NameValue]), (status = 400, body = ErrorBody)))]
pub async fn kkmc_count(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<LimitParams>,
) -> Result<Json<Vec<NameValue>>, ApiError> {
    let limit = usize::try_from(params.limit()?).unwrap_or(usize::MAX);
    state
        .read(move |store| Ok(name_values(store.top_checkpoints(limit)?)))
        .await
        .map(Json)
}

/// Passes per hour of one day (24 entries), at one checkpoint or all.
#[utoipa::path(get, path = "/api/stats/flow_24h", tag = "stats", params(FlowParams),
    responses((status = 200, body = [HourValue]), (status = 400, body = ErrorBody)))]
pub async fn flow_24h(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<FlowParams>,
) -> Result<Json<Vec<HourValue>>, ApiError> {
    let date = params.date()?;
    let checkpoint = params.checkpoint();
    state
        .read(move |store| {
            let date = match date {
                Some(d) => d,
                None => newest_pass_time(store)?
                    .unwrap_or_else(china_now_seconds)
                    .date(),
            };
            let hours = store.flow_by_hour(date, checkpoint.as_deref())?;
            Ok((0u8..)
                .zip(hours)
                .map(|(hour, value)| HourValue { hour, value })
                .collect())
        })
        .await
        .map(Json)
}

/// Passes per province of the plate, for a map.
#[utoipa::path(get, path = "/api/stats/map_data", tag = "stats",
    responses((status = 200, body = [NameValue])))]
pub async fn map_data(State(state): State<AppState>) -> Result<Json<Vec<NameValue>>, ApiError> {
    state
        .read(|store| Ok(name_values(store.provinces()?)))
        .await
        .map(Json)
}

/// Passes per vehicle type.
#[utoipa::path(get, path = "/api/stats/vehicle_type", tag = "stats",
    responses((status = 200, body = [NameValue])))]
pub async fn vehicle_type(State(state): State<AppState>) -> Result<Json<Vec<NameValue>>, ApiError> {
    state
        .read(|store| Ok(name_values(store.vehicle_types()?)))
        .await
        .map(Json)
}

/// The newest warnings, newest first: from the Redis list the workers push
/// to when one is configured (header `x-gantry-source: redis`), else (or
/// while Redis is down) from the store, by later sighting.
#[utoipa::path(get, path = "/api/warnings/realtime", tag = "warnings", params(LimitParams),
    responses((status = 200, body = [WarningOut]), (status = 400, body = ErrorBody)))]
pub async fn warnings_realtime(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<LimitParams>,
) -> Result<Response, ApiError> {
    let size = params.limit()?;
    let limit = usize::try_from(size).unwrap_or(usize::MAX);
    if let Some(warnings) = state.redis_warnings(limit).await {
        let out: Vec<WarningOut> = warnings.iter().map(WarningOut::from).collect();
        return Ok(([(SOURCE_HEADER, "redis")], Json(out)).into_response());
    }
    let out: Vec<WarningOut> = state
        .read(move |store| {
            let page = store.warnings(&WarningQuery {
                size,
                ..WarningQuery::default()
            })?;
            Ok(page.items.iter().map(WarningOut::from).collect())
        })
        .await?;
    Ok(([(SOURCE_HEADER, "store")], Json(out)).into_response())
}

/// Which store answered `GET /api/warnings/realtime`.
const SOURCE_HEADER: &str = "x-gantry-source";

/// Stored warnings, one page, newest first; optionally of one plate.
#[utoipa::path(get, path = "/api/warnings", tag = "warnings", params(WarningParams),
    responses((status = 200, body = WarningPage), (status = 400, body = ErrorBody)))]
pub async fn warnings(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<WarningParams>,
) -> Result<Json<WarningPage>, ApiError> {
    let query = params.into_query()?;
    state
        .read(move |store| {
            let page = store.warnings(&query)?;
            Ok(WarningPage {
                total: page.total,
                page: page.page,
                size: page.size,
                rows: page.items.iter().map(WarningOut::from).collect(),
            })
        })
        .await
        .map(Json)
}

/// One plate's sightings in time order, with checkpoint coordinates and
/// each leg's distance, interval and implied speed; legs no vehicle can
/// make are flagged `impossible`.
#[utoipa::path(get, path = "/api/trail", tag = "warnings", params(TrailParams),
    responses((status = 200, body = Trail), (status = 400, body = ErrorBody)))]
pub async fn trail(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<TrailParams>,
) -> Result<Json<Trail>, ApiError> {
    let (plate, start, end) = params.check()?;
    let config = state.detector().clone();
    state
        .read(move |store| {
            let page = store.query_passes(&PassQuery {
                plate: Some(plate.clone()),
                start,
                end,
                size: TRAIL_MAX,
                ..PassQuery::default()
            })?;
            let mut passes = page.items;
            passes.reverse();
            let checkpoints = store.checkpoints()?;
            Ok(build_trail(
                plate,
                page.total,
                &passes,
                &checkpoints,
                &config,
            ))
        })
        .await
        .map(Json)
}

fn build_trail(
    plate: String,
    total: u64,
    passes: &[Pass],
    checkpoints: &CheckpointDirectory,
    config: &DetectorConfig,
) -> Trail {
    let location = |name: &str| {
        checkpoints
            .id_of(name)
            .and_then(|id| checkpoints.location(id))
    };
    let sightings: Vec<TrailPoint> = passes
        .iter()
        .map(|p| {
            let at = location(&p.checkpoint);
            TrailPoint {
                gcxh: p.id.clone(),
                kkmc: p.checkpoint.clone(),
                gcsj: format_pass_time(p.time),
                hpzl: p.plate_type.clone(),
                fxlx: p.direction.clone(),
                lon: at.map(|g| g.lon),
                lat: at.map(|g| g.lat),
            }
        })
        .collect();
    let legs = passes
        .windows(2)
        .enumerate()
        .map(|(i, pair)| {
            let (a, b) = (&pair[0], &pair[1]);
            let interval_s = (b.time - a.time).num_seconds();
            let distance_km = location(&a.checkpoint)
                .zip(location(&b.checkpoint))
                .map(|(x, y)| haversine_km(x, y));
            let speed_kmh = distance_km
                .filter(|_| interval_s > 0)
                .map(|d| d * 3600.0 / interval_s as f64);
            let rule = leg_rule(
                config,
                a.checkpoint == b.checkpoint,
                distance_km,
                speed_kmh,
                interval_s,
            );
            TrailLeg {
                from: i,
                to: i + 1,
                from_kkmc: a.checkpoint.clone(),
                to_kkmc: b.checkpoint.clone(),
                distance_km: distance_km.map(round3),
                interval_s,
                speed_kmh: speed_kmh.map(round3),
                impossible: matches!(rule, Some(Rule::Speed | Rule::Simultaneous)),
                rule: rule.map(|r| r.as_str().to_owned()),
            }
        })
        .collect();
    Trail {
        hphm: plate,
        total,
        truncated: total > TRAIL_MAX,
        speed_limit_kmh: config.speed_limit_kmh,
        sightings,
        legs,
    }
}

/// The detector's rule, applied to one leg.
fn leg_rule(
    config: &DetectorConfig,
    same_checkpoint: bool,
    distance_km: Option<f64>,
    speed_kmh: Option<f64>,
    interval_s: i64,
) -> Option<Rule> {
    if same_checkpoint {
        return None;
    }
    let Some(distance) = distance_km else {
        return (interval_s <= config.window_s).then_some(Rule::Window);
    };
    if distance < config.min_distance_km {
        None
    } else if interval_s == 0 {
        Some(Rule::Simultaneous)
    } else {
        speed_kmh
            .filter(|s| *s > config.speed_limit_kmh)
            .map(|_| Rule::Speed)
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Server-Sent Events: `warning` (a warning's JSON) for each new warning,
/// `tick` (counts) once a second, `points` (the points of each stored
/// IoT payload) and `window` (each live IoT window as it closes).
#[utoipa::path(get, path = "/api/stream", tag = "warnings",
    responses((status = 200,
        description = "`event: warning` with a Warning, `event: tick` with a Tick, `event: points` with [PointOut], `event: window` with a WindowEvent",
        content_type = "text/event-stream", body = String)))]
pub async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (warnings, mut ticks) = state.feed().subscribe();
    // The latest tick goes out at once.
    ticks.mark_changed();
    let listener = Listener {
        warnings,
        ticks,
        points: state.series().subscribe(),
        windows: state.windows().subscribe(),
        shutdown: state.shutdown(),
    };
    let events = stream::unfold(listener, |mut listener| async move {
        let event = listener.next().await?;
        Some((Ok(event), listener))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// What one stream client listens to.
struct Listener {
    warnings: broadcast::Receiver<Arc<WarningOut>>,
    ticks: watch::Receiver<Option<Arc<Tick>>>,
    points: broadcast::Receiver<Arc<[Point]>>,
    windows: broadcast::Receiver<Arc<WindowEvent>>,
    shutdown: watch::Receiver<bool>,
}

impl Listener {
    /// The next event; `None` ends the stream (the server shuts down). A
    /// client that fell behind skips what it missed.
    async fn next(&mut self) -> Option<Event> {
        loop {
            let event = tokio::select! {
                _ = self.shutdown.wait_for(|stop| *stop) => return None,
                received = self.warnings.recv() => match received {
                    Ok(w) => Event::default().event("warning").id(w.id.clone()).json_data(&*w),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                },
                received = self.points.recv() => match received {
                    Ok(points) => {
                        let out: Vec<PointOut> = points.iter().map(PointOut::from).collect();
                        Event::default().event("points").json_data(out)
                    }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                },
                received = self.windows.recv() => match received {
                    Ok(w) => Event::default().event("window").json_data(&*w),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                },
                changed = self.ticks.changed() => {
                    changed.ok()?;
                    let tick = self.ticks.borrow_and_update().clone();
                    match tick {
                        Some(t) => Event::default().event("tick").json_data(&*t),
                        None => continue,
                    }
                }
            };
            if let Ok(event) = event {
                return Some(event);
            }
        }
    }
}

/// Prometheus metrics (text format).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn prometheus() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(),
    )
}

/// This API's OpenAPI 3 description.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json", body = Object)))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// JSON 405 for a known path with another method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take {method}", uri.path()),
        None,
    )
}

fn name_values(counts: Vec<(String, u64)>) -> Vec<NameValue> {
    counts
        .into_iter()
        .map(|(name, value)| NameValue { name, value })
        .collect()
}

pub(super) fn newest_pass_time(
    store: &dyn Store,
) -> Result<Option<chrono::NaiveDateTime>, ApiError> {
    let page = store.query_passes(&PassQuery {
        size: 1,
        ..PassQuery::default()
    })?;
    Ok(page.items.first().map(|p| p.time))
}
