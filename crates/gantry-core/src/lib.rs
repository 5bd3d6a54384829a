//! gantry's pure core.
//!
//! Everything here is deterministic and free of I/O, async and clock reads:
//! callers pass bytes in and the current time in. The adapters (stores,
//! sources, sinks, HTTP) depend on this crate, never the reverse.

pub mod checkpoint;
pub mod detect;
pub mod formats;
pub mod geo;
pub mod iot;
pub mod partition;
pub mod pass;
pub mod plate;
pub mod reject;
pub mod rollup;
pub mod shard;
pub mod time;
pub mod vehicle;
pub mod warning;

pub use checkpoint::{Checkpoint, CheckpointDirectory, CheckpointId};
pub use detect::{Detector, DetectorConfig, DetectorStats, Observation, Preparer};
pub use pass::{Derived, Pass, PassRef};
pub use reject::{RejectReason, Rejection};
pub use shard::ShardRouter;
pub use warning::{Rule, Sighting, Warning};
