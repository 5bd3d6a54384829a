//! Sinks: where passes, warnings, rejections and IoT points go.

pub mod archive;
pub mod forward;
pub mod influxdb;
pub mod jsonl;
pub mod kafka;
pub mod mac_data;
pub mod mqtt;
pub mod redis;
pub mod series;
pub mod series_retention;
pub mod store;
pub mod thingsboard;
