//! Parses a pass file and stores it, the way an importer can drive the store
//! at full speed: parse on this thread while another writes the previous
//! batch (the store itself writes its shards in parallel), bulk mode on.
//! `cargo run --release -p gantry-store --example import_file -- FILE DIR
//! [shards=2] [bulk|normal] [batch=65536]`. No clone detection.

use std::io::Read;
use std::sync::mpsc;
use std::time::Instant;

use gantry_core::formats::{InputParser, ParseSink};
use gantry_core::{PassRef, Rejection};
use gantry_store::{Batch, SqliteStore, Store, WriteSummary};

struct Batcher {
    batch: Batch,
    size: usize,
    out: mpsc::SyncSender<Batch>,
}

impl Batcher {
    fn send(&mut self) {
        let full = std::mem::take(&mut self.batch);
        self.batch.passes.reserve(self.size);
        self.out.send(full).expect("the writer thread stopped");
    }
}

impl ParseSink for Batcher {
    fn pass(&mut self, pass: PassRef<'_>) {
        self.batch.passes.push(pass.to_pass());
        if self.batch.passes.len() >= self.size {
            self.send();
        }
    }

    fn reject(&mut self, rejection: Rejection) {
        self.batch.rejected.push(rejection);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(file), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: import_file FILE DIR [shards=2] [bulk|normal] [batch=65536]");
        std::process::exit(2);
    };
    let shards: usize = args.get(2).map_or(2, |s| s.parse().expect("shards"));
    let bulk = args.get(3).is_none_or(|m| m == "bulk");
    let size: usize = args.get(4).map_or(65_536, |s| s.parse().expect("batch"));

    let started = Instant::now();
    let mut store = SqliteStore::open(dir.as_ref(), shards).expect("open");
    if bulk {
        store.begin_bulk().expect("bulk");
    }
    let (tx, rx) = mpsc::sync_channel::<Batch>(2);
    let writer = std::thread::spawn(move || {
        let mut total = WriteSummary::default();
        for batch in rx {
            total.add(store.write(&batch).expect("write"));
        }
        store.close().expect("close");
        total
    });
    let mut sink = Batcher {
        batch: Batch::default(),
        size,
        out: tx,
    };
    let mut parser = InputParser::new(file.clone());
    let mut input = std::fs::File::open(file).expect("open file");
    let mut buf = vec![0u8; 1 << 20];
    let mut filled = 0;
    loop {
        let n = input.read(&mut buf[filled..]).expect("read");
        if n == 0 {
            parser.feed(&buf[..filled], &mut sink);
            break;
        }
        filled += n;
        if let Some(end) = buf[..filled].iter().rposition(|&b| b == b'\n') {
            parser.feed(&buf[..=end], &mut sink);
            buf.copy_within(end + 1..filled, 0);
            filled -= end + 1;
        }
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    sink.send();
    drop(sink);
    let total = writer.join().expect("writer thread");
    let seconds = started.elapsed().as_secs_f64();
    let records = total.inserted + total.duplicates;
    println!(
        "{records} records ({} new, {} rejected) in {seconds:.2}s: {:.0} records/s, {} mode",
        total.inserted,
        total.rejected,
        records as f64 / seconds,
        if bulk { "bulk" } else { "normal" }
    );
}
