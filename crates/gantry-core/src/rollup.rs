//! Rollups: pass counts per checkpoint per minute, per province, per
//! vehicle type and per hour of day, accumulated in memory per batch.
