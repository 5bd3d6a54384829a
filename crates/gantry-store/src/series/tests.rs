use super::*;

const T0: i64 = 1_684_576_800_000; // 2023-05-20 10:00:00 UTC, a whole hour

fn point(series: &str, time_ms: i64, value: f64) -> Point {
    Point {
        series: series.into(),
        tags: BTreeMap::from([("device".to_owned(), "pi-01".to_owned())]),
        time_ms,
        value,
        extra: Vec::new(),
    }
}

fn store() -> (tempfile::TempDir, SeriesStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SeriesStore::open(dir.path()).unwrap();
    (dir, store)
}

fn query(series: &str, start_ms: i64, end_ms: i64, step_ms: Option<i64>, agg: Agg) -> RangeQuery {
    RangeQuery {
        series: series.into(),
        start_ms,
        end_ms,
        step_ms,
        agg,
    }
}

/// One reading a second for `seconds`, value = the second's index.
fn per_second(series: &str, seconds: i64) -> Vec<Point> {
    (0..seconds)
        .map(|s| point(series, T0 + s * 1000, s as f64))
        .collect()
}

#[test]
fn writing_twice_stores_each_point_once_and_first_value_wins() {
    let (_dir, mut store) = store();
    let points = per_second("pi-01/temperature", 10);
    assert_eq!(
        store.write(&points).unwrap(),
        PointsWritten {
            inserted: 10,
            duplicates: 0
        }
    );
    let mut again = points.clone();
    again[0].value = 99.0;
    assert_eq!(
        store.write(&again).unwrap(),
        PointsWritten {
            inserted: 0,
            duplicates: 10
        }
    );
    let series = store.series().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].points, 10);
    assert_eq!(series[0].last, Some((T0 + 9000, 9.0)));
    assert_eq!(series[0].tags["device"], "pi-01");
    let raw = store
        .range(&query("pi-01/temperature", T0, T0 + 60_000, None, Agg::Avg))
        .unwrap();
    assert_eq!(raw.first(), Some(&(T0, 0.0)));
    assert_eq!(raw.len(), 10);
    // The rollups counted each point once too.
    let count = store
        .range(&query(
            "pi-01/temperature",
            T0,
            T0 + 60_000,
            Some(60_000),
            Agg::Count,
        ))
        .unwrap();
    assert_eq!(count, vec![(T0, 10.0)]);
}

#[test]
fn a_late_point_does_not_replace_the_latest_value() {
    let (_dir, mut store) = store();
    store.write(&[point("s", T0 + 5000, 5.0)]).unwrap();
    store.write(&[point("s", T0, 1.0)]).unwrap();
    assert_eq!(store.latest().unwrap()["s"], (T0 + 5000, 5.0));
    let last = store
        .range(&query("s", T0, T0 + 60_000, Some(60_000), Agg::Last))
        .unwrap();
    assert_eq!(last, vec![(T0, 5.0)]);
}

/// Every aggregation over whole minutes (read from the minute rollup)
/// equals the same aggregation over the points (a step of 30 s, which
/// no rollup answers, summed back by minute by hand).
#[test]
fn rollups_answer_exactly_what_the_points_answer() {
    let (_dir, mut store) = store();
    store.write(&per_second("s", 3 * 3600)).unwrap();
    for agg in Agg::ALL {
        let minutes = store
            .range(&query("s", T0, T0 + 3_600_000, Some(60_000), agg))
            .unwrap();
        assert_eq!(minutes.len(), 60, "{agg}");
        for (i, (ts, value)) in minutes.iter().enumerate() {
            let first = i as f64 * 60.0;
            let expected = match agg {
                Agg::Avg => first + 29.5,
                Agg::Min => first,
                Agg::Max | Agg::Last => first + 59.0,
                Agg::Sum => (0..60).map(|s| first + f64::from(s)).sum(),
                Agg::Count => 60.0,
            };
            assert_eq!(*ts, T0 + i as i64 * 60_000, "{agg}");
            assert_eq!(*value, expected, "{agg} minute {i}");
        }
        // Off the minute boundary the points answer; aligned the same
        // numbers come out of either path.
        let shifted = store
            .range(&query("s", T0 + 1000, T0 + 3_600_000, Some(60_000), agg))
            .unwrap();
        assert_eq!(shifted.len(), 60, "{agg}");
        assert_eq!(shifted[1..], minutes[1..], "{agg}");
    }
    let hours = store
        .range(&query(
            "s",
            T0,
            T0 + 3 * 3_600_000,
            Some(3_600_000),
            Agg::Count,
        ))
        .unwrap();
    assert_eq!(
        hours,
        vec![
            (T0, 3600.0),
            (T0 + 3_600_000, 3600.0),
            (T0 + 7_200_000, 3600.0)
        ]
    );
}

#[test]
fn retention_drops_old_points_of_one_measurement_and_keeps_rollups() {
    let (_dir, mut store) = store();
    store.write(&per_second("pi-01/temperature", 120)).unwrap();
    store.write(&per_second("pi-02/humidity", 120)).unwrap();
    store.write(&per_second("pi-010/humidity", 120)).unwrap();
    // pi-01 keeps a day: at one day and a minute past T0, its first
    // minute goes; pi-02 and pi-010 (another device) keep everything.
    let policy = RetentionPolicy {
        default_days: 0,
        by_measurement: [("pi-01".to_owned(), 1)].into(),
    };
    let dropped = store
        .apply_retention(&policy, T0 + 86_400_000 + 60_000)
        .unwrap();
    assert_eq!(dropped, 60);
    let raw = |s: &str| {
        store
            .range(&query(s, T0, T0 + 120_000, None, Agg::Avg))
            .unwrap()
            .len()
    };
    assert_eq!(raw("pi-01/temperature"), 60);
    assert_eq!(raw("pi-02/humidity"), 120);
    assert_eq!(raw("pi-010/humidity"), 120);
    let counts = store
        .range(&query(
            "pi-01/temperature",
            T0,
            T0 + 120_000,
            Some(60_000),
            Agg::Count,
        ))
        .unwrap();
    assert_eq!(counts, vec![(T0, 60.0), (T0 + 60_000, 60.0)]);
}

#[test]
fn stats_per_series_over_a_window() {
    let (_dir, mut store) = store();
    store.write(&per_second("a", 10)).unwrap();
    store
        .write(&[point("b", T0, 2.0), point("b", T0 + 1000, 4.0)])
        .unwrap();
    let stats = store.stats(T0, T0 + 5000).unwrap();
    assert_eq!(
        stats,
        vec![
            SeriesStats {
                name: "a".into(),
                count: 5,
                avg: 2.0,
                min: 0.0,
                max: 4.0
            },
            SeriesStats {
                name: "b".into(),
                count: 2,
                avg: 3.0,
                min: 2.0,
                max: 4.0
            },
        ]
    );
}

#[test]
fn bad_ranges_are_refused_with_a_reason() {
    let (_dir, store) = store();
    let refused = |q: RangeQuery| match store.range(&q) {
        Err(StoreError::InvalidQuery(why)) => why,
        other => panic!("{other:?}"),
    };
    assert!(refused(query("s", T0, T0, None, Agg::Avg)).contains("end"));
    assert!(refused(query("s", T0, T0 + 1000, Some(0), Agg::Avg)).contains("step"));
    assert!(refused(query("s", 0, T0, Some(1), Agg::Avg)).contains("step"));
    assert_eq!(
        store
            .range(&query("unknown", T0, T0 + 1000, None, Agg::Avg))
            .unwrap(),
        vec![]
    );
}

#[test]
fn the_store_reopens_with_its_series_and_extra_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = point("t", T0, 1.5);
    p.extra = vec![2.0, 3.0];
    SeriesStore::open(dir.path()).unwrap().write(&[p]).unwrap();
    let store = SeriesStore::open(dir.path()).unwrap();
    assert_eq!(store.latest().unwrap()["t"], (T0, 1.5));
    let extra: String = store
        .conn
        .query_row("SELECT extra FROM points", [], |r| r.get(0))
        .unwrap();
    assert_eq!(extra, "[2.0,3.0]");
}

#[test]
fn rejected_payloads_are_kept_and_counted_by_reason() {
    let (_dir, mut store) = store();
    for (reason, payload) in [
        ("bad_json", &b"{"[..]),
        ("non_finite", b"m v=inf"),
        ("bad_json", b"{]"),
    ] {
        store
            .reject(&RejectedPayload {
                at_ms: T0,
                source: "sensors/pi-01",
                reason,
                message: "why",
                payload,
            })
            .unwrap();
    }
    let counts = store.rejected_counts().unwrap();
    assert_eq!(
        counts,
        BTreeMap::from([("bad_json".to_owned(), 2), ("non_finite".to_owned(), 1)])
    );
}

#[test]
fn many_opens_of_one_dir_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        let opens: Vec<_> = (0..8)
            .map(|i| {
                let dir = dir.path();
                scope.spawn(move || {
                    let mut store = SeriesStore::open(dir).unwrap();
                    store.write(&[point("s", T0 + i, 1.0)]).unwrap();
                })
            })
            .collect();
        for open in opens {
            open.join().unwrap();
        }
    });
    let store = SeriesStore::open(dir.path()).unwrap();
    assert_eq!(store.series().unwrap()[0].points, 8);
}

#[test]
fn points_are_queued_for_registered_sinks_until_each_has_them() {
    let (_dir, mut store) = store();
    // No sink yet: nothing is queued.
    store.write(&per_second("early", 3)).unwrap();
    store.register_sink("influxdb").unwrap();
    assert_eq!(store.backlog("influxdb").unwrap(), 0);

    let first = per_second("pi-01/temperature", 5);
    store.write(&first).unwrap();
    // A replay is a duplicate: not queued again.
    store.write(&first).unwrap();
    assert_eq!(store.backlog("influxdb").unwrap(), 5);
    let batch = store.pending("influxdb", 3).unwrap();
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[0].series, "pi-01/temperature");
    assert_eq!(batch[0].tags["device"], "pi-01");
    assert_eq!(
        batch
            .iter()
            .map(|q| (q.time_ms, q.value))
            .collect::<Vec<_>>(),
        vec![(T0, 0.0), (T0 + 1000, 1.0), (T0 + 2000, 2.0)]
    );

    // A second sink starts at its registration; the first moves on.
    store.register_sink("thingsboard").unwrap();
    store
        .write(&[point("pi-01/temperature", T0 + 9000, 9.0)])
        .unwrap();
    store.forwarded("influxdb", batch[2].seq).unwrap();
    assert_eq!(store.backlog("influxdb").unwrap(), 3);
    assert_eq!(store.backlog("thingsboard").unwrap(), 1);
    let rest = store.pending("influxdb", 100).unwrap();
    assert_eq!(rest.len(), 3);
    assert_eq!(rest[2].time_ms, T0 + 9000);
    store.forwarded("influxdb", rest[2].seq).unwrap();
    assert_eq!(store.backlog("influxdb").unwrap(), 0);
    // Kept for the sink that has not got it yet, then dropped.
    assert_eq!(store.pending("thingsboard", 10).unwrap().len(), 1);
    let seq = store.pending("thingsboard", 10).unwrap()[0].seq;
    store.forwarded("thingsboard", seq).unwrap();
    let queued: i64 = store
        .conn
        .query_row("SELECT count(*) FROM forward_queue", [], |r| r.get(0))
        .unwrap();
    assert_eq!(queued, 0);
}

#[test]
fn ranges_off_the_rollup_edges_equal_the_points_answer() {
    let (_dir, mut store) = store();
    // Three hours a second apart, values that are not the index, so
    // `last` and `min` tell rows apart.
    let points: Vec<Point> = (0..3 * 3600)
        .map(|s| point("s", T0 + s * 1000, ((s * 7919) % 1000) as f64 / 10.0))
        .collect();
    store.write(&points).unwrap();
    for (start, end, step) in [
        (T0 + 1_500, T0 + 3 * 3_600_000 - 2_500, 3_600_000),
        (T0 + 61_000, T0 + 2 * 3_600_000 + 59_000, 300_000),
        (T0 - 30_000, T0 + 600_000 + 1, 60_000),
    ] {
        for agg in Agg::ALL {
            let got = store
                .range(&query("s", start, end, Some(step), agg))
                .unwrap();
            // The answer worked out from the points one by one.
            let mut want: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
            for p in points
                .iter()
                .filter(|p| p.time_ms >= start && p.time_ms < end)
            {
                want.entry(step_start(p.time_ms, step))
                    .or_default()
                    .push((p.time_ms, p.value));
            }
            let want: Vec<(i64, f64)> = want
                .into_iter()
                .map(|(at, v)| {
                    let values = v.iter().map(|(_, x)| *x);
                    let value = match agg {
                        Agg::Avg => values.sum::<f64>() / v.len() as f64,
                        Agg::Min => values.fold(f64::INFINITY, f64::min),
                        Agg::Max => values.fold(f64::NEG_INFINITY, f64::max),
                        Agg::Sum => values.sum(),
                        Agg::Count => v.len() as f64,
                        Agg::Last => v.iter().max_by_key(|(t, _)| *t).unwrap().1,
                    };
                    (at, value)
                })
                .collect();
            assert_eq!(got.len(), want.len(), "{agg} {start}..{end} by {step}");
            for ((ta, a), (tb, b)) in got.iter().zip(&want) {
                assert_eq!(ta, tb, "{agg}");
                assert!((a - b).abs() < 1e-6, "{agg} at {ta}: {a} != {b}");
            }
        }
    }
}
