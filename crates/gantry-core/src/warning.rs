//! Cloned-plate warnings (套牌车预警).

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::time::gcsj;

/// One sighting of a plate, as a warning reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    #[serde(rename = "gcxh")]
    pub pass_id: String,
    #[serde(rename = "kkmc")]
    pub checkpoint: String,
    #[serde(rename = "gcsj", with = "gcsj")]
    pub time: NaiveDateTime,
}

/// Which rule raised a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Straight-line distance over interval exceeds the speed limit.
    Speed,
    /// Two places more than the minimum distance apart at the same second.
    Simultaneous,
    /// Fallback when a checkpoint has no coordinates: a different
    /// checkpoint within the window (the classic 5-minute rule).
    Window,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Speed => "speed",
            Rule::Simultaneous => "simultaneous",
            Rule::Window => "window",
        }
    }

    pub fn parse(text: &str) -> Option<Rule> {
        [Rule::Speed, Rule::Simultaneous, Rule::Window]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// Two time-adjacent sightings of one plate that one vehicle cannot make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// Deterministic: derived from the two pass ids, so a replay is a no-op.
    pub id: String,
    #[serde(rename = "hphm")]
    pub plate: String,
    #[serde(rename = "hpzl")]
    pub plate_type: String,
    /// The earlier sighting.
    pub first: Sighting,
    /// The later sighting.
    pub second: Sighting,
    /// Straight-line distance, when both checkpoints have coordinates.
    pub distance_km: Option<f64>,
    pub interval_s: i64,
    /// Implied speed; absent when unknown or infinite (zero interval).
    pub speed_kmh: Option<f64>,
    pub rule: Rule,
    /// When the detector raised it (processing time, passed in by the caller).
    #[serde(with = "gcsj")]
    pub detected_at: NaiveDateTime,
}

/// The warning id for a pair of pass ids: 16 hex digits of xxh3-64.
pub fn warning_id(first_pass_id: &str, second_pass_id: &str) -> String {
    let mut key = Vec::with_capacity(first_pass_id.len() + second_pass_id.len() + 1);
    key.extend_from_slice(first_pass_id.as_bytes());
    key.push(0);
    key.extend_from_slice(second_pass_id.as_bytes());
    format!("{:016x}", xxh3_64(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_deterministic_and_ordered() {
        assert_eq!(warning_id("a", "b"), warning_id("a", "b"));
        assert_ne!(warning_id("a", "b"), warning_id("b", "a"));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(warning_id("ab", "c"), warning_id("a", "bc"));
        assert_eq!(warning_id("a", "b").len(), 16);
    }

    #[test]
    fn rule_names_round_trip() {
        for r in [Rule::Speed, Rule::Simultaneous, Rule::Window] {
            assert_eq!(Rule::parse(r.as_str()), Some(r));
        }
    }
}
