//! Prints the network size, a sample of records, and the generation speed.
//!
//! `cargo run --release -p gantry-sim --example simulate -- [records] [records_per_second]`

use std::time::Instant;

use gantry_sim::{SimConfig, Simulator};

fn main() {
    let mut args = std::env::args().skip(1);
    let records: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let rate: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50.0);

    let t0 = Instant::now();
    let sim = Simulator::new(SimConfig::for_rate(rate));
    let net = sim.network();
    println!(
        "network: {} checkpoints, {} road sections; fleet {} vehicles; setup {:.2?}",
        net.len(),
        net.edges().len() / 2,
        sim.fleet_size(),
        t0.elapsed()
    );
    for (plate, kind) in sim.cloned_plates() {
        println!("cloned plate {plate} ({kind})");
    }

    let t1 = Instant::now();
    let mut last = None;
    let mut bytes = 0usize;
    for (i, e) in sim.take(records).enumerate() {
        if i < 10 {
            let p = &e.pass;
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                p.id, p.district, p.checkpoint, p.direction, p.time, p.plate_type, p.plate, p.brand
            );
        }
        bytes += e.pass.checkpoint.len();
        last = Some(e);
    }
    let secs = t1.elapsed().as_secs_f64();
    let last = last.expect("records");
    println!(
        "{records} records in {secs:.2} s = {:.0} records/s; simulated until {} ({bytes} bytes of names)",
        records as f64 / secs,
        last.pass.time
    );
}
