//! `GET /api/predict`: passes per hour for the coming hours, at one
//! checkpoint or all, with the model's backtest against the naive
//! same-hour-yesterday baseline (the classic platform's prediction
//! endpoint, fitted by `gantry_analytics`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{NaiveDateTime, TimeDelta, Timelike};
use gantry_analytics::flow::{forecast_flow, ForecastError, Hourly, MAX_HOURS};
use gantry_core::time::{format_pass_time, parse_pass_time};
use gantry_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::params::ApiQuery;
use super::routes::newest_pass_time;
use super::state::AppState;
use crate::clock::china_now_seconds;

/// Days of history the model learns from.
const HISTORY_DAYS: i64 = 28;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PredictParams {
    /// KKMC: one checkpoint, exact (default: all).
    #[serde(default)]
    pub kkmc: Option<String>,
    /// Hours to predict, 1 to 48 (default 24).
    #[serde(default)]
    pub hours: Option<String>,
    /// The first hour to predict, local time (default: the hour of the
    /// newest stored pass, which may not be complete yet).
    #[serde(default)]
    #[param(example = "2023-12-09 00:00:00")]
    pub from: Option<String>,
}

/// One predicted hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourPrediction {
    /// Start of the hour, local time.
    pub hour: String,
    /// Predicted passes in that hour.
    pub predicted: f64,
}

/// The model and the naive baseline on the last day before `from`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacktestOut {
    pub hours: usize,
    pub mae: f64,
    /// Percent, over the hours with passes.
    pub mape: Option<f64>,
    pub baseline: &'static str,
    pub baseline_mae: f64,
    pub baseline_mape: Option<f64>,
    /// The model's error is below the baseline's.
    pub beats_baseline: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PredictOut {
    pub kkmc: Option<String>,
    pub from: String,
    pub model: &'static str,
    /// Hours of history the model learnt from.
    pub history_hours: usize,
    pub predictions: Vec<HourPrediction>,
    pub backtest: BacktestOut,
}

/// Predicted passes per hour for the coming hours, with the backtest.
#[utoipa::path(get, path = "/api/predict", tag = "stats", params(PredictParams),
    responses((status = 200, body = PredictOut), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn predict(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PredictParams>,
) -> Result<Json<PredictOut>, ApiError> {
    let hours = hours(params.hours.as_deref())?;
    let from = match params.from.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(parse_pass_time(t).ok_or_else(|| {
            ApiError::bad(
                "from",
                format!("{t:?} is not a time like 2023-12-09 00:00:00"),
            )
        })?),
    };
    let kkmc = params
        .kkmc
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty());
    state
        .read(move |store| {
            let from = match from {
                Some(t) => t,
                None => newest_pass_time(store)?.unwrap_or_else(china_now_seconds),
            };
            let from = hour_start(from);
            let history = history(store, kkmc.as_deref(), from)?;
            if let (Some(k), true) = (&kkmc, history.counts.is_empty()) {
                return Err(ApiError::not_found(format!(
                    "no passes at checkpoint {k:?} in the {HISTORY_DAYS} days before {}",
                    format_pass_time(from)
                )));
            }
            let forecast = forecast_flow(&history, hours).map_err(|e| match e {
                ForecastError::Hours(_) => ApiError::bad("hours", e.to_string()),
                ForecastError::NotEnoughHistory { .. } => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string(), None)
                }
                ForecastError::Model(_) => ApiError::internal(e),
            })?;
            let b = forecast.backtest;
            Ok(PredictOut {
                kkmc,
                from: format_pass_time(from),
                model: gantry_analytics::flow::MODEL,
                history_hours: history.counts.len(),
                predictions: forecast
                    .predictions
                    .iter()
                    .map(|(hour, predicted)| HourPrediction {
                        hour: format_pass_time(*hour),
                        predicted: (predicted * 10.0).round() / 10.0,
                    })
                    .collect(),
                backtest: BacktestOut {
                    hours: b.hours,
                    mae: b.model.mae,
                    mape: b.model.mape,
                    baseline: "same hour the day before",
                    baseline_mae: b.baseline.mae,
                    baseline_mape: b.baseline.mape,
                    beats_baseline: b.model.mae < b.baseline.mae,
                },
            })
        })
        .await
        .map(Json)
}

fn hours(text: Option<&str>) -> Result<usize, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(24),
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|h| (1..=MAX_HOURS).contains(h))
            .ok_or_else(|| {
                ApiError::bad(
                    "hours",
                    format!("hours must be 1 to {MAX_HOURS}, not {t:?}"),
                )
            }),
    }
}

fn hour_start(t: NaiveDateTime) -> NaiveDateTime {
    t.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// Passes per hour over the [`HISTORY_DAYS`] before `from`, from the
/// first hour with passes (days before the data began are not quiet
/// days).
fn history(store: &dyn Store, kkmc: Option<&str>, from: NaiveDateTime) -> Result<Hourly, ApiError> {
    let first_day = from.date() - TimeDelta::days(HISTORY_DAYS);
    let mut counts = Vec::with_capacity(24 * (HISTORY_DAYS as usize + 1));
    for day in first_day.iter_days().take_while(|d| *d <= from.date()) {
        counts.extend(store.flow_by_hour(day, kkmc)?.map(|c| c as f64));
    }
    let start = first_day.and_time(chrono::NaiveTime::MIN);
    let end = usize::try_from((from - start).num_hours()).unwrap_or(0);
    counts.truncate(end);
    let skip = counts.iter().position(|c| *c > 0.0).unwrap_or(counts.len());
    Ok(Hourly {
        start: start + TimeDelta::hours(skip as i64),
        counts: counts.split_off(skip),
    })
}
