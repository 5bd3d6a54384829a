//! The IoT series store, shared by everything in one process that takes
//! readings in: the HTTP write route and the MQTT source. Stored points
//! also go to whoever listens ([`SharedSeries::subscribe`]): the live
//! stream's `points` events.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use gantry_core::iot::{PayloadError, Point};
use gantry_store::series::{PointsWritten, RejectedPayload, SeriesStore};
use gantry_store::StoreError;
use tokio::sync::broadcast;

/// Stored payloads a slow listener may fall behind by before it skips some.
const LISTEN_BUFFER: usize = 1024;

/// A handle on the one [`SeriesStore`]; SQLite writes one at a time.
#[derive(Clone)]
pub struct SharedSeries {
    store: Arc<Mutex<SeriesStore>>,
    stored: broadcast::Sender<Arc<[Point]>>,
}

/// What became of one payload.
pub enum Ingested {
    Stored { points: u64, written: PointsWritten },
    Rejected(PayloadError),
}

impl SharedSeries {
    /// Opens (creating when missing) `series.sqlite` under `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<SharedSeries> {
        let store = SeriesStore::open(dir)
            .with_context(|| format!("cannot open the IoT store in {}", dir.display()))?;
        Ok(SharedSeries {
            store: Arc::new(Mutex::new(store)),
            stored: broadcast::channel(LISTEN_BUFFER).0,
        })
    }

    /// The store, for one call; blocks while another holds it.
    pub fn lock(&self) -> MutexGuard<'_, SeriesStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The points of every payload stored from now on, one message per
    /// payload (duplicates included: a listener keeps the latest value).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<[Point]>> {
        self.stored.subscribe()
    }

    /// Stores a payload's points, or keeps the payload among the rejected
    /// with its source and reason: nothing that arrived is lost.
    pub fn ingest(
        &self,
        payload: &[u8],
        source: &str,
        parsed: Result<Vec<Point>, PayloadError>,
        arrival_ms: i64,
    ) -> Result<Ingested, StoreError> {
        let mut store = self.lock();
        match parsed {
            Ok(points) => {
                let written = store.write(&points)?;
                drop(store);
                let count = points.len() as u64;
                if self.stored.receiver_count() > 0 && !points.is_empty() {
                    let _ = self.stored.send(points.into());
                }
                Ok(Ingested::Stored {
                    points: count,
                    written,
                })
            }
            Err(e) => {
                store.reject(&RejectedPayload {
                    at_ms: arrival_ms,
                    source,
                    reason: e.reason(),
                    message: &e.to_string(),
                    payload,
                })?;
                Ok(Ingested::Rejected(e))
            }
        }
    }
}

/// Epoch milliseconds now: a reading's time when it carries none.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
