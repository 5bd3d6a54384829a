//! Sinks: where passes, warnings and rejections go.

pub mod jsonl;
pub mod kafka;
pub mod mqtt;
pub mod redis;
pub mod series;
pub mod store;
