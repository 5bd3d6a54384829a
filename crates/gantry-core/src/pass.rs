//! The pass record (过车记录): one vehicle seen by one checkpoint camera.
//!
//! Field names inside the code say what things are; the users' names
//! (GCXH, KKMC, HPHM …) appear only in formats, SQL and JSON.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDateTime, Timelike, Weekday};

use crate::{plate, vehicle};

/// A pass record as read, borrowing from the input text.
///
/// The hot paths (`detect`, `import`) parse into this without allocating.
#[derive(Debug, Clone, PartialEq)]
pub struct PassRef<'a> {
    /// GCXH: the pass id, unique per record.
    pub id: &'a str,
    /// XZQHMC: administrative district of the checkpoint.
    pub district: &'a str,
    /// KKMC: checkpoint name; also the shard key.
    pub checkpoint: &'a str,
    /// FXLX: direction.
    pub direction: &'a str,
    /// GCSJ: pass time, local wall-clock time (China Standard Time).
    pub time: NaiveDateTime,
    /// HPZL: plate type code, normalised to two digits where numeric ("2", "'02" → "02").
    pub plate_type: Cow<'a, str>,
    /// HPHM: plate number.
    pub plate: &'a str,
    /// CLPPXH: brand and model, "-" when unknown.
    pub brand: &'a str,
}

/// An owned pass record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pass {
    pub id: String,
    pub district: String,
    pub checkpoint: String,
    pub direction: String,
    pub time: NaiveDateTime,
    pub plate_type: String,
    pub plate: String,
    pub brand: String,
}

/// Attributes derived from a pass. Always recomputed, never trusted from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Derived {
    /// PROVINCE: from the plate's first character ("四川"), or the special plate kind.
    pub province: &'static str,
    /// IS_WEEKEND.
    pub is_weekend: bool,
    /// IS_PEAK_HOUR: 07:00–08:59 or 17:00–18:59 (the 7–9 and 17–19 rush hours).
    pub is_peak_hour: bool,
    /// VEHICLE_TYPE_NAME: from the plate type code (GA 24.7).
    pub vehicle_type: &'static str,
}

impl Derived {
    pub fn of(plate_number: &str, plate_type: &str, time: NaiveDateTime) -> Self {
        Derived {
            province: plate::province_of(plate_number),
            is_weekend: matches!(time.weekday(), Weekday::Sat | Weekday::Sun),
            is_peak_hour: matches!(time.hour(), 7 | 8 | 17 | 18),
            vehicle_type: vehicle::vehicle_type_name(plate_type),
        }
    }
}

impl PassRef<'_> {
    pub fn derived(&self) -> Derived {
        Derived::of(self.plate, &self.plate_type, self.time)
    }

    pub fn to_pass(&self) -> Pass {
        Pass {
            id: self.id.to_owned(),
            district: self.district.to_owned(),
            checkpoint: self.checkpoint.to_owned(),
            direction: self.direction.to_owned(),
            time: self.time,
            plate_type: self.plate_type.clone().into_owned(),
            plate: self.plate.to_owned(),
            brand: self.brand.to_owned(),
        }
    }
}

impl Pass {
    pub fn derived(&self) -> Derived {
        Derived::of(&self.plate, &self.plate_type, self.time)
    }

    pub fn as_ref(&self) -> PassRef<'_> {
        PassRef {
            id: &self.id,
            district: &self.district,
            checkpoint: &self.checkpoint,
            direction: &self.direction,
            time: self.time,
            plate_type: Cow::Borrowed(&self.plate_type),
            plate: &self.plate,
            brand: &self.brand,
        }
    }
}
