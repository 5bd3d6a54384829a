//! Sources: where pass records come from.

pub mod file;
pub mod kafka;
pub mod mqtt;
pub mod simulator;
pub mod tail;
