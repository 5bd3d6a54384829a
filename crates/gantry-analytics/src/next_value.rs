//! Next-value forecasts of one sensor series: an autoregressive ridge
//! regression (smartcore) on the series' recent values, one value per step.
//!
//! The model predicts the change from the last value, from the previous
//! [`LAGS`] values taken relative to the last one and a drift term, so the
//! ridge penalty pulls it towards the naive forecast "the next value is
//! the last one". It learns what a sensor's noise and trend make of its
//! recent values (averaging the noise away, following a daily cycle).
//! The steps after the history are predicted one after the other, each fed
//! the predictions before it. Every forecast carries a backtest: the model
//! fitted without the last part of the history predicts each of its steps
//! one ahead from the actual values before it, beside the naive forecast.
//!
//! ```
//! use gantry_analytics::next_value::forecast_next;
//! let values: Vec<f64> = (0..200).map(|i| 20.0 + (i as f64 / 30.0).sin()).collect();
//! let f = forecast_next(&values, 5).unwrap();
//! assert_eq!(f.predictions.len(), 5);
//! assert!(f.backtest.model_mae < f.backtest.baseline_mae);
//! ```

use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};

/// Values the model looks back at: the last one and the [`LAGS`] − 1
/// before it.
pub const LAGS: usize = 6;

/// Fewest training rows (more than the model's [`LAGS`] coefficients).
const MIN_TRAIN: usize = 2 * LAGS;

/// Fewest and most steps the backtest holds out (a fifth of the history
/// in between).
const MIN_HOLD_OUT: usize = LAGS;
const MAX_HOLD_OUT: usize = 1_440;

/// Least history: lags, training rows and the held-out steps.
pub const MIN_STEPS: usize = LAGS + MIN_TRAIN + MIN_HOLD_OUT;

/// Most steps one forecast reaches.
pub const MAX_HORIZON: usize = 360;

/// Ridge penalty on changes scaled by the series' typical step change.
const ALPHA: f64 = 1.0;

/// What the model is, for readers of a forecast.
pub const MODEL: &str = "ridge regression (smartcore) of the next step's change on the last 6 step values relative to the last one and a drift term";

/// The held-out steps, each predicted one step ahead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextBacktest {
    pub steps: usize,
    /// Mean absolute error of the model.
    pub model_mae: f64,
    /// Mean absolute error of "the next value is the last one".
    pub baseline_mae: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NextForecast {
    /// The values of the steps after the history, in order.
    pub predictions: Vec<f64>,
    pub backtest: NextBacktest,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NextValueError {
    #[error("not enough history: {have} steps, a forecast needs at least {MIN_STEPS}")]
    NotEnoughHistory { have: usize },
    #[error("horizon must be between 1 and {MAX_HORIZON} steps, not {0}")]
    Horizon(usize),
    #[error("the history holds a value that is not a finite number")]
    NotFinite,
    #[error("the model could not be fitted: {0}")]
    Model(String),
}

/// Predicts the `horizon` steps after `values` (one value per step, oldest
/// first) and backtests the model on the last steps of `values`.
pub fn forecast_next(values: &[f64], horizon: usize) -> Result<NextForecast, NextValueError> {
    if !(1..=MAX_HORIZON).contains(&horizon) {
        return Err(NextValueError::Horizon(horizon));
    }
    if values.len() < MIN_STEPS {
        return Err(NextValueError::NotEnoughHistory { have: values.len() });
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(NextValueError::NotFinite);
    }
    let backtest = backtest(values)?;
    let model = Model::fit(values)?;
    let mut extended = values.to_vec();
    for _ in 0..horizon {
        let next = model.predict(&extended)?;
        extended.push(next);
    }
    Ok(NextForecast {
        predictions: extended.split_off(values.len()),
        backtest,
    })
}

/// The model fitted on all but the last fifth (within bounds) of `values`,
/// and the naive forecast, each predicting those steps one ahead.
fn backtest(values: &[f64]) -> Result<NextBacktest, NextValueError> {
    let n = values.len();
    let hold_out = (n / 5)
        .clamp(MIN_HOLD_OUT, MAX_HOLD_OUT)
        .min(n - LAGS - MIN_TRAIN);
    let origin = n - hold_out;
    let model = Model::fit(&values[..origin])?;
    let (mut model_error, mut baseline_error) = (0.0, 0.0);
    for t in origin..n {
        model_error += (model.predict(&values[..t])? - values[t]).abs();
        baseline_error += (values[t - 1] - values[t]).abs();
    }
    Ok(NextBacktest {
        steps: hold_out,
        model_mae: model_error / hold_out as f64,
        baseline_mae: baseline_error / hold_out as f64,
    })
}

/// A fitted regression, on values divided by `scale` (the mean absolute
/// step change of its history), so one penalty suits every sensor's units.
struct Model {
    regression: RidgeRegression<f64, f64, DenseMatrix<f64>, Vec<f64>>,
    scale: f64,
}

impl Model {
    /// Fits on every step of `values` that has [`LAGS`] values before it.
    fn fit(values: &[f64]) -> Result<Model, NextValueError> {
        let changes = values.windows(2).map(|w| (w[1] - w[0]).abs());
        let scale = changes.sum::<f64>() / (values.len() - 1) as f64;
        let scale = if scale > 0.0 { scale } else { 1.0 };
        let rows: Vec<Vec<f64>> = (LAGS..values.len())
            .map(|t| features(&values[..t], scale))
            .collect();
        let y: Vec<f64> = (LAGS..values.len())
            .map(|t| (values[t] - values[t - 1]) / scale)
            .collect();
        let x = DenseMatrix::from_2d_vec(&rows).map_err(model_error)?;
        let parameters = RidgeRegressionParameters::default()
            .with_alpha(ALPHA)
            .with_normalize(false);
        let regression = RidgeRegression::fit(&x, &y, parameters).map_err(model_error)?;
        Ok(Model { regression, scale })
    }

    /// The value of the step after `history` (at least [`LAGS`] long).
    fn predict(&self, history: &[f64]) -> Result<f64, NextValueError> {
        let x =
            DenseMatrix::from_2d_vec(&vec![features(history, self.scale)]).map_err(model_error)?;
        let change = self.regression.predict(&x).map_err(model_error)?;
        let last = history[history.len() - 1];
        let predicted = last + change.first().copied().unwrap_or(0.0) * self.scale;
        Ok(if predicted.is_finite() {
            predicted
        } else {
            last
        })
    }
}

fn model_error(e: impl std::fmt::Display) -> NextValueError {
    NextValueError::Model(e.to_string())
}

/// The features of the step after `history`: each of the [`LAGS`] − 1
/// values before the last, minus the last, over `scale`; and 1 (drift).
/// (No standardising: smartcore's fails on a constant column.)
fn features(history: &[f64], scale: f64) -> Vec<f64> {
    let t = history.len();
    let last = history[t - 1];
    let mut x: Vec<f64> = (2..=LAGS)
        .map(|j| (history[t - j] - last) / scale)
        .collect();
    x.push(1.0);
    x
}

/// Values of consecutive steps from `(step start, value)` pairs in time
/// order (a downsampled range): the start of the first step and one value
/// per step up to the last, steps without a value filled in on the straight
/// line between their neighbours.
pub fn fill_steps(points: &[(i64, f64)], step_ms: i64) -> Option<(i64, Vec<f64>)> {
    let (&(first, _), &(last, _)) = (points.first()?, points.last()?);
    if step_ms <= 0 || last < first {
        return None;
    }
    let steps = usize::try_from((last - first) / step_ms).ok()? + 1;
    let mut values = Vec::with_capacity(steps);
    for pair in points.windows(2) {
        let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
        let gap = (t1 - t0) / step_ms;
        for k in 0..gap.max(1) {
            values.push(v0 + (v1 - v0) * k as f64 / gap.max(1) as f64);
        }
    }
    values.push(points[points.len() - 1].1);
    values.truncate(steps);
    Some((first, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Standard normal noise (Box–Muller).
    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Three days of 1-minute temperatures: 20 °C ± 5 over the day, with
    /// noise of standard deviation 0.5.
    fn daily_cycle(seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let clean: Vec<f64> = (0..3 * 1440 + 30)
            .map(|m| 20.0 + 5.0 * (std::f64::consts::TAU * m as f64 / 1440.0).sin())
            .collect();
        let noisy = clean.iter().map(|c| c + 0.5 * gaussian(&mut rng)).collect();
        (clean, noisy)
    }

    #[test]
    fn beats_the_last_value_on_a_noisy_daily_cycle() {
        let (clean, noisy) = daily_cycle(7);
        let history = &noisy[..3 * 1440];
        let f = forecast_next(history, 30).unwrap();
        let b = f.backtest;
        assert_eq!(b.steps, 864, "a fifth of the history");
        // The naive forecast carries the noise twice: 0.5 · √2 · √(2/π) ≈ 0.56
        // (this seed: 0.598).
        assert!((0.55..0.65).contains(&b.baseline_mae), "{b:?}");
        // The model averages most of it away; 0.5 · √(2/π) ≈ 0.40 is the
        // floor (this seed: 0.461).
        assert!((0.40..0.50).contains(&b.model_mae), "{b:?}");
        assert!(b.model_mae < 0.8 * b.baseline_mae, "{b:?}");
        // The next half hour follows the clean curve better than the last
        // noisy value does.
        let truth = &clean[3 * 1440..];
        let model_error: f64 = f
            .predictions
            .iter()
            .zip(truth)
            .map(|(p, c)| (p - c).abs())
            .sum::<f64>()
            / 30.0;
        let last = history[history.len() - 1];
        let naive_error: f64 = truth.iter().map(|c| (last - c).abs()).sum::<f64>() / 30.0;
        // (this seed: 0.45 against 0.74, on the day's steepest half hour)
        assert!(
            model_error < 0.7 * naive_error,
            "{model_error} vs naive {naive_error}"
        );
    }

    #[test]
    fn a_random_walk_is_no_better_than_its_last_value() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut level = 0.0;
        let walk: Vec<f64> = (0..2_000)
            .map(|_| {
                level += gaussian(&mut rng);
                level
            })
            .collect();
        let b = forecast_next(&walk, 1).unwrap().backtest;
        let ratio = b.model_mae / b.baseline_mae;
        assert!((0.97..1.03).contains(&ratio), "{b:?}");
    }

    #[test]
    fn a_constant_series_is_forecast_as_itself() {
        let f = forecast_next(&[4.5; 40], 3).unwrap();
        assert_eq!(f.predictions, [4.5, 4.5, 4.5]);
        assert_eq!((f.backtest.model_mae, f.backtest.baseline_mae), (0.0, 0.0));
    }

    #[test]
    fn short_histories_bad_horizons_and_non_finite_values_are_refused() {
        let values = [1.0; MIN_STEPS];
        assert!(forecast_next(&values, 1).is_ok());
        assert_eq!(
            forecast_next(&values[1..], 1),
            Err(NextValueError::NotEnoughHistory {
                have: MIN_STEPS - 1
            })
        );
        assert_eq!(forecast_next(&values, 0), Err(NextValueError::Horizon(0)));
        assert_eq!(
            forecast_next(&values, MAX_HORIZON + 1),
            Err(NextValueError::Horizon(MAX_HORIZON + 1))
        );
        let mut bad = values.to_vec();
        bad[3] = f64::NAN;
        assert_eq!(forecast_next(&bad, 1), Err(NextValueError::NotFinite));
    }

    #[test]
    fn gaps_are_filled_on_the_line_between_their_neighbours() {
        let points = [
            (60_000, 1.0),
            (120_000, 2.0),
            (300_000, 5.0),
            (360_000, 4.0),
        ];
        let (start, values) = fill_steps(&points, 60_000).unwrap();
        assert_eq!(start, 60_000);
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 4.0]);
        assert_eq!(fill_steps(&[(0, 7.0)], 60_000), Some((0, vec![7.0])));
        assert_eq!(fill_steps(&[], 60_000), None);
    }
}
