//! Checkpoints (卡口): names, codes and coordinates.
//!
//! The checkpoints file has a header `kkmc,kkbh,lon,lat` (more columns
//! allowed, any order). Checkpoints that appear in data but not in the file
//! still work: they are interned without coordinates.

use std::fmt;

use hashbrown::HashMap;

use crate::geo::GeoPoint;

/// Dense index of a checkpoint in a [`CheckpointDirectory`].
pub type CheckpointId = u32;

#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// KKMC.
    pub name: String,
    /// KKBH, the checkpoint code, empty when unknown.
    pub code: String,
    pub location: Option<GeoPoint>,
}

/// Interns checkpoint names to dense ids and holds their coordinates.
#[derive(Debug, Clone, Default)]
pub struct CheckpointDirectory {
    by_name: HashMap<String, CheckpointId, foldhash::fast::RandomState>,
    list: Vec<Checkpoint>,
}

/// A checkpoints file that cannot be used, with the line at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFileError {
    pub line: u64,
    pub message: String,
}

impl fmt::Display for CheckpointFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for CheckpointFileError {}

impl CheckpointDirectory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a checkpoints CSV (already decoded to text).
    pub fn from_csv(text: &str) -> Result<Self, CheckpointFileError> {
        let mut dir = Self::new();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let header = reader.headers().map_err(|e| CheckpointFileError {
            line: 1,
            message: e.to_string(),
        })?;
        let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        let name_col = col("kkmc").ok_or_else(|| CheckpointFileError {
            line: 1,
            message: "header has no kkmc column".into(),
        })?;
        let (code_col, lon_col, lat_col) = (col("kkbh"), col("lon"), col("lat"));
        for (i, row) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let row = row.map_err(|e| CheckpointFileError {
                line,
                message: e.to_string(),
            })?;
            let field = |c: Option<usize>| c.and_then(|c| row.get(c)).unwrap_or("");
            let name = field(Some(name_col));
            if name.is_empty() {
                return Err(CheckpointFileError {
                    line,
                    message: "empty kkmc".into(),
                });
            }
            let location = parse_location(field(lon_col), field(lat_col))
                .map_err(|message| CheckpointFileError { line, message })?;
            dir.upsert(Checkpoint {
                name: name.to_owned(),
                code: field(code_col).to_owned(),
                location,
            });
        }
        Ok(dir)
    }

    /// Writes the directory as a checkpoints CSV that [`Self::from_csv`] reads back.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(["kkmc", "kkbh", "lon", "lat"]);
        for c in &self.list {
            let (lon, lat) = match c.location {
                Some(p) => (format!("{:.6}", p.lon), format!("{:.6}", p.lat)),
                None => (String::new(), String::new()),
            };
            let _ = w.write_record([c.name.as_str(), c.code.as_str(), &lon, &lat]);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// Adds or replaces a checkpoint, keeping its id if the name is known.
    pub fn upsert(&mut self, checkpoint: Checkpoint) -> CheckpointId {
        if let Some(&id) = self.by_name.get(checkpoint.name.as_str()) {
            self.list[id as usize] = checkpoint;
            return id;
        }
        let id = self.list.len() as CheckpointId;
        self.by_name.insert(checkpoint.name.clone(), id);
        self.list.push(checkpoint);
        id
    }

    /// The id of a checkpoint name, adding it without coordinates when new.
    pub fn intern(&mut self, name: &str) -> CheckpointId {
        if let Some(&id) = self.by_name.get(name) {
            return id;
        }
        self.upsert(Checkpoint {
            name: name.to_owned(),
            code: String::new(),
            location: None,
        })
    }

    pub fn id_of(&self, name: &str) -> Option<CheckpointId> {
        self.by_name.get(name).copied()
    }

    pub fn get(&self, id: CheckpointId) -> &Checkpoint {
        &self.list[id as usize]
    }

    pub fn location(&self, id: CheckpointId) -> Option<GeoPoint> {
        self.list[id as usize].location
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Checkpoint> {
        self.list.iter()
    }
}

fn parse_location(lon: &str, lat: &str) -> Result<Option<GeoPoint>, String> {
    if lon.is_empty() && lat.is_empty() {
        return Ok(None);
    }
    let parse = |s: &str, what: &str, max: f64| -> Result<f64, String> {
        let v: f64 = s
            .parse()
            .map_err(|_| format!("{what} {s:?} is not a number"))?;
        if !v.is_finite() || v.abs() > max {
            return Err(format!("{what} {s:?} is out of range"));
        }
        Ok(v)
    };
    Ok(Some(GeoPoint {
        lon: parse(lon, "lon", 180.0)?,
        lat: parse(lat, "lat", 90.0)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_columns_in_any_order_with_extras() {
        let dir = CheckpointDirectory::from_csv(
            "lat,note,KKMC,lon,kkbh\n30.5,x,成都东卡口,104.1,K001\n,,无坐标卡口,,\n",
        )
        .unwrap();
        assert_eq!(dir.len(), 2);
        let id = dir.id_of("成都东卡口").unwrap();
        assert_eq!(dir.get(id).code, "K001");
        assert_eq!(
            dir.location(id),
            Some(GeoPoint {
                lon: 104.1,
                lat: 30.5
            })
        );
        assert_eq!(dir.location(dir.id_of("无坐标卡口").unwrap()), None);
    }

    #[test]
    fn bad_coordinate_names_the_line() {
        let err = CheckpointDirectory::from_csv("kkmc,lon,lat\nA,104,30\nB,abc,30\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("lon"), "{err}");
    }

    #[test]
    fn missing_name_column_is_an_error() {
        assert!(CheckpointDirectory::from_csv("name,lon,lat\nA,1,2\n").is_err());
    }

    #[test]
    fn unknown_names_are_interned_without_coordinates() {
        let mut dir = CheckpointDirectory::new();
        let a = dir.intern("A");
        assert_eq!(dir.intern("A"), a);
        assert_ne!(dir.intern("B"), a);
        assert_eq!(dir.location(a), None);
    }

    #[test]
    fn csv_round_trips() {
        let dir =
            CheckpointDirectory::from_csv("kkmc,kkbh,lon,lat\nA,K1,104.123456,30.654321\nB,,,\n")
                .unwrap();
        let back = CheckpointDirectory::from_csv(&dir.to_csv()).unwrap();
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            dir.iter().collect::<Vec<_>>()
        );
    }
}
