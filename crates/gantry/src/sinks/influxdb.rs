//! InfluxDB 1.x sink: IoT points as line protocol, one HTTP write per
//! batch (`POST /write?db=…&precision=ms`). InfluxDB keeps one point per
//! measurement, tag set and time, so a batch sent again after a lost
//! answer changes nothing.

use std::fmt::Write as _;

use anyhow::bail;
use gantry_store::series::Queued;
use reqwest::blocking::{Client, RequestBuilder};

use super::forward::{http_client, PointSink};
use crate::config::InfluxConfig;

pub struct InfluxSink {
    client: Client,
    config: InfluxConfig,
    database_ready: bool,
}

impl InfluxSink {
    pub fn new(config: &InfluxConfig) -> anyhow::Result<Self> {
        let client = http_client("InfluxDB")?;
        Ok(InfluxSink {
            client,
            config: config.clone(),
            database_ready: false,
        })
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        if self.config.username.is_empty() {
            request
        } else {
            request.basic_auth(&self.config.username, Some(&self.config.password))
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.config.url.trim_end_matches('/'))
    }

    /// `CREATE DATABASE` is a no-op when it exists.
    fn create_database(&self) -> anyhow::Result<()> {
        let statement = format!(
            "CREATE DATABASE \"{}\"",
            self.config.database.replace('"', "\\\"")
        );
        let request = self
            .client
            .post(self.endpoint("query"))
            .form(&[("q", statement.as_str())]);
        let response = self.authorised(request).send()?;
        check(response, "CREATE DATABASE")
    }
}

impl PointSink for InfluxSink {
    fn name(&self) -> String {
        format!("influxdb:{}/{}", self.config.url, self.config.database)
    }

    fn send(&mut self, points: &[Queued]) -> anyhow::Result<()> {
        if !self.database_ready {
            self.create_database()?;
            self.database_ready = true;
        }
        let mut body = String::with_capacity(points.len() * 80);
        for point in points {
            line(&self.config.measurement, point, &mut body);
        }
        let request = self
            .client
            .post(self.endpoint("write"))
            .query(&[("db", self.config.database.as_str()), ("precision", "ms")])
            .body(body);
        let response = self.authorised(request).send()?;
        check(response, "write")
    }
}

fn check(response: reqwest::blocking::Response, what: &str) -> anyhow::Result<()> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().unwrap_or_default();
    bail!("InfluxDB {what} answered {status}: {}", text.trim())
}

/// One point as a line: `{measurement},data_id={id}[,{tag}={value}…] value={v} {ms}`.
pub fn line(measurement: &str, point: &Queued, out: &mut String) {
    escape(measurement, &[',', ' '], out);
    out.push_str(",data_id=");
    escape(&point.series, &[',', '=', ' '], out);
    for (key, value) in &point.tags {
        if key == "data_id" || key.is_empty() || value.is_empty() {
            continue;
        }
        out.push(',');
        escape(key, &[',', '=', ' '], out);
        out.push('=');
        escape(value, &[',', '=', ' '], out);
    }
    let _ = writeln!(out, " value={:?} {}", point.value, point.time_ms);
}

/// Line protocol escapes: a backslash before each special character.
fn escape(text: &str, special: &[char], out: &mut String) {
    for c in text.chars() {
        if special.contains(&c) || c == '\\' {
            out.push('\\');
        }
        // A line break would end the line: written as a space.
        out.push(if c == '\n' || c == '\r' { ' ' } else { c });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn points_become_escaped_lines() {
        let point = Queued {
            seq: 1,
            series: "climate,device=dev 3/temperature".into(),
            tags: BTreeMap::from([
                ("device".to_owned(), "dev 3".to_owned()),
                ("data_id".to_owned(), "ignored".to_owned()),
            ]),
            time_ms: 1_684_576_800_123,
            value: 21.0,
        };
        let mut out = String::new();
        line("machine_data", &point, &mut out);
        assert_eq!(
            out,
            "machine_data,data_id=climate\\,device\\=dev\\ 3/temperature,device=dev\\ 3 value=21.0 1684576800123\n"
        );
    }
}
