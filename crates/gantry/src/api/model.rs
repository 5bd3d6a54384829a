//! What the routes answer, with the users' field names (GCXH, KKMC, HPHM …
//! in lower case, as the classic course API has them).

use gantry_core::time::format_pass_time;
use gantry_core::{Checkpoint, Pass, Sighting, Warning};
use serde::Serialize;
use utoipa::ToSchema;

/// `GET /api/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
    /// Passes stored on each shard (MyCat data node), by index.
    pub shards: Vec<ShardHealth>,
    /// Passes stored in all.
    pub total_records: u64,
    /// `serve` (reading a store) or `demo` (reading the store the demo writes).
    #[schema(example = "serve")]
    pub mode: String,
    pub version: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShardHealth {
    pub index: usize,
    pub passes: u64,
}

/// A checkpoint and where it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointOut {
    /// Checkpoint name.
    pub kkmc: String,
    /// Checkpoint code, empty when unknown.
    pub kkbh: String,
    /// Longitude (WGS-84), null when unknown.
    pub lon: Option<f64>,
    /// Latitude (WGS-84), null when unknown.
    pub lat: Option<f64>,
}

impl From<&Checkpoint> for CheckpointOut {
    fn from(c: &Checkpoint) -> Self {
        CheckpointOut {
            kkmc: c.name.clone(),
            kkbh: c.code.clone(),
            lon: c.location.map(|g| g.lon),
            lat: c.location.map(|g| g.lat),
        }
    }
}

/// One pass record; also one row of `GET /api/export`, in this column order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PassRow {
    /// Pass id.
    pub gcxh: String,
    /// Administrative district.
    pub xzqhmc: String,
    /// Checkpoint name.
    pub kkmc: String,
    /// Direction.
    pub fxlx: String,
    /// Pass time, `YYYY-MM-DD HH:MM:SS` (China Standard Time).
    #[schema(example = "2023-12-01 08:00:00")]
    pub gcsj: String,
    /// Plate type code.
    pub hpzl: String,
    /// Plate number.
    pub hphm: String,
    /// Brand and model, "-" when unknown.
    pub clppxh: String,
    /// Province of the plate.
    pub province: String,
    /// Vehicle type, from the plate type.
    pub vehicle_type_name: String,
}

impl From<&Pass> for PassRow {
    fn from(p: &Pass) -> Self {
        let derived = p.derived();
        PassRow {
            gcxh: p.id.clone(),
            xzqhmc: p.district.clone(),
            kkmc: p.checkpoint.clone(),
            fxlx: p.direction.clone(),
            gcsj: format_pass_time(p.time),
            hpzl: p.plate_type.clone(),
            hphm: p.plate.clone(),
            clppxh: p.brand.clone(),
            province: derived.province.to_owned(),
            vehicle_type_name: derived.vehicle_type.to_owned(),
        }
    }
}

/// One page of pass records, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PassPage {
    /// Rows matching the filters, over every page.
    pub total: u64,
    pub page: u64,
    pub size: u64,
    pub rows: Vec<PassRow>,
}

/// `GET /api/stats/summary`. "Today" and "last minute" are relative to
/// `as_of`: the newest stored pass time (China Standard Time), or the
/// China-time clock while the store is empty.
#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    pub total_records: u64,
    /// Passes on the day of `as_of`.
    pub records_today: u64,
    /// Checkpoints that have passes.
    pub checkpoints: u64,
    pub warnings_total: u64,
    /// Passes in the 60 seconds up to and including `as_of`.
    pub last_minute: u64,
    #[schema(example = "2023-12-01 08:00:00")]
    pub as_of: String,
}

/// A named count, as ECharts takes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NameValue {
    pub name: String,
    pub value: u64,
}

/// Passes in one hour of a day.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourValue {
    /// 0–23.
    pub hour: u8,
    pub value: u64,
}

/// One sighting in a warning.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SightingOut {
    pub gcxh: String,
    pub kkmc: String,
    #[schema(example = "2023-12-01 08:00:00")]
    pub gcsj: String,
}

impl From<&Sighting> for SightingOut {
    fn from(s: &Sighting) -> Self {
        SightingOut {
            gcxh: s.pass_id.clone(),
            kkmc: s.checkpoint.clone(),
            gcsj: format_pass_time(s.time),
        }
    }
}

/// A cloned-plate warning: two time-adjacent sightings of one plate that one
/// vehicle cannot make. The same JSON `gantry warnings` prints.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Warning)]
pub struct WarningOut {
    /// Derived from the two pass ids.
    pub id: String,
    pub hphm: String,
    pub hpzl: String,
    /// The earlier sighting.
    pub first: SightingOut,
    /// The later sighting.
    pub second: SightingOut,
    /// Straight-line distance, km, when both checkpoints have coordinates.
    pub distance_km: Option<f64>,
    pub interval_s: i64,
    /// Implied speed, km/h; null when unknown or infinite.
    pub speed_kmh: Option<f64>,
    /// `speed`, `simultaneous` or `window`.
    #[schema(example = "speed")]
    pub rule: String,
    /// When the detector raised it.
    pub detected_at: String,
}

impl From<&Warning> for WarningOut {
    fn from(w: &Warning) -> Self {
        WarningOut {
            id: w.id.clone(),
            hphm: w.plate.clone(),
            hpzl: w.plate_type.clone(),
            first: SightingOut::from(&w.first),
            second: SightingOut::from(&w.second),
            distance_km: w.distance_km,
            interval_s: w.interval_s,
            speed_kmh: w.speed_kmh,
            rule: w.rule.as_str().to_owned(),
            detected_at: format_pass_time(w.detected_at),
        }
    }
}

/// One page of warnings, newest (later sighting) first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WarningPage {
    pub total: u64,
    pub page: u64,
    pub size: u64,
    pub rows: Vec<WarningOut>,
}

/// `GET /api/trail`: one plate's sightings in time order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trail {
    pub hphm: String,
    /// Sightings matching, in all.
    pub total: u64,
    /// True when there were more than the latest 10,000 sightings shown.
    pub truncated: bool,
    /// The speed above which a leg is impossible, km/h.
    pub speed_limit_kmh: f64,
    pub sightings: Vec<TrailPoint>,
    /// One leg between each two consecutive sightings.
    pub legs: Vec<TrailLeg>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrailPoint {
    pub gcxh: String,
    pub kkmc: String,
    pub gcsj: String,
    pub hpzl: String,
    pub fxlx: String,
    /// Checkpoint longitude, when known.
    pub lon: Option<f64>,
    /// Checkpoint latitude, when known.
    pub lat: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrailLeg {
    /// Index of the earlier sighting in `sightings`.
    pub from: usize,
    /// Index of the later sighting.
    pub to: usize,
    pub from_kkmc: String,
    pub to_kkmc: String,
    /// Straight-line distance, km, when both checkpoints have coordinates.
    pub distance_km: Option<f64>,
    pub interval_s: i64,
    /// Implied speed, km/h; null when unknown or infinite.
    pub speed_kmh: Option<f64>,
    /// No vehicle can make this leg: faster than the speed limit, or two
    /// places at once.
    pub impossible: bool,
    /// The detector rule this leg breaks (`speed`, `simultaneous`, or
    /// `window` when a checkpoint has no coordinates), or null.
    pub rule: Option<String>,
}

/// A `tick` event of `GET /api/stream`, once a second.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tick {
    /// China Standard Time of the tick.
    pub time: String,
    pub total_records: u64,
    pub warnings_total: u64,
    /// Passes stored since the previous tick.
    pub new_records: u64,
    /// Warnings stored since the previous tick.
    pub new_warnings: u64,
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use gantry_core::Rule;

    use super::*;

    #[test]
    fn warning_json_is_the_cores() {
        let t = NaiveDate::from_ymd_opt(2023, 12, 1)
            .and_then(|d| d.and_hms_opt(8, 0, 5))
            .unwrap();
        let sighting = |id: &str| Sighting {
            pass_id: id.into(),
            checkpoint: format!("卡口{id}"),
            time: t,
        };
        for (distance, speed) in [(Some(12.5), Some(300.0)), (None, None)] {
            let w = Warning {
                id: "00ff".into(),
                plate: "川A12345".into(),
                plate_type: "02".into(),
                first: sighting("1"),
                second: sighting("2"),
                distance_km: distance,
                interval_s: 150,
                speed_kmh: speed,
                rule: Rule::Speed,
                detected_at: t,
            };
            assert_eq!(
                serde_json::to_value(WarningOut::from(&w)).unwrap(),
                serde_json::to_value(&w).unwrap()
            );
        }
    }
}
