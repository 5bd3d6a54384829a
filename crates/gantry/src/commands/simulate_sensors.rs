//! `gantry simulate-sensors`: simulated IoT devices publishing to MQTT.
//! `gantry demo` runs the same devices against its embedded broker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use gantry_sim::sensors::{SensorConfig, SensorSim};

use crate::cli::SimulateSensorsArgs;
use crate::sinks::mqtt::MqttPublisher;
use crate::sinks::series::now_ms;

/// China Standard Time: where the simulated afternoon falls.
const UTC_OFFSET_H: f64 = 8.0;

pub fn run(args: SimulateSensorsArgs) -> anyhow::Result<()> {
    for (name, chance) in [("--dropout", args.dropout), ("--garbage", args.garbage)] {
        if !(0.0..=1.0).contains(&chance) {
            bail!("{name} must be a chance between 0 and 1, not {chance}");
        }
    }
    if args.interval_ms == 0 {
        bail!("--interval-ms must be at least 1");
    }
    let sim = SensorSim::new(SensorConfig {
        seed: args.seed,
        devices: args.devices,
        dropout: args.dropout,
        garbage: args.garbage,
        topic_prefix: args.topic_prefix.clone(),
    });
    let client_id = format!("gantry-sensors-{}", std::process::id());
    let mut publisher = MqttPublisher::connect(&args.host, args.port, &client_id, args.qos)?;
    let stop = super::stop_flag()?;
    let sent = Devices {
        sim,
        interval: Duration::from_millis(args.interval_ms),
        rounds: args.rounds,
    }
    .publish(&mut publisher, &stop);
    publisher.close();
    let sent = sent?;
    println!(
        "published {} messages ({} refusable garbage) to {}:{}",
        sent.messages, sent.garbage, args.host, args.port
    );
    Ok(())
}

/// Simulated devices and their pace.
pub struct Devices {
    pub sim: SensorSim,
    pub interval: Duration,
    /// Rounds to publish (`None`: until stopped).
    pub rounds: Option<u64>,
}

/// What [`Devices::publish`] sent.
#[derive(Debug, Default)]
pub struct Sent {
    pub messages: u64,
    pub garbage: u64,
}

impl Devices {
    /// Publishes a round of readings every interval until the rounds are
    /// done or `stop` is set.
    pub fn publish(
        mut self,
        publisher: &mut MqttPublisher,
        stop: &AtomicBool,
    ) -> anyhow::Result<Sent> {
        let mut sent = Sent::default();
        let mut next = Instant::now();
        let mut round = 0u64;
        while self.rounds.is_none_or(|n| round < n) && !stop.load(Ordering::SeqCst) {
            for message in self.sim.round(now_ms(), UTC_OFFSET_H) {
                publisher.publish(&message.topic, message.payload)?;
                sent.messages += 1;
                sent.garbage += u64::from(!message.valid);
            }
            round += 1;
            if self.rounds.is_some_and(|n| round >= n) {
                break;
            }
            next += self.interval;
            while !stop.load(Ordering::SeqCst) && Instant::now() < next {
                let left = next.saturating_duration_since(Instant::now());
                std::thread::sleep(left.min(Duration::from_millis(100)));
            }
        }
        Ok(sent)
    }
}
