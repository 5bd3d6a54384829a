//! ThingsBoard-compatible HTTP telemetry: `POST {url}/api/v1/{token}/telemetry`
//! with `[{"ts": ms, "values": {"<series id>": value, …}}, …]`, the device
//! API ThingsBoard (and servers that copy it) accept. Points of one
//! millisecond travel in one object.

use std::collections::BTreeMap;

use anyhow::bail;
use gantry_store::series::Queued;
use reqwest::blocking::Client;
use serde::Serialize;

use super::forward::{http_client, PointSink};
use crate::config::ThingsboardConfig;

pub struct ThingsboardSink {
    client: Client,
    config: ThingsboardConfig,
}

#[derive(Serialize)]
struct Telemetry<'a> {
    ts: i64,
    values: BTreeMap<&'a str, f64>,
}

impl ThingsboardSink {
    pub fn new(config: &ThingsboardConfig) -> anyhow::Result<Self> {
        let client = http_client("ThingsBoard")?;
        Ok(ThingsboardSink {
            client,
            config: config.clone(),
        })
    }
}

/// The points grouped by time, oldest first.
fn telemetry(points: &[Queued]) -> Vec<Telemetry<'_>> {
    let mut by_time: BTreeMap<i64, BTreeMap<&str, f64>> = BTreeMap::new();
    for p in points {
        by_time
            .entry(p.time_ms)
            .or_default()
            .insert(p.series.as_str(), p.value);
    }
    by_time
        .into_iter()
        .map(|(ts, values)| Telemetry { ts, values })
        .collect()
}

impl PointSink for ThingsboardSink {
    fn name(&self) -> String {
        // The token is a credential: the cursor key (and the log) hold a
        // hash of it, enough to keep two devices' cursors apart.
        let device = xxhash_rust::xxh3::xxh3_64(self.config.token.as_bytes()) as u32;
        format!("thingsboard:{} (device {device:08x})", self.config.url)
    }

    fn send(&mut self, points: &[Queued]) -> anyhow::Result<()> {
        let url = format!(
            "{}/api/v1/{}/telemetry",
            self.config.url.trim_end_matches('/'),
            self.config.token
        );
        let response = self.client.post(url).json(&telemetry(points)).send()?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().unwrap_or_default();
            bail!("ThingsBoard answered {status}: {}", text.trim());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(series: &str, time_ms: i64, value: f64) -> Queued {
        Queued {
            seq: 0,
            series: series.into(),
            tags: BTreeMap::new(),
            time_ms,
            value,
        }
    }

    #[test]
    fn points_of_one_millisecond_share_an_object() {
        let points = [
            queued("dev-01/temperature", 2000, 21.5),
            queued("dev-01/humidity", 1000, 40.0),
            queued("dev-01/temperature", 1000, 21.0),
        ];
        let json = serde_json::to_string(&telemetry(&points)).unwrap();
        assert_eq!(
            json,
            r#"[{"ts":1000,"values":{"dev-01/humidity":40.0,"dev-01/temperature":21.0}},{"ts":2000,"values":{"dev-01/temperature":21.5}}]"#
        );
    }
}
