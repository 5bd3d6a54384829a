//! The live feed behind `GET /api/stream`: new warnings and a tick a second.
//!
//! Under `gantry demo` the pipeline's store is wrapped in a [`LiveStore`],
//! which publishes the warnings of each batch once the store has accepted
//! it. Under `gantry serve` there is no pipeline in the process, so
//! [`poll`] looks at the store once a second and publishes warnings it has
//! not seen (among the newest [`POLL_WARNINGS`]). Either way [`poll`] sends
//! the ticks.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use gantry_core::time::format_pass_time;
use gantry_core::{CheckpointDirectory, Pass, Warning};
use gantry_store::{
    Batch, Page, PassCursor, PassQuery, RejectedRow, Store, StoreError, WarningQuery, WriteSummary,
};
use tokio::sync::{broadcast, watch};

use super::metrics;
use super::model::{Tick, WarningOut};
use super::state::{AppState, Mode};
use crate::clock::china_now_seconds;

/// Warnings a slow stream client may fall behind by before it skips some.
const WARNING_BUFFER: usize = 1024;

/// How many of the newest stored warnings `serve` compares each second.
pub const POLL_WARNINGS: u64 = 200;

/// New warnings and the latest tick, for any number of stream clients.
#[derive(Clone)]
pub struct Feed {
    warnings: broadcast::Sender<Arc<WarningOut>>,
    ticks: watch::Sender<Option<Arc<Tick>>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            warnings: broadcast::channel(WARNING_BUFFER).0,
            ticks: watch::channel(None).0,
        }
    }
}

impl Feed {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends a warning to every stream client (none listening is fine).
    pub fn publish_warning(&self, warning: &Warning) {
        if self.warnings.receiver_count() > 0 {
            let _ = self.warnings.send(Arc::new(WarningOut::from(warning)));
        }
    }

    fn publish_tick(&self, tick: Tick) {
        self.ticks.send_replace(Some(Arc::new(tick)));
    }

    pub fn subscribe(
        &self,
    ) -> (
        broadcast::Receiver<Arc<WarningOut>>,
        watch::Receiver<Option<Arc<Tick>>>,
    ) {
        (self.warnings.subscribe(), self.ticks.subscribe())
    }
}

/// A store that reports what it accepted: warnings to the [`Feed`], counts
/// to the metrics. The demo's pipeline writes through it.
pub struct LiveStore {
    inner: Box<dyn Store>,
    feed: Feed,
}

impl LiveStore {
    pub fn new(inner: Box<dyn Store>, feed: Feed) -> Self {
        metrics::install();
        LiveStore { inner, feed }
    }
}

impl Store for LiveStore {
    fn write(&mut self, batch: &Batch) -> Result<WriteSummary, StoreError> {
        let summary = self.inner.write(batch)?;
        metrics::record_write(&summary);
        for warning in &batch.warnings {
            self.feed.publish_warning(warning);
        }
        Ok(summary)
    }

    fn upsert_checkpoints(&mut self, checkpoints: &CheckpointDirectory) -> Result<(), StoreError> {
        self.inner.upsert_checkpoints(checkpoints)
    }

    fn begin_bulk(&mut self) -> Result<(), StoreError> {
        self.inner.begin_bulk()
    }

    fn end_bulk(&mut self) -> Result<u64, StoreError> {
        self.inner.end_bulk()
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.inner.flush()
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.inner.close()
    }

    fn query_passes(&self, query: &PassQuery) -> Result<Page<Pass>, StoreError> {
        self.inner.query_passes(query)
    }

    fn pass_chunk(
        &self,
        query: &PassQuery,
        after: Option<&PassCursor>,
        limit: u64,
    ) -> Result<Vec<Pass>, StoreError> {
        self.inner.pass_chunk(query, after, limit)
    }

    fn warnings(&self, query: &WarningQuery) -> Result<Page<Warning>, StoreError> {
        self.inner.warnings(query)
    }

    fn count_passes(&self) -> Result<u64, StoreError> {
        self.inner.count_passes()
    }

    fn top_checkpoints(&self, limit: usize) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.top_checkpoints(limit)
    }

    fn flow_by_hour(
        &self,
        date: NaiveDate,
        checkpoint: Option<&str>,
    ) -> Result<[u64; 24], StoreError> {
        self.inner.flow_by_hour(date, checkpoint)
    }

    fn provinces(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.provinces()
    }

    fn vehicle_types(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.vehicle_types()
    }

    fn passes_per_minute(
        &self,
        range: Range<NaiveDateTime>,
    ) -> Result<Vec<(NaiveDateTime, u64)>, StoreError> {
        self.inner.passes_per_minute(range)
    }

    fn rejected_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.rejected_counts()
    }

    fn rejected(&self, page: u64, size: u64) -> Result<Page<RejectedRow>, StoreError> {
        self.inner.rejected(page, size)
    }

    fn checkpoints(&self) -> Result<CheckpointDirectory, StoreError> {
        self.inner.checkpoints()
    }

    fn recent_passes(&self, since: NaiveDateTime) -> Result<Vec<Pass>, StoreError> {
        self.inner.recent_passes(since)
    }

    fn shard_counts(&self) -> Result<Vec<u64>, StoreError> {
        self.inner.shard_counts()
    }

    fn drop_passes_before(&mut self, day: NaiveDate) -> Result<u64, StoreError> {
        self.inner.drop_passes_before(day)
    }
}

/// What one look at the store found.
struct Snapshot {
    total_records: u64,
    warnings_total: u64,
    rejected_total: u64,
    /// The newest warnings, newest first; fetched only under `serve` and
    /// only when the warning count moved.
    newest_warnings: Option<Vec<Warning>>,
}

/// Once a second until shutdown: counts into a tick (and, under `serve`,
/// into the metrics), new warnings into the feed (under `serve`).
pub async fn poll(state: AppState) {
    let mut shutdown = state.shutdown();
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let serve = state.mode() == Mode::Serve;
    let mut last: Option<(u64, u64)> = None;
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            _ = interval.tick() => {}
        }
        metrics::upkeep();
        let known_warnings = last.map(|(_, w)| w);
        let snapshot = state
            .read(move |store| {
                let total_records = store.count_passes()?;
                let warnings_total = store
                    .warnings(&WarningQuery {
                        size: 0,
                        ..WarningQuery::default()
                    })?
                    .total;
                let (rejected_total, newest_warnings) = if serve {
                    let rejected = store.rejected_counts()?.iter().map(|(_, n)| n).sum();
                    let newest = (known_warnings != Some(warnings_total))
                        .then(|| {
                            store.warnings(&WarningQuery {
                                size: POLL_WARNINGS,
                                ..WarningQuery::default()
                            })
                        })
                        .transpose()?
                        .map(|page| page.items);
                    (rejected, newest)
                } else {
                    (0, None)
                };
                Ok(Snapshot {
                    total_records,
                    warnings_total,
                    rejected_total,
                    newest_warnings,
                })
            })
            .await;
        let Ok(snapshot) = snapshot else {
            // The store is busy or failing: try again next second.
            continue;
        };
        if serve {
            metrics::set_store_totals(
                snapshot.total_records,
                snapshot.rejected_total,
                snapshot.warnings_total,
            );
            if let Some(newest) = &snapshot.newest_warnings {
                if last.is_some() {
                    for warning in newest.iter().rev().filter(|w| !seen.contains(&w.id)) {
                        state.feed().publish_warning(warning);
                    }
                }
                seen = newest.iter().map(|w| w.id.clone()).collect();
            }
        }
        let (records_before, warnings_before) =
            last.unwrap_or((snapshot.total_records, snapshot.warnings_total));
        state.feed().publish_tick(Tick {
            time: format_pass_time(china_now_seconds()),
            total_records: snapshot.total_records,
            warnings_total: snapshot.warnings_total,
            new_records: snapshot.total_records.saturating_sub(records_before),
            new_warnings: snapshot.warnings_total.saturating_sub(warnings_before),
        });
        last = Some((snapshot.total_records, snapshot.warnings_total));
    }
}
