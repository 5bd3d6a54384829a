//! Cloned-plate detection (套牌车检测).
//!
//! Per plate, in event-time order, every two time-adjacent sightings are
//! checked: if the straight-line distance between their checkpoints over the
//! interval exceeds the speed limit, one vehicle cannot have made both, so
//! the plate is on two vehicles. Where a checkpoint has no coordinates the
//! classic rule applies instead (a different checkpoint within the window).
//!
//! Records may arrive late and twice. A reorder buffer holds each second of
//! event time until the watermark (newest time seen minus the allowed
//! lateness) passes it, then releases it sorted by pass id, so the same input
//! in any arrival order within the lateness yields the same warnings, and
//! warning ids are derived from the two pass ids, so a replay adds nothing.
//!
//! State is bounded: the reorder buffer holds `lateness` worth of records,
//! and a plate's last sighting is evicted once it is older than `horizon`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use compact_str::CompactString;

use crate::checkpoint::{CheckpointDirectory, CheckpointId};
use crate::geo::haversine_km;
use crate::pass::PassRef;
use crate::plate;
use crate::warning::{warning_id, Rule, Sighting, Warning};

mod table;
use table::{Last, PlateTable};

/// Detector settings. The defaults are what a traffic police deployment uses.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Straight-line speed above which two sightings are impossible, km/h.
    pub speed_limit_kmh: f64,
    /// Checkpoints closer than this never raise a warning: opposite lanes of
    /// one gantry and camera clock skew would otherwise look like clones.
    pub min_distance_km: f64,
    /// Fallback rule when a checkpoint has no coordinates: a different
    /// checkpoint within this many seconds is a clone.
    pub window_s: i64,
    /// How late (event time) a record may arrive and still be put in order.
    pub lateness_s: i64,
    /// How long a plate's last sighting is kept after it was seen.
    pub horizon_s: i64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            speed_limit_kmh: 200.0,
            min_distance_km: 1.0,
            window_s: 300,
            lateness_s: 300,
            horizon_s: 6 * 3600,
        }
    }
}

/// Counters a detector keeps, for summaries and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectorStats {
    /// Records offered to the detector.
    pub observed: u64,
    /// Records whose plate is a placeholder or ill-formed: never tracked.
    pub untracked: u64,
    /// Records older than the watermark when they arrived: not compared.
    pub late: u64,
    /// Records whose pass id equals the plate's previous sighting.
    pub duplicates: u64,
    /// Warnings raised.
    pub warnings: u64,
    /// Plates with a sighting held now.
    pub tracked_plates: u64,
    /// Records waiting in the reorder buffer now.
    pub buffered: u64,
    /// Plates evicted after the horizon.
    pub evicted: u64,
}

/// A plate number packed into 16 bytes (zero padded), so the per-plate map
/// holds no heap strings. Plates longer than 16 bytes are ill-formed anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PlateKey(u128);

impl PlateKey {
    fn new(plate: &str) -> Option<Self> {
        let bytes = plate.as_bytes();
        if bytes.len() > 16 || bytes.contains(&0) {
            return None;
        }
        let mut buf = [0u8; 16];
        buf[..bytes.len()].copy_from_slice(bytes);
        Some(PlateKey(u128::from_le_bytes(buf)))
    }

    fn to_plate(self) -> String {
        let buf = self.0.to_le_bytes();
        let len = buf.iter().position(|&b| b == 0).unwrap_or(16);
        String::from_utf8_lossy(&buf[..len]).into_owned()
    }
}

/// A pass reduced to what detection needs: compact, owned and `Send`, so
/// parsing and preparing can run on one thread and detecting on another.
#[derive(Debug, Clone)]
pub struct Observation {
    plate: PlateKey,
    plate_type: CompactString,
    id: CompactString,
    checkpoint: CheckpointId,
    time: i64,
}

/// How many records ahead the detector prefetches plate slots.
const PREFETCH_AHEAD: usize = 8;

impl Observation {
    /// A placeholder left behind when a record is taken out of a bucket.
    const EMPTY: Observation = Observation {
        plate: PlateKey(0),
        plate_type: CompactString::const_new(""),
        id: CompactString::const_new(""),
        checkpoint: 0,
        time: 0,
    };

    /// `None` when the plate is a placeholder or ill-formed.
    fn of(pass: &PassRef<'_>, checkpoints: &mut CheckpointDirectory) -> Option<Self> {
        let plate = PlateKey::new(pass.plate).filter(|_| plate::is_trackable(pass.plate))?;
        Some(Observation {
            plate,
            plate_type: CompactString::new(&pass.plate_type),
            id: CompactString::new(pass.id),
            checkpoint: checkpoints.intern(pass.checkpoint),
            time: pass.time.and_utc().timestamp(),
        })
    }
}

/// The stateless half of detection: checks the plate is trackable and
/// interns the checkpoint. A `Preparer` made from a detector's checkpoints
/// hands out the same checkpoint ids the detector would, as long as the
/// detector learns the new names (`Preparer::take_new_checkpoints`) in order.
#[derive(Debug, Clone)]
pub struct Preparer {
    checkpoints: CheckpointDirectory,
    reported: usize,
    untracked: u64,
}

impl Preparer {
    pub fn new(checkpoints: CheckpointDirectory) -> Self {
        let reported = checkpoints.len();
        Preparer {
            checkpoints,
            reported,
            untracked: 0,
        }
    }

    /// The observation of a pass, or `None` when its plate is a
    /// placeholder or ill-formed and must never be tracked.
    pub fn prepare(&mut self, pass: &PassRef<'_>) -> Option<Observation> {
        let observation = Observation::of(pass, &mut self.checkpoints);
        self.untracked += u64::from(observation.is_none());
        observation
    }

    /// Checkpoint names first seen since the last call, in id order.
    pub fn take_new_checkpoints(&mut self) -> Vec<String> {
        let names = (self.reported..self.checkpoints.len())
            .map(|id| self.checkpoints.get(id as CheckpointId).name.clone())
            .collect();
        self.reported = self.checkpoints.len();
        names
    }

    /// Passes whose plates were not trackable.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }
}

/// Streaming cloned-plate detector. Pure: time comes in with the records.
pub struct Detector {
    config: DetectorConfig,
    checkpoints: CheckpointDirectory,
    plates: PlateTable,
    /// Event second → records of that second, in arrival order.
    buffer: BTreeMap<i64, Vec<Observation>>,
    /// Emptied bucket vectors, reused to avoid an allocation per second.
    spare: Vec<Vec<Observation>>,
    /// Newest event time seen.
    max_time: Option<i64>,
    /// Every second up to and including this one has been released.
    released_to: i64,
    next_sweep: i64,
    stats: DetectorStats,
}

impl Detector {
    pub fn new(config: DetectorConfig, checkpoints: CheckpointDirectory) -> Self {
        Detector {
            config,
            checkpoints,
            plates: PlateTable::new(),
            buffer: BTreeMap::new(),
            spare: Vec::new(),
            max_time: None,
            released_to: i64::MIN,
            next_sweep: i64::MIN,
            stats: DetectorStats::default(),
        }
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The checkpoints known so far, including ones first seen in data.
    pub fn checkpoints(&self) -> &CheckpointDirectory {
        &self.checkpoints
    }

    pub fn stats(&self) -> DetectorStats {
        DetectorStats {
            tracked_plates: self.plates.len() as u64,
            buffered: self.buffer.values().map(|b| b.len() as u64).sum(),
            ..self.stats
        }
    }

    /// Takes one record in arrival order and appends every warning that has
    /// become certain (its seconds passed the watermark) to `out`.
    /// `now` is the processing time stamped on those warnings.
    pub fn observe(&mut self, pass: &PassRef<'_>, now: NaiveDateTime, out: &mut Vec<Warning>) {
        match Observation::of(pass, &mut self.checkpoints) {
            Some(observation) => self.observe_prepared(observation, now, out),
            None => {
                self.stats.observed += 1;
                self.stats.untracked += 1;
            }
        }
    }

    /// A [`Preparer`] that hands out this detector's checkpoint ids.
    pub fn preparer(&self) -> Preparer {
        Preparer::new(self.checkpoints.clone())
    }

    /// Learns checkpoint names a [`Preparer`] interned, in its order.
    pub fn learn_checkpoints(&mut self, names: &[String]) {
        for name in names {
            self.checkpoints.intern(name);
        }
    }

    /// Like [`Self::observe`], for a pass a [`Preparer`] reduced already.
    pub fn observe_prepared(
        &mut self,
        observation: Observation,
        now: NaiveDateTime,
        out: &mut Vec<Warning>,
    ) {
        self.stats.observed += 1;
        let time = observation.time;
        if time <= self.released_to {
            self.stats.late += 1;
            return;
        }
        let spare = &mut self.spare;
        self.buffer
            .entry(time)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push(observation);
        if self.max_time.is_none_or(|m| time > m) {
            self.max_time = Some(time);
            // A record `lateness_s` older than the newest is still on time,
            // so the second before that is the last one certain.
            self.release_through(time - self.config.lateness_s - 1, now, out);
        }
    }

    /// End of input: releases everything still buffered.
    pub fn flush(&mut self, now: NaiveDateTime, out: &mut Vec<Warning>) {
        if let Some(max) = self.max_time {
            self.release_through(max, now, out);
        }
    }

    /// Releases every buffered second up to `watermark`, in time order.
    fn release_through(&mut self, watermark: i64, now: NaiveDateTime, out: &mut Vec<Warning>) {
        if watermark <= self.released_to {
            return;
        }
        while let Some(entry) = self.buffer.first_entry() {
            if *entry.key() > watermark {
                break;
            }
            let mut bucket = entry.remove();
            // Same-second records in a fixed order, whatever order they came
            // in. Only a plate's own order matters, so plates compare first
            // (integers) and ids (strings) only break ties.
            bucket.sort_unstable_by(|a, b| a.plate.0.cmp(&b.plate.0).then_with(|| a.id.cmp(&b.id)));
            for i in 0..bucket.len() {
                if let Some(ahead) = bucket.get(i + PREFETCH_AHEAD) {
                    self.plates.prefetch(ahead.plate.0);
                }
                let observation = std::mem::replace(&mut bucket[i], Observation::EMPTY);
                self.process(observation, now, out);
            }
            bucket.clear();
            self.spare.push(bucket);
        }
        self.released_to = watermark;
        if watermark >= self.next_sweep {
            self.evict_older_than(watermark - self.config.horizon_s);
            self.next_sweep = watermark + (self.config.horizon_s / 8).max(60);
        }
    }

    fn evict_older_than(&mut self, cutoff: i64) {
        self.stats.evicted += self.plates.retain(|last| last.time >= cutoff) as u64;
    }

    /// Compares a record with its plate's previous sighting, then makes it
    /// the previous sighting. Records come here in event-time order.
    fn process(&mut self, current: Observation, now: NaiveDateTime, out: &mut Vec<Warning>) {
        let next = Last {
            id: current.id,
            checkpoint: current.checkpoint,
            time: current.time,
        };
        let Some(previous) = self.plates.get_mut(current.plate.0) else {
            self.plates.insert_new(current.plate.0, next);
            return;
        };
        if previous.id == next.id {
            // A duplicate is not a new sighting.
            self.stats.duplicates += 1;
            return;
        }
        if let Some(judgement) = judge(&self.config, &self.checkpoints, previous, &next) {
            self.stats.warnings += 1;
            out.push(Warning {
                id: warning_id(&previous.id, &next.id),
                plate: current.plate.to_plate(),
                plate_type: current.plate_type.into(),
                first: sighting(&self.checkpoints, previous),
                second: sighting(&self.checkpoints, &next),
                distance_km: judgement.distance_km.map(round3),
                interval_s: judgement.interval_s,
                speed_kmh: judgement.speed_kmh.map(round3),
                rule: judgement.rule,
                detected_at: now,
            });
        }
        *previous = next;
    }
}

/// The rule two adjacent sightings of one plate break, if any.
fn judge(
    config: &DetectorConfig,
    checkpoints: &CheckpointDirectory,
    first: &Last,
    second: &Last,
) -> Option<Judgement> {
    if first.checkpoint == second.checkpoint {
        return None;
    }
    let interval_s = second.time - first.time;
    let from = checkpoints.location(first.checkpoint);
    let to = checkpoints.location(second.checkpoint);
    let (Some(a), Some(b)) = (from, to) else {
        return (interval_s <= config.window_s).then_some(Judgement {
            rule: Rule::Window,
            distance_km: None,
            speed_kmh: None,
            interval_s,
        });
    };
    let distance_km = haversine_km(a, b);
    if distance_km < config.min_distance_km {
        return None;
    }
    if interval_s == 0 {
        return Some(Judgement {
            rule: Rule::Simultaneous,
            distance_km: Some(distance_km),
            speed_kmh: None,
            interval_s,
        });
    }
    let speed_kmh = distance_km * 3600.0 / interval_s as f64;
    (speed_kmh > config.speed_limit_kmh).then_some(Judgement {
        rule: Rule::Speed,
        distance_km: Some(distance_km),
        speed_kmh: Some(speed_kmh),
        interval_s,
    })
}

fn sighting(checkpoints: &CheckpointDirectory, last: &Last) -> Sighting {
    Sighting {
        pass_id: last.id.to_string(),
        checkpoint: checkpoints.get(last.checkpoint).name.clone(),
        time: DateTime::from_timestamp(last.time, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default(),
    }
}

struct Judgement {
    rule: Rule,
    distance_km: Option<f64>,
    speed_kmh: Option<f64>,
    interval_s: i64,
}

/// Three decimals: metres and m/h are all a warning needs, and rounded
/// figures compare equal across runs and stores.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use chrono::NaiveDate;

    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::geo::GeoPoint;

    fn t(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2023, 12, 1)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    /// A: Chengdu; B: 2 km east of A; C: Chongqing (~270 km); X: no coordinates.
    fn checkpoints() -> CheckpointDirectory {
        let mut dir = CheckpointDirectory::new();
        for (name, location) in [
            ("A", Some((104.0665, 30.5723))),
            ("B", Some((104.0872, 30.5723))),
            ("C", Some((106.5516, 29.5630))),
            ("X", None),
        ] {
            dir.upsert(Checkpoint {
                name: name.into(),
                code: String::new(),
                location: location.map(|(lon, lat)| GeoPoint { lon, lat }),
            });
        }
        dir
    }

    fn pass<'a>(
        id: &'a str,
        plate: &'a str,
        checkpoint: &'a str,
        time: NaiveDateTime,
    ) -> PassRef<'a> {
        PassRef {
            id,
            district: "",
            checkpoint,
            direction: "",
            time,
            plate_type: Cow::Borrowed("02"),
            plate,
            brand: "-",
        }
    }

    fn run(config: DetectorConfig, passes: &[PassRef<'_>]) -> (Vec<Warning>, DetectorStats) {
        let mut detector = Detector::new(config, checkpoints());
        let mut out = Vec::new();
        for p in passes {
            detector.observe(p, t(23, 59, 59), &mut out);
        }
        detector.flush(t(23, 59, 59), &mut out);
        (out, detector.stats())
    }

    fn detect(passes: &[PassRef<'_>]) -> Vec<Warning> {
        run(DetectorConfig::default(), passes).0
    }

    #[test]
    fn flags_an_impossible_speed() {
        let w = detect(&[
            pass("1", "川A12345", "A", t(8, 0, 0)),
            pass("2", "川A12345", "C", t(8, 30, 0)),
        ]);
        assert_eq!(w.len(), 1);
        let w = &w[0];
        assert_eq!(w.rule, Rule::Speed);
        assert_eq!(
            (w.first.pass_id.as_str(), w.second.pass_id.as_str()),
            ("1", "2")
        );
        assert_eq!(
            (w.first.checkpoint.as_str(), w.second.checkpoint.as_str()),
            ("A", "C")
        );
        assert_eq!(w.plate, "川A12345");
        assert_eq!(w.plate_type, "02");
        assert_eq!(w.interval_s, 1800);
        let d = w.distance_km.unwrap();
        assert!((260.0..270.0).contains(&d), "{d}");
        assert!((w.speed_kmh.unwrap() - d * 2.0).abs() < 0.01);
        assert_eq!(w.id, warning_id("1", "2"));
    }

    #[test]
    fn possible_trip_is_not_flagged() {
        // 270 km in 2 h is 135 km/h: a fast car, not a clone.
        assert!(detect(&[
            pass("1", "川A12345", "A", t(8, 0, 0)),
            pass("2", "川A12345", "C", t(10, 0, 0)),
        ])
        .is_empty());
    }

    /// The classic 5-minute rule flags every car that passes two nearby
    /// checkpoints; by distance it is an 80 km/h drive.
    #[test]
    fn two_km_in_90_seconds_is_not_a_clone() {
        let passes = [
            pass("1", "川A12345", "A", t(8, 0, 0)),
            pass("2", "川A12345", "B", t(8, 1, 30)),
        ];
        assert!(detect(&passes).is_empty());
    }

    #[test]
    fn same_second_far_apart_is_simultaneous() {
        let w = detect(&[
            pass("1", "川A12345", "A", t(8, 0, 0)),
            pass("2", "川A12345", "C", t(8, 0, 0)),
        ]);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].rule, Rule::Simultaneous);
        assert_eq!(w[0].speed_kmh, None);
    }

    #[test]
    fn fallback_window_rule_without_coordinates() {
        let w = detect(&[
            pass("1", "川A12345", "A", t(8, 0, 0)),
            pass("2", "川A12345", "X", t(8, 4, 0)),
            pass("3", "川A12345", "A", t(8, 20, 0)),
        ]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].rule, Rule::Window);
        assert_eq!(w[0].distance_km, None);
        assert_eq!(w[0].interval_s, 240);

        let config = DetectorConfig {
            window_s: 60,
            ..DetectorConfig::default()
        };
        let passes = [
            pass("1", "川A1", "A", t(8, 0, 0)),
            pass("2", "川A1", "X", t(8, 4, 0)),
        ];
        assert!(run(config, &passes).0.is_empty());
    }

    #[test]
    fn same_checkpoint_is_never_flagged() {
        assert!(detect(&[
            pass("1", "川A12345", "X", t(8, 0, 0)),
            pass("2", "川A12345", "X", t(8, 0, 10)),
        ])
        .is_empty());
    }

    #[test]
    fn placeholder_plates_are_never_flagged() {
        for plate in ["无牌", "未识别", "车牌", "00000000", "川A***45", ""] {
            let (w, stats) = run(
                DetectorConfig::default(),
                &[
                    pass("1", plate, "A", t(8, 0, 0)),
                    pass("2", plate, "C", t(8, 1, 0)),
                ],
            );
            assert!(w.is_empty(), "{plate}");
            assert_eq!(stats.untracked, 2, "{plate}");
        }
    }

    #[test]
    fn out_of_order_within_lateness_gives_the_same_warnings() {
        let ordered = [
            pass("1", "川A12345", "A", t(8, 0, 0)),
            pass("2", "川A12345", "C", t(8, 10, 0)),
            pass("3", "川A12345", "A", t(8, 12, 0)),
            pass("4", "渝B99999", "C", t(8, 12, 30)),
            pass("5", "渝B99999", "A", t(8, 13, 0)),
        ];
        let want = detect(&ordered);
        assert_eq!(want.len(), 3);
        // Record 2 arrives four minutes late; the others shuffled.
        let shuffled = [
            ordered[0].clone(),
            ordered[3].clone(),
            ordered[2].clone(),
            ordered[4].clone(),
            ordered[1].clone(),
        ];
        assert_eq!(detect(&shuffled), want);
    }

    #[test]
    fn records_later_than_the_lateness_are_counted_not_compared() {
        let config = DetectorConfig {
            lateness_s: 60,
            ..DetectorConfig::default()
        };
        let (w, stats) = run(
            config,
            &[
                pass("1", "川A12345", "A", t(8, 0, 0)),
                pass("9", "渝B99999", "A", t(8, 10, 0)),
                pass("2", "川A12345", "C", t(8, 1, 0)),
            ],
        );
        assert!(w.is_empty());
        assert_eq!(stats.late, 1);
    }

    #[test]
    fn a_record_exactly_the_lateness_late_is_still_compared() {
        for lateness_s in [0, 60] {
            let config = DetectorConfig {
                lateness_s,
                ..DetectorConfig::default()
            };
            let first = t(8, 0, 0);
            let late = first + chrono::TimeDelta::seconds(lateness_s);
            // With no lateness at all, records of the newest second still count.
            let (w, stats) = run(
                config,
                &[
                    pass("1", "川A12345", "A", first),
                    pass("9", "渝B99999", "A", late),
                    pass("2", "川A12345", "C", first),
                ],
            );
            assert_eq!(stats.late, 0, "lateness {lateness_s}");
            assert_eq!(w.len(), 1, "lateness {lateness_s}");
        }
    }

    #[test]
    fn duplicates_and_replays_add_no_warning() {
        let once = [
            pass("1", "川A12345", "A", t(8, 0, 0)),
            pass("2", "川A12345", "C", t(8, 10, 0)),
        ];
        let twice = [
            once[0].clone(),
            once[0].clone(),
            once[1].clone(),
            once[1].clone(),
        ];
        let (w, stats) = run(DetectorConfig::default(), &twice);
        assert_eq!(w, detect(&once));
        assert_eq!(stats.duplicates, 2);
    }

    #[test]
    fn same_second_order_does_not_depend_on_arrival() {
        let a = [
            pass("1", "川A12345", "A", t(8, 0, 0)),
            pass("2", "川A12345", "C", t(8, 0, 0)),
        ];
        let b = [a[1].clone(), a[0].clone()];
        assert_eq!(detect(&a), detect(&b));
    }

    #[test]
    fn plates_are_evicted_after_the_horizon() {
        let config = DetectorConfig {
            horizon_s: 3600,
            ..DetectorConfig::default()
        };
        let (w, stats) = run(
            config,
            &[
                pass("1", "川A12345", "A", t(1, 0, 0)),
                pass("2", "渝B99999", "A", t(5, 0, 0)),
                pass("3", "渝B99998", "A", t(5, 30, 0)),
            ],
        );
        assert!(w.is_empty());
        assert_eq!(stats.evicted, 1);
        assert_eq!(stats.tracked_plates, 2);
    }

    #[test]
    fn memory_is_bounded_by_active_plates() {
        let mut detector = Detector::new(
            DetectorConfig {
                horizon_s: 600,
                ..DetectorConfig::default()
            },
            checkpoints(),
        );
        let mut out = Vec::new();
        let start = t(0, 0, 0);
        // 20,000 distinct plates, one every 2 s: at any time ~300 are active.
        for i in 0..20_000u32 {
            let id = i.to_string();
            let plate = format!("川A{i:05}");
            let time = start + chrono::Duration::seconds(2 * i64::from(i));
            detector.observe(&pass(&id, &plate, "A", time), start, &mut out);
        }
        let stats = detector.stats();
        assert!(stats.tracked_plates < 1_000, "{stats:?}");
        assert!(stats.buffered <= 151, "{stats:?}");
    }
}
