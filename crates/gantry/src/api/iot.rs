//! IoT routes: devices write points over HTTP (InfluxDB line protocol or
//! JSON), and readers list series, read a downsampled range and per-series
//! stats, from the embedded time-series store (`series.sqlite` under the
//! data dir).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::Json;
use chrono::DateTime;
use gantry_analytics::regression::fit_line;
use gantry_core::iot::{parse_line_protocol, parse_payload, Agg, PayloadError, Point, Precision};
use gantry_store::series::RangeQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::params::ApiQuery;
use super::state::AppState;
use crate::sinks::series::{now_ms, Ingested, SharedSeries};

/// Runs `f` on the series store, on the blocking thread pool.
pub(super) async fn with_series<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&SharedSeries) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let series = state.series().clone();
    tokio::task::spawn_blocking(move || f(&series))
        .await
        .map_err(|e| ApiError::internal(format!("an IoT store call failed: {e}")))?
}

/// `precision` of line protocol timestamps.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WriteParams {
    /// Unit of line protocol timestamps: ns (default), us, ms or s.
    #[serde(default)]
    pub precision: Option<String>,
}

/// What a write stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteOut {
    /// Points the body held.
    pub points: u64,
    /// Points stored for the first time.
    pub inserted: u64,
    /// Points already stored (same series and millisecond): skipped.
    pub duplicates: u64,
}

/// Writes points: InfluxDB line protocol, or JSON — a values list
/// `{"values":[{"id","values":[…]}]}` or a flat object of one device's
/// readings. A body no format fits is kept among the rejected payloads
/// and answered with 400 and the reason.
#[utoipa::path(post, path = "/api/iot/write", tag = "iot", params(WriteParams),
    request_body(content = String, content_type = "text/plain",
        description = "line protocol, or a JSON object"),
    responses((status = 200, body = WriteOut), (status = 400, body = ErrorBody)))]
pub async fn write(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<WriteParams>,
    body: Bytes,
) -> Result<Json<WriteOut>, ApiError> {
    let precision = match params.precision.as_deref() {
        None | Some("") => None,
        Some(p) => Some(Precision::from_query(p).ok_or_else(|| {
            ApiError::bad(
                "precision",
                format!("precision must be ns, us, ms or s, not {p:?}"),
            )
        })?),
    };
    let arrival = now_ms();
    let parsed = parse_body(&body, precision, arrival);
    let ingested = with_series(&state, move |series| {
        Ok(series.ingest(&body, "http", parsed, arrival)?)
    })
    .await?;
    match ingested {
        Ingested::Stored { points, written } => Ok(Json(WriteOut {
            points,
            inserted: written.inserted,
            duplicates: written.duplicates,
        })),
        Ingested::Rejected(e) => Err(ApiError::bad(
            "body",
            format!("payload refused ({}): {e}", e.reason()),
        )),
    }
}

/// JSON when it looks like JSON; else line protocol at `precision`.
fn parse_body(
    body: &[u8],
    precision: Option<Precision>,
    arrival_ms: i64,
) -> Result<Vec<Point>, PayloadError> {
    let looks_like_json = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'['));
    match precision {
        Some(precision) if !looks_like_json => {
            let text = std::str::from_utf8(body).map_err(|_| PayloadError::NotUtf8)?;
            parse_line_protocol(text, precision, arrival_ms)
        }
        _ => parse_payload(body, "http", arrival_ms),
    }
}

/// One series as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesOut {
    pub id: String,
    pub tags: BTreeMap<String, String>,
    pub points: u64,
    /// Epoch ms of the newest point.
    pub last_ts: Option<i64>,
    pub last_value: Option<f64>,
}

/// Every series with its tags and newest value.
#[utoipa::path(get, path = "/api/iot/series", tag = "iot",
    responses((status = 200, body = [SeriesOut])))]
pub async fn series(State(state): State<AppState>) -> Result<Json<Vec<SeriesOut>>, ApiError> {
    with_series(&state, |series| {
        Ok(series
            .lock()
            .series()?
            .into_iter()
            .map(|s| SeriesOut {
                id: s.name,
                tags: s.tags,
                points: s.points,
                last_ts: s.last.map(|l| l.0),
                last_value: s.last.map(|l| l.1),
            })
            .collect())
    })
    .await
    .map(Json)
}

/// One stored point, as the live stream's `points` event sends it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointOut {
    pub series: String,
    /// Epoch milliseconds, UTC.
    pub ts: i64,
    pub value: f64,
}

impl From<&Point> for PointOut {
    fn from(p: &Point) -> Self {
        PointOut {
            series: p.series.clone(),
            ts: p.time_ms,
            value: p.value,
        }
    }
}

/// The range of one series.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// Epoch ms or RFC 3339 (default: an hour before `end`).
    #[serde(default)]
    pub start: Option<String>,
    /// Epoch ms or RFC 3339, exclusive (default: now).
    #[serde(default)]
    pub end: Option<String>,
    /// One value per step, e.g. `10s`, `1m`, `1h` (default: every point).
    #[serde(default)]
    pub step: Option<String>,
    /// avg (default), min, max, sum, count or last.
    #[serde(default)]
    pub agg: Option<String>,
}

/// A series' points in a range.
#[derive(Debug, Serialize, ToSchema)]
pub struct RangeOut {
    pub id: String,
    pub start: i64,
    pub end: i64,
    pub step_ms: Option<i64>,
    pub agg: String,
    /// `[epoch ms, value]` pairs in time order; with a step, stamped with
    /// the step's start.
    pub points: Vec<(i64, f64)>,
}

/// Points of one series, optionally one value per step.
#[utoipa::path(get, path = "/api/iot/series/{id}", tag = "iot",
    params(("id" = String, Path, description = "series id, e.g. pi-01/temperature"), RangeParams),
    responses((status = 200, body = RangeOut), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn range(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    ApiQuery(params): ApiQuery<RangeParams>,
) -> Result<Json<RangeOut>, ApiError> {
    let end = match params.end.as_deref() {
        None | Some("") => now_ms(),
        Some(t) => parse_instant("end", t)?,
    };
    let start = match params.start.as_deref() {
        None | Some("") => end - 3_600_000,
        Some(t) => parse_instant("start", t)?,
    };
    let step_ms = match params.step.as_deref() {
        None | Some("") => None,
        Some(s) => Some(parse_duration_ms("step", s)?),
    };
    let agg = match params.agg.as_deref() {
        None | Some("") => Agg::default(),
        Some(a) => Agg::from_query(a).ok_or_else(|| {
            ApiError::bad(
                "agg",
                format!("agg must be avg, min, max, sum, count or last, not {a:?}"),
            )
        })?,
    };
    let query = RangeQuery {
        series: id.clone(),
        start_ms: start,
        end_ms: end,
        step_ms,
        agg,
    };
    let points = with_series(&state, move |series| {
        let store = series.lock();
        if !store.has_series(&query.series)? {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                format!("no series {:?}", query.series),
                Some("id".into()),
            ));
        }
        Ok(store.range(&query)?)
    })
    .await?;
    Ok(Json(RangeOut {
        id,
        start,
        end,
        step_ms,
        agg: agg.name().to_owned(),
        points,
    }))
}

/// The window of the stats.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// How far back from now, e.g. `15m`, `1h`, `1d` (default 1h).
    #[serde(default)]
    pub window: Option<String>,
}

/// One series' stats over the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsOut {
    pub id: String,
    pub count: u64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

/// Count, mean, min and max of every series over the last `window`.
#[utoipa::path(get, path = "/api/iot/stats", tag = "iot", params(StatsParams),
    responses((status = 200, body = [StatsOut]), (status = 400, body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<Json<Vec<StatsOut>>, ApiError> {
    let window = match params.window.as_deref() {
        None | Some("") => 3_600_000,
        Some(w) => parse_duration_ms("window", w)?,
    };
    let end = now_ms();
    with_series(&state, move |series| {
        Ok(series
            .lock()
            .stats(end - window, end + 1)?
            .into_iter()
            .map(|s| StatsOut {
                id: s.name,
                count: s.count,
                avg: s.avg,
                min: s.min,
                max: s.max,
            })
            .collect())
    })
    .await
    .map(Json)
}

/// The two series of a regression and how their readings are paired.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegressParams {
    /// The series explained, e.g. `dev-01/temperature`.
    #[serde(default)]
    pub y: Option<String>,
    /// The series explaining it, e.g. `dev-01/humidity`.
    #[serde(default)]
    pub x: Option<String>,
    /// How far back from now, e.g. `1h`, `1d` (default 1d).
    #[serde(default)]
    pub window: Option<String>,
    /// Readings are paired by their mean over each step (default 1m).
    #[serde(default)]
    pub step: Option<String>,
}

/// The newest pair and what the line makes of its x.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegressLatest {
    pub ts: i64,
    pub x: f64,
    pub y: f64,
    pub predicted: f64,
}

/// `y ≈ intercept + slope · x` over the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegressOut {
    pub y: String,
    pub x: String,
    pub start: i64,
    pub end: i64,
    pub step_ms: i64,
    pub pairs: usize,
    pub intercept: f64,
    pub slope: f64,
    /// Share of y's variance the line explains; null when y is constant.
    pub r2: Option<f64>,
    pub latest: Option<RegressLatest>,
}

/// Least-squares line of one series on another (smartcore), their
/// readings paired by step means over the window.
#[utoipa::path(get, path = "/api/iot/regress", tag = "iot", params(RegressParams),
    responses((status = 200, body = RegressOut), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn regress(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<RegressParams>,
) -> Result<Json<RegressOut>, ApiError> {
    let required = |name: &str, value: Option<String>| {
        value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad(name, format!("{name} (a series id) is required")))
    };
    let y = required("y", params.y)?;
    let x = required("x", params.x)?;
    let window = match params.window.as_deref() {
        None | Some("") => 86_400_000,
        Some(w) => parse_duration_ms("window", w)?,
    };
    let step_ms = match params.step.as_deref() {
        None | Some("") => 60_000,
        Some(w) => parse_duration_ms("step", w)?,
    };
    let end = now_ms() + 1;
    let start = end - window;
    let (ys, xs) = with_series(&state, {
        let (y, x) = (y.clone(), x.clone());
        move |series| {
            let store = series.lock();
            let read = |id: String| -> Result<Vec<(i64, f64)>, ApiError> {
                if !store.has_series(&id)? {
                    return Err(ApiError::not_found(format!("no series {id:?}")));
                }
                Ok(store.range(&RangeQuery {
                    series: id,
                    start_ms: start,
                    end_ms: end,
                    step_ms: Some(step_ms),
                    agg: Agg::Avg,
                })?)
            };
            Ok((read(y)?, read(x)?))
        }
    })
    .await?;
    let xs: BTreeMap<i64, f64> = xs.into_iter().collect();
    let pairs: Vec<(i64, f64, f64)> = ys
        .into_iter()
        .filter_map(|(ts, yv)| xs.get(&ts).map(|xv| (ts, *xv, yv)))
        .collect();
    let (px, py): (Vec<f64>, Vec<f64>) = pairs.iter().map(|(_, xv, yv)| (*xv, *yv)).unzip();
    let fit = fit_line(&px, &py).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("{e} (y {y:?} and x {x:?}, {step_ms} ms steps over the window)"),
            None,
        )
    })?;
    Ok(Json(RegressOut {
        latest: pairs.last().map(|(ts, xv, yv)| RegressLatest {
            ts: *ts,
            x: *xv,
            y: *yv,
            predicted: fit.predict(*xv),
        }),
        y,
        x,
        start,
        end,
        step_ms,
        pairs: fit.pairs,
        intercept: fit.intercept,
        slope: fit.slope,
        r2: fit.r2,
    }))
}

/// Epoch milliseconds, or an RFC 3339 time.
fn parse_instant(parameter: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::bad(
                parameter,
                format!("{parameter} must be epoch milliseconds or an RFC 3339 time, not {text:?}"),
            )
        })
}

/// `500ms`, `10s`, `5m`, `1h`, `1d`: a positive whole number and a unit.
pub(super) fn parse_duration_ms(parameter: &str, text: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad(
            parameter,
            format!("{parameter} must be a positive duration like 10s, 5m, 1h or 1d, not {text:?}"),
        )
    };
    let digits = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(digits);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    number
        .checked_mul(unit_ms)
        .filter(|ms| *ms > 0)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_and_a_positive_number() {
        assert_eq!(parse_duration_ms("step", "10s").unwrap(), 10_000);
        assert_eq!(parse_duration_ms("step", "5m").unwrap(), 300_000);
        assert_eq!(parse_duration_ms("step", "250ms").unwrap(), 250);
        for bad in ["", "10", "0s", "-5m", "1w", "m", "99999999999999999999d"] {
            let err = parse_duration_ms("step", bad).unwrap_err();
            assert_eq!(err.body.parameter.as_deref(), Some("step"), "{bad}");
        }
    }

    #[test]
    fn instants_are_epoch_ms_or_rfc3339() {
        assert_eq!(
            parse_instant("start", "1684576800000").unwrap(),
            1_684_576_800_000
        );
        assert_eq!(
            parse_instant("start", "2023-05-20T10:00:00Z").unwrap(),
            1_684_576_800_000
        );
        assert!(parse_instant("start", "yesterday").is_err());
    }
}
