//! gantry's analytics, pure (no I/O, no clock), on smartcore: forecasts of
//! hourly traffic flow ([`flow`]) and the regression of one sensor series
//! on another ([`regression`]).

pub mod flow;
pub mod regression;

pub use flow::{
    forecast_flow, Backtest, Errors, Forecast, ForecastError, Hourly, MAX_HOURS, MIN_HISTORY, MODEL,
};
