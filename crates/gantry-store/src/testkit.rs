//! Test data and whole-store comparisons shared by the engines' tests.

use chrono::{Days, Duration, Local, NaiveDate, NaiveDateTime};
use gantry_core::warning::warning_id;
use gantry_core::{Pass, RejectReason, Rejection, Rule, Sighting, Warning};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Batch, Page, PassQuery, RejectedRow, Store, WarningQuery};

pub(crate) fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
}

pub(crate) fn pass(id: &str, checkpoint: &str, time: &str, plate: &str, plate_type: &str) -> Pass {
    Pass {
        id: id.into(),
        district: "成都市".into(),
        checkpoint: checkpoint.into(),
        direction: "1".into(),
        time: at(time),
        plate_type: plate_type.into(),
        plate: plate.into(),
        brand: "大众-朗逸".into(),
    }
}

pub(crate) const CHECKPOINTS: [&str; 12] = [
    "G5京昆高速K1800卡口",
    "G42沪蓉高速成都东",
    "绵阳北收费站",
    "德阳卡口",
    "G93成渝环线遂宁",
    "雅安西卡口",
    "乐山南收费站",
    "宜宾卡口",
    "泸州东卡口",
    "南充卡口",
    "达州西",
    "广元北",
];

pub(crate) const PLATE_HEADS: [&str; 6] = ["川A", "川B", "渝A", "京A", "粤B", "川A1"];

/// Deterministic passes with many equal times (ties) and shared plates.
pub(crate) fn dataset(n: usize, seed: u64) -> Vec<Pass> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = at("2023-12-01 00:00:00");
    (0..n)
        .map(|_| {
            let id = format!(
                "{:018}",
                rng.random_range(100_000_000_000_000_000u64..1_000_000_000_000_000_000)
            );
            let checkpoint = CHECKPOINTS[rng.random_range(0..CHECKPOINTS.len())];
            // Two days, coarse steps of 7 s: many passes share a second.
            let time = base + Duration::seconds(7 * rng.random_range(0..(2 * 86_400 / 7)));
            let plate = format!(
                "{}{:04}",
                PLATE_HEADS[rng.random_range(0..PLATE_HEADS.len())],
                rng.random_range(0..60)
            );
            let plate_type = ["01", "02", "02", "52"][rng.random_range(0..4)];
            Pass {
                id,
                district: "成都市".into(),
                checkpoint: checkpoint.into(),
                direction: ["1", "2"][rng.random_range(0..2)].into(),
                time,
                plate_type: plate_type.into(),
                plate,
                brand: "-".into(),
            }
        })
        .collect()
}

pub(crate) fn warning(first: &Pass, second: &Pass, detected: &str) -> Warning {
    Warning {
        id: warning_id(&first.id, &second.id),
        plate: second.plate.clone(),
        plate_type: second.plate_type.clone(),
        first: Sighting {
            pass_id: first.id.clone(),
            checkpoint: first.checkpoint.clone(),
            time: first.time,
        },
        second: Sighting {
            pass_id: second.id.clone(),
            checkpoint: second.checkpoint.clone(),
            time: second.time,
        },
        distance_km: Some(123.456_789),
        interval_s: (second.time - first.time).num_seconds(),
        speed_kmh: None,
        rule: Rule::Speed,
        detected_at: at(detected),
    }
}

/// Warnings between consecutive passes of the same plate.
pub(crate) fn warnings_of(passes: &[Pass]) -> Vec<Warning> {
    let mut sorted: Vec<&Pass> = passes.iter().collect();
    sorted.sort_by(|a, b| (&a.plate, a.time, &a.id).cmp(&(&b.plate, b.time, &b.id)));
    sorted
        .windows(2)
        .filter(|w| w[0].plate == w[1].plate && w[0].checkpoint != w[1].checkpoint)
        .step_by(3)
        .map(|w| warning(w[0], w[1], "2023-12-03 00:00:00"))
        .collect()
}

pub(crate) fn rejection(line: u64, reason: RejectReason) -> Rejection {
    Rejection {
        source: "data/passes.csv".into(),
        line,
        reason,
        raw: format!("raw,row,{line}"),
    }
}

pub(crate) fn batch_of(passes: &[Pass]) -> Batch {
    Batch {
        passes: passes.to_vec(),
        warnings: warnings_of(passes),
        rejected: vec![
            rejection(3, RejectReason::BadTime("2023-13-01".into())),
            rejection(9, RejectReason::EmptyField("HPHM")),
        ],
    }
}

/// Everything the rollups and counters answer, for before/after comparisons.
#[derive(Debug, PartialEq)]
pub(crate) struct Snapshot {
    pub count: u64,
    pub shard_total: u64,
    pub top: Vec<(String, u64)>,
    pub provinces: Vec<(String, u64)>,
    pub vehicle_types: Vec<(String, u64)>,
    pub flow: Vec<[u64; 24]>,
    pub minutes: Vec<(NaiveDateTime, u64)>,
    pub warnings: Page<Warning>,
    pub rejected_counts: Vec<(String, u64)>,
    pub rejected: Page<RejectedRow>,
}

pub(crate) fn snapshot(store: &dyn Store) -> Snapshot {
    let day1 = NaiveDate::from_ymd_opt(2023, 12, 1).unwrap();
    let day2 = NaiveDate::from_ymd_opt(2023, 12, 2).unwrap();
    let mut flow = vec![
        store.flow_by_hour(day1, None).unwrap(),
        store.flow_by_hour(day2, None).unwrap(),
    ];
    for k in CHECKPOINTS {
        flow.push(store.flow_by_hour(day1, Some(k)).unwrap());
        flow.push(store.flow_by_hour(day2, Some(k)).unwrap());
    }
    Snapshot {
        count: store.count_passes().unwrap(),
        shard_total: store.shard_counts().unwrap().iter().sum(),
        top: store.top_checkpoints(100).unwrap(),
        provinces: store.provinces().unwrap(),
        vehicle_types: store.vehicle_types().unwrap(),
        flow,
        minutes: store
            .passes_per_minute(at("2023-11-30 00:00:00")..at("2023-12-04 00:00:00"))
            .unwrap(),
        warnings: store
            .warnings(&WarningQuery {
                plate: None,
                page: 1,
                size: 10_000,
            })
            .unwrap(),
        rejected_counts: store.rejected_counts().unwrap(),
        rejected: store.rejected(1, 100).unwrap(),
    }
}

/// Passes as one database would answer a query: the reference for fan-out.
pub(crate) fn reference(all: &[Pass], q: &PassQuery) -> (Vec<Pass>, u64) {
    let mut uniq: Vec<&Pass> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in all {
        if seen.insert(&p.id) {
            uniq.push(p);
        }
    }
    let mut hits: Vec<&Pass> = uniq
        .into_iter()
        .filter(|p| q.checkpoint.as_ref().is_none_or(|k| &p.checkpoint == k))
        .filter(|p| match q.plate.as_deref() {
            None => true,
            Some(x) => match x.strip_suffix('*') {
                Some(prefix) => p.plate.starts_with(prefix),
                None => p.plate == x,
            },
        })
        .filter(|p| q.plate_type.as_ref().is_none_or(|t| &p.plate_type == t))
        .filter(|p| {
            q.province
                .as_ref()
                .is_none_or(|v| p.derived().province == v)
        })
        .filter(|p| q.start.is_none_or(|s| p.time >= s))
        .filter(|p| q.end.is_none_or(|e| p.time <= e))
        .collect();
    hits.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
    let total = hits.len() as u64;
    let page = hits
        .into_iter()
        .skip(((q.page - 1) * q.size) as usize)
        .take(q.size as usize)
        .cloned()
        .collect();
    (page, total)
}

pub(crate) fn queries() -> Vec<PassQuery> {
    let mut qs = vec![
        PassQuery::default(),
        PassQuery {
            checkpoint: Some(CHECKPOINTS[1].into()),
            ..Default::default()
        },
        PassQuery {
            plate: Some("川A0007".into()),
            ..Default::default()
        },
        PassQuery {
            plate: Some("川A*".into()),
            ..Default::default()
        },
        PassQuery {
            plate: Some("川A1*".into()),
            plate_type: Some("02".into()),
            ..Default::default()
        },
        PassQuery {
            plate: Some("*".into()),
            ..Default::default()
        },
        PassQuery {
            province: Some("重庆".into()),
            ..Default::default()
        },
        PassQuery {
            start: Some(at("2023-12-01 08:00:00")),
            end: Some(at("2023-12-01 09:00:00")),
            ..Default::default()
        },
        PassQuery {
            start: Some(at("2023-12-02 23:00:00")),
            ..Default::default()
        },
        PassQuery {
            end: Some(at("2023-12-01 00:30:00")),
            checkpoint: Some(CHECKPOINTS[0].into()),
            ..Default::default()
        },
        PassQuery {
            checkpoint: Some(CHECKPOINTS[2].into()),
            plate: Some("川B*".into()),
            plate_type: Some("01".into()),
            province: Some("四川".into()),
            start: Some(at("2023-12-01 06:00:00")),
            end: Some(at("2023-12-02 18:00:00")),
            ..Default::default()
        },
    ];
    // Page deep into the unfiltered and a filtered answer, odd sizes.
    for (page, size) in [
        (1, 7),
        (2, 7),
        (13, 7),
        (40, 50),
        (58, 50),
        (59, 50),
        (1000, 7),
    ] {
        qs.push(PassQuery {
            page,
            size,
            ..Default::default()
        });
        qs.push(PassQuery {
            plate: Some("川*".into()),
            page,
            size,
            ..Default::default()
        });
    }
    qs
}

/// Retention over passes of the last five days: drops exactly those before
/// the cutoff, keeps the rollups, and stays exact when run again or when an
/// old pass is written afterwards.
pub(crate) fn check_retention(store: &mut dyn Store) {
    let today = Local::now().date_naive();
    let day = |back: u64| today.checked_sub_days(Days::new(back)).unwrap();
    let mut data = dataset(700, 3);
    for (i, p) in data.iter_mut().enumerate() {
        let date: NaiveDate = day(i as u64 % 5);
        p.time = date.and_time(p.time.time());
    }
    store.write(&batch_of(&data)).unwrap();
    let top = store.top_checkpoints(100).unwrap();

    let dropped = store.drop_passes_before(day(2)).unwrap();
    let kept = data.iter().filter(|p| p.time.date() >= day(2)).count() as u64;
    assert_eq!(dropped, data.len() as u64 - kept);
    let all = store.query_passes(&PassQuery::default()).unwrap();
    assert_eq!(all.total, kept);
    assert_eq!(store.count_passes().unwrap(), kept);
    let counted = PassQuery {
        plate: Some("*".into()),
        start: Some(day(6).and_hms_opt(0, 0, 0).unwrap()),
        ..Default::default()
    };
    assert_eq!(
        store.query_passes(&counted).unwrap().total,
        kept,
        "count(*)"
    );
    assert_eq!(store.top_checkpoints(100).unwrap(), top, "rollups stay");
    assert_eq!(store.drop_passes_before(day(2)).unwrap(), 0);
    // A pass of a dropped day written again is stored again (in the
    // oldest remaining partition on MySQL): retention does not filter writes.
    let old: Vec<Pass> = data
        .iter()
        .filter(|p| p.time.date() == day(4))
        .take(1)
        .cloned()
        .collect();
    assert_eq!(
        store
            .write(&Batch {
                passes: old,
                ..Batch::default()
            })
            .unwrap()
            .inserted,
        1
    );
}
