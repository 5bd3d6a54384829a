//! The archive of IoT points: a sink of the series store's forward queue
//! (so a point is queued in the transaction that stores it), with files
//! named after the queue positions they hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use gantry_core::time::china_time_of_ms;
use gantry_store::series::Queued;

use super::{commit, day_dir, parquet_files, part_name, remove_uncommitted, Table};
use crate::sinks::series::SharedSeries;

/// The archive's cursor in the series store.
const SINK: &str = "archive:points";

/// File names' prefix.
const PREFIX: &str = "part";

pub struct PointTable {
    series: SharedSeries,
    dir: PathBuf,
}

impl PointTable {
    /// Registers the archive with the store and removes files a crash
    /// left beyond its cursor.
    pub fn open(series: SharedSeries, archive_dir: &Path) -> anyhow::Result<PointTable> {
        series.lock().register_sink(SINK)?;
        let mut table = PointTable {
            series,
            dir: archive_dir.join("points"),
        };
        table.recover()?;
        Ok(table)
    }
}

impl Table for PointTable {
    fn name(&self) -> &'static str {
        "points"
    }

    fn waiting(&mut self) -> anyhow::Result<u64> {
        Ok(self.series.lock().backlog(SINK)?)
    }

    fn recover(&mut self) -> anyhow::Result<()> {
        let cursor = self.series.lock().cursor(SINK)?;
        let cursor = cursor.context("the archive's cursor is missing")?;
        let removed = remove_uncommitted(&self.dir, PREFIX, cursor)?;
        if removed > 0 {
            eprintln!(
                "gantry: removed {removed} unconfirmed point archive files; writing them again"
            );
        }
        Ok(())
    }

    fn archive(&mut self, limit: usize) -> anyhow::Result<usize> {
        let points = self.series.lock().pending(SINK, limit)?;
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            return Ok(0);
        };
        let name = part_name(PREFIX, first.seq, last.seq);
        for (day, points) in by_day(&points) {
            commit(&day_dir(&self.dir, day), &name, |file| {
                parquet_files::write_points(file, &points)
            })?;
        }
        self.series.lock().forwarded(SINK, last.seq)?;
        Ok(points.len())
    }
}

/// Points grouped by their China Standard Time day, the partition users
/// query by.
fn by_day(points: &[Queued]) -> BTreeMap<NaiveDate, Vec<&Queued>> {
    let mut days: BTreeMap<NaiveDate, Vec<&Queued>> = BTreeMap::new();
    for point in points {
        let day = china_time_of_ms(point.time_ms).map_or(NaiveDate::MIN, |t| t.date());
        days.entry(day).or_default().push(point);
    }
    days
}
