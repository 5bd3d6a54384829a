//! Next-value forecasts of one IoT series (`GET /api/iot/forecast/{id}`):
//! the series' step means up to its newest point, handed to
//! `gantry-analytics` ([`forecast_next`]).

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::Json;
use gantry_analytics::next_value::{
    fill_steps, forecast_next, NextValueError, MAX_HORIZON, MIN_STEPS, MODEL,
};
use gantry_core::iot::{step_start, Agg};
use gantry_store::series::RangeQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::iot::{parse_duration_ms, with_series};
use super::params::{whole, ApiQuery};
use super::state::AppState;

/// Steps of history the model learns from (a day of minutes).
const HISTORY_STEPS: i64 = 1_440;

const DEFAULT_STEP_MS: i64 = 60_000;
const DEFAULT_HORIZON: u64 = 10;

/// The step and how far ahead.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastParams {
    /// The series is read as one mean per step, e.g. `10s`, `1m` (default 1m).
    #[serde(default)]
    pub step: Option<String>,
    /// Steps to predict, 1–360 (default 10).
    #[serde(default, deserialize_with = "whole")]
    #[param(minimum = 1, maximum = 360)]
    pub horizon: Option<u64>,
}

/// The model's and the naive forecast's errors on the held-out steps.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastBacktest {
    /// The last steps of the history, each predicted one step ahead by the
    /// model fitted without them.
    pub steps: usize,
    pub model_mae: f64,
    /// Mean absolute error of "the next value is the last one".
    pub baseline_mae: f64,
    pub baseline: String,
}

/// The coming steps of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastOut {
    pub id: String,
    pub step_ms: i64,
    pub model: String,
    /// Steps of history used (gaps filled on the line between neighbours),
    /// the first one's start and the newest one's (it may still be filling).
    pub history_steps: usize,
    pub history_start: i64,
    pub last_step: i64,
    /// `[step start, predicted mean]` of the steps after `last_step`.
    pub points: Vec<(i64, f64)>,
    pub backtest: ForecastBacktest,
}

/// The next `horizon` step means of a series: an autoregressive ridge
/// regression (smartcore) on its last day of steps, with its backtest
/// error beside that of the last value.
#[utoipa::path(get, path = "/api/iot/forecast/{id}", tag = "iot",
    params(("id" = String, Path, description = "series id, e.g. dev-01/temperature"), ForecastParams),
    responses((status = 200, body = ForecastOut), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn forecast(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    ApiQuery(params): ApiQuery<ForecastParams>,
) -> Result<Json<ForecastOut>, ApiError> {
    let step_ms = match params.step.as_deref() {
        None | Some("") => DEFAULT_STEP_MS,
        Some(s) => parse_duration_ms("step", s)?,
    };
    let horizon = params.horizon.unwrap_or(DEFAULT_HORIZON);
    if !(1..=MAX_HORIZON as u64).contains(&horizon) {
        return Err(ApiError::bad(
            "horizon",
            format!("horizon must be between 1 and {MAX_HORIZON} steps, not {horizon}"),
        ));
    }
    let steps = read_steps(&state, id.clone(), step_ms).await?;
    let Some((history_start, values)) = fill_steps(&steps, step_ms) else {
        return Err(too_short(&id, step_ms, 0));
    };
    let forecast = forecast_next(&values, horizon as usize).map_err(|e| match e {
        NextValueError::NotEnoughHistory { have } => too_short(&id, step_ms, have),
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, other.to_string(), None),
    })?;
    let last_step = history_start + (values.len() as i64 - 1) * step_ms;
    let b = forecast.backtest;
    Ok(Json(ForecastOut {
        points: (1i64..)
            .zip(forecast.predictions)
            .map(|(k, v)| (last_step + k * step_ms, v))
            .collect(),
        id,
        step_ms,
        model: MODEL.to_owned(),
        history_steps: values.len(),
        history_start,
        last_step,
        backtest: ForecastBacktest {
            steps: b.steps,
            model_mae: b.model_mae,
            baseline_mae: b.baseline_mae,
            baseline: "last value".to_owned(),
        },
    }))
}

/// The step means of `id` over [`HISTORY_STEPS`] up to its newest point;
/// 404 for an unknown series.
async fn read_steps(
    state: &AppState,
    id: String,
    step_ms: i64,
) -> Result<Vec<(i64, f64)>, ApiError> {
    with_series(state, move |series| {
        let store = series.lock();
        let Some((last_ts, _)) = store.latest_of(&id)? else {
            return Err(ApiError::not_found(format!("no series {id:?}")));
        };
        let newest = step_start(last_ts, step_ms);
        let span = step_ms.saturating_mul(HISTORY_STEPS - 1);
        Ok(store.range(&RangeQuery {
            series: id,
            start_ms: newest.saturating_sub(span),
            end_ms: last_ts.saturating_add(1),
            step_ms: Some(step_ms),
            agg: Agg::Avg,
        })?)
    })
    .await
}

/// 422: the series has fewer steps than the model needs.
fn too_short(id: &str, step_ms: i64, have: usize) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "not enough history: {id:?} has {have} steps of {step_ms} ms, a forecast needs at least {MIN_STEPS} (a shorter step may do)"
        ),
        Some("step".into()),
    )
}
