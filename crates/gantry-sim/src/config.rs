//! Simulation options.

use chrono::{NaiveDate, NaiveDateTime};

/// What to simulate. Same config → identical stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of every random choice (fleet, trips, dirt, GCXH ids).
    pub seed: u64,
    /// Event time (GCSJ) of the first record: the simulated clock starts here,
    /// local wall-clock time.
    pub start: NaiveDateTime,
    /// Fleet size: vehicles with unique plates. The twins of cloned plates
    /// come on top (2 per clone).
    pub vehicles: usize,
    /// Number of cloned plates (套牌): each is one plate carried by two vehicles
    /// that drive at the same time in regions ≥ 170 km apart, both setting off
    /// within 20 s (plus `clone_start_spread_s`) of the start, and again 5–30
    /// minutes after each trip, day and night.
    pub clones: usize,
    /// Every cloned plate but the first sets off up to this many seconds
    /// later, so a live run shows warnings throughout instead of one burst
    /// at the start. 0: all within the first 20 s.
    pub clone_start_spread_s: u32,
    /// Share of records whose plate is a placeholder or unreadable ("无牌",
    /// "未识别", "车牌", "00000000", or masked like "川A1**45"), drawn per record,
    /// so from many different vehicles.
    pub placeholder_ratio: f64,
    /// Largest lateness of a delayed record: it is emitted up to this many
    /// seconds after its event time (out of order). 0 = always in order.
    pub max_delay_s: u32,
    /// Share of records that are delayed (when `max_delay_s > 0`).
    pub delayed_ratio: f64,
    /// Share of records emitted twice: the same line (same GCXH), the copy
    /// 0–5 s after the original.
    pub duplicate_ratio: f64,
}

/// Records per vehicle per simulated day, measured over the built-in network
/// with the built-in trip model (see the `for_rate` test).
pub(crate) const RECORDS_PER_VEHICLE_DAY: f64 = 22.7;

impl Default for SimConfig {
    /// 20 000 vehicles (≈ 5.3 records/s on average), 10 cloned plates, 2 %
    /// placeholders, 5 % of records up to 60 s late, 0.5 % duplicates, starting
    /// Monday 2024-06-03 00:00:00.
    fn default() -> Self {
        SimConfig {
            seed: 1,
            start: NaiveDate::from_ymd_opt(2024, 6, 3)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("valid date"),
            vehicles: 20_000,
            clones: 10,
            clone_start_spread_s: 0,
            placeholder_ratio: 0.02,
            max_delay_s: 60,
            delayed_ratio: 0.05,
            duplicate_ratio: 0.005,
        }
    }
}

impl SimConfig {
    /// The default config with a fleet that yields about `records_per_second`
    /// records on average over a simulated day (more at the 07–09 and 17–19
    /// peaks, fewer at night). Memory is ~70 bytes per vehicle: 50 records/s
    /// is ~190 000 vehicles.
    pub fn for_rate(records_per_second: f64) -> Self {
        let mut config = SimConfig::default();
        config.vehicles = Self::fleet_for_rate(records_per_second, config.duplicate_ratio);
        config
    }

    /// The fleet size for an average rate, counting duplicates as records.
    pub fn fleet_for_rate(records_per_second: f64, duplicate_ratio: f64) -> usize {
        let per_vehicle = RECORDS_PER_VEHICLE_DAY * (1.0 + duplicate_ratio.max(0.0)) / 86_400.0;
        (records_per_second.max(0.0) / per_vehicle).round().max(1.0) as usize
    }
}
