use std::path::Path;

use chrono::{Duration, NaiveDate};
use gantry_core::geo::GeoPoint;
use gantry_core::{Checkpoint, RejectReason, Rejection, Rule};
use tempfile::TempDir;

use super::*;
use crate::testkit::*;
use crate::{PassCursor, PassQuery, WarningQuery};
use gantry_core::Pass;

fn open(dir: &Path, shards: usize) -> SqliteStore {
    SqliteStore::open(dir, shards).unwrap()
}

#[test]
fn reimport_is_idempotent() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 2);
    let passes = dataset(2_000, 1);
    let batch = batch_of(&passes);
    let first = store.write(&batch).unwrap();
    assert_eq!(first.inserted + first.duplicates, 2_000);
    assert!(first.inserted > 1_990, "{first:?}");
    assert_eq!(first.warnings_inserted, batch.warnings.len() as u64);
    assert!(first.warnings_inserted > 10);
    assert_eq!(first.rejected, 2);
    let before = snapshot(&store);
    assert_eq!(before.count, first.inserted);
    assert_eq!(before.shard_total, first.inserted);

    let again = store.write(&batch).unwrap();
    assert_eq!(
        again,
        WriteSummary {
            inserted: 0,
            duplicates: 2_000,
            warnings_inserted: 0,
            rejected: 0,
        }
    );
    assert_eq!(snapshot(&store), before);

    // After reopening too.
    store.close().unwrap();
    let mut store = open(tmp.path(), 2);
    assert_eq!(store.write(&batch).unwrap().inserted, 0);
    assert_eq!(snapshot(&store), before);
}

#[test]
fn duplicates_within_a_batch_count_once() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 2);
    let p = pass("1", "A", "2023-12-01 08:00:00", "川A12345", "02");
    let summary = store
        .write(&Batch {
            passes: vec![p.clone(), p.clone(), p],
            ..Default::default()
        })
        .unwrap();
    assert_eq!((summary.inserted, summary.duplicates), (1, 2));
    assert_eq!(store.count_passes().unwrap(), 1);
    assert_eq!(store.provinces().unwrap(), vec![("四川".to_string(), 1)]);
}

#[test]
fn fan_out_equals_a_single_database() {
    let tmp1 = TempDir::new().unwrap();
    let tmp3 = TempDir::new().unwrap();
    let mut one = open(tmp1.path(), 1);
    let mut three = open(tmp3.path(), 3);
    let passes = dataset(3_000, 7);
    let batch = batch_of(&passes);
    // In several batches, with an overlap, so rollups add up across commits.
    for chunk in passes.chunks(700) {
        let b = Batch {
            passes: chunk.to_vec(),
            ..Default::default()
        };
        one.write(&b).unwrap();
        three.write(&b).unwrap();
    }
    one.write(&batch).unwrap();
    three.write(&batch).unwrap();
    assert!(
        three.shard_counts().unwrap().iter().all(|&n| n > 0),
        "every shard used"
    );

    assert_eq!(snapshot(&one), snapshot(&three));
    for q in queries() {
        let a = one.query_passes(&q).unwrap();
        let b = three.query_passes(&q).unwrap();
        assert_eq!(a, b, "{q:?}");
        let (items, total) = reference(&passes, &q);
        assert_eq!(a.total, total, "{q:?}");
        assert_eq!(a.items, items, "{q:?}");
    }
    for k in [1, 3, 12, 100] {
        assert_eq!(
            one.top_checkpoints(k).unwrap(),
            three.top_checkpoints(k).unwrap()
        );
    }
    assert_eq!(three.top_checkpoints(3).unwrap().len(), 3);
    for (page, size) in [(1, 3), (2, 3), (5, 4), (100, 4)] {
        for plate in [None, Some(batch.warnings[0].plate.clone())] {
            let q = WarningQuery {
                plate: plate.clone(),
                page,
                size,
            };
            assert_eq!(
                one.warnings(&q).unwrap(),
                three.warnings(&q).unwrap(),
                "{q:?}"
            );
        }
    }
    let since = at("2023-12-02 20:00:00");
    let recent = three.recent_passes(since).unwrap();
    assert_eq!(recent, one.recent_passes(since).unwrap());
    assert!(recent
        .windows(2)
        .all(|w| (w[0].time, &w[0].id) < (w[1].time, &w[1].id)));
    assert!(recent.iter().all(|p| p.time >= since));
    assert_eq!(
        recent.len() as u64,
        reference(
            &passes,
            &PassQuery {
                start: Some(since),
                ..Default::default()
            }
        )
        .1
    );
}

#[test]
fn chunks_walk_every_match_once_in_order() {
    let tmp = TempDir::new().unwrap();
    let mut three = open(tmp.path(), 3);
    let passes = dataset(2_000, 11);
    three.write(&batch_of(&passes)).unwrap();
    for q in queries() {
        let (expected, total) = reference(
            &passes,
            &PassQuery {
                page: 1,
                size: u64::MAX / 2,
                ..q.clone()
            },
        );
        assert_eq!(expected.len() as u64, total);
        // Small chunks, so many of them end inside a run of equal times.
        let mut walked = Vec::new();
        let mut cursor: Option<PassCursor> = None;
        loop {
            let chunk = three.pass_chunk(&q, cursor.as_ref(), 7).unwrap();
            assert!(chunk.len() <= 7);
            let Some(last) = chunk.last() else { break };
            cursor = Some(PassCursor::from(last));
            walked.extend(chunk);
        }
        assert_eq!(walked, expected, "{q:?}");
    }
}

#[test]
fn rollups_match_the_rows() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 3);
    let passes = dataset(1_500, 3);
    store.write(&batch_of(&passes)).unwrap();
    let day = NaiveDate::from_ymd_opt(2023, 12, 1).unwrap();
    let flow = store.flow_by_hour(day, None).unwrap();
    for (hour, &n) in flow.iter().enumerate() {
        let expected = passes
            .iter()
            .filter(|p| p.time.date() == day && chrono::Timelike::hour(&p.time) as usize == hour)
            .count() as u64;
        assert_eq!(n, expected, "hour {hour}");
    }
    let minute = at("2023-12-01 08:00:00");
    let per_minute = store
        .passes_per_minute(minute..minute + Duration::minutes(3))
        .unwrap();
    let expected = passes
        .iter()
        .filter(|p| p.time >= minute && p.time < minute + Duration::minutes(3))
        .count() as u64;
    assert_eq!(per_minute.iter().map(|m| m.1).sum::<u64>(), expected);
    assert!(per_minute
        .iter()
        .all(|&(m, _)| m >= minute && m < minute + Duration::minutes(3)));
    let top = store.top_checkpoints(1).unwrap();
    let busiest = passes.iter().filter(|p| p.checkpoint == top[0].0).count() as u64;
    assert_eq!(top[0].1, busiest);
    assert_eq!(
        store.provinces().unwrap().iter().map(|p| p.1).sum::<u64>(),
        passes.len() as u64
    );
}

#[test]
fn rows_land_on_the_router_shard() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 3);
    let passes = dataset(1_000, 11);
    let batch = batch_of(&passes);
    store.write(&batch).unwrap();
    let counts = store.shard_counts().unwrap();
    store.close().unwrap();

    let router = ShardRouter::mycat(3);
    for (i, &count) in counts.iter().enumerate() {
        let conn =
            rusqlite::Connection::open(tmp.path().join(format!("shard-{i}.sqlite"))).unwrap();
        let n: u64 = conn
            .query_row("SELECT count(*) FROM passes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, count, "shard {i}");
        let mut stmt = conn.prepare("SELECT DISTINCT kkmc FROM passes").unwrap();
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!names.is_empty());
        for k in names {
            assert_eq!(router.shard_of(&k), i, "{k}");
        }
        let mut stmt = conn.prepare("SELECT second_kkmc FROM warnings").unwrap();
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for k in names {
            assert_eq!(router.shard_of(&k), i, "warning at {k}");
        }
        let rejected: u64 = conn
            .query_row("SELECT count(*) FROM rejected", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rejected, if i == 0 { 2 } else { 0 });
    }
}

#[test]
fn reopening_with_another_shard_count_is_an_error() {
    let tmp = TempDir::new().unwrap();
    open(tmp.path(), 2).close().unwrap();
    let err = SqliteStore::open(tmp.path(), 3).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "data dir {} holds 2 shards, 3 were asked for",
            tmp.path().display()
        )
    );
    assert!(matches!(
        SqliteStore::open(tmp.path(), 0),
        Err(StoreError::NoShards)
    ));
    // The same count is fine, and a reader finds the count itself.
    open(tmp.path(), 2);
    assert_eq!(
        SqliteStore::open_readonly(tmp.path())
            .unwrap()
            .shard_count(),
        2
    );
}

#[test]
fn an_unusable_dir_is_a_clear_error() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let dir = file.join("data");
    let err = SqliteStore::open(&dir, 2).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&dir.display().to_string()), "{text}");
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");

    let err = SqliteStore::open_readonly(&tmp.path().join("nothing")).unwrap_err();
    assert!(err.to_string().contains("no gantry store"), "{err}");
}

#[test]
fn a_shard_file_from_another_layout_is_refused() {
    let tmp = TempDir::new().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    open(&a, 2).close().unwrap();
    open(&b, 2).close().unwrap();
    // Put a's shard 1 in b's place of shard 0.
    std::fs::copy(a.join("shard-1.sqlite"), b.join("shard-0.sqlite")).unwrap();
    let err = SqliteStore::open(&b, 2).unwrap_err();
    assert!(
        err.to_string()
            .contains("shard 1 of 2, expected shard 0 of 2"),
        "{err}"
    );
}

fn index_names(store: &SqliteStore) -> Vec<Vec<String>> {
    store.index_names().unwrap()
}

#[test]
fn bulk_mode_gives_the_same_results_and_restores_indexes() {
    let tmp_normal = TempDir::new().unwrap();
    let tmp_bulk = TempDir::new().unwrap();
    let mut normal = open(tmp_normal.path(), 2);
    let mut bulk = open(tmp_bulk.path(), 2);
    let all_indexes = index_names(&normal);
    for name in BULK_INDEXES {
        assert!(
            all_indexes.iter().all(|s| s.iter().any(|n| n == name)),
            "{name}"
        );
    }
    let passes = dataset(2_000, 5);
    let batch = batch_of(&passes);

    bulk.begin_bulk().unwrap();
    assert!(bulk.is_bulk());
    for names in index_names(&bulk) {
        assert!(
            BULK_INDEXES.iter().all(|b| !names.iter().any(|n| n == b)),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("passes")), "{names:?}");
    }
    for chunk in passes.chunks(300) {
        let b = Batch {
            passes: chunk.to_vec(),
            ..Default::default()
        };
        normal.write(&b).unwrap();
        bulk.write(&b).unwrap();
    }
    let n1 = normal.write(&batch).unwrap();
    let n2 = bulk.write(&batch).unwrap();
    assert_eq!(n1.inserted, 0, "idempotent");
    // Bulk mode appends; it finds the repeats when it indexes, at the end.
    assert_eq!(n2.inserted, batch.passes.len() as u64);
    assert_eq!(
        bulk.end_bulk().unwrap(),
        n2.inserted,
        "every repeat removed"
    );
    assert!(!bulk.is_bulk());
    assert_eq!(index_names(&bulk), all_indexes);
    for q in queries() {
        assert_eq!(
            normal.query_passes(&q).unwrap(),
            bulk.query_passes(&q).unwrap(),
            "{q:?}"
        );
    }
    assert_eq!(snapshot(&normal), snapshot(&bulk));

    // Into shards that hold passes, a bulk load skips them as they come.
    bulk.begin_bulk().unwrap();
    assert_eq!(bulk.write(&batch).unwrap().inserted, 0);
    assert_eq!(bulk.end_bulk().unwrap(), 0);
    assert_eq!(snapshot(&normal), snapshot(&bulk));

    // Drop ends bulk mode too.
    bulk.begin_bulk().unwrap();
    drop(bulk);
    let bulk = open(tmp_bulk.path(), 2);
    let conn = rusqlite::Connection::open(tmp_bulk.path().join("shard-1.sqlite")).unwrap();
    let n: u32 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_passes_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 4);
    drop(bulk);
}

#[test]
fn a_bulk_load_without_repeats_indexes_once_and_stays_idempotent() {
    let batch = batch_of(&dataset(800, 5));
    let tmp_once = TempDir::new().unwrap();
    let mut once = open(tmp_once.path(), 2);
    once.write(&batch).unwrap();

    let tmp = TempDir::new().unwrap();
    let mut bulk = open(tmp.path(), 2);
    let all_indexes = index_names(&bulk);
    bulk.begin_bulk().unwrap();
    assert_eq!(bulk.write(&batch).unwrap().inserted, 800);
    assert_eq!(bulk.end_bulk().unwrap(), 0, "nothing repeated");
    assert_eq!(index_names(&bulk), all_indexes);
    assert_eq!(snapshot(&bulk), snapshot(&once));
    // The key index built in one go still skips every stored GCXH.
    assert_eq!(bulk.write(&batch).unwrap().inserted, 0);
    bulk.begin_bulk().unwrap();
    assert_eq!(bulk.write(&batch).unwrap().inserted, 0);
    assert_eq!(bulk.end_bulk().unwrap(), 0);
    assert_eq!(snapshot(&bulk), snapshot(&once));
}

#[test]
fn a_crash_in_bulk_mode_leaves_a_usable_store() {
    let tmp = TempDir::new().unwrap();
    // Commit every batch: a leaked connection in this process would keep an
    // open transaction's lock, where a dead process releases it.
    let options = SqliteOptions {
        bulk_commit_rows: 1,
        ..Default::default()
    };
    let mut store = SqliteStore::open_with(tmp.path(), 2, options).unwrap();
    let expected = index_names(&store);
    let batch = batch_of(&dataset(500, 9));
    store.begin_bulk().unwrap();
    store.write(&batch).unwrap();
    // Repeats, which bulk mode removes only at its end.
    store.write(&batch).unwrap();
    // No end_bulk, no drop: as if the process died.
    std::mem::forget(store);
    let store = open(tmp.path(), 2);
    assert_eq!(index_names(&store), expected);
    assert_eq!(store.count_passes().unwrap(), 500);
    // The reopen finished the load: repeats gone, rollups as if written once.
    let tmp_once = TempDir::new().unwrap();
    let mut once = open(tmp_once.path(), 2);
    once.write(&batch).unwrap();
    assert_eq!(snapshot(&store), snapshot(&once));
}

#[test]
fn filter_values_are_plain_data() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 2);
    store.write(&batch_of(&dataset(300, 2))).unwrap();
    let evil = "' OR 1=1 --";
    let variants = [
        PassQuery {
            checkpoint: Some(evil.into()),
            ..Default::default()
        },
        PassQuery {
            plate: Some(evil.into()),
            ..Default::default()
        },
        PassQuery {
            plate: Some(format!("{evil}*")),
            ..Default::default()
        },
        PassQuery {
            plate_type: Some(evil.into()),
            ..Default::default()
        },
        PassQuery {
            province: Some(evil.into()),
            ..Default::default()
        },
    ];
    for q in variants {
        let page = store.query_passes(&q).unwrap();
        assert_eq!((page.total, page.items.len()), (0, 0), "{q:?}");
    }
    let w = store
        .warnings(&WarningQuery {
            plate: Some(evil.into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(w.total, 0);
    assert_eq!(
        store
            .flow_by_hour(NaiveDate::from_ymd_opt(2023, 12, 1).unwrap(), Some(evil))
            .unwrap(),
        [0; 24]
    );
    // And stored as data: a pass whose fields hold SQL is read back as is.
    let odd = pass(
        evil,
        evil,
        "2023-12-01 08:00:00",
        "川A'; DROP TABLE passes; --",
        evil,
    );
    store
        .write(&Batch {
            passes: vec![odd.clone()],
            ..Default::default()
        })
        .unwrap();
    let page = store
        .query_passes(&PassQuery {
            checkpoint: Some(evil.into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.items, vec![odd]);
    assert_eq!(store.count_passes().unwrap(), 301);
}

#[test]
fn rejected_rows_are_kept_with_reason_and_line() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 2);
    let rejected = vec![
        rejection(
            2,
            RejectReason::FieldCount {
                found: 3,
                expected: "8 or 11",
            },
        ),
        rejection(7, RejectReason::BadTime("yesterday".into())),
        rejection(8, RejectReason::BadTime("soon".into())),
        Rejection {
            source: "-".into(),
            line: 1,
            reason: RejectReason::Encoding,
            raw: "\u{FFFD}\u{FFFD}".into(),
        },
    ];
    let batch = Batch {
        rejected: rejected.clone(),
        ..Default::default()
    };
    assert_eq!(store.write(&batch).unwrap().rejected, 4);
    assert_eq!(store.write(&batch).unwrap().rejected, 0);
    assert_eq!(
        store.rejected_counts().unwrap(),
        vec![
            ("bad_time".to_string(), 2),
            ("encoding".to_string(), 1),
            ("field_count".to_string(), 1)
        ]
    );
    let page = store.rejected(1, 3).unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(page.items.len(), 3);
    let first = &page.items[0];
    assert_eq!(
        (
            first.source.as_str(),
            first.line,
            first.kind.as_str(),
            first.reason.as_str(),
            first.raw.as_str()
        ),
        (
            "data/passes.csv",
            2,
            "field_count",
            "3 fields, expected 8 or 11",
            "raw,row,2"
        )
    );
    let last = store.rejected(2, 3).unwrap();
    assert_eq!(last.items.len(), 1);
    assert_eq!(last.items[0].raw, "\u{FFFD}\u{FFFD}");
    assert_eq!(last.items[0].reason, RejectReason::Encoding.to_string());
    assert!(page.items.windows(2).all(|w| w[0].id < w[1].id));
}

#[test]
fn warnings_round_trip_every_field() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 3);
    let a = pass(
        "100",
        CHECKPOINTS[0],
        "2023-12-01 08:00:00",
        "川A12345",
        "02",
    );
    let b = pass(
        "200",
        CHECKPOINTS[5],
        "2023-12-01 08:00:00",
        "川A12345",
        "02",
    );
    let c = pass(
        "300",
        CHECKPOINTS[9],
        "2023-12-01 08:03:20",
        "川A12345",
        "02",
    );
    let mut w1 = warning(&a, &b, "2023-12-01 08:00:05");
    w1.rule = Rule::Simultaneous;
    w1.distance_km = Some(270.123_456_789);
    w1.speed_kmh = None;
    let mut w2 = warning(&b, &c, "2023-12-01 08:04:00");
    w2.rule = Rule::Window;
    w2.distance_km = None;
    w2.speed_kmh = None;
    let mut w3 = warning(&a, &c, "2023-12-01 08:04:01");
    w3.speed_kmh = Some(4_862.222_2);
    w3.plate = "渝B99999".into();
    let summary = store
        .write(&Batch {
            passes: vec![a, b, c],
            warnings: vec![w1.clone(), w2.clone(), w3.clone()],
            rejected: vec![],
        })
        .unwrap();
    assert_eq!(summary.warnings_inserted, 3);
    let page = store.warnings(&WarningQuery::default()).unwrap();
    assert_eq!(page.total, 3);
    // Second sighting time desc, then id.
    let (mut later, earlier) = (vec![w2.clone(), w3.clone()], w1.clone());
    later.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(
        page.items,
        vec![later[0].clone(), later[1].clone(), earlier]
    );
    let mine = store
        .warnings(&WarningQuery {
            plate: Some("渝B99999".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(mine.items, vec![w3]);
    assert_eq!(mine.total, 1);
}

#[test]
fn checkpoints_are_a_global_table() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 3);
    let mut dir = CheckpointDirectory::new();
    dir.upsert(Checkpoint {
        name: "成都东".into(),
        code: "K001".into(),
        location: Some(GeoPoint {
            lon: 104.123456,
            lat: 30.654321,
        }),
    });
    dir.upsert(Checkpoint {
        name: "无坐标".into(),
        code: String::new(),
        location: None,
    });
    store.upsert_checkpoints(&dir).unwrap();
    let mut changed = CheckpointDirectory::new();
    changed.upsert(Checkpoint {
        name: "无坐标".into(),
        code: "K002".into(),
        location: Some(GeoPoint {
            lon: 1.5,
            lat: -2.5,
        }),
    });
    store.upsert_checkpoints(&changed).unwrap();
    dir.upsert(changed.get(0).clone());
    let back = store.checkpoints().unwrap();
    assert_eq!(
        back.iter().collect::<Vec<_>>(),
        dir.iter().collect::<Vec<_>>()
    );
    store.close().unwrap();
    for i in 0..3 {
        let conn =
            rusqlite::Connection::open(tmp.path().join(format!("shard-{i}.sqlite"))).unwrap();
        let n: u32 = conn
            .query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2, "shard {i}");
    }
}

#[test]
fn a_reader_sees_what_the_writer_commits() {
    let tmp = TempDir::new().unwrap();
    let mut writer = open(tmp.path(), 2);
    let passes = dataset(400, 4);
    writer
        .write(&Batch {
            passes: passes[..200].to_vec(),
            ..Default::default()
        })
        .unwrap();
    let mut reader = SqliteStore::open_readonly(tmp.path()).unwrap();
    assert_eq!(reader.count_passes().unwrap(), 200);
    writer
        .write(&Batch {
            passes: passes[200..].to_vec(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(reader.count_passes().unwrap(), 400);
    assert_eq!(
        reader.query_passes(&PassQuery::default()).unwrap(),
        writer.query_passes(&PassQuery::default()).unwrap()
    );
    assert!(matches!(
        reader.write(&Batch::default()),
        Err(StoreError::ReadOnly)
    ));
    assert!(matches!(reader.begin_bulk(), Err(StoreError::ReadOnly)));
    // A reader thread alongside a writing thread.
    let more = dataset(2_000, 44);
    std::thread::scope(|s| {
        s.spawn(|| {
            for chunk in more.chunks(100) {
                writer
                    .write(&Batch {
                        passes: chunk.to_vec(),
                        ..Default::default()
                    })
                    .unwrap();
            }
        });
        let mut last = 0;
        for _ in 0..50 {
            let n = reader.count_passes().unwrap();
            assert!(n >= last);
            last = n;
        }
    });
    assert_eq!(reader.count_passes().unwrap(), 2_400);
    reader.close().unwrap();
}

#[test]
fn bad_pages_and_closed_stores_are_errors() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 2);
    let q = PassQuery {
        page: 0,
        ..Default::default()
    };
    assert!(matches!(
        store.query_passes(&q),
        Err(StoreError::InvalidQuery(_))
    ));
    let q = PassQuery {
        size: crate::MAX_PAGE_SIZE + 1,
        ..Default::default()
    };
    assert!(matches!(
        store.query_passes(&q),
        Err(StoreError::InvalidQuery(_))
    ));
    let q = PassQuery {
        page: 1_000_000,
        size: 100,
        ..Default::default()
    };
    assert!(store
        .query_passes(&q)
        .unwrap_err()
        .to_string()
        .contains("narrow the filters"));
    let empty = store
        .query_passes(&PassQuery {
            size: 0,
            ..Default::default()
        })
        .unwrap();
    assert!(empty.items.is_empty());
    store.close().unwrap();
    store.close().unwrap();
    assert!(matches!(store.count_passes(), Err(StoreError::Closed)));
    assert!(matches!(
        store.write(&Batch::default()),
        Err(StoreError::Closed)
    ));
}

#[test]
fn the_store_is_usable_as_a_trait_object() {
    let tmp = TempDir::new().unwrap();
    let mut store: Box<dyn Store> = Box::new(open(tmp.path(), 2));
    store.begin_bulk().unwrap();
    let summary = store
        .write(&Batch {
            passes: vec![pass("1", "A", "2023-12-02 17:30:00", "粤B12345", "01")],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(summary.inserted, 1);
    store.end_bulk().unwrap();
    store.flush().unwrap();
    assert_eq!(store.vehicle_types().unwrap().len(), 1);
    let page = store.query_passes(&PassQuery::default()).unwrap();
    assert_eq!(page.items[0].plate, "粤B12345");
    store.close().unwrap();
}

#[test]
fn bulk_writes_reach_readers_at_flush_and_end_bulk() {
    let tmp = TempDir::new().unwrap();
    let mut writer = open(tmp.path(), 2);
    let reader = SqliteStore::open_readonly(tmp.path()).unwrap();
    let passes = dataset(600, 8);
    writer.begin_bulk().unwrap();
    let write = |store: &mut SqliteStore, part: &[Pass]| {
        store
            .write(&Batch {
                passes: part.to_vec(),
                ..Default::default()
            })
            .unwrap()
    };
    write(&mut writer, &passes[..200]);
    // The writer sees its own open bulk transaction; other connections do not yet.
    assert_eq!(writer.count_passes().unwrap(), 200);
    assert_eq!(reader.count_passes().unwrap(), 0);
    writer.flush().unwrap();
    assert_eq!(reader.count_passes().unwrap(), 200);
    write(&mut writer, &passes[200..400]);
    // Checkpoints commit what is pending first.
    writer
        .upsert_checkpoints(&CheckpointDirectory::new())
        .unwrap();
    assert_eq!(reader.count_passes().unwrap(), 400);
    write(&mut writer, &passes[400..]);
    let again = write(&mut writer, &passes);
    assert_eq!(writer.end_bulk().unwrap(), again.inserted);
    assert_eq!(reader.count_passes().unwrap(), 600);
    assert_eq!(
        reader.query_passes(&PassQuery::default()).unwrap(),
        writer.query_passes(&PassQuery::default()).unwrap()
    );
}

#[test]
fn bulk_load_uses_a_rollback_journal_and_returns_to_wal() {
    let tmp = TempDir::new().unwrap();
    let mut store = open(tmp.path(), 2);
    let mode = |store: &SqliteStore| -> Vec<String> {
        store.shards.iter().map(ShardDb::journal_mode).collect()
    };
    assert_eq!(mode(&store), ["wal", "wal"]);
    store.begin_bulk().unwrap();
    assert_eq!(mode(&store), ["delete", "delete"]);
    store
        .write(&Batch {
            passes: dataset(300, 4),
            ..Default::default()
        })
        .unwrap();
    store.end_bulk().unwrap();
    assert_eq!(mode(&store), ["wal", "wal"]);
    assert_eq!(store.count_passes().unwrap(), 300);
    store.close().unwrap();
}

#[test]
fn retention_deletes_old_days_and_keeps_rollups() {
    let tmp = TempDir::new().unwrap();
    check_retention(&mut open(tmp.path(), 2));
}
