//! What every handler shares: read stores, the live feed, settings.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};

use gantry_core::DetectorConfig;
use gantry_store::Store;
use tokio::sync::watch;

use super::error::ApiError;
use super::feed::Feed;
use super::windows::LiveWindows;
use crate::sinks::redis::RedisWarnings;
use crate::sinks::series::SharedSeries;
use crate::sources::mqtt::MqttLink;

/// A few read stores. [`Store`] is `Send` but not `Sync`, so each sits
/// behind a mutex and a query takes whichever is free.
pub struct ReadPool {
    stores: Vec<Mutex<Box<dyn Store>>>,
    next: AtomicUsize,
}

impl ReadPool {
    /// `stores` must not be empty.
    pub fn new(stores: Vec<Box<dyn Store>>) -> Self {
        assert!(!stores.is_empty(), "a read pool needs a store");
        ReadPool {
            stores: stores.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Runs `f` on a free store, or waits for one. Blocks: call it off the
    /// async workers.
    pub fn with<T>(&self, f: impl FnOnce(&dyn Store) -> T) -> T {
        for store in &self.stores {
            match store.try_lock() {
                Ok(guard) => return f(guard.as_ref()),
                Err(TryLockError::Poisoned(p)) => return f(p.into_inner().as_ref()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.stores.len();
        let guard = self.stores[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(guard.as_ref())
    }
}

/// Where the live warnings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `gantry serve`: no pipeline in this process; the store is polled
    /// once a second for new warnings and counts.
    Serve,
    /// `gantry demo`: the pipeline publishes warnings once stored.
    Demo,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Serve => "serve",
            Mode::Demo => "demo",
        }
    }
}

/// Handler state: cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub pool: ReadPool,
    pub feed: Feed,
    pub mode: Mode,
    pub detector: DetectorConfig,
    /// The Redis list the workers push warnings to, when configured:
    /// `GET /api/warnings/realtime` reads it first.
    pub realtime: Option<Mutex<RedisWarnings>>,
    /// The IoT time-series store.
    pub series: SharedSeries,
    /// The streaming window aggregates of the IoT series.
    pub windows: LiveWindows,
    /// The MQTT connection readings come in by.
    pub mqtt: Arc<MqttLink>,
    /// Turns true when the server shuts down; live streams end then.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    pub fn feed(&self) -> &Feed {
        &self.0.feed
    }

    pub fn mode(&self) -> Mode {
        self.0.mode
    }

    pub fn detector(&self) -> &DetectorConfig {
        &self.0.detector
    }

    pub fn series(&self) -> &SharedSeries {
        &self.0.series
    }

    pub fn windows(&self) -> &LiveWindows {
        &self.0.windows
    }

    pub fn mqtt(&self) -> &Arc<MqttLink> {
        &self.0.mqtt
    }

    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.0.shutdown.clone()
    }

    /// The newest `limit` warnings on the Redis list; `None` when no list
    /// is configured or Redis cannot answer (then the store does).
    pub async fn redis_warnings(&self, limit: usize) -> Option<Vec<gantry_core::Warning>> {
        self.0.realtime.as_ref()?;
        let state = self.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut redis = state
                .0
                .realtime
                .as_ref()?
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match redis.recent(limit) {
                Ok(warnings) => Some(warnings),
                Err(e) => {
                    eprintln!("gantry: realtime warnings from the store: {e:#}");
                    None
                }
            }
        });
        read.await.ok().flatten()
    }

    /// Runs a query on a read store, on the blocking thread pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, ApiError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || state.0.pool.with(f))
            .await
            .map_err(|e| ApiError::internal(format!("a query failed: {e}")))?
    }
}
