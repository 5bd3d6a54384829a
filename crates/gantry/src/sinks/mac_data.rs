//! MySQL/MariaDB sink compatible with the classic Flask app's table
//! `mac_data(data_id, payload, time)`: the series id, the reading as text,
//! and its local (China) time. Batched multi-row `INSERT IGNORE` over a
//! pool — never a connection per row — and idempotent on
//! (data_id, time) through the unique key the table is created with.

use std::time::Duration;

use anyhow::{bail, Context};
use gantry_core::time::china_time_of_ms;
use gantry_store::series::Queued;
use mysql::prelude::Queryable;
use mysql::{Opts, OptsBuilder, Pool, Value};

use super::forward::PointSink;
use crate::config::MacDataConfig;

/// Rows per INSERT statement (well under the placeholder limit).
const ROWS_PER_STATEMENT: usize = 1000;

pub struct MacDataSink {
    config: MacDataConfig,
    pool: Option<Pool>,
}

impl MacDataSink {
    pub fn new(config: &MacDataConfig) -> anyhow::Result<Self> {
        Opts::from_url(&config.dsn).context("mac_data.dsn is not a MySQL URL")?;
        if !identifier(&config.table) {
            bail!(
                "mac_data.table {:?} must be letters, digits and _",
                config.table
            );
        }
        Ok(MacDataSink {
            config: config.clone(),
            pool: None,
        })
    }

    /// The pool, connecting (and creating database and table) on first use
    /// or after a failure.
    fn pool(&mut self) -> anyhow::Result<&Pool> {
        if self.pool.is_none() {
            self.pool = Some(self.connect()?);
        }
        Ok(self.pool.as_ref().expect("just set"))
    }

    fn connect(&self) -> anyhow::Result<Pool> {
        let opts = Opts::from_url(&self.config.dsn)?;
        let db = opts.get_db_name().unwrap_or("gantry_iot").to_owned();
        if !identifier(&db) {
            bail!("the database of mac_data.dsn, {db:?}, must be letters, digits and _");
        }
        let base = OptsBuilder::from_opts(opts)
            .tcp_connect_timeout(Some(Duration::from_secs(5)))
            .read_timeout(Some(Duration::from_secs(30)))
            .write_timeout(Some(Duration::from_secs(30)));
        let mut setup = mysql::Conn::new(base.clone().db_name(None::<String>))?;
        // Identifiers cannot be parameters; both were checked above.
        setup.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4"
        ))?;
        setup.query_drop(format!(
            "CREATE TABLE IF NOT EXISTS `{db}`.`{}` (\
               id BIGINT AUTO_INCREMENT PRIMARY KEY, \
               data_id VARCHAR(191) NOT NULL, \
               payload TEXT NOT NULL, \
               time DATETIME(3) NOT NULL, \
               UNIQUE KEY data_id_time (data_id, time))",
            self.config.table
        ))?;
        Ok(Pool::new(base.db_name(Some(db)))?)
    }

    fn insert(&mut self, points: &[Queued]) -> anyhow::Result<()> {
        let table = self.config.table.clone();
        let mut conn = self.pool()?.get_conn()?;
        for chunk in points.chunks(ROWS_PER_STATEMENT) {
            let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let statement =
                format!("INSERT IGNORE INTO `{table}` (data_id, payload, time) VALUES {rows}");
            let params: Vec<Value> = chunk
                .iter()
                .flat_map(|p| {
                    [
                        Value::from(p.series.as_str()),
                        // As the classic app wrote it: Python's str(float).
                        Value::from(format!("{:?}", p.value)),
                        Value::from(china_time(p.time_ms)),
                    ]
                })
                .collect();
            conn.exec_drop(statement, params)?;
        }
        Ok(())
    }
}

impl PointSink for MacDataSink {
    fn name(&self) -> String {
        let opts = Opts::from_url(&self.config.dsn).ok();
        let place = opts.map_or_else(String::new, |o| {
            format!(
                "{}:{}/{}",
                o.get_ip_or_hostname(),
                o.get_tcp_port(),
                o.get_db_name().unwrap_or("gantry_iot")
            )
        });
        format!("mysql:{place}.{}", self.config.table)
    }

    fn send(&mut self, points: &[Queued]) -> anyhow::Result<()> {
        let result = self.insert(points);
        if result.is_err() {
            // Reconnect (and re-check the table) on the next attempt.
            self.pool = None;
        }
        result
    }
}

fn identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Epoch ms as China Standard Time, `YYYY-MM-DD HH:MM:SS.mmm`.
fn china_time(ms: i64) -> String {
    china_time_of_ms(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_china_local_with_milliseconds() {
        assert_eq!(china_time(1_684_576_800_123), "2023-05-20 18:00:00.123");
    }
}
