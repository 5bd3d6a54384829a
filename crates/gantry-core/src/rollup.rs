//! Rollups: pass counts per checkpoint per minute, per province, per
//! vehicle type and per hour of day, accumulated in memory per batch.
//!
//! A store adds the passes it actually inserted to a [`RollupDelta`] and
//! then adds the delta to its rollup tables in the same transaction, so the
//! rollups always agree with the rows. Deltas from several batches or
//! threads combine with [`RollupDelta::merge`].

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use hashbrown::HashMap;

use crate::pass::{Derived, PassRef};

type Map<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// A time truncated to the start of its minute.
pub fn minute_of(time: NaiveDateTime) -> NaiveDateTime {
    let t = time.time();
    // `from_hms_opt` cannot fail for an hour and minute taken from a valid time.
    let minute = NaiveTime::from_hms_opt(t.hour(), t.minute(), 0).unwrap_or(t);
    NaiveDateTime::new(time.date(), minute)
}

/// Pass counts accumulated in memory, to be added to stored rollups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupDelta {
    /// Checkpoint name → minute → count. Two levels so that adding a pass
    /// looks the name up by `&str` without allocating.
    per_checkpoint_minute: Map<String, Map<NaiveDateTime, u64>>,
    per_province: Map<&'static str, u64>,
    per_vehicle_type: Map<&'static str, u64>,
    per_hour: Map<(NaiveDate, u8), u64>,
    passes: u64,
}

impl RollupDelta {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one pass, deriving its province and vehicle type.
    pub fn add(&mut self, pass: &PassRef<'_>) {
        self.add_derived(pass, &pass.derived());
    }

    /// Counts one pass whose derived attributes the caller already has.
    pub fn add_derived(&mut self, pass: &PassRef<'_>, derived: &Derived) {
        self.add_counts(
            pass.checkpoint,
            pass.time,
            derived.province,
            derived.vehicle_type,
            1,
        );
    }

    /// Counts `n` passes at one checkpoint and time with the given attributes.
    pub fn add_counts(
        &mut self,
        checkpoint: &str,
        time: NaiveDateTime,
        province: &'static str,
        vehicle_type: &'static str,
        n: u64,
    ) {
        if n == 0 {
            return;
        }
        let minutes = match self.per_checkpoint_minute.get_mut(checkpoint) {
            Some(m) => m,
            None => self
                .per_checkpoint_minute
                .entry(checkpoint.to_owned())
                .or_default(),
        };
        *minutes.entry(minute_of(time)).or_insert(0) += n;
        *self.per_province.entry(province).or_insert(0) += n;
        *self.per_vehicle_type.entry(vehicle_type).or_insert(0) += n;
        *self
            .per_hour
            .entry((time.date(), time.hour() as u8))
            .or_insert(0) += n;
        self.passes += n;
    }

    /// Adds another delta's counts to this one.
    pub fn merge(&mut self, other: &RollupDelta) {
        for (checkpoint, minutes) in &other.per_checkpoint_minute {
            let mine = match self.per_checkpoint_minute.get_mut(checkpoint.as_str()) {
                Some(m) => m,
                None => self
                    .per_checkpoint_minute
                    .entry(checkpoint.clone())
                    .or_default(),
            };
            for (&minute, &n) in minutes {
                *mine.entry(minute).or_insert(0) += n;
            }
        }
        for (&k, &n) in &other.per_province {
            *self.per_province.entry(k).or_insert(0) += n;
        }
        for (&k, &n) in &other.per_vehicle_type {
            *self.per_vehicle_type.entry(k).or_insert(0) += n;
        }
        for (&k, &n) in &other.per_hour {
            *self.per_hour.entry(k).or_insert(0) += n;
        }
        self.passes += other.passes;
    }

    pub fn is_empty(&self) -> bool {
        self.passes == 0
    }

    /// The number of passes counted.
    pub fn passes(&self) -> u64 {
        self.passes
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// (checkpoint, minute, count), in no particular order.
    pub fn per_checkpoint_minute(&self) -> impl Iterator<Item = (&str, NaiveDateTime, u64)> + '_ {
        self.per_checkpoint_minute
            .iter()
            .flat_map(|(checkpoint, minutes)| {
                minutes
                    .iter()
                    .map(move |(&minute, &n)| (checkpoint.as_str(), minute, n))
            })
    }

    /// (checkpoint, count) totals, in no particular order.
    pub fn per_checkpoint(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.per_checkpoint_minute
            .iter()
            .map(|(checkpoint, minutes)| (checkpoint.as_str(), minutes.values().sum()))
    }

    /// (checkpoint, date, hour of day 0–23, count), in that order: the
    /// per-checkpoint grain a store needs when it answers flow by hour and
    /// would rather not keep one row per checkpoint and minute.
    pub fn per_checkpoint_hour(&self) -> Vec<(&str, NaiveDate, u8, u64)> {
        let mut hours: Map<(&str, NaiveDate, u8), u64> = Map::default();
        for (checkpoint, minute, n) in self.per_checkpoint_minute() {
            let key = (checkpoint, minute.date(), minute.hour() as u8);
            *hours.entry(key).or_insert(0) += n;
        }
        let mut out: Vec<_> = hours
            .into_iter()
            .map(|((k, d, h), n)| (k, d, h, n))
            .collect();
        out.sort_unstable();
        out
    }

    /// (minute, count) totals over all checkpoints, in minute order.
    pub fn per_minute(&self) -> Vec<(NaiveDateTime, u64)> {
        let mut totals: Map<NaiveDateTime, u64> = Map::default();
        for (_, minute, n) in self.per_checkpoint_minute() {
            *totals.entry(minute).or_insert(0) += n;
        }
        let mut out: Vec<(NaiveDateTime, u64)> = totals.into_iter().collect();
        out.sort_unstable();
        out
    }

    /// (province, count), in no particular order.
    pub fn per_province(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.per_province.iter().map(|(&k, &n)| (k, n))
    }

    /// (vehicle type name, count), in no particular order.
    pub fn per_vehicle_type(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.per_vehicle_type.iter().map(|(&k, &n)| (k, n))
    }

    /// (date, hour of day 0–23, count), in no particular order.
    pub fn per_hour(&self) -> impl Iterator<Item = (NaiveDate, u8, u64)> + '_ {
        self.per_hour.iter().map(|(&(d, h), &n)| (d, h, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
        v.sort();
        v
    }

    #[test]
    fn minute_truncates_seconds() {
        assert_eq!(
            minute_of(at("2023-12-01 08:15:59")),
            at("2023-12-01 08:15:00")
        );
        assert_eq!(
            minute_of(at("2023-12-01 08:15:00")),
            at("2023-12-01 08:15:00")
        );
    }

    #[test]
    fn counts_each_dimension() {
        let mut d = RollupDelta::new();
        assert!(d.is_empty());
        d.add_counts("A", at("2023-12-01 08:15:01"), "四川", "小型汽车", 1);
        d.add_counts("A", at("2023-12-01 08:15:59"), "四川", "大型汽车", 1);
        d.add_counts("A", at("2023-12-01 08:16:00"), "重庆", "小型汽车", 2);
        d.add_counts("B", at("2023-12-02 23:59:59"), "四川", "小型汽车", 1);
        d.add_counts("B", at("2023-12-02 23:59:59"), "四川", "小型汽车", 0);
        d.add_counts("A", at("2023-12-01 09:00:00"), "四川", "小型汽车", 3);
        assert!(!d.is_empty());
        assert_eq!(d.passes(), 8);
        assert_eq!(
            sorted(d.per_checkpoint_minute().collect()),
            vec![
                ("A", at("2023-12-01 08:15:00"), 2),
                ("A", at("2023-12-01 08:16:00"), 2),
                ("A", at("2023-12-01 09:00:00"), 3),
                ("B", at("2023-12-02 23:59:00"), 1),
            ]
        );
        assert_eq!(
            sorted(d.per_checkpoint().collect()),
            vec![("A", 7), ("B", 1)]
        );
        assert_eq!(
            sorted(d.per_province().collect()),
            vec![("四川", 6), ("重庆", 2)]
        );
        assert_eq!(
            sorted(d.per_vehicle_type().collect()),
            vec![("大型汽车", 1), ("小型汽车", 7)]
        );
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            sorted(d.per_hour().collect()),
            vec![
                (day("2023-12-01"), 8, 4),
                (day("2023-12-01"), 9, 3),
                (day("2023-12-02"), 23, 1)
            ]
        );
        assert_eq!(
            d.per_checkpoint_hour(),
            vec![
                ("A", day("2023-12-01"), 8, 4),
                ("A", day("2023-12-01"), 9, 3),
                ("B", day("2023-12-02"), 23, 1)
            ]
        );
    }

    #[test]
    fn add_derived_uses_the_pass_and_its_attributes() {
        let pass = PassRef {
            id: "1",
            district: "成都",
            checkpoint: "K1",
            direction: "1",
            time: at("2023-12-01 08:15:01"),
            plate_type: "02".into(),
            plate: "川A12345",
            brand: "-",
        };
        let derived = Derived {
            province: "四川",
            is_weekend: false,
            is_peak_hour: true,
            vehicle_type: "小型汽车",
        };
        let mut d = RollupDelta::new();
        d.add_derived(&pass, &derived);
        d.add_derived(&pass, &derived);
        let mut expected = RollupDelta::new();
        expected.add_counts("K1", at("2023-12-01 08:15:00"), "四川", "小型汽车", 2);
        assert_eq!(d, expected);
    }

    #[test]
    fn merge_equals_adding_everything_to_one() {
        let rows = [
            ("A", "2023-12-01 08:15:01", "四川", "小型汽车"),
            ("B", "2023-12-01 09:00:00", "重庆", "小型汽车"),
            ("A", "2023-12-01 08:15:30", "四川", "大型汽车"),
            ("C", "2023-12-03 00:00:00", "使馆", "使馆汽车"),
        ];
        let mut all = RollupDelta::new();
        let (mut left, mut right) = (RollupDelta::new(), RollupDelta::new());
        for (i, (k, t, p, v)) in rows.iter().enumerate() {
            all.add_counts(k, at(t), p, v, 1);
            if i % 2 == 0 { &mut left } else { &mut right }.add_counts(k, at(t), p, v, 1);
        }
        left.merge(&right);
        assert_eq!(left, all);
        let mut empty = RollupDelta::new();
        empty.merge(&RollupDelta::new());
        assert!(empty.is_empty());
        empty.merge(&all);
        assert_eq!(empty, all);
        empty.clear();
        assert!(empty.is_empty());
    }
}
