//! Streaming window aggregates of the IoT series (`GET /api/iot/windows`,
//! the stream's `window` events).
//!
//! Two window kinds are kept live, folded point by point as payloads are
//! stored ([`follow`]): 1-minute tumbling and 5-minute sliding every minute
//! ([`LIVE`]). On start they are seeded from the store's recent points, so
//! a restarted server shows the windows it showed before. Other sizes are
//! worked out on request from the stored points, by the same code.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gantry_core::iot::window::{Closed, Window, WindowLimits, WindowSpec, Windows};
use gantry_core::iot::Point;
use gantry_store::series::{RangeQuery, SeriesStore};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::iot::{parse_duration_ms, with_series};
use super::params::{whole, ApiQuery};
use super::state::AppState;
use crate::sinks::series::{now_ms, SharedSeries};

/// The window kinds kept live: `(size, slide)` in ms.
pub const LIVE: [(i64, i64); 2] = [(60_000, 60_000), (300_000, 60_000)];

/// Lateness, closed windows kept and idle time, live and on request.
const LIMITS: WindowLimits = WindowLimits {
    lateness_ms: 5_000,
    keep_closed: MAX_WINDOWS,
    idle_ms: 3_600_000,
};

/// Most closed windows a request gets (and the live ones keep per series).
const MAX_WINDOWS: usize = 120;

/// Closed windows a request gets by default: for one series, and per
/// series when all are asked for.
const DEFAULT_ONE: u64 = 60;
const DEFAULT_ALL: u64 = 1;

/// Closed windows that may wait for a slow stream client.
const EVENT_BUFFER: usize = 1024;

/// The live windows and who listens for the ones that close.
pub struct LiveWindows {
    /// One per [`LIVE`] kind, in that order.
    windows: Mutex<Vec<Windows>>,
    closed: broadcast::Sender<Arc<WindowEvent>>,
}

impl LiveWindows {
    /// Empty live windows of every [`LIVE`] kind.
    fn new() -> LiveWindows {
        let windows = LIVE
            .iter()
            .filter_map(|(size, slide)| WindowSpec::sliding(*size, *slide).ok())
            .map(|spec| Windows::new(spec, LIMITS))
            .collect();
        LiveWindows {
            windows: Mutex::new(windows),
            closed: broadcast::channel(EVENT_BUFFER).0,
        }
    }

    /// Live windows seeded from the store's recent points, and the
    /// subscription to the points stored from now on (taken before the
    /// store is read, so nothing falls between; what both hold counts once).
    pub fn start(series: &SharedSeries) -> (LiveWindows, broadcast::Receiver<Arc<[Point]>>) {
        let points = series.subscribe();
        let live = LiveWindows::new();
        if let Err(e) = live.seed(series) {
            eprintln!("gantry: the live IoT windows start empty: {}", e.body.error);
        }
        (live, points)
    }

    /// Folds in each series' points of the span the live windows show;
    /// series idle for longer than the live windows keep one are skipped.
    fn seed(&self, series: &SharedSeries) -> Result<(), ApiError> {
        let span = LIVE
            .iter()
            .map(|(size, slide)| size + slide * MAX_WINDOWS as i64 + LIMITS.lateness_ms)
            .max()
            .unwrap_or(0);
        let listed = series.lock().series()?;
        let now = now_ms();
        for info in listed {
            let Some((last_ts, _)) = info.last.filter(|(ts, _)| now - ts < LIMITS.idle_ms) else {
                continue;
            };
            let read = recent_points(&series.lock(), &info.name, last_ts, span);
            match read {
                Ok(points) => self.fold(&info.name, &points, now),
                Err(e) => eprintln!(
                    "gantry: live windows of {:?} start empty: {}",
                    info.name, e.body.error
                ),
            }
        }
        Ok(())
    }

    /// Folds one series' points (no events: nobody listens yet).
    fn fold(&self, id: &str, points: &[(i64, f64)], now: i64) {
        let mut windows = self.lock();
        let mut closed = Vec::new();
        for w in windows.iter_mut() {
            for (ts, value) in points {
                w.push_at(id, *ts, *value, now, &mut closed);
            }
        }
    }

    /// Folds in one stored payload's points and tells listeners of the
    /// windows that closed.
    fn push(&self, points: &[Point], now: i64) {
        let mut events = Vec::new();
        {
            let mut windows = self.lock();
            let mut closed = Vec::new();
            for w in windows.iter_mut() {
                for p in points {
                    w.push_at(&p.series, p.time_ms, p.value, now, &mut closed);
                }
                w.evict_idle(now, &mut closed);
                let spec = w.spec();
                events.extend(closed.drain(..).map(|c| WindowEvent::new(spec, c)));
            }
        }
        if self.closed.receiver_count() > 0 {
            for event in events {
                let _ = self.closed.send(Arc::new(event));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Windows>> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Windows closed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WindowEvent>> {
        self.closed.subscribe()
    }

    /// The live windows of `spec` (none when it is not a [`LIVE`] kind): of
    /// one series (empty when it has none), or of every series, by id.
    fn view(&self, spec: WindowSpec, id: Option<&str>, limit: usize) -> Vec<SeriesOut> {
        let windows = self.lock();
        let Some(w) = windows.iter().find(|w| w.spec() == spec) else {
            return Vec::new();
        };
        let mut ids: Vec<&str> = match id {
            Some(id) => vec![id],
            None => w.series_ids().collect(),
        };
        ids.sort_unstable();
        ids.into_iter().map(|id| series_out(w, id, limit)).collect()
    }
}

/// One series' windows as answered.
fn series_out(w: &Windows, id: &str, limit: usize) -> SeriesOut {
    let view = w.view(id, limit);
    SeriesOut {
        id: id.to_owned(),
        watermark: view
            .as_ref()
            .map(|v| v.watermark_ms)
            .filter(|m| *m > i64::MIN),
        closed: view
            .as_ref()
            .map(|v| v.closed.iter().map(WindowOut::from).collect())
            .unwrap_or_default(),
        open: view
            .map(|v| v.open.iter().map(WindowOut::from).collect())
            .unwrap_or_default(),
    }
}

/// Raw points of `id` over the `span_ms` up to its newest point `last_ts`.
fn recent_points(
    store: &SeriesStore,
    id: &str,
    last_ts: i64,
    span_ms: i64,
) -> Result<Vec<(i64, f64)>, ApiError> {
    store
        .range(&RangeQuery {
            series: id.to_owned(),
            start_ms: last_ts.saturating_sub(span_ms),
            end_ms: last_ts.saturating_add(1),
            step_ms: None,
            agg: Default::default(),
        })
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("cannot read the recent points of {id:?} for its windows ({e}): ask for fewer or shorter windows"),
                None,
            )
        })
}

/// Feeds the live windows the points of every stored payload, until the
/// server shuts down. A stream that fell behind skips payloads: those
/// points are missing from the live windows (not from the store).
pub async fn follow(state: AppState, mut points: broadcast::Receiver<Arc<[Point]>>) {
    let mut shutdown = state.shutdown();
    loop {
        let batch = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            received = points.recv() => match received {
                Ok(batch) => batch,
                Err(RecvError::Lagged(missed)) => {
                    eprintln!("gantry: the live IoT windows missed {missed} payloads (too many at once)");
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
        };
        state.windows().push(&batch, now_ms());
    }
}

/// A window as answered and as the stream sends it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WindowOut {
    /// Epoch ms, inclusive.
    pub start: i64,
    /// Epoch ms, exclusive.
    pub end: i64,
    pub count: u64,
    pub sum: f64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    /// The newest point's value, and its time.
    pub last: f64,
    pub last_ts: i64,
}

impl From<&Window> for WindowOut {
    fn from(w: &Window) -> Self {
        WindowOut {
            start: w.start_ms,
            end: w.end_ms,
            count: w.count,
            sum: w.sum,
            avg: w.avg(),
            min: w.min,
            max: w.max,
            last: w.last,
            last_ts: w.last_ms,
        }
    }
}

/// `event: window`: a live window that closed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WindowEvent {
    pub series: String,
    /// `tumbling` or `sliding`.
    pub kind: String,
    pub size_ms: i64,
    pub slide_ms: i64,
    #[serde(flatten)]
    pub window: WindowOut,
}

impl WindowEvent {
    fn new(spec: WindowSpec, closed: Closed) -> WindowEvent {
        WindowEvent {
            series: closed.series,
            kind: kind_name(spec).to_owned(),
            size_ms: spec.size_ms(),
            slide_ms: spec.slide_ms(),
            window: WindowOut::from(&closed.window),
        }
    }
}

fn kind_name(spec: WindowSpec) -> &'static str {
    if spec.is_tumbling() {
        "tumbling"
    } else {
        "sliding"
    }
}

/// Which windows, of which series.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// A series id (default: every series with live windows; then the
    /// kind must be a live one).
    #[serde(default)]
    pub series: Option<String>,
    /// `tumbling` (default) or `sliding`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Window length, e.g. `1m` (default: 1m tumbling, 5m sliding).
    #[serde(default)]
    pub size: Option<String>,
    /// How often a sliding window starts (default 1m; it must divide the
    /// size). A tumbling window's slide is its size.
    #[serde(default)]
    pub slide: Option<String>,
    /// Closed windows per series, newest last, 1–120 (default 60 for one
    /// series, 1 for all).
    #[serde(default, deserialize_with = "whole")]
    #[param(minimum = 1, maximum = 120)]
    pub limit: Option<u64>,
}

/// One series' windows.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesOut {
    pub id: String,
    /// Windows ending by this (newest point time − lateness) are closed;
    /// null when the series has no live windows.
    pub watermark: Option<i64>,
    /// The newest closed windows, oldest first.
    pub closed: Vec<WindowOut>,
    /// The windows still open, oldest first (the newest is the current one).
    pub open: Vec<WindowOut>,
}

/// The answer of `GET /api/iot/windows`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowsOut {
    /// `tumbling` or `sliding`.
    pub kind: String,
    pub size_ms: i64,
    pub slide_ms: i64,
    /// A point this much newer than a window's end closes it.
    pub lateness_ms: i64,
    /// True for the kinds kept live; else worked out from the stored points.
    pub live: bool,
    pub series: Vec<SeriesOut>,
}

/// Count, sum, mean, min, max and newest value per window of event time:
/// tumbling or sliding, closed ones (each final once the lateness passed)
/// and the open ones. 1-minute tumbling and 5-minute sliding every minute
/// are kept live; other sizes are worked out from the stored points of one
/// series.
#[utoipa::path(get, path = "/api/iot/windows", tag = "iot", params(WindowParams),
    responses((status = 200, body = WindowsOut), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn windows(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<WindowParams>,
) -> Result<Json<WindowsOut>, ApiError> {
    let spec = spec_of(&params)?;
    let id = params
        .series
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let default = if id.is_some() {
        DEFAULT_ONE
    } else {
        DEFAULT_ALL
    };
    let limit = match params.limit {
        None => default,
        Some(n) if (1..=MAX_WINDOWS as u64).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::bad(
                "limit",
                format!("limit must be between 1 and {MAX_WINDOWS}, not {n}"),
            ))
        }
    } as usize;
    let live = LIVE.contains(&(spec.size_ms(), spec.slide_ms()));
    let series = match id {
        Some(id) if live => {
            check_known(&state, &id).await?;
            state.windows().view(spec, Some(&id), limit)
        }
        None if live => state.windows().view(spec, None, limit),
        Some(id) => vec![on_request(&state, spec, id, limit).await?],
        None => {
            return Err(ApiError::bad(
                "series",
                "series is required for windows other than the live ones (1m tumbling, 5m sliding every 1m)",
            ))
        }
    };
    Ok(Json(WindowsOut {
        kind: kind_name(spec).to_owned(),
        size_ms: spec.size_ms(),
        slide_ms: spec.slide_ms(),
        lateness_ms: LIMITS.lateness_ms,
        live,
        series,
    }))
}

/// The window spec the parameters ask for.
fn spec_of(params: &WindowParams) -> Result<WindowSpec, ApiError> {
    let duration = |name: &str, value: &Option<String>, default: i64| match value.as_deref() {
        None | Some("") => Ok(default),
        Some(text) => parse_duration_ms(name, text),
    };
    let (size, slide) = match params.kind.as_deref() {
        None | Some("") | Some("tumbling") => {
            let size = duration("size", &params.size, 60_000)?;
            match params.slide.as_deref() {
                None | Some("") => (size, size),
                Some(s) if parse_duration_ms("slide", s)? == size => (size, size),
                Some(s) => {
                    return Err(ApiError::bad(
                        "slide",
                        format!(
                            "a tumbling window slides by its size; slide {s:?} needs kind=sliding"
                        ),
                    ))
                }
            }
        }
        Some("sliding") => (
            duration("size", &params.size, 300_000)?,
            duration("slide", &params.slide, 60_000)?,
        ),
        Some(other) => {
            return Err(ApiError::bad(
                "kind",
                format!("kind must be tumbling or sliding, not {other:?}"),
            ))
        }
    };
    WindowSpec::sliding(size, slide).map_err(|e| {
        let parameter = if matches!(e, gantry_core::iot::window::WindowSpecError::Size(_)) {
            "size"
        } else {
            "slide"
        };
        ApiError::bad(parameter, e.to_string())
    })
}

/// 404 unless the store knows the series.
async fn check_known(state: &AppState, id: &str) -> Result<(), ApiError> {
    let id = id.to_owned();
    with_series(state, move |series| {
        if series.lock().has_series(&id)? {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("no series {id:?}")))
        }
    })
    .await
}

/// The windows of a kind not kept live, worked out from the series' points
/// over the last `limit` windows up to its newest point.
async fn on_request(
    state: &AppState,
    spec: WindowSpec,
    id: String,
    limit: usize,
) -> Result<SeriesOut, ApiError> {
    let span = spec.size_ms() + spec.slide_ms() * limit as i64 + LIMITS.lateness_ms;
    let points = with_series(state, {
        let id = id.clone();
        move |series| {
            let store = series.lock();
            let Some((last_ts, _)) = store.latest_of(&id)? else {
                return Err(ApiError::not_found(format!("no series {id:?}")));
            };
            recent_points(&store, &id, last_ts, span)
        }
    })
    .await?;
    let mut windows = Windows::new(
        spec,
        WindowLimits {
            keep_closed: limit,
            ..LIMITS
        },
    );
    let mut closed = Vec::new();
    for (ts, value) in points {
        windows.push(&id, ts, value, &mut closed);
    }
    Ok(series_out(&windows, &id, limit))
}
