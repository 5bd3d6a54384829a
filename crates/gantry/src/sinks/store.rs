//! Store sink: a writer thread that owns the store, fed batches through a
//! bounded channel. A full channel blocks the pipeline (backpressure), and
//! the pipeline's offsets (file position, simulator) only move on once a
//! batch is handed over; `finish` waits until every batch is written.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{anyhow, Context};
use crossbeam_channel::{bounded, Sender};
use gantry_store::{Batch, Store, WriteSummary};

/// Batches in flight between the pipeline and the writer.
const QUEUE: usize = 4;

pub struct StoreWriter {
    tx: Option<Sender<Batch>>,
    handle: Option<JoinHandle<anyhow::Result<Box<dyn Store>>>>,
    written: Arc<Mutex<WriteSummary>>,
}

impl StoreWriter {
    pub fn spawn(mut store: Box<dyn Store>) -> Self {
        let (tx, rx) = bounded::<Batch>(QUEUE);
        let written = Arc::new(Mutex::new(WriteSummary::default()));
        let totals = Arc::clone(&written);
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                for batch in rx {
                    let summary = store.write(&batch).context("the store refused a batch")?;
                    if let Ok(mut t) = totals.lock() {
                        t.add(summary);
                    }
                }
                store.flush().context("cannot flush the store")?;
                Ok(store)
            })
            .expect("spawning a thread only fails when the OS is out of threads");
        StoreWriter {
            tx: Some(tx),
            handle: Some(handle),
            written,
        }
    }

    /// Hands a batch to the writer, waiting while the queue is full.
    pub fn send(&mut self, batch: Batch) -> anyhow::Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send(batch).is_ok());
        if sent == Some(true) {
            return Ok(());
        }
        // The writer stopped: its error says why.
        Err(self
            .join()
            .err()
            .unwrap_or_else(|| anyhow!("the store writer stopped")))
    }

    /// What has been written so far.
    pub fn written(&self) -> WriteSummary {
        self.written.lock().map(|w| *w).unwrap_or_default()
    }

    /// Waits until every batch sent is written; returns the store.
    pub fn finish(mut self) -> anyhow::Result<(WriteSummary, Box<dyn Store>)> {
        let store = self.join()?;
        Ok((self.written(), store))
    }

    fn join(&mut self) -> anyhow::Result<Box<dyn Store>> {
        self.tx = None;
        let handle = self
            .handle
            .take()
            .context("the store writer already stopped")?;
        handle
            .join()
            .map_err(|_| anyhow!("the store writer panicked"))?
    }
}
