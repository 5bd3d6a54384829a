//! gantry's analytics, pure (no I/O, no clock), on smartcore: forecasts of
//! hourly traffic flow ([`flow`]), next values of a sensor series
//! ([`next_value`]) and the regression of one sensor series on another
//! ([`regression`]).

pub mod flow;
pub mod next_value;
pub mod regression;

pub use flow::{
    forecast_flow, Backtest, Errors, Forecast, ForecastError, Hourly, MAX_HOURS, MIN_HISTORY, MODEL,
};
