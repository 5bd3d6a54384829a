//! Simulated IoT devices: temperature, humidity and pressure with a daily
//! cycle, noise, dropouts and the odd garbage payload, published in the
//! three payload shapes devices use (see `gantry_core::iot`). Pure: the
//! caller says what time it is; the same config gives the same messages.

use std::f64::consts::TAU;
use std::fmt::Write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SensorConfig {
    pub seed: u64,
    /// Devices `dev-01` … ; device i publishes in payload shape i mod 3.
    pub devices: usize,
    /// Chance a device skips a round (a dropout).
    pub dropout: f64,
    /// Chance a message is garbage (bad JSON, NaN, no fields).
    pub garbage: f64,
    /// Topics are `{topic_prefix}/{device}`.
    pub topic_prefix: String,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            seed: 1,
            devices: 6,
            dropout: 0.05,
            garbage: 0.02,
            topic_prefix: "sensors".into(),
        }
    }
}

/// One message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    /// False for the garbage payloads a store must refuse.
    pub valid: bool,
}

/// One device's readings at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub temperature: f64,
    pub humidity: f64,
    pub pressure: f64,
}

/// The payload shape a device sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A flat object: `{"device","temperature",…,"time"}`.
    Flat,
    /// The values list: `{"values":[{"id","values":[…]}]}`.
    ValuesList,
    /// InfluxDB line protocol, measurement `climate`, tag `device`.
    LineProtocol,
}

/// The devices and their drifting state.
pub struct SensorSim {
    config: SensorConfig,
    rng: ChaCha8Rng,
    /// Per device: offset of its climate from the mean, and its pressure.
    devices: Vec<Device>,
}

struct Device {
    name: String,
    warmth: f64,
    pressure: f64,
}

impl SensorSim {
    pub fn new(config: SensorConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let devices = (1..=config.devices)
            .map(|i| Device {
                name: format!("dev-{i:02}"),
                warmth: rng.random_range(-3.0..3.0),
                pressure: rng.random_range(1005.0..1020.0),
            })
            .collect();
        SensorSim {
            config,
            rng,
            devices,
        }
    }

    /// The device names, in order.
    pub fn device_names(&self) -> impl Iterator<Item = &str> {
        self.devices.iter().map(|d| d.name.as_str())
    }

    /// The shape device `index` (0-based) publishes in.
    pub fn shape_of(index: usize) -> Shape {
        match index % 3 {
            0 => Shape::Flat,
            1 => Shape::ValuesList,
            _ => Shape::LineProtocol,
        }
    }

    /// One round: a message per device that does not drop out, readings
    /// taken at `now_ms` (epoch ms, UTC; `utc_offset_h` places the daily
    /// peak in local afternoon).
    pub fn round(&mut self, now_ms: i64, utc_offset_h: f64) -> Vec<SensorMessage> {
        let hour = (now_ms as f64 / 3_600_000.0 + utc_offset_h).rem_euclid(24.0);
        let mut out = Vec::with_capacity(self.devices.len());
        for index in 0..self.devices.len() {
            if self.rng.random_bool(self.config.dropout) {
                continue;
            }
            let reading = self.read(index, hour);
            let topic = format!("{}/{}", self.config.topic_prefix, self.devices[index].name);
            let message = if self.rng.random_bool(self.config.garbage) {
                self.garbage(topic, index)
            } else {
                SensorMessage {
                    payload: payload(
                        &self.devices[index].name,
                        Self::shape_of(index),
                        reading,
                        now_ms,
                    )
                    .into_bytes(),
                    topic,
                    valid: true,
                }
            };
            out.push(message);
        }
        out
    }

    /// Temperature peaks at 15:00 local time; humidity falls as it warms;
    /// pressure wanders slowly.
    fn read(&mut self, index: usize, hour: f64) -> Reading {
        let noise = |rng: &mut ChaCha8Rng, spread: f64| rng.random_range(-spread..spread);
        let device = &mut self.devices[index];
        let cycle = (TAU * (hour - 9.0) / 24.0).sin();
        let temperature = 18.0 + device.warmth + 6.0 * cycle + noise(&mut self.rng, 0.3);
        let humidity =
            (65.0 - 2.5 * (temperature - 18.0) + noise(&mut self.rng, 1.5)).clamp(5.0, 100.0);
        device.pressure = (device.pressure + noise(&mut self.rng, 0.05)).clamp(980.0, 1040.0);
        Reading {
            temperature: round2(temperature),
            humidity: round2(humidity),
            pressure: round2(device.pressure),
        }
    }

    fn garbage(&mut self, topic: String, index: usize) -> SensorMessage {
        let name = &self.devices[index].name;
        let payload = match self.rng.random_range(0..3) {
            0 => format!("{{\"device\":\"{name}\",\"temperature\":"),
            1 => format!("{{\"device\":\"{name}\",\"temperature\":NaN}}"),
            _ => "sensor offline".to_owned(),
        };
        SensorMessage {
            topic,
            payload: payload.into_bytes(),
            valid: false,
        }
    }
}

/// A device's reading in `shape`.
pub fn payload(device: &str, shape: Shape, r: Reading, now_ms: i64) -> String {
    let fields = [
        ("temperature", r.temperature),
        ("humidity", r.humidity),
        ("pressure", r.pressure),
    ];
    let mut s = String::with_capacity(160);
    match shape {
        Shape::Flat => {
            let _ = write!(s, "{{\"device\":\"{device}\"");
            for (name, value) in fields {
                let _ = write!(s, ",\"{name}\":{value}");
            }
            let _ = write!(s, ",\"time\":{}}}", now_ms as f64 / 1000.0);
        }
        Shape::ValuesList => {
            s.push_str("{\"values\":[");
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{{\"id\":\"{device}/{name}\",\"values\":[{value}]}}");
            }
            s.push_str("]}");
        }
        Shape::LineProtocol => {
            let _ = write!(s, "climate,device={device} ");
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{name}={value}");
            }
            let _ = write!(s, " {}", now_ms * 1_000_000);
        }
    }
    s
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_core::iot::parse_payload;

    const NOON_UTC: i64 = 1_765_022_400_000; // 2025-12-06 12:00 UTC

    #[test]
    fn same_seed_same_messages() {
        let a = SensorSim::new(SensorConfig::default()).round(NOON_UTC, 8.0);
        let b = SensorSim::new(SensorConfig::default()).round(NOON_UTC, 8.0);
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }

    #[test]
    fn every_device_publishes_without_dropouts_or_garbage() {
        let mut sim = SensorSim::new(SensorConfig {
            dropout: 0.0,
            garbage: 0.0,
            ..SensorConfig::default()
        });
        let round = sim.round(NOON_UTC, 8.0);
        assert_eq!(round.len(), 6);
        assert!(round.iter().all(|m| m.valid));
        assert_eq!(round[0].topic, "sensors/dev-01");
        let text = |i: usize| String::from_utf8(round[i].payload.clone()).unwrap();
        assert!(text(0).starts_with("{\"device\":\"dev-01\""), "{}", text(0));
        assert!(
            text(1).starts_with("{\"values\":[{\"id\":\"dev-02/temperature\""),
            "{}",
            text(1)
        );
        assert!(
            text(2).starts_with("climate,device=dev-03 temperature="),
            "{}",
            text(2)
        );
    }

    #[test]
    fn valid_messages_parse_garbage_is_refused() {
        let mut sim = SensorSim::new(SensorConfig {
            garbage: 0.2,
            ..SensorConfig::default()
        });
        let (mut good, mut bad) = (0, 0);
        for round in 0..200 {
            let now = NOON_UTC + round * 1000;
            for m in sim.round(now, 8.0) {
                let parsed = parse_payload(&m.payload, &m.topic, now + 5);
                assert_eq!(
                    parsed.is_ok(),
                    m.valid,
                    "{}",
                    String::from_utf8_lossy(&m.payload)
                );
                if let Ok(points) = parsed {
                    assert_eq!(points.len(), 3);
                    // Every shape carries its reading's time but (a), which
                    // takes the arrival time.
                    assert!(points
                        .iter()
                        .all(|p| p.time_ms == now || p.time_ms == now + 5));
                    good += 1;
                } else {
                    bad += 1;
                }
            }
        }
        assert!(good > 0 && bad > 0);
    }

    #[test]
    fn afternoon_is_warmer_than_night() {
        let config = SensorConfig {
            dropout: 0.0,
            garbage: 0.0,
            devices: 1,
            ..SensorConfig::default()
        };
        let temperature = |utc_hour: i64| {
            let mut sim = SensorSim::new(config.clone());
            let ms = NOON_UTC - 12 * 3_600_000 + utc_hour * 3_600_000;
            let message = &sim.round(ms, 0.0)[0];
            let points = parse_payload(&message.payload, &message.topic, ms).unwrap();
            let t = points.iter().find(|p| p.series == "dev-01/temperature");
            t.unwrap().value
        };
        assert!(temperature(15) > temperature(3) + 8.0);
    }

    #[test]
    fn garbage_and_dropouts_happen_at_about_their_rates() {
        let mut sim = SensorSim::new(SensorConfig {
            dropout: 0.1,
            garbage: 0.1,
            ..SensorConfig::default()
        });
        let mut sent = 0;
        let mut bad = 0;
        for round in 0..1000 {
            for m in sim.round(NOON_UTC + round * 1000, 8.0) {
                sent += 1;
                bad += usize::from(!m.valid);
            }
        }
        assert!((5200..5600).contains(&sent), "{sent} of 6000 sent");
        assert!((400..700).contains(&bad), "{bad} garbage of {sent}");
    }
}
