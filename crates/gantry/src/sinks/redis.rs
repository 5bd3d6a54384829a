//! Warnings into Redis, where the classic dashboards read them: pushed on
//! a list (`LPUSH`, newest first, trimmed with `LTRIM`) and published on a
//! channel. A replayed warning is never pushed twice: one Lua script sets
//! a marker key for the warning id (`SET NX` with a TTL) and pushes only
//! when the marker is new, atomically.

use anyhow::Context;
use gantry_core::Warning;
use redis::{Client, Connection, Script};

use crate::config::RedisConfig;

/// KEYS: marker, list. ARGV: json, ttl seconds, list length, channel.
const PUSH_ONCE: &str = r"
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
  redis.call('PUBLISH', ARGV[4], ARGV[1])
  return 1
end
return 0
";

pub struct RedisWarnings {
    client: Client,
    conn: Option<Connection>,
    script: Script,
    config: RedisConfig,
}

impl RedisWarnings {
    /// Checks the URL; connects on first use, and again after a failure.
    pub fn new(config: &RedisConfig) -> anyhow::Result<Self> {
        let client = Client::open(config.url.as_str()).with_context(|| {
            format!(
                "bad Redis URL {}",
                crate::config::mask_passwords(&config.url)
            )
        })?;
        Ok(RedisWarnings {
            client,
            conn: None,
            script: Script::new(PUSH_ONCE),
            config: config.clone(),
        })
    }

    /// The marker key of a warning id.
    fn marker(&self, id: &str) -> String {
        format!("{}:seen:{id}", self.config.list)
    }

    /// Pushes the warnings not pushed before, in order; returns how many
    /// were new. On error the connection is dropped, and a retry of the
    /// same warnings pushes only those that did not make it.
    pub fn push(&mut self, warnings: &[Warning]) -> anyhow::Result<u64> {
        if warnings.is_empty() {
            return Ok(0);
        }
        let result = self.push_on_connection(warnings);
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    fn push_on_connection(&mut self, warnings: &[Warning]) -> anyhow::Result<u64> {
        if self.conn.is_none() {
            self.conn = Some(self.client.get_connection().context("cannot reach Redis")?);
        }
        let mut pushed = 0;
        for warning in warnings {
            let json = serde_json::to_string(warning)?;
            let marker = self.marker(&warning.id);
            let conn = self.conn.as_mut().context("no Redis connection")?;
            let new: i64 = self
                .script
                .key(marker)
                .key(&self.config.list)
                .arg(json)
                .arg(self.config.dedupe_ttl_s.max(1))
                .arg(self.config.max_len.max(1))
                .arg(&self.config.channel)
                .invoke(conn)
                .context("cannot push a warning to Redis")?;
            pushed += u64::try_from(new).unwrap_or(0);
        }
        Ok(pushed)
    }
}
