//! The simulator: a priority queue of vehicles' next sightings, and a second
//! one of records waiting to be emitted (delays, duplicates).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use chrono::{NaiveDateTime, TimeDelta, Timelike};
use compact_str::CompactString;
use gantry_core::geo::haversine_km;
use gantry_core::Pass;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::SimConfig;
use crate::fleet::{self, KINDS, PLACEHOLDER_PLATES, PREFIXES};
use crate::network::{network, Network};
use crate::queue::RadixHeap;

/// One emitted record.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    pub pass: Pass,
    /// When it is emitted (event time + delay); non-decreasing across the stream.
    pub emitted_at: NaiveDateTime,
}

/// Relative departure intensity per hour of day: peaks 07–09 and 17–19, quiet night.
pub const DAILY_PROFILE: [f64; 24] = [
    0.12, 0.08, 0.06, 0.06, 0.10, 0.30, 0.90, 2.60, 3.00, 1.40, 1.00, 0.95, 0.90, 0.90, 0.95, 1.05,
    1.40, 2.60, 3.00, 1.40, 0.90, 0.60, 0.40, 0.22,
];
const PROFILE_MAX: f64 = 3.00;
/// A vehicle stays at least this long at a destination, s.
const MIN_DWELL_S: i64 = 20 * 60;
/// Mean gap between departure candidates (thinned by the daily profile), s.
const MEAN_GAP_S: f64 = 60.0 * 60.0;
/// Chance that a vehicle away from home drives back home next.
const RETURN_HOME: f64 = 0.55;
/// Cloned-plate twins drive within this road distance of their base, km.
const CLONE_REGION_KM: f64 = 50.0;
/// Straight-line separation required between the two twins' whole areas, km.
const CLONE_SEPARATION_KM: f64 = 170.0;
const NO_REGION: u32 = u32::MAX;

struct Vehicle {
    plate: CompactString,
    brand: &'static str,
    kind: u8,
    /// Checkpoint of the next sighting.
    at: u32,
    dest: u32,
    home: u32,
    /// Direction of the section driven into `at` (or out of it at a departure).
    up: bool,
    speed_kmh: f32,
    /// Clone twins: index into `Simulator::regions`; normal vehicles: `NO_REGION`.
    region: u32,
}

impl Vehicle {
    /// A vehicle parked at home, before its first trip.
    fn at_home(
        plate: CompactString,
        brand: &'static str,
        kind: usize,
        home: u32,
        region: u32,
    ) -> Self {
        Vehicle {
            plate,
            brand,
            kind: kind as u8,
            at: home,
            dest: home,
            home,
            up: true,
            speed_kmh: 0.0,
            region,
        }
    }
}

/// How a record shows the plate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    Plate,
    Fixed(u8),
    Masked,
}

/// A queue key: time in the high half, vehicle in the low half (ties by vehicle).
fn key(t: i64, v: u32) -> u64 {
    debug_assert!((0..1 << 32).contains(&t), "simulated time out of range");
    ((t as u64) << 32) | v as u64
}

/// A record waiting for its emission time.
struct Pending {
    emit: i64,
    order: u64,
    time: i64,
    id: u64,
    vehicle: u32,
    node: u32,
    up: bool,
    shown: Shown,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.emit, self.order) == (other.emit, other.order)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.emit, self.order).cmp(&(other.emit, other.order))
    }
}

/// An infinite, deterministic stream of pass records in emission order.
pub struct Simulator {
    config: SimConfig,
    network: Network,
    vehicles: Vec<Vehicle>,
    /// Next sightings: time (s since start) << 32 | vehicle.
    queue: RadixHeap,
    pending: BinaryHeap<Reverse<Pending>>,
    rng: ChaCha8Rng,
    /// Records generated so far (duplicates not counted): the GCXH sequence.
    generated: u64,
    /// Tie-break of pending records.
    pushed: u64,
    start_second_of_day: i64,
    regions: Vec<Vec<u32>>,
    cloned: Vec<(String, String)>,
    id_keys: [u64; 4],
}

impl Simulator {
    pub fn new(config: SimConfig) -> Self {
        let network = network();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let n = network.len();

        // Nodes nearest each place, for homes.
        let mut place_nodes: hashbrown::HashMap<&'static str, Vec<u32>> = hashbrown::HashMap::new();
        for (i, node) in network.nodes().iter().enumerate() {
            place_nodes.entry(node.place).or_default().push(i as u32);
        }

        let mut plates: hashbrown::HashSet<CompactString, foldhash::fast::FixedState> =
            hashbrown::HashSet::with_capacity_and_hasher(
                config.vehicles + 2 * config.clones,
                Default::default(),
            );
        // A small plate space (挂/学 plates have 4 digits) can fill up in a
        // large fleet: after a few collisions the vehicle gets an ordinary
        // plate (KINDS[0]) instead, whose space is millions per prefix.
        let mut unique_plate = |rng: &mut ChaCha8Rng, prefix: usize, kind: &mut usize| {
            for attempt in 0.. {
                if attempt == 16 {
                    *kind = 0;
                }
                let plate = fleet::random_plate(rng, &PREFIXES[prefix], &KINDS[*kind]);
                if plates.insert(plate.clone()) {
                    return plate;
                }
            }
            unreachable!("the loop only ends by returning")
        };

        let mut vehicles = Vec::with_capacity(config.vehicles + 2 * config.clones);
        for _ in 0..config.vehicles {
            let prefix = fleet::pick_weighted(&mut rng, PREFIXES.iter().map(|p| p.weight));
            let mut kind = fleet::pick_weighted(&mut rng, KINDS.iter().map(|k| k.weight));
            let plate = unique_plate(&mut rng, prefix, &mut kind);
            let homes = PREFIXES[prefix].homes;
            let town = homes[rng.random_range(0..homes.len())];
            let candidates = place_nodes.get(town).map(Vec::as_slice).unwrap_or(&[]);
            let home = if candidates.is_empty() {
                rng.random_range(0..n as u32)
            } else {
                candidates[rng.random_range(0..candidates.len())]
            };
            let brand = fleet::random_brand(&mut rng, &KINDS[kind]);
            vehicles.push(Vehicle::at_home(plate, brand, kind, home, NO_REGION));
        }

        // Cloned plates: two twins per plate, in areas far apart.
        let (regions, pairs) = clone_regions(&network);
        let mut cloned = Vec::with_capacity(config.clones);
        if !pairs.is_empty() {
            for _ in 0..config.clones {
                let (mut a, mut b) = pairs[rng.random_range(0..pairs.len())];
                if rng.random_bool(0.5) {
                    std::mem::swap(&mut a, &mut b);
                }
                // Mostly local plates: a 川 or 渝 prefix.
                let prefix = fleet::pick_weighted(
                    &mut rng,
                    PREFIXES.iter().map(|p| {
                        if matches!(p.province, '川' | '渝') {
                            p.weight
                        } else {
                            0.0
                        }
                    }),
                );
                let mut kind = fleet::pick_weighted(&mut rng, KINDS[..3].iter().map(|k| k.weight));
                let plate = unique_plate(&mut rng, prefix, &mut kind);
                let brand = fleet::random_brand(&mut rng, &KINDS[kind]);
                for region in [a, b] {
                    let area = &regions[region as usize];
                    let home = area[rng.random_range(0..area.len())];
                    let twin_brand = if rng.random_bool(0.5) {
                        brand
                    } else {
                        fleet::random_brand(&mut rng, &KINDS[kind])
                    };
                    vehicles.push(Vehicle::at_home(
                        plate.clone(),
                        twin_brand,
                        kind,
                        home,
                        region,
                    ));
                }
                cloned.push((plate.to_string(), KINDS[kind].code.to_owned()));
            }
        }
        cloned.sort();

        let id_keys =
            std::array::from_fn(|i| crate::splitmix(config.seed ^ (0xa5a5_0000 + i as u64)));
        let mut sim = Simulator {
            start_second_of_day: config.start.num_seconds_from_midnight() as i64,
            config,
            network,
            vehicles,
            queue: RadixHeap::default(),
            pending: BinaryHeap::new(),
            rng,
            generated: 0,
            pushed: 0,
            regions,
            cloned,
            id_keys,
        };
        let count = sim.vehicles.len();
        let mut twins = 0usize;
        let mut pair_start = 0;
        for v in 0..count as u32 {
            let depart = if v == 0 {
                0
            } else if sim.vehicles[v as usize].region != NO_REGION {
                // Twins set off at once, so a live demo shows a clone within a
                // minute; other pairs may follow over the spread.
                if twins.is_multiple_of(2) {
                    let spread = i64::from(sim.config.clone_start_spread_s);
                    pair_start = if twins == 0 || spread == 0 {
                        0
                    } else {
                        sim.rng.random_range(0..=spread)
                    };
                }
                twins += 1;
                pair_start + sim.rng.random_range(0..20)
            } else {
                sim.departure_after(0, 0)
            };
            sim.start_trip(v, depart, true);
        }
        sim
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The ground truth: every cloned plate (plate, plate_type), sorted.
    pub fn cloned_plates(&self) -> Vec<(String, String)> {
        self.cloned.clone()
    }

    /// Vehicles driving (normal fleet plus clone twins).
    pub fn fleet_size(&self) -> usize {
        self.vehicles.len()
    }

    fn hour_of(&self, t: i64) -> usize {
        ((self.start_second_of_day + t).rem_euclid(86_400) / 3600) as usize
    }

    /// A departure time after `t + min_wait`, following the daily profile.
    fn departure_after(&mut self, t: i64, min_wait: i64) -> i64 {
        let mut d = t + min_wait;
        loop {
            let u: f64 = self.rng.random();
            d += (-(1.0 - u).ln() * MEAN_GAP_S) as i64;
            if self.rng.random::<f64>() * PROFILE_MAX < DAILY_PROFILE[self.hour_of(d)] {
                return d;
            }
        }
    }

    fn pick_destination(&mut self, v: u32) -> u32 {
        let vehicle = &self.vehicles[v as usize];
        let (at, home, region) = (vehicle.at, vehicle.home, vehicle.region);
        if region != NO_REGION {
            let area = &self.regions[region as usize];
            loop {
                let d = area[self.rng.random_range(0..area.len())];
                if d != at {
                    return d;
                }
            }
        }
        if at != home && self.rng.random_bool(RETURN_HOME) {
            return home;
        }
        let list = self.network.by_distance(at);
        let (lo, hi) = {
            let upto = |km: f64| list.partition_point(|&b| self.network.road_km(at, b) <= km);
            match self.rng.random::<f64>() {
                x if x < 0.70 => (0, upto(80.0)),
                x if x < 0.95 => (upto(80.0), upto(250.0)),
                _ => (upto(250.0), list.len()),
            }
        };
        if lo < hi {
            list[self.rng.random_range(lo..hi)]
        } else {
            list[self.rng.random_range(0..list.len())]
        }
    }

    /// Starts a trip from the vehicle's checkpoint at `depart`. With `seen`,
    /// the vehicle is sighted at its origin on departure; otherwise (it was
    /// just sighted arriving there) the next sighting is at the next checkpoint.
    fn start_trip(&mut self, v: u32, depart: i64, seen: bool) {
        let dest = self.pick_destination(v);
        let heavy = KINDS[self.vehicles[v as usize].kind as usize].heavy;
        let speed = if heavy {
            self.rng.random_range(60.0..90.0)
        } else {
            self.rng.random_range(60.0..120.0)
        };
        let vehicle = &mut self.vehicles[v as usize];
        vehicle.dest = dest;
        vehicle.speed_kmh = speed;
        if seen {
            vehicle.up = self
                .network
                .next_edge(vehicle.at, dest)
                .is_none_or(|e| e.up);
            self.queue.push(key(depart, v));
        } else {
            self.drive(v, depart);
        }
    }

    /// Drives the vehicle from its checkpoint one section towards its destination.
    fn drive(&mut self, v: u32, t: i64) {
        let vehicle = &mut self.vehicles[v as usize];
        let edge = self
            .network
            .next_edge(vehicle.at, vehicle.dest)
            .expect("connected network");
        let seconds = (edge.km / vehicle.speed_kmh as f64 * 3600.0).ceil() as i64;
        vehicle.at = edge.to;
        vehicle.up = edge.up;
        self.queue.push(key(t + seconds.max(1), v));
    }

    /// Takes the next sighting off the queue into the pending records.
    fn generate(&mut self) {
        let Some(k) = self.queue.pop() else { return };
        let (t, v) = ((k >> 32) as i64, k as u32);
        let (node, up) = {
            let vehicle = &self.vehicles[v as usize];
            (vehicle.at, vehicle.up)
        };
        let seq = self.generated;
        self.generated += 1;
        let shown = if self.rng.random::<f64>() < self.config.placeholder_ratio {
            match self.rng.random_range(0..100u32) {
                0..30 => Shown::Fixed(0),
                30..55 => Shown::Fixed(1),
                55..65 => Shown::Fixed(2),
                65..75 => Shown::Fixed(3),
                _ => Shown::Masked,
            }
        } else {
            Shown::Plate
        };
        let mut emit = t;
        if self.config.max_delay_s > 0
            && seq > 0
            && self.rng.random::<f64>() < self.config.delayed_ratio
        {
            emit += self.rng.random_range(1..=self.config.max_delay_s as i64);
        }
        let record = Pending {
            emit,
            order: 0,
            time: t,
            id: gcxh(&self.id_keys, seq),
            vehicle: v,
            node,
            up,
            shown,
        };
        if self.rng.random::<f64>() < self.config.duplicate_ratio {
            let copy = Pending {
                emit: emit + self.rng.random_range(0..=5),
                ..record
            };
            self.push_pending(copy);
        }
        self.push_pending(record);

        // Move on.
        let vehicle = &self.vehicles[v as usize];
        if vehicle.at == vehicle.dest {
            let depart = if vehicle.region != NO_REGION {
                t + self.rng.random_range(5 * 60..=30 * 60)
            } else {
                self.departure_after(t, MIN_DWELL_S)
            };
            self.start_trip(v, depart, false);
        } else {
            self.drive(v, t);
        }
    }

    fn push_pending(&mut self, mut record: Pending) {
        record.order = self.pushed;
        self.pushed += 1;
        self.pending.push(Reverse(record));
    }

    fn materialize(&self, r: &Pending) -> SimEvent {
        let vehicle = &self.vehicles[r.vehicle as usize];
        let node = self.network.node(r.node);
        let plate = match r.shown {
            Shown::Plate => vehicle.plate.to_string(),
            Shown::Fixed(i) => PLACEHOLDER_PLATES[i as usize].to_owned(),
            Shown::Masked => fleet::masked(&vehicle.plate),
        };
        SimEvent {
            pass: Pass {
                id: r.id.to_string(),
                district: node.district.clone(),
                checkpoint: node.name.clone(),
                direction: if r.up { "上行" } else { "下行" }.to_owned(),
                time: self.config.start + TimeDelta::seconds(r.time),
                plate_type: KINDS[vehicle.kind as usize].code.to_owned(),
                plate,
                brand: vehicle.brand.to_owned(),
            },
            emitted_at: self.config.start + TimeDelta::seconds(r.emit),
        }
    }
}

impl Iterator for Simulator {
    type Item = SimEvent;

    fn next(&mut self) -> Option<SimEvent> {
        loop {
            let next_sighting = self.queue.peek().map(|k| (k >> 32) as i64);
            if let Some(Reverse(p)) = self.pending.peek() {
                if next_sighting.is_none_or(|t| p.emit <= t) {
                    let Reverse(p) = self.pending.pop()?;
                    return Some(self.materialize(&p));
                }
            }
            next_sighting?;
            self.generate();
        }
    }
}

/// Areas for cloned-plate twins, and the pairs of areas far enough apart.
///
/// An area is every checkpoint within [`CLONE_REGION_KM`] by road of a city's
/// interchange; two areas pair when every checkpoint on any shortest path
/// inside one is ≥ [`CLONE_SEPARATION_KM`] in a straight line from every such
/// checkpoint of the other.
fn clone_regions(net: &Network) -> (Vec<Vec<u32>>, Vec<(u32, u32)>) {
    let mut areas = Vec::new();
    let mut hulls = Vec::new();
    for (i, node) in net.nodes().iter().enumerate() {
        if !node.at_place {
            continue;
        }
        let i = i as u32;
        let mut area: Vec<u32> = std::iter::once(i)
            .chain(
                net.by_distance(i)
                    .iter()
                    .copied()
                    .take_while(|&b| net.road_km(i, b) <= CLONE_REGION_KM),
            )
            .collect();
        area.sort_unstable();
        if area.len() < 3 {
            continue;
        }
        let mut hull = Vec::new();
        for &a in &area {
            for &b in &area {
                hull.extend(net.path(a, b));
            }
        }
        hull.sort_unstable();
        hull.dedup();
        areas.push(area);
        hulls.push(hull);
    }
    let mut pairs = Vec::new();
    for a in 0..hulls.len() {
        for b in a + 1..hulls.len() {
            let far = hulls[a].iter().all(|&x| {
                hulls[b].iter().all(|&y| {
                    haversine_km(net.node(x).location, net.node(y).location) >= CLONE_SEPARATION_KM
                })
            });
            if far {
                pairs.push((a as u32, b as u32));
            }
        }
    }
    (areas, pairs)
}

/// GCXH: an 18-digit number, a keyed permutation of the record sequence
/// (unique, random-looking).
fn gcxh(keys: &[u64; 4], seq: u64) -> u64 {
    const RANGE: u64 = 900_000_000_000_000_000;
    const MASK: u64 = (1 << 30) - 1;
    let mut x = seq % RANGE;
    loop {
        // 4-round Feistel network on 60 bits; cycle-walk into the range.
        let (mut l, mut r) = (x >> 30, x & MASK);
        for &k in keys {
            let f = crate::splitmix(r ^ k) & MASK;
            (l, r) = (r, l ^ f);
        }
        x = (l << 30) | r;
        if x < RANGE {
            return 100_000_000_000_000_000 + x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcxh_is_unique_and_18_digits() {
        let keys = [1, 2, 3, 4];
        let mut seen = hashbrown::HashSet::new();
        for seq in 0..100_000 {
            let id = gcxh(&keys, seq);
            assert_eq!(id.to_string().len(), 18);
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn normal_plates_are_unique_and_each_clone_has_two_far_twins() {
        let sim = Simulator::new(SimConfig {
            vehicles: 30_000,
            clones: 12,
            ..SimConfig::default()
        });
        assert_eq!(sim.fleet_size(), 30_000 + 24);
        let mut count: hashbrown::HashMap<&str, Vec<&Vehicle>> = hashbrown::HashMap::new();
        for v in &sim.vehicles {
            count.entry(v.plate.as_str()).or_default().push(v);
        }
        let cloned: Vec<String> = sim.cloned_plates().into_iter().map(|c| c.0).collect();
        for (plate, vehicles) in &count {
            if cloned.iter().any(|c| c == plate) {
                assert_eq!(vehicles.len(), 2, "{plate}");
                let (a, b) = (
                    &sim.regions[vehicles[0].region as usize],
                    &sim.regions[vehicles[1].region as usize],
                );
                let gap = a
                    .iter()
                    .flat_map(|&x| b.iter().map(move |&y| (x, y)))
                    .map(|(x, y)| {
                        haversine_km(sim.network.node(x).location, sim.network.node(y).location)
                    })
                    .fold(f64::INFINITY, f64::min);
                assert!(gap >= 150.0, "{plate}: {gap} km");
            } else {
                assert_eq!(vehicles.len(), 1, "{plate}");
                assert_eq!(vehicles[0].region, NO_REGION);
            }
        }
    }

    #[test]
    fn clone_areas_are_far_apart() {
        let net = network();
        let (areas, pairs) = clone_regions(&net);
        assert!(pairs.len() >= 5, "{} pairs", pairs.len());
        for &(a, b) in &pairs {
            for &x in &areas[a as usize] {
                for &y in &areas[b as usize] {
                    assert!(haversine_km(net.node(x).location, net.node(y).location) >= 150.0);
                }
            }
        }
    }
}
