-- gantry MySQL/MariaDB shard schema (format 1).
--
-- Each shard is one database (the DSN's database, created if missing) on
-- its own server, in MyCat dataNode order: a pass goes to the shard
-- MyCat's PartitionByMurmurHash picks for its KKMC, so a MyCat deployment
-- over the same databases reads the same rows from the same place.
--   passes, rollup_*  the passes of this shard's checkpoints, and their counts
--   warnings          warnings whose second sighting is at such a checkpoint
--   rejected          used on shard 0 only
--   checkpoints       a MyCat "global table": the same rows on every shard
-- Text compares in code-point order (utf8mb4_bin), as SQLite's does, so
-- both engines page and merge alike. Every statement is idempotent: the
-- store runs this file on each open. Statements end with ";" at line end.

-- Which shard this database is, and of how many.
CREATE TABLE IF NOT EXISTS meta (
    `key`   VARCHAR(64) NOT NULL PRIMARY KEY,
    `value` VARCHAR(255) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- 过车记录. Partitioned by day so that retention drops whole days
-- (ALTER TABLE … DROP PARTITION) without deleting row by row. MariaDB
-- requires the partitioning column in every unique key, hence the primary
-- key (gcxh, gcsj): the writer skips a GCXH already stored whatever its
-- time, so GCXH stays unique. New days get a partition before their rows
-- are written; p_future stays empty.
CREATE TABLE IF NOT EXISTS passes (
    gcxh              VARCHAR(64) NOT NULL,    -- pass id; re-imports are skipped on it
    xzqhmc            VARCHAR(128) NOT NULL,   -- district
    kkmc              VARCHAR(128) NOT NULL,   -- checkpoint name, the shard key
    fxlx              VARCHAR(128) NOT NULL,   -- direction
    gcsj              DATETIME NOT NULL,       -- pass time (China Standard Time)
    hpzl              VARCHAR(128) NOT NULL,   -- plate type code
    hphm              VARCHAR(128) NOT NULL,   -- plate number
    clppxh            VARCHAR(128) NOT NULL,   -- brand and model
    province          VARCHAR(32) NOT NULL,    -- derived from hphm
    is_weekend        TINYINT NOT NULL,        -- derived from gcsj, 0/1
    is_peak_hour      TINYINT NOT NULL,        -- derived from gcsj, 0/1
    vehicle_type_name VARCHAR(64) NOT NULL,    -- derived from hpzl
    PRIMARY KEY (gcxh, gcsj),
    KEY idx_passes_gcsj (gcsj),
    KEY idx_passes_hphm (hphm),
    KEY idx_passes_kkmc_gcsj (kkmc, gcsj)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
PARTITION BY RANGE (TO_DAYS(gcsj)) (PARTITION p_future VALUES LESS THAN MAXVALUE);

-- 套牌车预警.
CREATE TABLE IF NOT EXISTS warnings (
    id          VARCHAR(64) NOT NULL PRIMARY KEY,  -- from the two pass ids: replays are skipped
    hphm        VARCHAR(128) NOT NULL,
    hpzl        VARCHAR(128) NOT NULL,
    first_gcxh  VARCHAR(128) NOT NULL,
    first_kkmc  VARCHAR(128) NOT NULL,
    first_gcsj  DATETIME NOT NULL,
    second_gcxh VARCHAR(128) NOT NULL,
    second_kkmc VARCHAR(128) NOT NULL,
    second_gcsj DATETIME NOT NULL,
    distance_km DOUBLE,                           -- NULL: a checkpoint has no coordinates
    interval_s  BIGINT NOT NULL,
    speed_kmh   DOUBLE,                           -- NULL: unknown or infinite
    rule        VARCHAR(16) NOT NULL,             -- speed | simultaneous | window
    detected_at DATETIME NOT NULL,
    KEY idx_warnings_second_gcsj (second_gcsj),
    KEY idx_warnings_hphm (hphm)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Rollups, updated in the transaction that inserts the passes they count.
-- Per checkpoint by hour, the finest grain read per checkpoint: a row per
-- checkpoint and minute cost an upsert for every ~5 passes stored. Shards
-- made before kept `rollup_minute`; opening one folds it into this.
CREATE TABLE IF NOT EXISTS rollup_checkpoint_hour (
    kkmc VARCHAR(128) NOT NULL,
    day  DATE NOT NULL,
    hour TINYINT NOT NULL,
    n    BIGINT NOT NULL,
    PRIMARY KEY (kkmc, day, hour)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS rollup_minute_total (
    minute DATETIME NOT NULL PRIMARY KEY,
    n      BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS rollup_checkpoint (
    kkmc VARCHAR(128) NOT NULL PRIMARY KEY,
    n    BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS rollup_province (
    province VARCHAR(32) NOT NULL PRIMARY KEY,
    n        BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS rollup_vehicle_type (
    vehicle_type_name VARCHAR(64) NOT NULL PRIMARY KEY,
    n                 BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS rollup_hour (
    day  DATE NOT NULL,
    hour TINYINT NOT NULL,
    n    BIGINT NOT NULL,
    PRIMARY KEY (day, hour)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Rejected input rows, kept with their reason. id hashes (source, line,
-- kind, raw), so re-importing a file adds none.
CREATE TABLE IF NOT EXISTS rejected (
    seq         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id          CHAR(32) NOT NULL,
    source      VARCHAR(1024) NOT NULL,
    line        BIGINT NOT NULL,
    reason_kind VARCHAR(32) NOT NULL,
    reason      TEXT NOT NULL,
    raw         MEDIUMTEXT NOT NULL,
    UNIQUE KEY uq_rejected_id (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- 卡口: a global table, the same on every shard.
CREATE TABLE IF NOT EXISTS checkpoints (
    kkmc VARCHAR(128) NOT NULL PRIMARY KEY,
    kkbh VARCHAR(128) NOT NULL,
    lon  DOUBLE,
    lat  DOUBLE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
