//! Retention of IoT points while a server runs: at start and every hour,
//! each series loses the points older than its measurement's days.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use gantry_core::iot::retention::RetentionPolicy;

use super::forward::pause;
use super::series::SharedSeries;

const EVERY: Duration = Duration::from_secs(3600);

/// The running retention thread; [`stop`](SeriesRetention::stop) ends it.
pub struct SeriesRetention {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl SeriesRetention {
    /// Starts applying `policy`, or returns `None` when it drops nothing.
    pub fn start(
        series: SharedSeries,
        policy: RetentionPolicy,
    ) -> anyhow::Result<Option<SeriesRetention>> {
        if !policy.drops_anything() {
            return Ok(None);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("series-retention".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    let now_ms = chrono::Utc::now().timestamp_millis();
                    match series.lock().apply_retention(&policy, now_ms) {
                        Ok(0) => {}
                        Ok(n) => eprintln!("gantry: retention dropped {n} IoT points"),
                        Err(e) => {
                            eprintln!("gantry: IoT retention failed ({e}); retrying in an hour")
                        }
                    }
                    pause(EVERY, &flag);
                }
            })
            .context("cannot start the IoT retention thread")?;
        Ok(Some(SeriesRetention { stop, thread }))
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}
