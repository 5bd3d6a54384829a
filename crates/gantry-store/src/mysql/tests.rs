//! Against the real MariaDB servers `scripts/services.sh up` starts (3306
//! and 3307, or `GANTRY_TEST_MYSQL_SHARDS`). Each test uses databases of
//! its own and drops them at the end.

use std::collections::HashSet;

use gantry_core::geo::GeoPoint;
use gantry_core::{Checkpoint, ShardRouter};
use tempfile::TempDir;

use super::*;
use crate::testkit::*;
use crate::SqliteStore;
use crate::{PassCursor, PassQuery};
use gantry_core::Pass;

/// The servers, one DSN without a database each.
fn servers() -> Vec<String> {
    std::env::var("GANTRY_TEST_MYSQL_SHARDS")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306,mysql://root@127.0.0.1:3307".into())
        .split(',')
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .collect()
}

/// Databases for one test, spread over the servers; dropped on drop.
struct TestDbs {
    dsns: Vec<String>,
}

impl TestDbs {
    fn new(tag: &str, shards: usize) -> Self {
        let servers = servers();
        let dsns: Vec<String> = (0..shards)
            .map(|i| {
                let server = &servers[i % servers.len()];
                format!("{server}/gantry_t_{tag}_{}_{i}", std::process::id())
            })
            .collect();
        let dbs = TestDbs { dsns };
        dbs.drop_all();
        dbs
    }

    fn open(&self) -> MysqlStore {
        MysqlStore::open(&self.dsns, MysqlOptions::default()).unwrap()
    }

    fn open_with(&self, options: MysqlOptions) -> MysqlStore {
        MysqlStore::open(&self.dsns, options).unwrap()
    }

    fn drop_all(&self) {
        use mysql::prelude::Queryable;
        for dsn in &self.dsns {
            let opts = mysql::Opts::from_url(dsn).unwrap();
            let db = opts.get_db_name().unwrap().to_owned();
            let mut conn =
                mysql::Conn::new(mysql::OptsBuilder::from_opts(opts).db_name(None::<String>))
                    .unwrap();
            conn.query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
                .unwrap();
        }
    }
}

impl Drop for TestDbs {
    fn drop(&mut self) {
        self.drop_all();
    }
}

fn write_in_batches(store: &mut dyn Store, passes: &[Pass], size: usize) -> WriteSummary {
    let mut total = WriteSummary::default();
    for chunk in passes.chunks(size) {
        total.add(store.write(&batch_of(chunk)).unwrap());
    }
    total
}

#[test]
fn answers_equal_the_sqlite_store() {
    let dbs = TestDbs::new("equal", 2);
    let mut mysql = dbs.open();
    let tmp = TempDir::new().unwrap();
    let mut sqlite = SqliteStore::open(tmp.path(), 2).unwrap();

    let mut data = dataset(3000, 11);
    // Replays: a repeated batch, and an id repeated within a batch.
    data.extend_from_within(..400);
    data.insert(10, data[3].clone());
    let mut checkpoints = CheckpointDirectory::new();
    for (i, name) in CHECKPOINTS.iter().enumerate() {
        checkpoints.upsert(Checkpoint {
            name: (*name).into(),
            code: format!("KK{i:03}"),
            location: (i % 3 != 0).then_some(GeoPoint {
                lon: 104.0 + i as f64 / 10.0,
                lat: 30.5 + i as f64 / 7.0,
            }),
        });
    }
    for store in [&mut mysql as &mut dyn Store, &mut sqlite] {
        store.upsert_checkpoints(&checkpoints).unwrap();
    }
    let by_mysql = write_in_batches(&mut mysql, &data, 500);
    let by_sqlite = write_in_batches(&mut sqlite, &data, 500);
    assert_eq!(by_mysql, by_sqlite);
    assert_eq!(by_mysql.inserted, 3000);

    assert_eq!(snapshot(&mysql), snapshot(&sqlite));
    assert_eq!(
        mysql.shard_counts().unwrap(),
        sqlite.shard_counts().unwrap()
    );
    assert_eq!(
        mysql.checkpoints().unwrap().to_csv(),
        sqlite.checkpoints().unwrap().to_csv()
    );
    for q in queries() {
        let page = mysql.query_passes(&q).unwrap();
        let (items, total) = reference(&data, &q);
        assert_eq!((&page.items, page.total), (&items, total), "{q:?}");
    }
    let since = at("2023-12-02 20:00:00");
    assert_eq!(
        mysql.recent_passes(since).unwrap(),
        sqlite.recent_passes(since).unwrap()
    );
    let q = PassQuery {
        plate: Some("川*".into()),
        ..Default::default()
    };
    let (mut walked, mut after) = (Vec::new(), None::<PassCursor>);
    loop {
        let chunk = mysql.pass_chunk(&q, after.as_ref(), 333).unwrap();
        let Some(last) = chunk.last() else { break };
        after = Some(PassCursor::from(last));
        walked.extend(chunk);
    }
    assert_eq!(walked, reference(&data, &PassQuery { size: 10_000, ..q }).0);
}

#[test]
fn passes_land_on_the_mycat_shard() {
    let dbs = TestDbs::new("route", 3);
    let mut store = dbs.open();
    let data = dataset(600, 5);
    store.write(&batch_of(&data)).unwrap();
    let router = ShardRouter::mycat(3);
    let mut expected = vec![0u64; 3];
    for p in &data {
        expected[router.shard_of(&p.checkpoint)] += 1;
    }
    assert_eq!(store.shard_counts().unwrap(), expected);
    // And the rows themselves, not just the rollups.
    for (i, dsn) in dbs.dsns.iter().enumerate() {
        use mysql::prelude::Queryable;
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(dsn).unwrap()).unwrap();
        let kkmcs: Vec<String> = conn.query("SELECT DISTINCT kkmc FROM passes").unwrap();
        assert!(kkmcs.iter().all(|k| router.shard_of(k) == i), "{kkmcs:?}");
        let n: Option<u64> = conn.query_first("SELECT count(*) FROM passes").unwrap();
        assert_eq!(n, Some(expected[i]));
    }
}

#[test]
fn a_database_of_another_layout_is_refused() {
    let dbs = TestDbs::new("layout", 2);
    drop(dbs.open());
    let swapped = [dbs.dsns[1].clone(), dbs.dsns[0].clone()];
    let err = MysqlStore::open(&swapped, MysqlOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("is shard 1 of 2, expected shard 0 of 2"),
        "{err}"
    );
    let err = MysqlStore::open(&dbs.dsns[..1], MysqlOptions::default()).unwrap_err();
    assert!(err.to_string().contains("expected shard 0 of 1"), "{err}");
    let same = [dbs.dsns[0].clone(), dbs.dsns[0].clone()];
    let err = MysqlStore::open(&same, MysqlOptions::default()).unwrap_err();
    assert!(err.to_string().contains("are the same database"), "{err}");
}

#[test]
fn bad_dsns_and_dead_servers_are_clear_errors() {
    let err = MysqlStore::open(&["postgres://x/y".into()], MysqlOptions::default()).unwrap_err();
    assert!(err.to_string().contains("bad MySQL DSN"), "{err}");
    let err = MysqlStore::open(
        &["mysql://root@127.0.0.1:3306/bad-name;drop".into()],
        MysqlOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("must be letters, digits and _"),
        "{err}"
    );
    // Nothing listens on port 9.
    let options = MysqlOptions {
        timeout: std::time::Duration::from_secs(2),
        ..MysqlOptions::default()
    };
    let err = MysqlStore::open(&["mysql://root@127.0.0.1:9/x".into()], options).unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1:9/x"), "{err}");
}

/// Passes whose text needs escaping in `LOAD DATA`'s format.
fn awkward_passes() -> Vec<Pass> {
    let mut data = dataset(60, 31);
    let texts = [
        "back\\slash \\N",
        "tab\there",
        "new\nline",
        "carriage\rreturn",
        "nul\0byte",
        "'quote\" and ,comma",
        "大众牌SVW71810KJ",
    ];
    for (p, text) in data.iter_mut().zip(texts.iter().cycle()) {
        p.brand = (*text).into();
        p.district = format!("{text}区");
    }
    data
}

#[test]
fn text_round_trips_by_load_data_and_by_insert() {
    let data = awkward_passes();
    let q = PassQuery {
        size: 1000,
        ..Default::default()
    };
    for load_data in [true, false] {
        let dbs = TestDbs::new(if load_data { "load" } else { "insert" }, 2);
        let mut store = dbs.open_with(MysqlOptions {
            load_data,
            ..MysqlOptions::default()
        });
        let written = store.write(&batch_of(&data)).unwrap();
        assert_eq!(written.inserted, data.len() as u64);
        for shard in &store.shards {
            assert_eq!(
                shard.load_data_state(),
                (load_data, 0),
                "the path asked for"
            );
        }
        let page = store.query_passes(&q).unwrap();
        assert_eq!(page.items, reference(&data, &q).0, "load_data {load_data}");
        // A replay stores nothing more.
        assert_eq!(store.write(&batch_of(&data)).unwrap().inserted, 0);
        assert_eq!(store.count_passes().unwrap(), data.len() as u64);
    }
}

#[test]
fn a_value_a_column_cannot_hold_is_refused_not_truncated() {
    let dbs = TestDbs::new("toolong", 2);
    let mut store = dbs.open();
    let mut data = dataset(20, 37);
    data[5].brand = "长".repeat(200);
    let err = store.write(&batch_of(&data)).unwrap_err().to_string();
    assert!(err.contains("clppxh"), "{err}");
    // LOAD DATA would have truncated it: that load was undone for INSERT.
    let undone: u64 = store.shards.iter().map(|s| s.load_data_state().1).sum();
    assert!(undone >= 1);
    // The whole batch's transaction was undone on the failing shard.
    let q = PassQuery {
        size: 100,
        ..Default::default()
    };
    let stored = store.query_passes(&q).unwrap().items;
    assert!(
        stored.iter().all(|p| p.brand.chars().count() <= 128),
        "nothing truncated"
    );
    assert!(!stored.iter().any(|p| p.id == data[5].id));
}

#[test]
fn concurrent_writers_store_each_pass_once() {
    let dbs = TestDbs::new("race", 2);
    drop(dbs.open());
    let data = dataset(4000, 23);
    // Two writers, overlapping halves, in different batch orders.
    std::thread::scope(|scope| {
        for (part, size) in [(&data[..3000], 250), (&data[1000..], 170)] {
            let dbs = &dbs;
            scope.spawn(move || {
                let mut store = dbs.open();
                let mut batches: Vec<&[Pass]> = part.chunks(size).collect();
                if size == 170 {
                    batches.reverse();
                }
                for chunk in batches {
                    store.write(&batch_of(chunk)).unwrap();
                }
            });
        }
    });
    let store = dbs.open();
    let unique: HashSet<&str> = data.iter().map(|p| p.id.as_str()).collect();
    let all = store.query_passes(&PassQuery::default()).unwrap();
    assert_eq!(all.total, unique.len() as u64, "rows");
    assert_eq!(
        store.count_passes().unwrap(),
        unique.len() as u64,
        "rollups"
    );
    let tmp = TempDir::new().unwrap();
    let mut sqlite = SqliteStore::open(tmp.path(), 2).unwrap();
    sqlite.write(&batch_of(&data)).unwrap();
    let (a, b) = (snapshot(&store), snapshot(&sqlite));
    assert_eq!((a.top, a.flow, a.minutes), (b.top, b.flow, b.minutes));
}

#[test]
fn retention_drops_whole_days_and_keeps_rollups() {
    let dbs = TestDbs::new("retain", 2);
    check_retention(&mut dbs.open());
}

/// A shard made when rollups were kept per checkpoint and minute answers
/// the same once opened by this version, and opening it again adds nothing.
#[test]
fn an_older_shards_minute_rollups_fold_into_hours() {
    use mysql::prelude::Queryable;
    let dbs = TestDbs::new("fold", 2);
    let mut store = dbs.open();
    write_in_batches(&mut store, &dataset(3000, 5), 700);
    let expected = snapshot(&store);
    store.close().unwrap();
    for dsn in &dbs.dsns {
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(dsn).unwrap()).unwrap();
        for sql in [
            "CREATE TABLE rollup_minute (kkmc VARCHAR(128) NOT NULL, minute DATETIME NOT NULL, \
             n BIGINT NOT NULL, PRIMARY KEY (kkmc, minute)) COLLATE=utf8mb4_bin",
            "INSERT INTO rollup_minute SELECT kkmc, DATE_FORMAT(gcsj, '%Y-%m-%d %H:%i:00'), \
             count(*) FROM passes GROUP BY 1, 2",
            "DROP TABLE rollup_checkpoint_hour",
        ] {
            conn.query_drop(sql).unwrap();
        }
    }
    for _ in 0..2 {
        let mut store = dbs.open();
        assert_eq!(snapshot(&store), expected);
        store.close().unwrap();
    }
    for dsn in &dbs.dsns {
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(dsn).unwrap()).unwrap();
        let old: Option<String> = conn
            .query_first("SHOW TABLES LIKE 'rollup\\_minute'")
            .unwrap();
        assert_eq!(old, None, "{dsn} still has rollup_minute");
    }
}

#[test]
fn a_bulk_load_into_empty_shards_still_keeps_one_pass_per_gcxh() {
    check_bulk_load("bulk", 2000, 250);
}

#[test]
fn a_bulk_load_in_two_transactions_per_shard_stays_exact() {
    // Batches large enough that each shard's part is split in two.
    check_bulk_load(
        "bulk2",
        4 * BULK_SPLIT_MIN_PASSES,
        3 * BULK_SPLIT_MIN_PASSES,
    );
}

/// A bulk load of `n` passes in batches of `batch` stores, counts and
/// skips exactly what plain writes do.
fn check_bulk_load(tag: &str, n: usize, batch: usize) {
    let dbs = TestDbs::new(tag, 2);
    let mut data = dataset(n, 21);
    // A GCXH repeated in a later batch with another time: the primary key
    // (gcxh, gcsj) lets it in, so only the lookup keeps GCXH unique.
    let mut moved = data[7].clone();
    moved.time += chrono::Duration::hours(5);
    data.push(moved);
    // Repeats within one batch: an exact one, and one with another time.
    data.insert(9, data[8].clone());
    let mut moved = data[10].clone();
    moved.time += chrono::Duration::hours(3);
    data.insert(12, moved);
    // Exact repeats, in batches of their own: these fail the load and
    // make the shard look everything up from then on.
    let repeats = data[100..300].to_vec();
    let write_all = |store: &mut MysqlStore| {
        let mut total = write_in_batches(store, &data, batch);
        total.add(write_in_batches(store, &repeats, batch));
        total
    };

    let mut plain = dbs.open();
    let expected = write_all(&mut plain);
    let expected_snapshot = snapshot(&plain);
    assert_eq!((expected.inserted, expected.duplicates), (n as u64, 203));
    drop(plain);
    dbs.drop_all();

    let mut bulk = dbs.open();
    bulk.begin_bulk().unwrap();
    let written = write_all(&mut bulk);
    assert_eq!(bulk.end_bulk().unwrap(), 0);
    assert_eq!(written, expected);
    assert_eq!(snapshot(&bulk), expected_snapshot);

    // Shards that hold passes already: every GCXH is looked up.
    bulk.begin_bulk().unwrap();
    let again = write_all(&mut bulk);
    assert_eq!(bulk.end_bulk().unwrap(), 0);
    assert_eq!(again.inserted, 0);
    assert_eq!(snapshot(&bulk), expected_snapshot);
}

#[test]
fn divide_keeps_each_gcxh_in_one_piece_and_side_rows_in_the_first() {
    let passes = dataset(BULK_SPLIT_MIN_PASSES, 5);
    let warning = warning(&passes[0], &passes[1], "2023-12-03 00:00:00");
    let rejected = [rejection(3, gantry_core::RejectReason::EmptyField("HPHM"))];
    // Ten passes twice, at other distances from their first.
    let work = |n: usize| ShardWork {
        passes: passes[..n].iter().chain(&passes[1..11]).collect(),
        warnings: vec![&warning],
        rejected: &rejected,
    };
    let pieces = divide(work(passes.len()), 2);
    assert_eq!(pieces.len(), 2);
    let ids =
        |w: &ShardWork<'_>| -> HashSet<String> { w.passes.iter().map(|p| p.id.clone()).collect() };
    let (a, b) = (ids(&pieces[0]), ids(&pieces[1]));
    assert!(a.is_disjoint(&b), "a GCXH in both pieces");
    assert_eq!(a.len() + b.len(), passes.len());
    assert!(a.len().abs_diff(b.len()) < passes.len() / 5, "uneven split");
    assert_eq!(
        pieces[0].passes.len() + pieces[1].passes.len(),
        passes.len() + 10
    );
    assert_eq!((pieces[0].warnings.len(), pieces[0].rejected.len()), (1, 1));
    assert!(pieces[1].warnings.is_empty() && pieces[1].rejected.is_empty());
    // Small parts, or one piece asked for, stay whole.
    assert_eq!(divide(work(100), 2).len(), 1);
    assert_eq!(divide(work(passes.len()), 1).len(), 1);
}
