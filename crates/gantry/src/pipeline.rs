//! The embedded pipeline: parsed passes → detector → batches → store.
//!
//! Sources push passes and rejections in (it is a [`ParseSink`]); the
//! detector sees every pass in arrival order; passes, the warnings they
//! raise and rejected rows travel together in one batch, so a batch is
//! stored whole or not at all.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use gantry_core::formats::{parse_line, ParseSink};
use gantry_core::{Detector, DetectorStats, PassRef, Rejection};
use gantry_store::{Batch, Store, WriteSummary};

use crate::clock::china_now;
use crate::sinks::store::StoreWriter;
use crate::sources::tail::decode_line;

/// Passes per batch: large enough for fast bulk writes, small enough to
/// keep memory and latency low.
pub const BATCH: usize = 16_384;

pub struct Pipeline {
    detector: Detector,
    batch: Batch,
    batch_size: usize,
    writer: StoreWriter,
    now: NaiveDateTime,
    rejected: BTreeMap<&'static str, u64>,
    error: Option<anyhow::Error>,
}

/// What a pipeline run did.
#[derive(Debug)]
pub struct Summary {
    pub written: WriteSummary,
    pub detector: DetectorStats,
    /// Rejected rows by kind.
    pub rejected: BTreeMap<&'static str, u64>,
}

impl Pipeline {
    pub fn new(detector: Detector, store: Box<dyn Store>, batch_size: usize) -> Self {
        Pipeline {
            detector,
            batch: Batch::default(),
            batch_size,
            writer: StoreWriter::spawn(store),
            now: china_now(),
            rejected: BTreeMap::new(),
            error: None,
        }
    }

    /// Refreshes the processing time stamped on warnings and returns the
    /// first store error met since the last call. Sources call it between
    /// chunks.
    pub fn checkpoint(&mut self) -> anyhow::Result<()> {
        self.now = china_now();
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Sends what is batched so far, for sources that trickle (real time).
    pub fn tick(&mut self) -> anyhow::Result<()> {
        self.send();
        self.checkpoint()
    }

    pub fn written(&self) -> WriteSummary {
        self.writer.written()
    }

    pub fn detector_stats(&self) -> DetectorStats {
        self.detector.stats()
    }

    /// Releases the detector's buffer, writes everything and waits for it.
    pub fn finish(mut self) -> anyhow::Result<(Summary, Box<dyn Store>)> {
        self.now = china_now();
        self.detector.flush(self.now, &mut self.batch.warnings);
        self.tick()?;
        let detector = self.detector.stats();
        let (written, store) = self.writer.finish()?;
        Ok((
            Summary {
                written,
                detector,
                rejected: self.rejected,
            },
            store,
        ))
    }

    fn send(&mut self) {
        if self.batch.is_empty() || self.error.is_some() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch.passes.reserve(self.batch_size);
        if let Err(e) = self.writer.send(batch) {
            self.error = Some(e);
        }
    }
}

impl ParseSink for Pipeline {
    fn pass(&mut self, pass: PassRef<'_>) {
        if self.error.is_some() {
            return;
        }
        self.detector
            .observe(&pass, self.now, &mut self.batch.warnings);
        self.batch.passes.push(pass.to_pass());
        if self.batch.passes.len() >= self.batch_size {
            self.send();
        }
    }

    fn reject(&mut self, rejection: Rejection) {
        *self.rejected.entry(rejection.reason.kind()).or_default() += 1;
        self.batch.rejected.push(rejection);
    }
}

/// One line of format (a) and where it was read.
pub struct SourcedLine<'a> {
    pub source: &'a str,
    /// 1-based.
    pub line: u64,
    pub bytes: &'a [u8],
}

/// Parses format (a) lines (UTF-8, else GBK) and runs their passes through
/// the detector: one batch with the passes, the warnings they raised and
/// the rejected lines. For sources that hand over lines in batches whose
/// positions move only once the batch is stored (tail, Kafka).
pub fn detect_lines<'a>(
    lines: impl IntoIterator<Item = SourcedLine<'a>>,
    detector: &mut Detector,
    now: NaiveDateTime,
) -> Batch {
    let mut batch = Batch::default();
    for line in lines {
        let text = decode_line(line.bytes);
        match parse_line(&text) {
            Ok(pass) => {
                detector.observe(&pass, now, &mut batch.warnings);
                batch.passes.push(pass.to_pass());
            }
            Err(reason) => batch.rejected.push(Rejection {
                source: line.source.to_owned(),
                line: line.line,
                reason,
                raw: text.into_owned(),
            }),
        }
    }
    batch
}
