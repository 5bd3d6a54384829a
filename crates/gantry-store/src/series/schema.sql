-- The embedded time-series store: one SQLite file, `series.sqlite`.
CREATE TABLE IF NOT EXISTS series (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    tags       TEXT NOT NULL,            -- JSON object, the first point's tags
    points     INTEGER NOT NULL DEFAULT 0,
    last_ts    INTEGER,                  -- epoch ms of the newest point
    last_value REAL
);

-- One reading per series and millisecond: a replayed point is skipped.
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    value  REAL NOT NULL,
    extra  TEXT,                         -- JSON array of further values, or NULL
    PRIMARY KEY (series, ts)
) WITHOUT ROWID;

-- Continuous rollups, kept in the write's transaction; they outlive the
-- points retention drops.
CREATE TABLE IF NOT EXISTS rollup_1m (
    series     INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,         -- epoch ms, whole minute
    n          INTEGER NOT NULL,
    sum        REAL NOT NULL,
    min        REAL NOT NULL,
    max        REAL NOT NULL,
    last_ts    INTEGER NOT NULL,
    last_value REAL NOT NULL,
    PRIMARY KEY (series, bucket)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS rollup_1h (
    series     INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,         -- epoch ms, whole hour
    n          INTEGER NOT NULL,
    sum        REAL NOT NULL,
    min        REAL NOT NULL,
    max        REAL NOT NULL,
    last_ts    INTEGER NOT NULL,
    last_value REAL NOT NULL,
    PRIMARY KEY (series, bucket)
) WITHOUT ROWID;

-- Payloads no format fits, kept with where they came from and why.
CREATE TABLE IF NOT EXISTS rejected (
    id       INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    source   TEXT NOT NULL,              -- MQTT topic, or "http"
    reason   TEXT NOT NULL,              -- short code to count by
    message  TEXT NOT NULL,
    payload  BLOB NOT NULL
);

-- Points on their way to the external sinks (InfluxDB …): each stored
-- point is queued while any sink is registered, and a sink's cursor moves
-- past a point only once the sink has it, so an outage or a restart
-- loses nothing. Rows every sink has passed are deleted.
CREATE TABLE IF NOT EXISTS forward_queue (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    series INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    value  REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS forward_cursor (
    sink TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL                -- the last seq the sink has
);
