//! Forecasts of hourly flow.
//!
//! [`forecast_flow`] fits a ridge regression (smartcore) of an hour's count
//! on its hour of day, a weekend adjustment per hour, the count 24 hours
//! before and the mean of the same hour over the previous week, then
//! predicts the next hours. Every forecast carries a backtest: the model refitted without
//! the last day predicts that day, beside the naive baseline "same hour
//! yesterday", so a reader sees whether the model is worth more than the
//! baseline on this very series.
//!
//! ```
//! use chrono::NaiveDate;
//! use gantry_analytics::flow::{forecast_flow, Hourly};
//! let start = NaiveDate::from_ymd_opt(2023, 12, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
//! let counts = (0..24 * 7).map(|h| if (7..10).contains(&(h % 24)) { 300.0 } else { 100.0 });
//! let f = forecast_flow(&Hourly { start, counts: counts.collect() }, 3).unwrap();
//! assert_eq!(f.predictions.len(), 3);
//! ```

use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike, Weekday};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};

/// Most hours one forecast reaches; beyond a day the model feeds on its
/// own predictions.
pub const MAX_HOURS: usize = 48;

/// Hours the backtest holds out: one day.
const HOLD_OUT: usize = 24;

/// Days averaged for the same-hour feature.
const SAME_HOUR_DAYS: usize = 7;

/// Least history: a day of lags, three to learn from (more rows than
/// [`FEATURES`], as the solver needs), the held-out day.
pub const MIN_HISTORY: usize = 24 + 3 * 24 + HOLD_OUT;

/// Ridge penalty, on counts scaled by the series' mean.
const ALPHA: f64 = 0.05;

/// Counts of consecutive hours, the first starting at `start`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hourly {
    pub start: NaiveDateTime,
    pub counts: Vec<f64>,
}

/// Mean absolute error, and mean absolute percentage error over the hours
/// with a non-zero actual count (`None` when there are none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Errors {
    pub mae: f64,
    pub mape: Option<f64>,
}

/// The held-out day, predicted by the model and by the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backtest {
    pub hours: usize,
    pub model: Errors,
    /// Same hour the day before.
    pub baseline: Errors,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Each coming hour's start and its predicted count (never negative).
    pub predictions: Vec<(NaiveDateTime, f64)>,
    pub backtest: Backtest,
}

/// What the model is, for readers of a forecast.
pub const MODEL: &str =
    "ridge regression (smartcore) on hour of day, weekend adjustment per hour, \
                         count 24 h before, mean of the same hour over the previous 7 days";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    #[error("not enough history: {have} hours, a forecast needs at least {MIN_HISTORY} (5 days)")]
    NotEnoughHistory { have: usize },
    #[error("hours must be between 1 and {MAX_HOURS}, not {0}")]
    Hours(usize),
    #[error("the model could not be fitted: {0}")]
    Model(String),
}

/// Predicts the `hours` after `history` and backtests the model on the
/// last day of `history`.
pub fn forecast_flow(history: &Hourly, hours: usize) -> Result<Forecast, ForecastError> {
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(ForecastError::Hours(hours));
    }
    let n = history.counts.len();
    if n < MIN_HISTORY {
        return Err(ForecastError::NotEnoughHistory { have: n });
    }
    let backtest = backtest(history)?;
    let model = Model::fit(history, n)?;
    let mut counts = history.counts.clone();
    let mut predictions = Vec::with_capacity(hours);
    for i in n..n + hours {
        // Beyond a day ahead the lags are the model's own predictions.
        let predicted = model.predict(history.start, &counts, i)?;
        counts.push(predicted);
        predictions.push((hour_at(history.start, i), predicted));
    }
    Ok(Forecast {
        predictions,
        backtest,
    })
}

/// The model fitted without the last day, and the baseline, on that day.
/// The features look at least 24 hours back, so the held-out day's are
/// all known at its start: no hour of it leaks into its prediction.
fn backtest(history: &Hourly) -> Result<Backtest, ForecastError> {
    let n = history.counts.len();
    let origin = n - HOLD_OUT;
    let model = Model::fit(history, origin)?;
    let actual = &history.counts[origin..];
    let mut predicted = Vec::with_capacity(HOLD_OUT);
    for i in origin..n {
        predicted.push(model.predict(history.start, &history.counts, i)?);
    }
    let baseline = &history.counts[origin - 24..n - 24];
    Ok(Backtest {
        hours: HOLD_OUT,
        model: errors(actual, &predicted),
        baseline: errors(actual, baseline),
    })
}

/// A fitted regression, on counts divided by `scale`: with the one-hot
/// hours spanning the intercept, no column needs standardising (which
/// fails on a constant column, such as the weekend hours of a history
/// without a weekend).
struct Model {
    regression: RidgeRegression<f64, f64, DenseMatrix<f64>, Vec<f64>>,
    scale: f64,
}

impl Model {
    /// Fits on the hours `24..end` of `history` (the first day only
    /// serves as lags).
    fn fit(history: &Hourly, end: usize) -> Result<Model, ForecastError> {
        let counts = &history.counts[..end];
        let scale = (counts.iter().sum::<f64>() / end as f64).max(1.0);
        let rows: Vec<Vec<f64>> = (24..end)
            .map(|i| features(history.start, counts, i, scale))
            .collect();
        let x = DenseMatrix::from_2d_vec(&rows).map_err(model_error)?;
        let y: Vec<f64> = counts[24..].iter().map(|c| c / scale).collect();
        let parameters = RidgeRegressionParameters::default()
            .with_alpha(ALPHA)
            .with_normalize(false);
        let regression = RidgeRegression::fit(&x, &y, parameters).map_err(model_error)?;
        Ok(Model { regression, scale })
    }

    /// The count of hour `i` of `counts` (which starts at `start`).
    fn predict(
        &self,
        start: NaiveDateTime,
        counts: &[f64],
        i: usize,
    ) -> Result<f64, ForecastError> {
        let row = features(start, counts, i, self.scale);
        let x = DenseMatrix::from_2d_vec(&vec![row]).map_err(model_error)?;
        let y = self.regression.predict(&x).map_err(model_error)?;
        let predicted = y.first().copied().unwrap_or(0.0) * self.scale;
        Ok(if predicted.is_finite() {
            predicted.max(0.0)
        } else {
            0.0
        })
    }
}

fn model_error(e: impl std::fmt::Display) -> ForecastError {
    ForecastError::Model(e.to_string())
}

/// Features of hour `i` (which must be at least 24), counts divided by
/// `scale`: the hour of day one-hot; a weekend adjustment per hour (also
/// one-hot, so the penalty pulls it to nothing unless weekends differ);
/// the count a day before; the mean of the same hour over the previous
/// days (up to a week).
fn features(start: NaiveDateTime, counts: &[f64], i: usize, scale: f64) -> Vec<f64> {
    let at = hour_at(start, i);
    let hour = at.hour() as usize;
    let mut x = vec![0.0; FEATURES];
    x[hour] = 1.0;
    if is_weekend(at) {
        x[24 + hour] = WEEKEND_PRIOR;
    }
    x[48] = LAG_PRIOR * counts[i - 24] / scale;
    let same_hour: Vec<f64> = (1..=SAME_HOUR_DAYS)
        .filter_map(|k| i.checked_sub(24 * k).map(|j| counts[j]))
        .collect();
    x[49] = LAG_PRIOR * same_hour.iter().sum::<f64>() / same_hour.len() as f64 / scale;
    x
}

/// Value of a weekend adjustment column: below 1, the ridge penalty
/// weighs 1/WEEKEND_PRIOR² times more on it, so a handful of weekend
/// days does not fit its noise as a weekend effect.
const WEEKEND_PRIOR: f64 = 0.3;

/// Value scale of the lag columns, for the same reason: a day's count is
/// noisy, so it only counts where the level really moves (trends,
/// holidays), not as a second copy of the hourly profile.
const LAG_PRIOR: f64 = 0.1;

/// Columns of [`features`].
const FEATURES: usize = 48 + 2;

// The shortest history still fits the backtest's model.
const _: () = assert!(MIN_HISTORY - 24 - HOLD_OUT >= FEATURES);

fn is_weekend(t: NaiveDateTime) -> bool {
    matches!(t.weekday(), Weekday::Sat | Weekday::Sun)
}

fn hour_at(start: NaiveDateTime, i: usize) -> NaiveDateTime {
    start + TimeDelta::hours(i64::try_from(i).unwrap_or(i64::MAX))
}

fn errors(actual: &[f64], predicted: &[f64]) -> Errors {
    let n = actual.len().max(1) as f64;
    let mae = actual
        .iter()
        .zip(predicted)
        .map(|(a, p)| (a - p).abs())
        .sum::<f64>()
        / n;
    let relative: Vec<f64> = actual
        .iter()
        .zip(predicted)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, p)| (a - p).abs() / a)
        .collect();
    let mape = (!relative.is_empty())
        .then(|| 100.0 * relative.iter().sum::<f64>() / relative.len() as f64);
    Errors { mae, mape }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn start() -> NaiveDateTime {
        // A Friday.
        NaiveDate::from_ymd_opt(2023, 12, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    }

    /// Traffic with morning and evening peaks, quieter weekends and
    /// noise about as large as counting noise.
    fn traffic(days: usize, seed: u64) -> Hourly {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let counts = (0..days * 24)
            .map(|i| {
                let at = hour_at(start(), i);
                let h = f64::from(at.hour());
                let peak = |centre: f64| 600.0 * (-(h - centre).powi(2) / 3.0).exp();
                let weekend = matches!(at.weekday(), Weekday::Sat | Weekday::Sun);
                let mean = (80.0 + peak(8.0) + peak(18.0)) * if weekend { 0.7 } else { 1.0 };
                let noise: f64 = rng.random_range(-1.7..1.7) * mean.sqrt();
                (mean + noise).round().max(0.0)
            })
            .collect();
        Hourly {
            start: start(),
            counts,
        }
    }

    #[test]
    fn the_model_beats_same_hour_yesterday_on_daily_peaks() {
        for seed in 1..=5 {
            let f = forecast_flow(&traffic(14, seed), 24).unwrap();
            let b = f.backtest;
            assert!(b.model.mae < b.baseline.mae, "seed {seed}: {b:?}");
            assert!(
                b.model.mape.unwrap() < b.baseline.mape.unwrap(),
                "seed {seed}: {b:?}"
            );
        }
    }

    #[test]
    fn predictions_follow_the_daily_profile() {
        let history = traffic(14, 9);
        let f = forecast_flow(&history, 48).unwrap();
        assert_eq!(f.predictions.len(), 48);
        assert_eq!(f.predictions[0].0, hour_at(start(), 14 * 24));
        // 14 days from a Friday: the next day is a Friday again.
        let at = |hour: u32| {
            f.predictions
                .iter()
                .find(|(t, _)| t.hour() == hour)
                .unwrap()
                .1
        };
        assert!((at(8) - 680.0).abs() < 80.0, "08:00 {}", at(8));
        assert!((at(3) - 80.0).abs() < 40.0, "03:00 {}", at(3));
        assert!(f.predictions.iter().all(|(_, v)| *v >= 0.0));
    }

    #[test]
    fn too_little_history_or_a_bad_horizon_is_refused() {
        let short = traffic(4, 1);
        assert_eq!(
            forecast_flow(&short, 24),
            Err(ForecastError::NotEnoughHistory { have: 96 })
        );
        let history = traffic(5, 1);
        assert_eq!(forecast_flow(&history, 0), Err(ForecastError::Hours(0)));
        assert_eq!(forecast_flow(&history, 49), Err(ForecastError::Hours(49)));
        let one = forecast_flow(&history, 1);
        assert!(one.is_ok(), "{one:?}");
    }

    #[test]
    fn a_silent_checkpoint_forecasts_zero() {
        let quiet = Hourly {
            start: start(),
            counts: vec![0.0; 24 * 5],
        };
        let f = forecast_flow(&quiet, 5).unwrap();
        assert!(f.predictions.iter().all(|(_, v)| *v == 0.0), "{f:?}");
        assert_eq!(f.backtest.model.mape, None);
    }

    #[test]
    fn errors_are_mean_absolute_and_percentage() {
        let e = errors(&[100.0, 0.0, 50.0], &[90.0, 3.0, 60.0]);
        assert!((e.mae - 23.0 / 3.0).abs() < 1e-9);
        assert!((e.mape.unwrap() - 15.0).abs() < 1e-9);
    }
}
