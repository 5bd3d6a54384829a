//! `gantry.toml`: store, detector, Kafka, Redis, tail and HTTP settings.
//!
//! Every section is optional and defaults to the embedded mode (SQLite
//! shards, no Kafka, no Redis). Any key can be overridden from the
//! environment as `GANTRY_<SECTION>__<KEY>`. A bad value is reported as one
//! sentence naming the key and where it came from (file line or variable),
//! before anything starts.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use gantry_core::iot::retention::RetentionPolicy;
use serde::de::{self, DeserializeOwned, Visitor};
use serde::Deserialize;
use toml::de::DeTable;
use toml::{Table, Value};

/// A commented configuration with every key, printed by `gantry config example`.
pub const EXAMPLE: &str = include_str!("example.toml");

/// Environment variables with this prefix and a `__` are config overrides.
const ENV_PREFIX: &str = "GANTRY_";

/// The whole configuration; absent sections take their defaults.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub store: StoreConfig,
    pub detector: DetectorConfig,
    /// `None` when the file has no `[kafka]` section: Kafka is not used.
    pub kafka: Option<KafkaConfig>,
    /// `None` when the file has no `[redis]` section: no Redis sink.
    pub redis: Option<RedisConfig>,
    /// `None` when the file has no `[mqtt]` section: no broker is followed.
    pub mqtt: Option<MqttConfig>,
    /// `None` when the file has no `[influxdb]` section: IoT points are not forwarded there.
    pub influxdb: Option<InfluxConfig>,
    /// `None` when the file has no `[mac_data]` section: no MySQL copy of IoT points.
    pub mac_data: Option<MacDataConfig>,
    /// `None` when the file has no `[thingsboard]` section: no telemetry forwarding.
    pub thingsboard: Option<ThingsboardConfig>,
    /// `None` when the file has no `[archive]` section: `serve` writes no
    /// Parquet archive (`demo` always does, under its data dir).
    pub archive: Option<ArchiveConfig>,
    pub series: SeriesConfig,
    pub tail: TailConfig,
    pub http: HttpConfig,
}

/// Which store holds the pass records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// One SQLite file per shard under `data_dir`.
    #[default]
    Sqlite,
    /// MariaDB/MySQL shards, one DSN each, in MyCat dataNode order.
    Mysql,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub engine: Engine,
    pub data_dir: PathBuf,
    pub shards: u16,
    pub mysql_shards: Vec<String>,
    pub pool_size: u16,
    /// 0 keeps everything.
    pub retention_days: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            engine: Engine::Sqlite,
            data_dir: PathBuf::from("gantry-data"),
            shards: 2,
            mysql_shards: Vec::new(),
            pool_size: 4,
            retention_days: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    pub checkpoints: Option<PathBuf>,
    pub speed_limit_kmh: f64,
    pub window_s: i64,
    pub lateness_s: i64,
    pub horizon_s: i64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            checkpoints: None,
            speed_limit_kmh: 200.0,
            window_s: 300,
            lateness_s: 300,
            horizon_s: 6 * 3600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    pub brokers: String,
    pub topic: String,
    pub warnings_topic: String,
    pub group: String,
    pub batch_max: usize,
    pub batch_linger_ms: u64,
    /// Topic `serve` copies each stored IoT point to as JSON; empty: none.
    pub readings_topic: String,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            topic: "traffic-raw".into(),
            warnings_topic: "traffic-warnings".into(),
            group: "gantry-workers".into(),
            batch_max: 20_000,
            batch_linger_ms: 50,
            readings_topic: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    pub url: String,
    pub list: String,
    pub channel: String,
    /// LTRIM length of `list`.
    pub max_len: u64,
    pub dedupe_ttl_s: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            list: "traffic:warnings".into(),
            channel: "traffic:warnings".into(),
            max_len: 1000,
            dedupe_ttl_s: 7 * 24 * 3600,
        }
    }
}

/// The InfluxDB 1.x server `serve` forwards IoT points to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfluxConfig {
    /// Base URL of the HTTP API.
    pub url: String,
    pub database: String,
    pub measurement: String,
    /// Empty: no credentials.
    pub username: String,
    pub password: String,
    /// Most points one write request carries.
    pub batch: usize,
}

impl Default for InfluxConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8086".into(),
            database: "gantry".into(),
            // The classic Flask app's measurement and tag: dashboards
            // built on it keep working.
            measurement: "machine_data".into(),
            username: String::new(),
            password: String::new(),
            batch: 5000,
        }
    }
}

/// The classic app's MySQL/MariaDB table of IoT readings, which `serve`
/// fills with every stored point.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MacDataConfig {
    /// `mysql://user:password@host:port/database`.
    pub dsn: String,
    pub table: String,
    /// Most points one forwarding round carries.
    pub batch: usize,
}

impl Default for MacDataConfig {
    fn default() -> Self {
        Self {
            dsn: "mysql://root@127.0.0.1:3306/gantry_iot".into(),
            table: "mac_data".into(),
            batch: 5000,
        }
    }
}

/// A ThingsBoard-compatible server `serve` posts every stored point to, as
/// a device's telemetry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThingsboardConfig {
    /// Base URL (http://).
    pub url: String,
    /// The device's access token.
    pub token: String,
    /// Most points one request carries.
    pub batch: usize,
}

impl Default for ThingsboardConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".into(),
            token: String::new(),
            batch: 1000,
        }
    }
}

/// The embedded IoT series store.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeriesConfig {
    /// Days of points kept; 0 keeps them for ever.
    pub retention_days: u32,
    /// Days per measurement, overriding `retention_days`.
    pub measurement_retention_days: BTreeMap<String, u32>,
}

impl SeriesConfig {
    pub fn retention(&self) -> RetentionPolicy {
        RetentionPolicy {
            default_days: self.retention_days,
            by_measurement: self.measurement_retention_days.clone(),
        }
    }

    fn summary(&self) -> String {
        let overrides: Vec<String> = self
            .measurement_retention_days
            .iter()
            .map(|(m, d)| format!("{m} {d} d"))
            .collect();
        let default = match self.retention_days {
            0 => "for ever".to_owned(),
            days => format!("{days} days"),
        };
        if overrides.is_empty() {
            format!("points kept {default}")
        } else {
            format!("points kept {default}; {}", overrides.join(", "))
        }
    }
}

/// The Parquet archive of IoT points and pass records `serve` keeps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveConfig {
    /// Local directory; empty: `archive` under the data dir.
    pub dir: String,
    /// An object store (WebDAV over http:// or https://) files move to;
    /// empty: they stay in `dir`.
    pub url: String,
    /// Archive IoT points.
    pub points: bool,
    /// Archive pass records (embedded SQLite store only).
    pub passes: bool,
    /// A file is written once this many rows wait…
    pub roll_rows: usize,
    /// …or the oldest waiting row has waited this many seconds.
    pub roll_secs: u64,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            dir: String::new(),
            url: String::new(),
            points: true,
            passes: true,
            roll_rows: 250_000,
            roll_secs: 300,
        }
    }
}

/// The MQTT broker IoT devices publish to, followed by `serve` and `demo`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// With `clean_session = false`, the broker keeps this client's
    /// subscriptions and unacknowledged QoS 1 messages across restarts.
    pub client_id: String,
    pub topics: Vec<String>,
    /// 0 or 1.
    pub qos: u8,
    pub clean_session: bool,
    /// Empty: no credentials.
    pub username: String,
    pub password: String,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: "gantry".into(),
            topics: vec!["sensors/#".into()],
            qos: 1,
            clean_session: false,
            username: String::new(),
            password: String::new(),
        }
    }
}

/// Where tailed log records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TailSink {
    Kafka,
    /// Straight into the store; the default because it needs no Kafka.
    #[default]
    Pipeline,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TailConfig {
    pub paths: Vec<String>,
    pub position_file: PathBuf,
    pub sink: TailSink,
}

impl Default for TailConfig {
    fn default() -> Self {
        Self {
            paths: Vec::new(),
            position_file: PathBuf::from("gantry-tail.positions.json"),
            sink: TailSink::Pipeline,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub bind: String,
    pub port: u16,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            port: 8080,
        }
    }
}

/// A bad configuration, as one sentence naming the key and where it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    /// Passwords are masked because the message ends up in logs.
    fn new(place: &str, sentence: &str) -> Self {
        Self {
            message: format!("{place}: {}", mask_passwords(sentence)),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads `path`, applies the process's `GANTRY_…` overrides and validates.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Ok(Self::from_toml_str(
            &text,
            &path.display().to_string(),
            process_env(),
        )?)
    }

    /// [`Config::load`] when a file is given, else the embedded defaults
    /// with the environment overrides applied.
    pub fn load_or_default(path: Option<&Path>) -> anyhow::Result<Config> {
        match path {
            Some(path) => Self::load(path),
            None => Ok(Self::from_toml_str("", "built-in defaults", process_env())?),
        }
    }

    /// Parses `text` (named `origin` in errors), applies the `GANTRY_…`
    /// overrides found in `env` and validates. Takes the environment as an
    /// argument so tests never touch the process's.
    pub fn from_toml_str(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut origins = Origins::new(origin);
        let mut table = read_file(text, &mut origins)?;
        let raw_text = apply_env(&mut table, env, &mut origins)?;
        let config = deserialize(table, raw_text, &origins)?;
        config
            .check()
            .map_err(|issue| origins.error(&issue.keys, &issue.sentence))?;
        Ok(config)
    }

    /// A short summary for `gantry config check`, passwords masked.
    pub fn check_report(&self) -> String {
        let kafka = self
            .kafka
            .as_ref()
            .map_or_else(not_configured, KafkaConfig::summary);
        let redis = self
            .redis
            .as_ref()
            .map_or_else(not_configured, RedisConfig::summary);
        let mqtt = self
            .mqtt
            .as_ref()
            .map_or_else(not_configured, MqttConfig::summary);
        let influxdb = self
            .influxdb
            .as_ref()
            .map_or_else(not_configured, InfluxConfig::summary);
        let mac_data = self
            .mac_data
            .as_ref()
            .map_or_else(not_configured, MacDataConfig::summary);
        let thingsboard = self
            .thingsboard
            .as_ref()
            .map_or_else(not_configured, ThingsboardConfig::summary);
        let archive = self
            .archive
            .as_ref()
            .map_or_else(not_configured, ArchiveConfig::summary);
        [
            format!("store:    {}", self.store.summary()),
            format!("detector: {}", self.detector.summary()),
            format!("kafka:    {kafka}"),
            format!("redis:    {redis}"),
            format!("mqtt:     {mqtt}"),
            format!("influxdb: {influxdb}"),
            format!("mac_data: {mac_data}"),
            format!("thingsboard: {thingsboard}"),
            format!("archive:  {archive}"),
            format!("series:   {}", self.series.summary()),
            format!("tail:     {}", self.tail.summary()),
            format!("http:     {}", self.http.summary()),
        ]
        .join("\n")
    }

    fn check(&self) -> Result<(), Issue> {
        self.store.check()?;
        self.detector.check()?;
        if let Some(kafka) = &self.kafka {
            kafka.check()?;
        }
        if let Some(redis) = &self.redis {
            redis.check()?;
        }
        if let Some(mqtt) = &self.mqtt {
            mqtt.check()?;
        }
        if let Some(influxdb) = &self.influxdb {
            influxdb.check()?;
        }
        if let Some(mac_data) = &self.mac_data {
            mac_data.check()?;
        }
        if let Some(thingsboard) = &self.thingsboard {
            thingsboard.check()?;
        }
        if let Some(archive) = &self.archive {
            archive.check()?;
        }
        self.tail.check(self.kafka.is_some())?;
        self.http.check()
    }
}

/// The process environment, skipping variables that are not valid UTF-8
/// (which `std::env::vars` would panic on).
fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

// ---------------------------------------------------------------------------
// Key lists

/// Field names of a derived `Deserialize` struct (or variant names of an
/// enum), taken from what the derive hands to `deserialize_struct` or
/// `deserialize_enum`, so the key lists cannot drift from the types.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(NamesProbe(&mut fields));
    fields
}

/// A deserializer that only records the field or variant names it is asked for.
struct NamesProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> de::Deserializer<'de> for NamesProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("fields recorded"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = variants;
        Err(de::Error::custom("variants recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

fn sections() -> &'static [&'static str] {
    fields_of::<Config>()
}

fn section_keys(section: &str) -> Option<&'static [&'static str]> {
    Some(match section {
        "store" => fields_of::<StoreConfig>(),
        "detector" => fields_of::<DetectorConfig>(),
        "kafka" => fields_of::<KafkaConfig>(),
        "redis" => fields_of::<RedisConfig>(),
        "mqtt" => fields_of::<MqttConfig>(),
        "influxdb" => fields_of::<InfluxConfig>(),
        "mac_data" => fields_of::<MacDataConfig>(),
        "thingsboard" => fields_of::<ThingsboardConfig>(),
        "archive" => fields_of::<ArchiveConfig>(),
        "series" => fields_of::<SeriesConfig>(),
        "tail" => fields_of::<TailConfig>(),
        "http" => fields_of::<HttpConfig>(),
        _ => return None,
    })
}

/// The names an enum key accepts. Listed here because serde's own message
/// for a non-string value there ("string only, not unit variant") says
/// nothing useful.
fn enum_names(key: &str) -> Option<&'static [&'static str]> {
    match key {
        "store.engine" => Some(fields_of::<Engine>()),
        "tail.sink" => Some(fields_of::<TailSink>()),
        _ => None,
    }
}

fn unknown_section(name: &str) -> String {
    format!(
        "unknown section {name} (expected one of {})",
        sections().join(", ")
    )
}

fn unknown_key(section: &str, key: &str, keys: &[&str]) -> String {
    format!(
        "unknown key {section}.{key} (expected one of {})",
        keys.join(", ")
    )
}

// ---------------------------------------------------------------------------
// Where values came from

/// Where a key's value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Line(usize),
    Env(String),
}

/// Origins of the keys (`store.shards`) and sections (`store`) that were set,
/// so any later error can point at the line or variable responsible.
struct Origins {
    file: String,
    at: HashMap<String, Origin>,
}

impl Origins {
    fn new(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            at: HashMap::new(),
        }
    }

    /// The first of `keys` that was set, else the first of their sections.
    fn locate(&self, keys: &[&str]) -> Option<&Origin> {
        keys.iter()
            .find_map(|key| self.at.get(*key))
            .or_else(|| keys.iter().find_map(|key| self.at.get(section_of(key))))
    }

    fn error(&self, keys: &[&str], sentence: &str) -> ConfigError {
        let place = match self.locate(keys) {
            Some(Origin::Line(line)) => format!("{} line {line}", self.file),
            Some(Origin::Env(var)) => format!("environment {var}"),
            None => self.file.clone(),
        };
        ConfigError::new(&place, sentence)
    }

    fn syntax_error(&self, text: &str, err: &toml::de::Error) -> ConfigError {
        let place = match err.span() {
            Some(span) => format!("{} line {}", self.file, line_of(text, span.start)),
            None => self.file.clone(),
        };
        ConfigError::new(&place, &format!("invalid TOML: {}", err.message()))
    }
}

/// `store` of `store.shards`.
fn section_of(key: &str) -> &str {
    key.split('.').next().unwrap_or(key)
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

// ---------------------------------------------------------------------------
// Reading the file

/// A misplaced or misspelt name: byte offset (to report the earliest), the
/// key to locate, the sentence.
type Problem = (usize, String, String);

/// Parses the file, records the line of every section and key, and rejects
/// unknown names, reporting the one earliest in the file.
fn read_file(text: &str, origins: &mut Origins) -> Result<Table, ConfigError> {
    let doc = DeTable::parse(text).map_err(|err| origins.syntax_error(text, &err))?;
    let mut problems = Vec::new();
    for (name, body) in doc.get_ref() {
        let start = name.span().start;
        let name: &str = name.get_ref();
        origins
            .at
            .insert(name.to_owned(), Origin::Line(line_of(text, start)));
        match (section_keys(name), body.get_ref().as_table()) {
            (None, _) => problems.push((start, name.to_owned(), unknown_section(name))),
            (Some(_), None) => {
                let kind = with_article(body.get_ref().type_str());
                let sentence = format!("{name} must be a [{name}] section, not {kind}");
                problems.push((start, name.to_owned(), sentence));
            }
            (Some(keys), Some(table)) => {
                read_section(text, name, keys, table, origins, &mut problems);
            }
        }
    }
    if let Some((_, key, sentence)) = problems.into_iter().min_by_key(|p| p.0) {
        return Err(origins.error(&[&key], &sentence));
    }
    toml::from_str(text).map_err(|err| origins.syntax_error(text, &err))
}

/// "an integer", "a string".
fn with_article(kind: &str) -> String {
    match kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        true => format!("an {kind}"),
        false => format!("a {kind}"),
    }
}

fn read_section(
    text: &str,
    section: &str,
    keys: &[&str],
    table: &DeTable<'_>,
    origins: &mut Origins,
    problems: &mut Vec<Problem>,
) {
    for key in table.keys() {
        let start = key.span().start;
        let key: &str = key.get_ref();
        let path = format!("{section}.{key}");
        origins
            .at
            .insert(path.clone(), Origin::Line(line_of(text, start)));
        if !keys.contains(&key) {
            problems.push((start, path, unknown_key(section, key, keys)));
        }
    }
}

// ---------------------------------------------------------------------------
// Environment overrides

/// Applies the `GANTRY_<SECTION>__<KEY>` overrides in name order. Returns the
/// raw text of overrides that parsed as non-string TOML, keyed by path, so a
/// string key (a topic named `2024`) can still take it as text.
fn apply_env(
    table: &mut Table,
    env: impl IntoIterator<Item = (String, String)>,
    origins: &mut Origins,
) -> Result<HashMap<String, String>, ConfigError> {
    let mut vars: Vec<_> = env
        .into_iter()
        .filter(|(name, _)| is_override(name))
        .collect();
    vars.sort();
    let mut raw_text = HashMap::new();
    for (var, raw) in vars {
        let (section, key) = override_target(&var)?;
        let path = format!("{section}.{key}");
        let value = env_value(&raw);
        if !value.is_str() {
            raw_text.insert(path.clone(), raw);
        }
        set_key(table, &section, &key, value);
        origins
            .at
            .entry(section)
            .or_insert(Origin::Env(var.clone()));
        origins.at.insert(path, Origin::Env(var));
    }
    Ok(raw_text)
}

/// Only names with `__` are overrides: `GANTRY_LOG`, `GANTRY_WEB` and other
/// plain `GANTRY_` variables belong to other parts of the build and runtime.
fn is_override(name: &str) -> bool {
    name.starts_with(ENV_PREFIX) && name.contains("__")
}

/// The (section, key) an override variable names, both checked.
fn override_target(var: &str) -> Result<(String, String), ConfigError> {
    let fail = |sentence: &str| ConfigError::new(&format!("environment {var}"), sentence);
    let (section, key) = var[ENV_PREFIX.len()..]
        .split_once("__")
        .filter(|(section, key)| !section.is_empty() && !key.is_empty())
        .ok_or_else(|| {
            fail("expected a name of the form GANTRY_<SECTION>__<KEY>, e.g. GANTRY_STORE__ENGINE")
        })?;
    let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
    let keys = section_keys(&section).ok_or_else(|| fail(&unknown_section(&section)))?;
    if !keys.contains(&key.as_str()) {
        return Err(fail(&unknown_key(&section, &key, keys)));
    }
    Ok((section, key))
}

/// An override's value: the TOML value its text spells (number, boolean,
/// array, quoted string), else the text itself. Dates stay text: no key is one.
fn env_value(raw: &str) -> Value {
    match raw.parse::<Value>() {
        Ok(Value::Datetime(_)) | Err(_) => Value::String(raw.to_owned()),
        Ok(value) => value,
    }
}

/// Sets `section.key`, creating the section when the file has none.
fn set_key(table: &mut Table, section: &str, key: &str, value: Value) {
    let slot = table
        .entry(section.to_owned())
        .or_insert_with(|| Value::Table(Table::new()));
    if let Value::Table(section) = slot {
        section.insert(key.to_owned(), value);
    }
}

// ---------------------------------------------------------------------------
// Types

/// Deserializes the merged table; a type error names its key. An override
/// that parsed as a number or boolean where a string is expected is retried
/// as its raw text.
fn deserialize(
    mut table: Table,
    mut raw_text: HashMap<String, String>,
    origins: &Origins,
) -> Result<Config, ConfigError> {
    loop {
        let err = match serde_path_to_error::deserialize(Value::Table(table.clone())) {
            Ok(config) => return Ok(config),
            Err(err) => err,
        };
        let path = err.path().to_string();
        let key = path.split('[').next().unwrap_or(&path);
        let message = err.inner().message();
        match raw_text.remove(key) {
            Some(raw) if expects_string(message) => {
                let (section, name) = key.split_once('.').unwrap_or((key, ""));
                set_key(&mut table, section, name, Value::String(raw));
            }
            _ => {
                let sentence = match enum_names(key) {
                    Some(names) => enum_sentence(&table, key, names),
                    None => type_sentence(&path, message),
                };
                return Err(origins.error(&[key], &sentence));
            }
        }
    }
}

/// `store.engine must be "sqlite" or "mysql", not 5`.
fn enum_sentence(table: &Table, key: &str, names: &[&str]) -> String {
    let (section, name) = key.split_once('.').unwrap_or((key, ""));
    let value = table.get(section).and_then(|s| s.get(name));
    let value = value.map_or_else(|| "that".to_owned(), Value::to_string);
    let mut names: Vec<_> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let last = names.pop().unwrap_or_default();
    match names.is_empty() {
        true => format!("{key} must be {last}, not {value}"),
        false => format!("{key} must be {} or {last}, not {value}", names.join(", ")),
    }
}

fn expects_string(message: &str) -> bool {
    message.ends_with("expected a string") || message.ends_with("expected path string")
}

/// Rewrites serde's `invalid type: integer `5`, expected a string` as
/// `kafka.topic must be a string, not 5`.
fn type_sentence(key: &str, message: &str) -> String {
    let invalid = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    if let Some((got, want)) = invalid.and_then(|rest| rest.rsplit_once(", expected ")) {
        return format!(
            "{key} must be {}, not {}",
            plain_expected(want),
            plain_value(got)
        );
    }
    format!("{key} is invalid: {message}")
}

/// Serde's name for an unexpected value, as the value itself.
fn plain_value(got: &str) -> String {
    for prefix in ["integer ", "floating point ", "boolean ", "character "] {
        if let Some(value) = got.strip_prefix(prefix) {
            return value.trim_matches('`').to_owned();
        }
    }
    match got {
        "sequence" => "a list".into(),
        "map" => "a table".into(),
        _ => got.strip_prefix("string ").unwrap_or(got).to_owned(),
    }
}

/// Serde's name for an expected type, in words.
fn plain_expected(want: &str) -> String {
    match want {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u32" => "a whole number from 0 to 4294967295".into(),
        "u64" | "usize" => "a whole number, 0 or more".into(),
        "i64" | "i32" => "a whole number".into(),
        "f64" | "f32" => "a number".into(),
        "path string" => "a string".into(),
        "a sequence" => "a list".into(),
        _ if want.starts_with("struct ") => "a table".into(),
        _ => quoted(want),
    }
}

/// Serde quotes names with backticks; TOML strings use double quotes.
fn quoted(text: &str) -> String {
    text.replace('`', "\"")
}

// ---------------------------------------------------------------------------
// Validation

/// A semantic problem: the keys to point at (the first that was set wins)
/// and the sentence.
struct Issue {
    keys: Vec<&'static str>,
    sentence: String,
}

fn ensure(ok: bool, keys: &[&'static str], sentence: impl FnOnce() -> String) -> Result<(), Issue> {
    if ok {
        return Ok(());
    }
    Err(Issue {
        keys: keys.to_vec(),
        sentence: sentence(),
    })
}

fn between(key: &'static str, value: u64, low: u64, high: u64) -> Result<(), Issue> {
    ensure((low..=high).contains(&value), &[key], || {
        format!("{key} must be between {low} and {high}, not {value}")
    })
}

fn at_least(key: &'static str, value: i64, low: i64) -> Result<(), Issue> {
    ensure(value >= low, &[key], || {
        format!("{key} must be {low} or more, not {value}")
    })
}

fn filled(key: &'static str, value: &str) -> Result<(), Issue> {
    ensure(!value.trim().is_empty(), &[key], || {
        format!("{key} must not be empty")
    })
}

impl StoreConfig {
    fn check(&self) -> Result<(), Issue> {
        between("store.shards", self.shards.into(), 1, 64)?;
        between("store.pool_size", self.pool_size.into(), 1, 64)?;
        filled("store.data_dir", &self.data_dir.to_string_lossy())?;
        for (i, dsn) in self.mysql_shards.iter().enumerate() {
            ensure(dsn.starts_with("mysql://"), &["store.mysql_shards"], || {
                format!(
                    "store.mysql_shards entry {} must start with mysql://, not \"{dsn}\"",
                    i + 1
                )
            })?;
        }
        if self.engine == Engine::Mysql {
            let count = self.mysql_shards.len();
            ensure(count > 0, &["store.mysql_shards", "store.engine"], || {
                "store.mysql_shards must list at least one mysql:// DSN when store.engine is \"mysql\"".into()
            })?;
            ensure(count <= 64, &["store.mysql_shards"], || {
                format!("store.mysql_shards must list at most 64 DSNs, not {count}")
            })?;
        }
        Ok(())
    }

    fn summary(&self) -> String {
        let retention = match self.retention_days {
            0 => "keeps everything".to_owned(),
            days => format!("keeps {days} days"),
        };
        match self.engine {
            Engine::Sqlite => format!(
                "sqlite, {} shards in {}, {retention}",
                self.shards,
                self.data_dir.display()
            ),
            Engine::Mysql => {
                let dsns = self.mysql_shards.iter().enumerate();
                let dsns: Vec<_> = dsns
                    .map(|(i, dsn)| format!("\n          shard {i}: {}", mask_passwords(dsn)))
                    .collect();
                format!(
                    "mysql, {} shards, {} connections each, {retention}{}",
                    self.mysql_shards.len(),
                    self.pool_size,
                    dsns.concat()
                )
            }
        }
    }
}

impl DetectorConfig {
    fn check(&self) -> Result<(), Issue> {
        let speed = self.speed_limit_kmh;
        ensure(
            speed.is_finite() && speed > 0.0,
            &["detector.speed_limit_kmh"],
            || format!("detector.speed_limit_kmh must be a number above 0, not {speed}"),
        )?;
        if let Some(path) = &self.checkpoints {
            filled("detector.checkpoints", &path.to_string_lossy())?;
        }
        at_least("detector.window_s", self.window_s, 0)?;
        at_least("detector.lateness_s", self.lateness_s, 0)?;
        at_least("detector.horizon_s", self.horizon_s, 1)
    }

    fn summary(&self) -> String {
        let checkpoints = match &self.checkpoints {
            Some(path) => format!("checkpoints from {}", path.display()),
            None => "no checkpoints file".to_owned(),
        };
        format!(
            "speed limit {} km/h, window {} s, lateness {} s, horizon {} s, {checkpoints}",
            self.speed_limit_kmh, self.window_s, self.lateness_s, self.horizon_s
        )
    }
}

impl KafkaConfig {
    fn check(&self) -> Result<(), Issue> {
        filled("kafka.brokers", &self.brokers)?;
        filled("kafka.topic", &self.topic)?;
        filled("kafka.warnings_topic", &self.warnings_topic)?;
        filled("kafka.group", &self.group)?;
        ensure(self.batch_max >= 1, &["kafka.batch_max"], || {
            "kafka.batch_max must be 1 or more, not 0".into()
        })
    }

    fn summary(&self) -> String {
        format!(
            "brokers {}, topic {}, warnings to {}, group {}, batches of up to {} records or {} ms{}",
            self.brokers,
            self.topic,
            self.warnings_topic,
            self.group,
            self.batch_max,
            self.batch_linger_ms,
            if self.readings_topic.is_empty() {
                String::new()
            } else {
                format!(", IoT readings to {}", self.readings_topic)
            }
        )
    }
}

impl MqttConfig {
    fn check(&self) -> Result<(), Issue> {
        filled("mqtt.host", &self.host)?;
        between("mqtt.port", self.port.into(), 1, 65535)?;
        // rumqttc refuses a persistent session without a client id.
        filled("mqtt.client_id", &self.client_id)?;
        ensure(!self.topics.is_empty(), &["mqtt.topics"], || {
            "mqtt.topics must name at least one topic filter".into()
        })?;
        for topic in &self.topics {
            filled("mqtt.topics", topic)?;
        }
        ensure(self.qos <= 1, &["mqtt.qos"], || {
            format!("mqtt.qos must be 0 or 1, not {}", self.qos)
        })
    }

    fn summary(&self) -> String {
        format!(
            "{}:{} as {}, topics {}, QoS {}{}",
            self.host,
            self.port,
            self.client_id,
            self.topics.join(", "),
            self.qos,
            if self.clean_session {
                ", clean session"
            } else {
                ", persistent session"
            }
        )
    }
}

impl InfluxConfig {
    fn check(&self) -> Result<(), Issue> {
        let url = &self.url;
        // The HTTP client is built without TLS: InfluxDB sits beside gantry.
        ensure(url.starts_with("http://"), &["influxdb.url"], || {
            format!("influxdb.url must start with http://, not \"{url}\"")
        })?;
        filled("influxdb.database", &self.database)?;
        filled("influxdb.measurement", &self.measurement)?;
        between("influxdb.batch", self.batch as u64, 1, 100_000)
    }

    fn summary(&self) -> String {
        format!(
            "{}, database {}, measurement {}, batches of up to {} points{}",
            mask_passwords(&self.url),
            self.database,
            self.measurement,
            self.batch,
            if self.username.is_empty() {
                ""
            } else {
                ", with credentials"
            }
        )
    }
}

impl MacDataConfig {
    fn check(&self) -> Result<(), Issue> {
        let dsn = &self.dsn;
        ensure(dsn.starts_with("mysql://"), &["mac_data.dsn"], || {
            format!(
                "mac_data.dsn must start with mysql://, not \"{}\"",
                mask_passwords(dsn)
            )
        })?;
        let table = &self.table;
        ensure(
            !table.is_empty() && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            &["mac_data.table"],
            || format!("mac_data.table must be letters, digits and _, not \"{table}\""),
        )?;
        between("mac_data.batch", self.batch as u64, 1, 100_000)
    }

    fn summary(&self) -> String {
        format!(
            "{} table {}, batches of up to {} points",
            mask_passwords(&self.dsn),
            self.table,
            self.batch
        )
    }
}

impl ArchiveConfig {
    fn check(&self) -> Result<(), Issue> {
        let url = &self.url;
        ensure(
            url.is_empty() || url.starts_with("http://") || url.starts_with("https://"),
            &["archive.url"],
            || format!("archive.url must start with http:// or https://, not \"{url}\""),
        )?;
        between("archive.roll_rows", self.roll_rows as u64, 1, 10_000_000)?;
        between("archive.roll_secs", self.roll_secs, 1, 7 * 24 * 3600)
    }

    fn summary(&self) -> String {
        let what = match (self.points, self.passes) {
            (true, true) => "points and passes",
            (true, false) => "points",
            (false, true) => "passes",
            (false, false) => "nothing",
        };
        let dir = if self.dir.is_empty() {
            "archive/ under the data dir"
        } else {
            &self.dir
        };
        let moved = if self.url.is_empty() {
            String::new()
        } else {
            format!(", moved to {}", mask_passwords(&self.url))
        };
        format!(
            "{what} to Parquet in {dir}{moved}, a file per {} rows or {} s",
            self.roll_rows, self.roll_secs
        )
    }

    /// Where and how often, with an empty `dir` under `data_dir`.
    pub fn settings(&self, data_dir: &Path) -> crate::sinks::archive::ArchiveSettings {
        crate::sinks::archive::ArchiveSettings {
            dir: if self.dir.is_empty() {
                data_dir.join("archive")
            } else {
                PathBuf::from(&self.dir)
            },
            roll_rows: self.roll_rows,
            roll_after: std::time::Duration::from_secs(self.roll_secs),
            url: (!self.url.is_empty()).then(|| self.url.clone()),
        }
    }
}

impl ThingsboardConfig {
    fn check(&self) -> Result<(), Issue> {
        let url = &self.url;
        // The HTTP client is built without TLS.
        ensure(url.starts_with("http://"), &["thingsboard.url"], || {
            format!("thingsboard.url must start with http://, not \"{url}\"")
        })?;
        let token = &self.token;
        ensure(
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)),
            &["thingsboard.token"],
            || {
                "thingsboard.token must be the device's access token: letters, digits, - and _"
                    .into()
            },
        )?;
        between("thingsboard.batch", self.batch as u64, 1, 100_000)
    }

    fn summary(&self) -> String {
        format!(
            "{}, a device token of {} characters, batches of up to {} points",
            self.url,
            self.token.len(),
            self.batch
        )
    }
}

impl RedisConfig {
    fn check(&self) -> Result<(), Issue> {
        let url = &self.url;
        ensure(
            url.starts_with("redis://") || url.starts_with("rediss://"),
            &["redis.url"],
            || format!("redis.url must start with redis:// (or rediss://), not \"{url}\""),
        )?;
        filled("redis.list", &self.list)?;
        filled("redis.channel", &self.channel)?;
        ensure(self.max_len >= 1, &["redis.max_len"], || {
            "redis.max_len must be 1 or more, not 0".into()
        })
    }

    fn summary(&self) -> String {
        format!(
            "{}, list {} (trimmed to {}), channel {}, duplicates suppressed for {} s",
            mask_passwords(&self.url),
            self.list,
            self.max_len,
            self.channel,
            self.dedupe_ttl_s
        )
    }
}

impl TailSink {
    fn as_str(self) -> &'static str {
        match self {
            TailSink::Kafka => "kafka",
            TailSink::Pipeline => "pipeline",
        }
    }
}

impl TailConfig {
    fn check(&self, has_kafka: bool) -> Result<(), Issue> {
        filled("tail.position_file", &self.position_file.to_string_lossy())?;
        ensure(
            self.sink != TailSink::Kafka || has_kafka,
            &["tail.sink", "tail"],
            || {
                "tail.sink = \"kafka\" needs a [kafka] section (or set tail.sink = \"pipeline\")"
                    .into()
            },
        )
    }

    fn summary(&self) -> String {
        if self.paths.is_empty() {
            return "no paths".to_owned();
        }
        format!(
            "{} into {}, positions in {}",
            self.paths.join(", "),
            self.sink.as_str(),
            self.position_file.display()
        )
    }
}

impl HttpConfig {
    fn check(&self) -> Result<(), Issue> {
        filled("http.bind", &self.bind)?;
        ensure(self.port != 0, &["http.port"], || {
            "http.port must be between 1 and 65535, not 0".into()
        })
    }

    /// IPv6 addresses are bracketed so the port stays readable.
    fn summary(&self) -> String {
        match self.bind.contains(':') {
            true => format!("[{}]:{}", self.bind, self.port),
            false => format!("{}:{}", self.bind, self.port),
        }
    }
}

fn not_configured() -> String {
    "not configured".to_owned()
}

/// Replaces the password of every `scheme://user:password@host` URL in
/// `text` with `***`, so reports and errors can be pasted safely.
pub fn mask_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        let (url, after) = tail.split_at(end);
        out.push_str(&mask_userinfo(url));
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `user:secret@host/db` → `user:***@host/db`; the last `@` ends the
/// credentials since passwords may contain `@`.
fn mask_userinfo(url: &str) -> String {
    let Some(at) = url.rfind('@') else {
        return url.to_owned();
    };
    match url[..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..colon], &url[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, "gantry.toml", Vec::new())
    }

    fn parse_env(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, "gantry.toml", env(vars))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn env_error(text: &str, vars: &[(&str, &str)]) -> String {
        parse_env(text, vars).unwrap_err().to_string()
    }

    #[test]
    fn empty_file_gives_the_embedded_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.store.engine, Engine::Sqlite);
        assert_eq!(config.store.shards, 2);
        assert_eq!(config.kafka, None);
        assert_eq!(config.redis, None);
        assert_eq!(config.tail.sink, TailSink::Pipeline);
        assert!(config.check().is_ok());
    }

    #[test]
    fn empty_optional_section_takes_its_defaults() {
        let config = parse("[kafka]\n[redis]\n").unwrap();
        assert_eq!(config.kafka, Some(KafkaConfig::default()));
        assert_eq!(config.redis, Some(RedisConfig::default()));
    }

    #[test]
    fn series_retention_per_measurement() {
        let config =
            parse("[series]\nretention_days = 7\nmeasurement_retention_days = { room = 1 }\n")
                .unwrap();
        let policy = config.series.retention();
        assert_eq!(policy.days_for("room,site=a/co2"), Some(1));
        assert_eq!(policy.days_for("pi-01/temperature"), Some(7));
        assert_eq!(config.series.summary(), "points kept 7 days; room 1 d");
        assert_eq!(
            Config::default().series.retention(),
            RetentionPolicy::default()
        );
    }

    #[test]
    fn example_parses_and_validates() {
        let config = parse(EXAMPLE).unwrap();
        assert_eq!(config.store.engine, Engine::Sqlite);
        assert_eq!(config.store.mysql_shards.len(), 2);
        assert_eq!(
            config.detector.checkpoints,
            Some(PathBuf::from("checkpoints.csv"))
        );
        assert_eq!(config.kafka, Some(KafkaConfig::default()));
        assert_eq!(config.redis, Some(RedisConfig::default()));
        assert_eq!(config.tail.sink, TailSink::Kafka);
        assert_eq!(config.http, HttpConfig::default());
    }

    #[test]
    fn example_sets_every_key_of_every_section() {
        let example: Table = toml::from_str(EXAMPLE).unwrap();
        for section in sections() {
            let keys = section_keys(section).expect("every section has a key list");
            let table = example[*section].as_table().expect("section in EXAMPLE");
            for key in keys {
                assert!(table.contains_key(*key), "EXAMPLE lacks {section}.{key}");
                let line = EXAMPLE
                    .lines()
                    .position(|l| l.starts_with(&format!("{key} =")));
                let comment = line.map(|n| EXAMPLE.lines().nth(n - 1).unwrap_or(""));
                assert!(
                    comment.is_some_and(|c| c.starts_with("# ") && c.contains("Default")),
                    "{section}.{key} needs a comment line with its default"
                );
            }
        }
    }

    #[test]
    fn key_lists_follow_the_structs() {
        assert_eq!(
            sections(),
            [
                "store",
                "detector",
                "kafka",
                "redis",
                "mqtt",
                "influxdb",
                "mac_data",
                "thingsboard",
                "archive",
                "series",
                "tail",
                "http"
            ]
        );
        assert_eq!(
            section_keys("store").unwrap(),
            [
                "engine",
                "data_dir",
                "shards",
                "mysql_shards",
                "pool_size",
                "retention_days"
            ]
        );
        assert!(section_keys("nope").is_none());
        assert_eq!(enum_names("store.engine").unwrap(), ["sqlite", "mysql"]);
        assert_eq!(enum_names("tail.sink").unwrap(), ["kafka", "pipeline"]);
    }

    #[test]
    fn syntax_error_names_the_line() {
        let err = error("[store]\nshards = 2\nengine = \n");
        assert!(
            err.starts_with("gantry.toml line 3: invalid TOML: "),
            "{err}"
        );
        assert_eq!(
            error("[store]\nshards = 2\n\n[http\n"),
            "gantry.toml line 4: invalid TOML: unclosed table, expected `]`"
        );
    }

    #[test]
    fn unknown_key_names_the_line_and_the_expected_keys() {
        assert_eq!(
            error("[store]\nengin = \"mysql\"\n"),
            "gantry.toml line 2: unknown key store.engin (expected one of engine, data_dir, \
             shards, mysql_shards, pool_size, retention_days)"
        );
    }

    #[test]
    fn earliest_unknown_name_is_reported() {
        let err = error("[tail]\nbogus = 1\n[store]\nwrong = 2\n");
        assert!(
            err.starts_with("gantry.toml line 2: unknown key tail.bogus"),
            "{err}"
        );
    }

    #[test]
    fn unknown_section_and_stray_value_name_the_line() {
        let err = error("[store]\nshards = 2\n[postgres]\nurl = \"x\"\n");
        assert!(
            err.starts_with("gantry.toml line 3: unknown section postgres (expected one of store,"),
            "{err}"
        );
        assert_eq!(
            error("\nstore = 5\n"),
            "gantry.toml line 2: store must be a [store] section, not an integer"
        );
    }

    #[test]
    fn bad_engine_names_the_line() {
        assert_eq!(
            error("[store]\nshards = 2\nengine = \"postgres\"\n"),
            "gantry.toml line 3: store.engine must be \"sqlite\" or \"mysql\", not \"postgres\""
        );
        assert_eq!(
            error("[store]\nengine = 5\n"),
            "gantry.toml line 2: store.engine must be \"sqlite\" or \"mysql\", not 5"
        );
        assert_eq!(
            env_error("", &[("GANTRY_TAIL__SINK", "redis")]),
            "environment GANTRY_TAIL__SINK: tail.sink must be \"kafka\" or \"pipeline\", not \"redis\""
        );
    }

    #[test]
    fn out_of_range_names_the_line() {
        assert_eq!(
            error("# gantry\n[store]\nengine = \"sqlite\"\nshards = 0\n"),
            "gantry.toml line 4: store.shards must be between 1 and 64, not 0"
        );
        assert_eq!(
            error("[http]\nbind = \"0.0.0.0\"\nport = 0\n"),
            "gantry.toml line 3: http.port must be between 1 and 65535, not 0"
        );
    }

    #[test]
    fn wrong_type_names_the_line() {
        assert_eq!(
            error("[store]\n\nshards = \"two\"\n"),
            "gantry.toml line 3: store.shards must be a whole number from 0 to 65535, not \"two\""
        );
        assert_eq!(
            error("[http]\nport = 70000\n"),
            "gantry.toml line 2: http.port must be a whole number from 0 to 65535, not 70000"
        );
        assert_eq!(
            error("[tail]\npaths = [\"a\", 3]\n"),
            "gantry.toml line 2: tail.paths[1] must be a string, not 3"
        );
    }

    #[test]
    fn mysql_needs_mysql_dsns() {
        assert_eq!(
            error("[store]\nengine = \"mysql\"\n"),
            "gantry.toml line 2: store.mysql_shards must list at least one mysql:// DSN \
             when store.engine is \"mysql\""
        );
        assert_eq!(
            error("[store]\nengine = \"mysql\"\nmysql_shards = [\n  \"mysql://a/g\",\n  \"postgres://u:pw@b/g\",\n]\n"),
            "gantry.toml line 3: store.mysql_shards entry 2 must start with mysql://, \
             not \"postgres://u:***@b/g\""
        );
    }

    #[test]
    fn detector_limits_name_the_line() {
        assert_eq!(
            error("[detector]\nspeed_limit_kmh = -5\n"),
            "gantry.toml line 2: detector.speed_limit_kmh must be a number above 0, not -5"
        );
        assert_eq!(
            error("[detector]\nspeed_limit_kmh = nan\n"),
            "gantry.toml line 2: detector.speed_limit_kmh must be a number above 0, not NaN"
        );
        assert_eq!(
            error("[detector]\nwindow_s = 1\nlateness_s = -1\n"),
            "gantry.toml line 3: detector.lateness_s must be 0 or more, not -1"
        );
        assert_eq!(
            error("[detector]\nhorizon_s = 0\n"),
            "gantry.toml line 2: detector.horizon_s must be 1 or more, not 0"
        );
    }

    #[test]
    fn kafka_tail_and_redis_checks_name_the_line() {
        assert_eq!(
            error("[kafka]\nbrokers = \" \"\n"),
            "gantry.toml line 2: kafka.brokers must not be empty"
        );
        assert_eq!(
            error("[tail]\npaths = []\nsink = \"kafka\"\n"),
            "gantry.toml line 3: tail.sink = \"kafka\" needs a [kafka] section \
             (or set tail.sink = \"pipeline\")"
        );
        assert_eq!(
            error("[redis]\nurl = \"http://:hunter2@cache:6379\"\n"),
            "gantry.toml line 2: redis.url must start with redis:// (or rediss://), \
             not \"http://:***@cache:6379\""
        );
    }

    #[test]
    fn env_overrides_a_number() {
        let config = parse_env("[store]\nshards = 2\n", &[("GANTRY_STORE__SHARDS", "8")]).unwrap();
        assert_eq!(config.store.shards, 8);
        let config = parse_env("", &[("GANTRY_DETECTOR__SPEED_LIMIT_KMH", "150")]).unwrap();
        assert_eq!(config.detector.speed_limit_kmh, 150.0);
    }

    #[test]
    fn env_overrides_a_string_and_an_enum() {
        let vars = [
            ("GANTRY_KAFKA__BROKERS", "host:9092"),
            ("GANTRY_STORE__ENGINE", "mysql"),
            ("GANTRY_STORE__MYSQL_SHARDS", "[\"mysql://a/g\"]"),
            ("GANTRY_HTTP__BIND", "0.0.0.0"),
        ];
        let config = parse_env("[kafka]\nbrokers = \"old:9092\"\n", &vars).unwrap();
        assert_eq!(config.kafka.unwrap().brokers, "host:9092");
        assert_eq!(config.store.engine, Engine::Mysql);
        assert_eq!(config.http.bind, "0.0.0.0");
    }

    #[test]
    fn env_overrides_an_array() {
        let vars = [
            ("GANTRY_STORE__ENGINE", "mysql"),
            (
                "GANTRY_STORE__MYSQL_SHARDS",
                "[\"mysql://a/g\",\"mysql://b/g\"]",
            ),
        ];
        let config = parse_env("", &vars).unwrap();
        assert_eq!(config.store.mysql_shards, ["mysql://a/g", "mysql://b/g"]);
    }

    #[test]
    fn env_creates_an_absent_section() {
        let config = parse_env("[store]\n", &[("GANTRY_REDIS__MAX_LEN", "50")]).unwrap();
        let redis = config.redis.unwrap();
        assert_eq!(redis.max_len, 50);
        assert_eq!(redis.url, RedisConfig::default().url);
    }

    #[test]
    fn env_number_looking_text_stays_text_for_string_keys() {
        let vars = [
            ("GANTRY_KAFKA__TOPIC", "2024"),
            ("GANTRY_KAFKA__GROUP", "true"),
        ];
        let kafka = parse_env("", &vars).unwrap().kafka.unwrap();
        assert_eq!(kafka.topic, "2024");
        assert_eq!(kafka.group, "true");
        let config = parse_env("", &[("GANTRY_TAIL__POSITION_FILE", "1.5")]).unwrap();
        assert_eq!(config.tail.position_file, PathBuf::from("1.5"));
    }

    #[test]
    fn env_errors_name_the_variable() {
        assert_eq!(
            env_error("[store]\nshards = 2\n", &[("GANTRY_STORE__SHARDS", "0")]),
            "environment GANTRY_STORE__SHARDS: store.shards must be between 1 and 64, not 0"
        );
        assert_eq!(
            env_error("", &[("GANTRY_STORE__SHARDS", "many")]),
            "environment GANTRY_STORE__SHARDS: store.shards must be a whole number \
             from 0 to 65535, not \"many\""
        );
        assert_eq!(
            env_error("", &[("GANTRY_STORE__ENGINE", "mysql")]),
            "environment GANTRY_STORE__ENGINE: store.mysql_shards must list at least one \
             mysql:// DSN when store.engine is \"mysql\""
        );
        assert_eq!(
            env_error("", &[("GANTRY_TAIL__SINK", "kafka")]),
            "environment GANTRY_TAIL__SINK: tail.sink = \"kafka\" needs a [kafka] section \
             (or set tail.sink = \"pipeline\")"
        );
    }

    #[test]
    fn bad_env_names_are_errors() {
        assert_eq!(
            env_error("", &[("GANTRY_STORE__ENGIN", "mysql")]),
            "environment GANTRY_STORE__ENGIN: unknown key store.engin (expected one of engine, \
             data_dir, shards, mysql_shards, pool_size, retention_days)"
        );
        let err = env_error("", &[("GANTRY_DB__URL", "x")]);
        assert!(
            err.starts_with("environment GANTRY_DB__URL: unknown section db"),
            "{err}"
        );
        let err = env_error("", &[("GANTRY___SHARDS", "2")]);
        assert!(
            err.starts_with("environment GANTRY___SHARDS: expected a name of the form"),
            "{err}"
        );
        let err = env_error("", &[("GANTRY_STORE__", "2")]);
        assert!(
            err.starts_with("environment GANTRY_STORE__: expected"),
            "{err}"
        );
    }

    #[test]
    fn non_override_variables_are_ignored() {
        let vars = [
            ("GANTRY_WEB", "0"),
            ("GANTRY_LOG", "debug"),
            ("PATH", "/usr/bin"),
            ("NOT_GANTRY_STORE__SHARDS", "0"),
        ];
        assert_eq!(parse_env("", &vars).unwrap(), Config::default());
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_passwords("mysql://root:s3cr@t@db:3306/gantry"),
            "mysql://root:***@db:3306/gantry"
        );
        assert_eq!(
            mask_passwords("mysql://root@db/gantry"),
            "mysql://root@db/gantry"
        );
        assert_eq!(
            mask_passwords("redis://:pw@cache:6379"),
            "redis://:***@cache:6379"
        );
        assert_eq!(
            mask_passwords("a \"mysql://u:p@a/g\" and \"mysql://v:q@b/g\""),
            "a \"mysql://u:***@a/g\" and \"mysql://v:***@b/g\""
        );
        assert_eq!(mask_passwords("no urls here"), "no urls here");
    }

    #[test]
    fn check_report_summarises_with_masked_passwords() {
        let text = "[store]\nengine = \"mysql\"\nmysql_shards = \
                    [\"mysql://root:pw1@db1:3306/g\", \"mysql://root:pw2@db2:3306/g\"]\n\
                    retention_days = 3\n[redis]\nurl = \"redis://:pw3@cache:6379\"\n";
        let report = parse(text).unwrap().check_report();
        assert!(
            report.contains("store:    mysql, 2 shards, 4 connections each, keeps 3 days"),
            "{report}"
        );
        assert!(
            report.contains("shard 1: mysql://root:***@db2:3306/g"),
            "{report}"
        );
        assert!(
            report.contains("redis:    redis://:***@cache:6379"),
            "{report}"
        );
        assert!(report.contains("kafka:    not configured"), "{report}");
        assert!(!report.contains("pw"), "{report}");
        let report = Config::default().check_report();
        assert!(
            report.contains("store:    sqlite, 2 shards in gantry-data, keeps everything"),
            "{report}"
        );
        assert!(report.contains("http:     127.0.0.1:8080"), "{report}");
    }
}
