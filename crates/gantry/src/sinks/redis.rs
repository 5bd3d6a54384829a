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

    /// The newest `limit` warnings on the list, newest first, as the
    /// dashboards read them. Entries that are not warning JSON (another
    /// writer's) are skipped.
    pub fn recent(&mut self, limit: usize) -> anyhow::Result<Vec<Warning>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let result = self.recent_on_connection(limit);
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    fn recent_on_connection(&mut self, limit: usize) -> anyhow::Result<Vec<Warning>> {
        let conn = connection(&self.client, &mut self.conn)?;
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        let items: Vec<String> = redis::cmd("LRANGE")
            .arg(&self.config.list)
            .arg(0)
            .arg(stop)
            .query(conn)
            .with_context(|| format!("cannot read Redis list {}", self.config.list))?;
        Ok(items
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect())
    }

    fn push_on_connection(&mut self, warnings: &[Warning]) -> anyhow::Result<u64> {
        let mut pushed = 0;
        for warning in warnings {
            let json = serde_json::to_string(warning)?;
            let marker = self.marker(&warning.id);
            let conn = connection(&self.client, &mut self.conn)?;
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

/// The open connection, or a new one.
fn connection<'a>(
    client: &Client,
    conn: &'a mut Option<Connection>,
) -> anyhow::Result<&'a mut Connection> {
    if conn.is_none() {
        *conn = Some(client.get_connection().context("cannot reach Redis")?);
    }
    conn.as_mut().context("no Redis connection")
}
