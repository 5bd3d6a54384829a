use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const MIN: i64 = 60_000;

fn limits(lateness_ms: i64) -> WindowLimits {
    WindowLimits {
        lateness_ms,
        keep_closed: usize::MAX,
        ..WindowLimits::default()
    }
}

/// Pushes `points` of one series; the windows closed on the way and the
/// outcomes.
fn run(windows: &mut Windows, points: &[(i64, f64)]) -> (Vec<Window>, Vec<Outcome>) {
    let mut closed = Vec::new();
    let outcomes = points
        .iter()
        .map(|(ts, v)| windows.push("s", *ts, *v, &mut closed))
        .collect();
    (closed.into_iter().map(|c| c.window).collect(), outcomes)
}

/// `(start, end, count, min, max, last)` of a window: everything but the
/// sum, which depends on the order of additions.
fn key(w: &Window) -> (i64, i64, u64, f64, f64, f64) {
    (w.start_ms, w.end_ms, w.count, w.min, w.max, w.last)
}

#[test]
fn tumbling_minutes_close_once_the_next_minute_passes_the_lateness() {
    let mut windows = Windows::new(WindowSpec::tumbling(MIN).unwrap(), limits(5_000));
    let (closed, _) = run(
        &mut windows,
        &[(0, 1.0), (30_000, 3.0), (59_999, 2.0), (60_000, 10.0)],
    );
    assert!(closed.is_empty(), "the lateness keeps minute 0 open");
    // 2 s late, within the lateness: still counted in minute 0.
    let (closed, outcomes) = run(&mut windows, &[(58_000, 8.0), (65_000, 12.0)]);
    assert_eq!(outcomes, [Outcome::Added, Outcome::Added]);
    assert_eq!(closed.len(), 1);
    let w = closed[0];
    assert_eq!(key(&w), (0, MIN, 4, 1.0, 8.0, 2.0));
    assert_eq!(w.avg(), 3.5);
    // Now too late for minute 0: dropped, nothing changes.
    let (closed, outcomes) = run(&mut windows, &[(10_000, 100.0)]);
    assert_eq!((closed.len(), outcomes[0]), (0, Outcome::Late));
    let view = windows.view("s", 10).unwrap();
    assert_eq!(view.closed, [w]);
    assert_eq!(view.open.len(), 1);
    assert_eq!(key(&view.open[0]), (MIN, 2 * MIN, 2, 10.0, 12.0, 12.0));
    assert_eq!(view.watermark_ms, 60_000);
    assert_eq!(windows.counts().late, 1);
}

#[test]
fn a_sliding_point_counts_in_every_window_that_holds_it() {
    let spec = WindowSpec::sliding(5 * MIN, MIN).unwrap();
    let mut windows = Windows::new(spec, limits(0));
    let (closed, _) = run(&mut windows, &[(7 * MIN + 1, 4.0)]);
    assert!(closed.is_empty());
    let starts: Vec<i64> = windows
        .view("s", 0)
        .unwrap()
        .open
        .iter()
        .map(|w| w.start_ms)
        .collect();
    assert_eq!(starts, [3 * MIN, 4 * MIN, 5 * MIN, 6 * MIN, 7 * MIN]);
    // Two minutes on: the windows ending by 9 min closed, oldest first.
    let (closed, _) = run(&mut windows, &[(9 * MIN, 6.0)]);
    let ends: Vec<i64> = closed.iter().map(|w| w.end_ms).collect();
    assert_eq!(ends, [8 * MIN, 9 * MIN]);
    assert_eq!(closed.iter().map(|w| w.count).collect::<Vec<_>>(), [1, 1]);
    let open = windows.view("s", 0).unwrap().open;
    assert_eq!(key(&open[0]), (5 * MIN, 10 * MIN, 2, 4.0, 6.0, 6.0));
}

#[test]
fn the_first_of_two_points_at_one_millisecond_counts() {
    let mut windows = Windows::new(WindowSpec::tumbling(MIN).unwrap(), limits(0));
    let (_, outcomes) = run(&mut windows, &[(1_000, 1.0), (1_000, 9.0), (2_000, 3.0)]);
    assert_eq!(
        outcomes,
        [Outcome::Added, Outcome::Duplicate, Outcome::Added]
    );
    let open = windows.view("s", 0).unwrap().open;
    assert_eq!(key(&open[0]), (0, MIN, 2, 1.0, 3.0, 3.0));
}

#[test]
fn non_finite_values_and_absurd_times_are_refused() {
    let mut windows = Windows::new(WindowSpec::tumbling(MIN).unwrap(), limits(0));
    let (_, outcomes) = run(
        &mut windows,
        &[(0, f64::NAN), (i64::MIN, 1.0), (i64::MAX, 1.0)],
    );
    assert_eq!(outcomes, [Outcome::Refused; 3]);
    assert_eq!(windows.counts().refused, 3);
}

#[test]
fn specs_are_checked() {
    assert!(WindowSpec::tumbling(MIN).unwrap().is_tumbling());
    assert_eq!(WindowSpec::tumbling(0), Err(WindowSpecError::Size(0)));
    assert_eq!(WindowSpec::sliding(MIN, 0), Err(WindowSpecError::Slide(0)));
    assert_eq!(
        WindowSpec::sliding(MIN, 2 * MIN),
        Err(WindowSpecError::Slide(2 * MIN))
    );
    assert!(matches!(
        WindowSpec::sliding(5 * MIN, 2 * MIN),
        Err(WindowSpecError::Uneven { .. })
    ));
    assert!(matches!(
        WindowSpec::sliding(86_400_000, 1_000),
        Err(WindowSpecError::Overlap { .. })
    ));
    assert!(WindowSpec::tumbling(MAX_SIZE_MS + 1).is_err());
}

#[test]
fn memory_stays_bounded_closed_windows_and_idle_series() {
    let spec = WindowSpec::tumbling(1_000).unwrap();
    let mut windows = Windows::new(
        spec,
        WindowLimits {
            lateness_ms: 0,
            keep_closed: 3,
            idle_ms: 10_000,
        },
    );
    let mut closed = Vec::new();
    for i in 0..100 {
        windows.push_at("busy", i * 1_000, i as f64, i * 1_000, &mut closed);
    }
    windows.push_at("quiet", 0, 1.0, 0, &mut closed);
    assert_eq!(closed.len(), 99, "each second closed once");
    let view = windows.view("busy", 10).unwrap();
    let starts: Vec<i64> = view.closed.iter().map(|w| w.start_ms).collect();
    assert_eq!(starts, [96_000, 97_000, 98_000], "only the newest 3 kept");
    let state = &windows.series["busy"];
    assert!(
        state.seen.len() <= 2,
        "{} point times kept",
        state.seen.len()
    );

    closed.clear();
    windows.evict_idle(9_999, &mut closed);
    assert_eq!(windows.series_ids().count(), 2);
    windows.evict_idle(105_000, &mut closed);
    assert_eq!(windows.series_ids().collect::<Vec<_>>(), ["busy"]);
    assert_eq!(closed.len(), 1, "quiet's open window handed out as it goes");
    assert_eq!(
        (closed[0].series.as_str(), closed[0].window.count),
        ("quiet", 1)
    );
    assert_eq!(windows.counts().evicted, 1);
}

/// The windows by definition, point by point and window by window: a point
/// counts unless an earlier one had its millisecond, in each window holding
/// it whose end is after the newest earlier time minus the lateness.
fn brute_force(
    points: &[(i64, f64)],
    spec: WindowSpec,
    lateness_ms: i64,
) -> BTreeMap<i64, (u64, f64, f64, f64, f64)> {
    let (size, slide) = (spec.size_ms(), spec.slide_ms());
    let mut windows: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
    for (i, &(ts, value)) in points.iter().enumerate() {
        let earlier = &points[..i];
        if earlier.iter().any(|(t, _)| *t == ts) {
            continue;
        }
        let newest = earlier.iter().map(|(t, _)| *t).max();
        let mut start = ts.div_euclid(slide) * slide;
        while start > ts - size {
            if newest.is_none_or(|n| start + size > n - lateness_ms) {
                windows.entry(start).or_default().push((ts, value));
            }
            start -= slide;
        }
    }
    windows
        .into_iter()
        .map(|(start, members)| {
            let values = members.iter().map(|(_, v)| *v);
            let newest = members.iter().max_by_key(|(t, _)| *t).unwrap().1;
            (
                start,
                (
                    members.len() as u64,
                    values.clone().sum(),
                    values.clone().fold(f64::INFINITY, f64::min),
                    values.fold(f64::NEG_INFINITY, f64::max),
                    newest,
                ),
            )
        })
        .collect()
}

/// Points roughly in time order: each `step` apart, moved by up to
/// `jitter` either way, some repeated later (duplicates with other values).
fn stream() -> impl Strategy<Value = Vec<(i64, f64)>> {
    (1i64..5_000, 0i64..20_000, 1usize..300).prop_flat_map(|(step, jitter, n)| {
        prop::collection::vec(
            (
                -jitter..=jitter,
                -50i32..50,
                prop::option::weighted(0.1, 0usize..20),
            ),
            n,
        )
        .prop_map(move |raw| {
            let mut points = Vec::new();
            for (i, (moved, value, repeat_back)) in raw.into_iter().enumerate() {
                let ts = 1_700_000_000_000 + i as i64 * step + moved;
                points.push((ts, f64::from(value)));
                if let Some(back) = repeat_back {
                    let j = points.len().saturating_sub(back + 1);
                    let (t, v) = points[j];
                    points.push((t, v + 0.5));
                }
            }
            points
        })
    })
}

fn spec() -> impl Strategy<Value = WindowSpec> {
    (
        1i64..=6,
        prop::sample::select(vec![1_000i64, 7_000, 60_000]),
    )
        .prop_map(|(per, slide)| WindowSpec::sliding(per * slide, slide).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Closed (handed out once each) and open windows together are exactly
    /// the windows by definition, with late and repeated points in the mix.
    #[test]
    fn windows_match_the_brute_force(points in stream(), spec in spec(), lateness in 0i64..30_000) {
        let mut windows = Windows::new(spec, limits(lateness));
        let (closed, _) = run(&mut windows, &points);
        let view = windows.view("s", usize::MAX).unwrap();
        prop_assert_eq!(&view.closed, &closed);
        let mut starts: Vec<i64> = closed.iter().map(|w| w.start_ms).collect();
        starts.dedup();
        prop_assert_eq!(starts.len(), closed.len(), "a window closed twice");
        prop_assert!(closed.iter().all(|w| w.end_ms <= view.watermark_ms));
        prop_assert!(view.open.iter().all(|w| w.end_ms > view.watermark_ms));

        let got: BTreeMap<i64, Window> = closed.iter().chain(&view.open).map(|w| (w.start_ms, *w)).collect();
        prop_assert_eq!(got.len(), closed.len() + view.open.len());
        let want = brute_force(&points, spec, lateness);
        prop_assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
        for (start, w) in &got {
            let (count, sum, min, max, last) = want[start];
            prop_assert_eq!(w.end_ms, start + spec.size_ms());
            prop_assert_eq!((w.count, w.min, w.max, w.last), (count, min, max, last), "window {}", start);
            prop_assert!((w.sum - sum).abs() < 1e-6, "sum {} vs {}", w.sum, sum);
        }
        let counts = windows.counts();
        prop_assert_eq!(counts.added + counts.duplicates + counts.late, points.len() as u64);
    }

    /// In time order with no lateness needed, every point counts once and
    /// the result is a plain group-by.
    #[test]
    fn ordered_points_are_a_group_by(mut points in stream(), spec in spec()) {
        points.sort_by_key(|(t, _)| *t);
        points.dedup_by_key(|(t, _)| *t);
        let mut windows = Windows::new(spec, limits(0));
        let (closed, outcomes) = run(&mut windows, &points);
        prop_assert!(outcomes.iter().all(|o| *o == Outcome::Added));
        let view = windows.view("s", usize::MAX).unwrap();
        let total: u64 = closed.iter().chain(&view.open).map(|w| w.count).sum();
        let per = (spec.size_ms() / spec.slide_ms()) as u64;
        prop_assert_eq!(total, points.len() as u64 * per);
    }
}
