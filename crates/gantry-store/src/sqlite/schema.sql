-- gantry SQLite shard schema (format 1).
--
-- Every shard file (shard-0.sqlite, shard-1.sqlite, …) holds every table:
--   passes, rollup_*  the passes of the checkpoints (KKMC) MyCat routes to this
--                     shard, and their counts;
--   warnings          warnings whose second sighting is at such a checkpoint;
--   rejected          used on shard 0 only;
--   checkpoints       a MyCat "global table": the same rows on every shard.
-- Times are text 'YYYY-MM-DD HH:MM:SS' (local China Standard Time), so text
-- order is time order. Every statement is idempotent: the store runs this
-- whole file on each read-write open, which also recreates any index a bulk
-- import dropped before it could restore it.

-- Which shard this file is, and of how many.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- 过车记录. A rowid table: rows append at the end of the table b-tree and
-- only the (small) gcxh key lands at a random place, which inserts faster
-- than a WITHOUT ROWID table clustered on random ids. GCXH is unique, but
-- kept so by the writer (an insert skips a GCXH already stored; a bulk load
-- builds idx_passes_gcxh UNIQUE, or plain after removing repeats) rather
-- than by a UNIQUE constraint, so a bulk load can append rows and build the
-- key index sorted afterwards instead of checking it at a random place per
-- row.
CREATE TABLE IF NOT EXISTS passes (
    gcxh              TEXT NOT NULL,              -- pass id; re-imports are skipped on it
    xzqhmc            TEXT NOT NULL,              -- district
    kkmc              TEXT NOT NULL,              -- checkpoint name, the shard key
    fxlx              TEXT NOT NULL,              -- direction
    gcsj              TEXT NOT NULL,              -- pass time
    hpzl              TEXT NOT NULL,              -- plate type code
    hphm              TEXT NOT NULL,              -- plate number
    clppxh            TEXT NOT NULL,              -- brand and model
    province          TEXT NOT NULL,              -- derived from hphm
    is_weekend        INTEGER NOT NULL,           -- derived from gcsj, 0/1
    is_peak_hour      INTEGER NOT NULL,           -- derived from gcsj, 0/1
    vehicle_type_name TEXT NOT NULL               -- derived from hpzl
);
-- Indexes of passes: bulk mode drops these four and recreates them.
CREATE INDEX IF NOT EXISTS idx_passes_gcxh ON passes (gcxh);
CREATE INDEX IF NOT EXISTS idx_passes_gcsj ON passes (gcsj);
CREATE INDEX IF NOT EXISTS idx_passes_hphm ON passes (hphm);
CREATE INDEX IF NOT EXISTS idx_passes_kkmc_gcsj ON passes (kkmc, gcsj);

-- 套牌车预警.
CREATE TABLE IF NOT EXISTS warnings (
    id          TEXT PRIMARY KEY NOT NULL,  -- from the two pass ids: replays are skipped
    hphm        TEXT NOT NULL,
    hpzl        TEXT NOT NULL,
    first_gcxh  TEXT NOT NULL,
    first_kkmc  TEXT NOT NULL,
    first_gcsj  TEXT NOT NULL,
    second_gcxh TEXT NOT NULL,
    second_kkmc TEXT NOT NULL,
    second_gcsj TEXT NOT NULL,
    distance_km REAL,                       -- NULL: a checkpoint has no coordinates
    interval_s  INTEGER NOT NULL,
    speed_kmh   REAL,                       -- NULL: unknown or infinite
    rule        TEXT NOT NULL,              -- speed | simultaneous | window
    detected_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_warnings_second_gcsj ON warnings (second_gcsj);
CREATE INDEX IF NOT EXISTS idx_warnings_hphm ON warnings (hphm);

-- Rollups, updated in the transaction that inserts the passes they count.
-- Passes per checkpoint per minute ('YYYY-MM-DD HH:MM:00').
CREATE TABLE IF NOT EXISTS rollup_minute (
    kkmc   TEXT NOT NULL,
    minute TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (kkmc, minute)
) WITHOUT ROWID;
-- Passes per minute over all of this shard's checkpoints ("last minute" counts).
CREATE TABLE IF NOT EXISTS rollup_minute_total (
    minute TEXT PRIMARY KEY NOT NULL,
    n      INTEGER NOT NULL
) WITHOUT ROWID;
-- Passes per checkpoint, all time (top checkpoints, pass counts).
CREATE TABLE IF NOT EXISTS rollup_checkpoint (
    kkmc TEXT PRIMARY KEY NOT NULL,
    n    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_province (
    province TEXT PRIMARY KEY NOT NULL,
    n        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_vehicle_type (
    vehicle_type_name TEXT PRIMARY KEY NOT NULL,
    n                 INTEGER NOT NULL
) WITHOUT ROWID;
-- Passes per day ('YYYY-MM-DD') and hour of day (0–23).
CREATE TABLE IF NOT EXISTS rollup_hour (
    day  TEXT NOT NULL,
    hour INTEGER NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (day, hour)
) WITHOUT ROWID;

-- Rejected input rows, kept with their reason. A row already stored (same
-- source, line, kind and text) is skipped, so re-importing a file adds none.
CREATE TABLE IF NOT EXISTS rejected (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    line        INTEGER NOT NULL,
    reason_kind TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    UNIQUE (source, line, reason_kind, raw)
);

-- 卡口: a global table, the same on every shard.
CREATE TABLE IF NOT EXISTS checkpoints (
    kkmc TEXT PRIMARY KEY NOT NULL,
    kkbh TEXT NOT NULL,
    lon  REAL,
    lat  REAL
) WITHOUT ROWID;
