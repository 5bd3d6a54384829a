//! How long the points of each series are kept: a default and overrides
//! per measurement, as InfluxDB users set a retention policy per
//! measurement's database.

use std::collections::BTreeMap;

/// The measurement of a series name: line protocol's measurement
/// (`room` of `room,site=a/co2`), a JSON device's name (`pi-01` of
/// `pi-01/temperature`), or a values-list id whole.
pub fn measurement_of(series: &str) -> &str {
    series.find([',', '/']).map_or(series, |end| &series[..end])
}

/// Days of points to keep, per measurement; 0 keeps them forever.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub default_days: u32,
    pub by_measurement: BTreeMap<String, u32>,
}

impl RetentionPolicy {
    /// Days the points of `series` are kept, `None` for ever.
    pub fn days_for(&self, series: &str) -> Option<u32> {
        let days = self
            .by_measurement
            .get(measurement_of(series))
            .copied()
            .unwrap_or(self.default_days);
        (days > 0).then_some(days)
    }

    /// Whether any series loses points at all.
    pub fn drops_anything(&self) -> bool {
        self.default_days > 0 || self.by_measurement.values().any(|&d| d > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measurement_ends_at_the_first_comma_or_slash() {
        assert_eq!(measurement_of("room,site=a/co2"), "room");
        assert_eq!(measurement_of("pi-01/temperature"), "pi-01");
        assert_eq!(measurement_of("sensor-7"), "sensor-7");
        assert_eq!(measurement_of(""), "");
    }

    #[test]
    fn an_override_wins_and_zero_keeps_for_ever() {
        let policy = RetentionPolicy {
            default_days: 30,
            by_measurement: BTreeMap::from([("room".into(), 3), ("lab".into(), 0)]),
        };
        assert_eq!(policy.days_for("room,site=a/co2"), Some(3));
        assert_eq!(policy.days_for("roomy/co2"), Some(30));
        assert_eq!(policy.days_for("lab/t"), None);
        assert!(policy.drops_anything());
        assert!(!RetentionPolicy::default().drops_anything());
        assert_eq!(RetentionPolicy::default().days_for("x"), None);
    }
}
