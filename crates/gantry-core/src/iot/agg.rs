//! How a range of points is reduced to one value per step.

use std::fmt;

/// The aggregations a downsampled range query offers (`agg=` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Agg {
    #[default]
    Avg,
    Min,
    Max,
    Sum,
    Count,
    /// The value of the newest point in the step.
    Last,
}

impl Agg {
    pub const ALL: [Agg; 6] = [
        Agg::Avg,
        Agg::Min,
        Agg::Max,
        Agg::Sum,
        Agg::Count,
        Agg::Last,
    ];

    /// Reads the query-string name (`avg`, `min`, `max`, `sum`, `count`,
    /// `last`).
    pub fn from_query(name: &str) -> Option<Agg> {
        Agg::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Agg::Avg => "avg",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Sum => "sum",
            Agg::Count => "count",
            Agg::Last => "last",
        }
    }
}

impl fmt::Display for Agg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The start of the step of `step_ms` that holds `ts_ms`, steps aligned to
/// the epoch (so minute and hour steps fall on whole minutes and hours).
pub fn step_start(ts_ms: i64, step_ms: i64) -> i64 {
    ts_ms - ts_ms.rem_euclid(step_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for agg in Agg::ALL {
            assert_eq!(Agg::from_query(agg.name()), Some(agg));
        }
        assert_eq!(Agg::from_query("median"), None);
        assert_eq!(Agg::from_query("AVG"), None);
    }

    #[test]
    fn steps_align_to_the_epoch_also_before_it() {
        assert_eq!(step_start(125_000, 60_000), 120_000);
        assert_eq!(step_start(120_000, 60_000), 120_000);
        assert_eq!(step_start(-1, 60_000), -60_000);
    }
}
