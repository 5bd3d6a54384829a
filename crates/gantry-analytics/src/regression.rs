//! Least-squares regression of one series on another (the classic
//! "temperature from humidity" example): `y ≈ intercept + slope · x`, fitted
//! by smartcore, with its coefficient of determination.
//!
//! ```
//! use gantry_analytics::regression::fit_line;
//! let x = [40.0, 50.0, 60.0, 70.0];
//! let y = [30.0, 27.5, 25.0, 22.5];
//! let fit = fit_line(&x, &y).unwrap();
//! assert!((fit.slope + 0.25).abs() < 1e-9 && (fit.intercept - 40.0).abs() < 1e-9);
//! ```

use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{LinearRegression, LinearRegressionParameters};

/// Fewest pairs a line is fitted to.
pub const MIN_PAIRS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    pub intercept: f64,
    pub slope: f64,
    /// Share of y's variance the line explains (1 − SSres/SStot); `None`
    /// when y does not vary.
    pub r2: Option<f64>,
    pub pairs: usize,
}

impl LineFit {
    pub fn predict(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegressionError {
    #[error("{pairs} pairs of readings; a line needs at least {MIN_PAIRS}")]
    TooFewPairs { pairs: usize },
    #[error("x does not vary: no line can be fitted")]
    ConstantX,
    #[error("the regression could not be fitted: {0}")]
    Model(String),
}

/// Fits `y = intercept + slope · x` to the pairs (`x` and `y` of one
/// length).
pub fn fit_line(x: &[f64], y: &[f64]) -> Result<LineFit, RegressionError> {
    let pairs = x.len().min(y.len());
    if pairs < MIN_PAIRS {
        return Err(RegressionError::TooFewPairs { pairs });
    }
    let (x, y) = (&x[..pairs], &y[..pairs]);
    if x.iter().all(|v| *v == x[0]) {
        return Err(RegressionError::ConstantX);
    }
    let model = |e: smartcore::error::Failed| RegressionError::Model(e.to_string());
    let rows: Vec<Vec<f64>> = x.iter().map(|v| vec![*v]).collect();
    let matrix = DenseMatrix::from_2d_vec(&rows).map_err(model)?;
    let fitted: LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>> =
        LinearRegression::fit(&matrix, &y.to_vec(), LinearRegressionParameters::default())
            .map_err(model)?;
    let slope = *fitted.coefficients().get((0, 0));
    let intercept = *fitted.intercept();
    let mean = y.iter().sum::<f64>() / pairs as f64;
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let residual: f64 = x
        .iter()
        .zip(y)
        .map(|(xv, yv)| (yv - (intercept + slope * xv)).powi(2))
        .sum();
    Ok(LineFit {
        intercept,
        slope,
        r2: (total > 0.0).then(|| 1.0 - residual / total),
        pairs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_noisy_line_and_says_how_well() {
        // Temperature falls 0.3 °C per % humidity, with a little noise.
        let x: Vec<f64> = (0..200).map(|i| 30.0 + (i % 50) as f64).collect();
        let noise = |i: usize| ((i * 7919) % 13) as f64 / 13.0 - 0.5;
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, h)| 40.0 - 0.3 * h + noise(i))
            .collect();
        let fit = fit_line(&x, &y).unwrap();
        assert!((fit.slope + 0.3).abs() < 0.01, "{fit:?}");
        assert!((fit.intercept - 40.0).abs() < 0.5, "{fit:?}");
        assert!(fit.r2.unwrap() > 0.95, "{fit:?}");
        assert_eq!(fit.pairs, 200);
        assert!((fit.predict(50.0) - 25.0).abs() < 0.3);
    }

    #[test]
    fn unrelated_series_explain_nothing() {
        let x: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let y: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let fit = fit_line(&x, &y).unwrap();
        assert!(fit.r2.unwrap() < 0.05, "{fit:?}");
    }

    #[test]
    fn too_few_or_constant_inputs_are_refused() {
        assert_eq!(
            fit_line(&[1.0, 2.0], &[1.0, 2.0]),
            Err(RegressionError::TooFewPairs { pairs: 2 })
        );
        assert_eq!(
            fit_line(&[5.0; 4], &[1.0, 2.0, 3.0, 4.0]),
            Err(RegressionError::ConstantX)
        );
        let flat = fit_line(&[1.0, 2.0, 3.0], &[7.0; 3]).unwrap();
        assert_eq!(flat.r2, None);
        assert!(flat.slope.abs() < 1e-9);
    }
}
