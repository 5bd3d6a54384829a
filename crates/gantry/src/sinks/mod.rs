//! Sinks: where passes, warnings and rejections go.

pub mod jsonl;
pub mod store;
