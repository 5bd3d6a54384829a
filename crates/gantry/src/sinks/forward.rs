//! Forwarding stored IoT points to an external sink (InfluxDB …): a thread
//! per sink reads what the series store queued for it, sends it in
//! batches, and only then moves the sink's cursor. While the sink is down
//! the points wait in `series.sqlite` (the disk buffer), retried with
//! growing pauses; a restart resumes at the cursor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use gantry_store::series::Queued;

use super::series::SharedSeries;

/// How often an idle forwarder looks for new points.
const IDLE: Duration = Duration::from_millis(200);

/// Longest pause between two attempts at a failing sink.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Somewhere stored points go.
pub trait PointSink: Send {
    /// Stable name: the key of the sink's cursor in the series store.
    fn name(&self) -> String;
    /// Sends a batch; `Ok` only once the sink has every point of it.
    fn send(&mut self, points: &[Queued]) -> anyhow::Result<()>;
}

/// The HTTP client of an HTTP sink (`what` names it in the error): no
/// proxy, as the sinks sit beside gantry, and a bounded wait.
pub fn http_client(what: &str) -> anyhow::Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .with_context(|| format!("cannot create the {what} HTTP client"))
}

/// A running forwarder; [`stop`](Forwarder::stop) ends it.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    /// Registers the sink (points stored from now on are queued for it)
    /// and starts forwarding.
    pub fn start(
        series: SharedSeries,
        mut sink: Box<dyn PointSink>,
        batch: usize,
    ) -> anyhow::Result<Forwarder> {
        let name = sink.name();
        series
            .lock()
            .register_sink(&name)
            .with_context(|| format!("cannot register the sink {name}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("forward".into())
            .spawn(move || forward(&series, sink.as_mut(), &name, batch.max(1), &flag))
            .context("cannot start the forwarding thread")?;
        Ok(Forwarder {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn forward(
    series: &SharedSeries,
    sink: &mut dyn PointSink,
    name: &str,
    batch: usize,
    stop: &AtomicBool,
) {
    let mut backoff = Duration::from_millis(100);
    let mut failing_since: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        let pending = series.lock().pending(name, batch);
        let result = pending.map_err(anyhow::Error::from).and_then(|points| {
            let Some(last) = points.last().map(|p| p.seq) else {
                return Ok(0);
            };
            sink.send(&points)?;
            series.lock().forwarded(name, last)?;
            Ok(points.len())
        });
        match result {
            Ok(0) => pause(IDLE, stop),
            Ok(_) => {
                if let Some(since) = failing_since.take() {
                    eprintln!(
                        "gantry: {name} is back after {:.0?}; forwarding what waited",
                        since.elapsed()
                    );
                }
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                if failing_since.is_none() {
                    eprintln!("gantry: cannot forward to {name} ({e:#}); points wait in series.sqlite, retrying");
                    failing_since = Some(Instant::now());
                }
                pause(backoff, stop);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Sleeps `how_long`, or less when asked to stop.
pub fn pause(how_long: Duration, stop: &AtomicBool) {
    let until = Instant::now() + how_long;
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(
            Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())),
        );
    }
}
