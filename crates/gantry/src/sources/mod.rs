//! Sources: where pass records come from.

pub mod file;
pub mod simulator;
pub mod tail;
