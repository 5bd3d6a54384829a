//! Properties of the simulated stream. Uses only `Pass`, `CheckpointDirectory`
//! and `geo` from gantry-core.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{NaiveDateTime, Timelike};
use gantry_core::geo::{haversine_km, GeoPoint};
use gantry_core::{CheckpointDirectory, Pass};
use gantry_sim::{is_placeholder, network, SimConfig, SimEvent, Simulator};

fn config(vehicles: usize, clones: usize) -> SimConfig {
    SimConfig {
        vehicles,
        clones,
        ..SimConfig::default()
    }
}

fn locations(sim: &Simulator) -> HashMap<String, GeoPoint> {
    sim.network()
        .nodes()
        .iter()
        .map(|n| (n.name.clone(), n.location))
        .collect()
}

/// Sightings per plate in event-time order, duplicates removed.
fn sightings(events: &[SimEvent]) -> HashMap<&str, Vec<&Pass>> {
    let mut ids = HashSet::new();
    let mut by_plate: HashMap<&str, Vec<&Pass>> = HashMap::new();
    for e in events {
        if ids.insert(e.pass.id.as_str()) && !is_placeholder(&e.pass.plate) {
            by_plate
                .entry(e.pass.plate.as_str())
                .or_default()
                .push(&e.pass);
        }
    }
    for passes in by_plate.values_mut() {
        passes.sort_by_key(|p| p.time);
    }
    by_plate
}

fn speed_kmh(loc: &HashMap<String, GeoPoint>, a: &Pass, b: &Pass) -> f64 {
    let km = haversine_km(loc[&a.checkpoint], loc[&b.checkpoint]);
    let hours = (b.time - a.time).num_seconds() as f64 / 3600.0;
    if km == 0.0 {
        0.0
    } else if hours == 0.0 {
        f64::INFINITY
    } else {
        km / hours
    }
}

#[test]
fn network_has_over_100_unique_located_connected_checkpoints() {
    let net = network();
    assert!(net.len() >= 100, "{}", net.len());
    assert!(net.is_connected());
    let names: HashSet<_> = net.nodes().iter().map(|n| n.name.as_str()).collect();
    let codes: HashSet<_> = net.nodes().iter().map(|n| n.code.as_str()).collect();
    assert_eq!(names.len(), net.len(), "names are unique");
    assert_eq!(codes.len(), net.len(), "codes are unique");
    for n in net.nodes() {
        assert!(
            n.name.ends_with("卡口") || n.name.contains("卡口"),
            "{}",
            n.name
        );
        assert_eq!(n.code.len(), 9, "{}", n.code);
        assert!(n.code.bytes().all(|b| b.is_ascii_digit()), "{}", n.code);
        assert!(
            n.district.ends_with('市')
                || n.district.ends_with('区')
                || n.district.ends_with('县')
                || n.district.ends_with('州')
        );
        assert!(
            (97.0..110.0).contains(&n.location.lon) && (26.0..34.0).contains(&n.location.lat),
            "{n:?}"
        );
    }
    assert!(net
        .nodes()
        .iter()
        .any(|n| n.name == "G5京昆高速绵阳北卡口" || n.name.starts_with("G5京昆高速绵阳")));
    assert!(net
        .nodes()
        .iter()
        .any(|n| n.name.contains("K") && n.name.contains('+')));
    assert!(net.nodes().iter().any(|n| n.district == "成都市"));
    assert!(net.nodes().iter().any(|n| n.district == "万州区"));

    for e in net.edges() {
        let straight = haversine_km(net.node(e.from).location, net.node(e.to).location);
        assert!(e.km >= 1.15 * straight - 1e-9, "{e:?}");
        assert!(
            (5.0..=25.0).contains(&straight),
            "{straight} km between {} and {}",
            net.node(e.from).name,
            net.node(e.to).name
        );
    }

    // The directory carries every checkpoint with coordinates and survives CSV.
    let dir = net.checkpoints();
    assert_eq!(dir.len(), net.len());
    assert!(dir
        .iter()
        .all(|c| c.location.is_some() && !c.code.is_empty()));
    let back = CheckpointDirectory::from_csv(&dir.to_csv()).expect("csv");
    assert_eq!(back.len(), dir.len());
    for (i, n) in net.nodes().iter().enumerate() {
        assert_eq!(dir.id_of(&n.name), Some(i as u32));
        let p = back.location(back.id_of(&n.name).unwrap()).unwrap();
        assert!(haversine_km(p, n.location) < 0.01);
    }
}

#[test]
fn same_config_same_stream() {
    let a: Vec<SimEvent> = Simulator::new(config(3000, 3)).take(30_000).collect();
    let b: Vec<SimEvent> = Simulator::new(config(3000, 3)).take(30_000).collect();
    assert!(a == b);
    let c: Vec<SimEvent> = Simulator::new(SimConfig {
        seed: 2,
        ..config(3000, 3)
    })
    .take(30_000)
    .collect();
    assert!(a != c);
    assert_eq!(
        Simulator::new(config(3000, 3)).cloned_plates(),
        Simulator::new(config(3000, 3)).cloned_plates()
    );
}

#[test]
fn normal_vehicles_never_look_faster_than_150_kmh() {
    let sim = Simulator::new(config(20_000, 10));
    let loc = locations(&sim);
    let cloned: HashSet<String> = sim.cloned_plates().into_iter().map(|c| c.0).collect();
    let events: Vec<SimEvent> = sim.take(200_000).collect();
    let mut pairs = 0;
    let mut fastest = 0.0f64;
    for (plate, passes) in sightings(&events) {
        if cloned.contains(plate) {
            continue;
        }
        // One vehicle per plate: one plate type.
        assert!(
            passes.iter().all(|p| p.plate_type == passes[0].plate_type),
            "{plate}"
        );
        for w in passes.windows(2) {
            let v = speed_kmh(&loc, w[0], w[1]);
            assert!(
                v < 150.0,
                "{plate}: {v:.0} km/h from {:?} to {:?}",
                w[0],
                w[1]
            );
            fastest = fastest.max(v);
            pairs += 1;
        }
    }
    assert!(pairs > 50_000, "{pairs}");
    println!("{pairs} consecutive pairs, fastest straight-line {fastest:.1} km/h");
}

#[test]
fn direction_follows_the_road_driven() {
    // No placeholders: consecutive sightings at adjacent checkpoints are one drive.
    let sim = Simulator::new(SimConfig {
        placeholder_ratio: 0.0,
        ..config(5000, 0)
    });
    let net = network();
    let events: Vec<SimEvent> = sim.take(50_000).collect();
    let mut checked = 0;
    for passes in sightings(&events).values() {
        for w in passes.windows(2) {
            let (a, b) = (
                net.id_of(&w[0].checkpoint).unwrap(),
                net.id_of(&w[1].checkpoint).unwrap(),
            );
            // Adjacent checkpoints on one road: the second pass says which way it was driven.
            if let Some(edge) = net.edges_from(a).find(|e| e.to == b) {
                assert_eq!(
                    w[1].direction,
                    if edge.up { "上行" } else { "下行" },
                    "{:?} → {:?}",
                    w[0],
                    w[1]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn every_cloned_plate_is_caught_being_in_two_places() {
    let sim = Simulator::new(config(20_000, 10));
    let loc = locations(&sim);
    let cloned = sim.cloned_plates();
    assert_eq!(cloned.len(), 10);
    assert!(
        cloned.windows(2).all(|w| w[0] < w[1]),
        "sorted and distinct"
    );
    let start = sim.config().start;
    let events: Vec<SimEvent> = sim.take(200_000).collect();
    let by_plate = sightings(&events);
    for (plate, plate_type) in &cloned {
        let passes = by_plate
            .get(plate.as_str())
            .unwrap_or_else(|| panic!("{plate} never seen"));
        assert!(passes.iter().all(|p| &p.plate_type == plate_type));
        let impossible: Vec<_> = passes
            .windows(2)
            .filter(|w| speed_kmh(&loc, w[0], w[1]) > 250.0)
            .map(|w| w[1].time)
            .collect();
        assert!(
            !impossible.is_empty(),
            "{plate}: no impossible pair in {} sightings",
            passes.len()
        );
        // Both twins are on the road in the first simulated hour.
        assert!(
            impossible[0] < start + chrono::TimeDelta::hours(1),
            "{plate}: first at {}",
            impossible[0]
        );
    }
}

#[test]
fn a_start_spread_staggers_the_cloned_plates_first_sightings() {
    let first_seen = |spread: u32| {
        let sim = Simulator::new(SimConfig {
            clone_start_spread_s: spread,
            ..config(20_000, 12)
        });
        let start = sim.config().start;
        let cloned: HashSet<String> = sim.cloned_plates().into_iter().map(|c| c.0).collect();
        let mut first: HashMap<String, i64> = HashMap::new();
        for e in sim.take(100_000) {
            if cloned.contains(&e.pass.plate) {
                first
                    .entry(e.pass.plate.clone())
                    .or_insert((e.pass.time - start).num_seconds());
            }
        }
        assert_eq!(first.len(), 12, "every cloned plate is seen");
        let mut offsets: Vec<i64> = first.into_values().collect();
        offsets.sort();
        offsets
    };
    let at_once = first_seen(0);
    assert!(at_once.iter().all(|&s| s < 20), "{at_once:?}");
    let spread = first_seen(600);
    // One pair still sets off at once; the rest within the spread, not all together.
    assert!(spread[0] < 20, "{spread:?}");
    assert!(spread[11] < 620, "{spread:?}");
    assert!(
        spread.iter().filter(|&&s| s >= 60).count() >= 6,
        "{spread:?}"
    );
}

#[test]
fn placeholders_are_about_the_configured_share_and_from_many_vehicles() {
    let sim = Simulator::new(SimConfig {
        placeholder_ratio: 0.05,
        duplicate_ratio: 0.0,
        ..config(20_000, 0)
    });
    let events: Vec<SimEvent> = sim.take(100_000).collect();
    let placeholders: Vec<&str> = events
        .iter()
        .map(|e| e.pass.plate.as_str())
        .filter(|p| is_placeholder(p))
        .collect();
    let share = placeholders.len() as f64 / events.len() as f64;
    assert!((0.04..0.06).contains(&share), "{share}");
    for kind in ["无牌", "未识别", "车牌", "00000000"] {
        assert!(placeholders.contains(&kind), "{kind}");
    }
    let masked: HashSet<&str> = placeholders
        .iter()
        .copied()
        .filter(|p| p.contains('*'))
        .collect();
    assert!(masked.len() > 500, "{}", masked.len());
    assert!(masked
        .iter()
        .all(|p| p.chars().nth(3) == Some('*') && p.chars().nth(4) == Some('*')));

    let none: Vec<SimEvent> = Simulator::new(SimConfig {
        placeholder_ratio: 0.0,
        ..config(2000, 2)
    })
    .take(20_000)
    .collect();
    assert!(none.iter().all(|e| !is_placeholder(&e.pass.plate)));
}

#[test]
fn duplicates_repeat_the_same_line_and_ids_are_otherwise_unique() {
    let sim = Simulator::new(SimConfig {
        duplicate_ratio: 0.02,
        ..config(10_000, 2)
    });
    let events: Vec<SimEvent> = sim.take(100_000).collect();
    let mut by_id: HashMap<&str, Vec<&Pass>> = HashMap::new();
    for e in &events {
        assert_eq!(e.pass.id.len(), 18, "{}", e.pass.id);
        assert!(e.pass.id.bytes().all(|b| b.is_ascii_digit()) && !e.pass.id.starts_with('0'));
        by_id.entry(&e.pass.id).or_default().push(&e.pass);
    }
    let twice: Vec<_> = by_id.values().filter(|v| v.len() > 1).collect();
    assert!(by_id.values().all(|v| v.len() <= 2));
    for pair in &twice {
        assert_eq!(pair[0], pair[1]);
    }
    let share = twice.len() as f64 / by_id.len() as f64;
    assert!((0.015..0.025).contains(&share), "{share}");
}

#[test]
fn emission_order_is_non_decreasing_and_never_before_the_event() {
    let max_delay = 120;
    let sim = Simulator::new(SimConfig {
        max_delay_s: max_delay,
        delayed_ratio: 0.05,
        ..config(10_000, 3)
    });
    let start = sim.config().start;
    let events: Vec<SimEvent> = sim.take(100_000).collect();
    assert_eq!(events[0].pass.time, start, "the first record is at `start`");
    assert_eq!(events[0].emitted_at, start);
    let mut late = 0;
    let mut out_of_order = 0;
    let mut latest_event: Option<NaiveDateTime> = None;
    for (i, e) in events.iter().enumerate() {
        assert!(e.emitted_at >= e.pass.time);
        let lag = (e.emitted_at - e.pass.time).num_seconds();
        assert!(lag <= max_delay as i64 + 5, "{lag}");
        if lag > 5 {
            late += 1;
        }
        if i > 0 {
            assert!(e.emitted_at >= events[i - 1].emitted_at, "at {i}");
        }
        if latest_event.is_some_and(|t| e.pass.time < t) {
            out_of_order += 1;
        }
        latest_event = latest_event.max(Some(e.pass.time));
        assert!(e.pass.time >= start);
        assert!(e.pass.direction == "上行" || e.pass.direction == "下行");
        assert!(!e.pass.brand.is_empty() && !e.pass.district.is_empty());
    }
    let share = late as f64 / events.len() as f64;
    assert!((0.03..0.06).contains(&share), "{share}");
    assert!(out_of_order > 1000, "{out_of_order}");

    // Without delays and duplicates (a copy comes 0–5 s later) event times are in order too.
    let ordered: Vec<SimEvent> = Simulator::new(SimConfig {
        max_delay_s: 0,
        duplicate_ratio: 0.0,
        ..config(5000, 1)
    })
    .take(30_000)
    .collect();
    assert!(ordered.windows(2).all(|w| w[0].pass.time <= w[1].pass.time));
}

#[test]
fn plates_look_real() {
    let sim = Simulator::new(SimConfig {
        placeholder_ratio: 0.0,
        ..config(20_000, 0)
    });
    let events: Vec<SimEvent> = sim.take(100_000).collect();
    let mut types: HashMap<&str, usize> = HashMap::new();
    let mut provinces: HashMap<char, usize> = HashMap::new();
    let mut vehicles: HashMap<&str, &Pass> = HashMap::new();
    for e in &events {
        let p = &e.pass;
        vehicles.entry(&p.plate).or_insert(p);
    }
    for p in vehicles.values() {
        *types.entry(&p.plate_type).or_default() += 1;
        let first = p.plate.chars().next().unwrap();
        *provinces.entry(first).or_default() += 1;
        let letter = p.plate.chars().nth(1).unwrap();
        assert!(
            letter.is_ascii_uppercase() && letter != 'I' && letter != 'O',
            "{}",
            p.plate
        );
        let n = p.plate.chars().count();
        match p.plate_type.as_str() {
            "52" => assert!(
                n == 8 && matches!(p.plate.chars().nth(2), Some('D' | 'F')),
                "{}",
                p.plate
            ),
            "51" => assert!(
                n == 8 && (p.plate.ends_with('D') || p.plate.ends_with('F')),
                "{}",
                p.plate
            ),
            "15" => assert!(p.plate.ends_with('挂'), "{}", p.plate),
            "16" => assert!(p.plate.ends_with('学'), "{}", p.plate),
            "01" | "02" => assert_eq!(n, 7, "{}", p.plate),
            other => panic!("plate type {other}"),
        }
    }
    let total = vehicles.len() as f64;
    let share = |c: char| provinces.get(&c).copied().unwrap_or(0) as f64 / total;
    assert!(
        share('川') > 0.45 && share('渝') > 0.15 && share('川') + share('渝') < 0.95,
        "{provinces:?}"
    );
    assert!(provinces.len() >= 8, "{provinces:?}");
    assert!(types["02"] as f64 / total > 0.6, "{types:?}");
    for t in ["01", "52", "15", "16"] {
        assert!(types.contains_key(t), "{types:?}");
    }
    assert!(vehicles.values().any(|p| p.brand == "-"));
    assert!(vehicles
        .values()
        .any(|p| p.brand == "东风天龙" && p.plate_type == "01"));
}

#[test]
fn departures_follow_the_daily_profile() {
    // Two simulated days of a small fleet; count the second day by hour.
    let sim = Simulator::new(SimConfig {
        clones: 0,
        duplicate_ratio: 0.0,
        ..config(4000, 0)
    });
    let start = sim.config().start;
    let mut per_hour = [0u64; 24];
    let mut total = 0u64;
    for e in sim {
        let day = (e.pass.time - start).num_days();
        if day >= 2 {
            break;
        }
        if day == 1 {
            per_hour[e.pass.time.hour() as usize] += 1;
            total += 1;
        }
    }
    let avg = |hours: &[usize]| {
        hours.iter().map(|&h| per_hour[h]).sum::<u64>() as f64 / hours.len() as f64
    };
    let (morning, evening, midday, night) = (
        avg(&[7, 8]),
        avg(&[17, 18]),
        avg(&[11, 12, 13, 14]),
        avg(&[1, 2, 3, 4]),
    );
    println!("per hour {per_hour:?}");
    assert!(
        morning > 1.3 * midday && evening > 1.3 * midday,
        "{per_hour:?}"
    );
    assert!(midday > 4.0 * night, "{per_hour:?}");

    // `for_rate` sizes the fleet for the average rate over a day.
    let expected = SimConfig::for_rate(total as f64 / 86_400.0).vehicles as f64;
    assert!(
        (expected / 4000.0 - 1.0).abs() < 0.15,
        "for_rate would pick {expected} vehicles for 4000's rate"
    );
}

#[test]
fn for_rate_scales_the_fleet() {
    let slow = SimConfig::for_rate(5.0);
    let fast = SimConfig::for_rate(50.0);
    assert!(fast.vehicles > 9 * slow.vehicles && fast.vehicles < 11 * slow.vehicles);
    assert!(SimConfig::for_rate(0.0).vehicles >= 1);
    assert_eq!(
        SimConfig {
            vehicles: 0,
            ..fast.clone()
        },
        SimConfig {
            vehicles: 0,
            ..SimConfig::default()
        }
    );
}

#[test]
fn generation_speed_sanity() {
    let sim = Simulator::new(config(50_000, 10));
    let t = Instant::now();
    let n = 300_000;
    let count = sim.take(n).count();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(count, n);
    println!(
        "{n} events in {secs:.3} s = {:.0} events/s",
        n as f64 / secs
    );
}
