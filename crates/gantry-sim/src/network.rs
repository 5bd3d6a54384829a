//! The built-in highway network: expressways of Sichuan and Chongqing between
//! real city coordinates, with a checkpoint (卡口) every 11–22 km.
//!
//! Nodes are checkpoints; edges are road sections between consecutive
//! checkpoints of one road. An edge's length is the straight line times a
//! winding factor of 1.15–1.30, so a road is never shorter than the straight
//! line and a vehicle at ≤ 120 km/h never *looks* faster than ~104 km/h.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use gantry_core::geo::{haversine_km, GeoPoint};
use gantry_core::{Checkpoint, CheckpointDirectory};

/// A city or town the roads run through: (name, lon, lat, XZQHMC, admin code).
type Place = (&'static str, f64, f64, &'static str, &'static str);

const PLACES: &[Place] = &[
    // Sichuan, prefecture-level cities
    ("成都", 104.066, 30.572, "成都市", "510100"),
    ("绵阳", 104.679, 31.467, "绵阳市", "510700"),
    ("德阳", 104.398, 31.127, "德阳市", "510600"),
    ("乐山", 103.766, 29.552, "乐山市", "511100"),
    ("宜宾", 104.643, 28.752, "宜宾市", "511500"),
    ("泸州", 105.443, 28.889, "泸州市", "510500"),
    ("内江", 105.058, 29.580, "内江市", "511000"),
    ("遂宁", 105.593, 30.533, "遂宁市", "510900"),
    ("南充", 106.110, 30.837, "南充市", "511300"),
    ("达州", 107.468, 31.209, "达州市", "511700"),
    ("广元", 105.843, 32.435, "广元市", "510800"),
    ("雅安", 103.013, 29.980, "雅安市", "511800"),
    ("自贡", 104.778, 29.339, "自贡市", "510300"),
    ("眉山", 103.848, 30.075, "眉山市", "511400"),
    ("资阳", 104.627, 30.129, "资阳市", "512000"),
    ("广安", 106.633, 30.456, "广安市", "511600"),
    ("巴中", 106.747, 31.868, "巴中市", "511900"),
    ("攀枝花", 101.718, 26.582, "攀枝花市", "510400"),
    ("西昌", 102.264, 27.895, "凉山彝族自治州", "513400"),
    // Sichuan, county towns on the roads (district = their city)
    ("简阳", 104.547, 30.411, "成都市", "510100"),
    ("都江堰", 103.647, 30.988, "成都市", "510100"),
    ("邛崃", 103.461, 30.410, "成都市", "510100"),
    ("剑阁", 105.524, 32.288, "广元市", "510800"),
    ("阆中", 105.975, 31.558, "南充市", "511300"),
    ("南部", 106.061, 31.353, "南充市", "511300"),
    ("营山", 106.565, 31.076, "南充市", "511300"),
    ("中江", 104.678, 31.033, "德阳市", "510600"),
    ("隆昌", 105.288, 29.339, "内江市", "511000"),
    ("仁寿", 104.134, 29.996, "眉山市", "511400"),
    ("峨眉山", 103.484, 29.601, "乐山市", "511100"),
    ("安岳", 105.336, 30.098, "资阳市", "512000"),
    ("武胜", 106.296, 30.349, "广安市", "511600"),
    ("邻水", 106.930, 30.334, "广安市", "511600"),
    ("大竹", 107.204, 30.736, "达州市", "511700"),
    ("石棉", 102.359, 29.227, "雅安市", "511800"),
    ("冕宁", 102.177, 28.550, "凉山彝族自治州", "513400"),
    // Chongqing districts and counties
    ("重庆", 106.551, 29.563, "渝中区", "500103"),
    ("万州", 108.408, 30.807, "万州区", "500101"),
    ("涪陵", 107.390, 29.703, "涪陵区", "500102"),
    ("永川", 105.927, 29.356, "永川区", "500118"),
    ("合川", 106.276, 29.972, "合川区", "500117"),
    ("江津", 106.259, 29.290, "江津区", "500116"),
    ("綦江", 106.651, 29.028, "綦江区", "500110"),
    ("长寿", 107.081, 29.858, "长寿区", "500115"),
    ("璧山", 106.227, 29.592, "璧山区", "500120"),
    ("大足", 105.722, 29.707, "大足区", "500111"),
    ("荣昌", 105.594, 29.405, "荣昌区", "500153"),
    ("垫江", 107.333, 30.327, "垫江县", "500231"),
    ("梁平", 107.800, 30.674, "梁平区", "500155"),
    ("南川", 107.099, 29.157, "南川区", "500119"),
    ("铜梁", 106.056, 29.845, "铜梁区", "500151"),
    ("潼南", 105.840, 30.191, "潼南区", "500152"),
    ("忠县", 108.038, 30.300, "忠县", "500233"),
    ("丰都", 107.731, 29.863, "丰都县", "500230"),
    ("武隆", 107.760, 29.325, "武隆区", "500156"),
    ("黔江", 108.771, 29.533, "黔江区", "500114"),
    // Neighbouring provinces, where the roads leave the network
    ("汉中", 107.023, 33.067, "汉中市", "610700"),
    ("遵义", 106.927, 27.725, "遵义市", "520300"),
];

/// A road: its name and the places it runs through, in the direction of
/// increasing stake (桩号); `km0` is the stake at its first place here.
struct RoadDef {
    name: &'static str,
    km0: f64,
    via: &'static [&'static str],
}

const ROADS: &[RoadDef] = &[
    RoadDef {
        name: "G5京昆高速",
        km0: 1332.0,
        via: &[
            "汉中",
            "广元",
            "剑阁",
            "绵阳",
            "德阳",
            "成都",
            "雅安",
            "石棉",
            "冕宁",
            "西昌",
            "攀枝花",
        ],
    },
    RoadDef {
        name: "G42沪蓉高速",
        km0: 1512.0,
        via: &["万州", "梁平", "大竹", "营山", "南充", "遂宁", "成都"],
    },
    RoadDef {
        name: "G75兰海高速",
        km0: 583.0,
        via: &[
            "广元", "阆中", "南部", "南充", "武胜", "合川", "重庆", "綦江", "遵义",
        ],
    },
    RoadDef {
        name: "G76厦蓉高速",
        km0: 1862.0,
        via: &["泸州", "隆昌", "内江", "资阳", "简阳", "成都"],
    },
    RoadDef {
        name: "G85银昆高速",
        km0: 1187.0,
        via: &["重庆", "璧山", "永川", "荣昌", "隆昌", "自贡", "宜宾"],
    },
    RoadDef {
        name: "G93成渝环线高速",
        km0: 118.0,
        via: &[
            "绵阳",
            "遂宁",
            "潼南",
            "铜梁",
            "重庆",
            "江津",
            "泸州",
            "宜宾",
            "乐山",
            "峨眉山",
            "雅安",
        ],
    },
    RoadDef {
        name: "G65包茂高速",
        km0: 1291.0,
        via: &["达州", "大竹", "邻水", "重庆", "南川", "武隆", "黔江"],
    },
    RoadDef {
        name: "G50沪渝高速",
        km0: 1656.0,
        via: &["忠县", "丰都", "涪陵", "长寿", "重庆"],
    },
    RoadDef {
        name: "G5012恩广高速",
        km0: 176.0,
        via: &["万州", "达州", "巴中", "广元"],
    },
    RoadDef {
        name: "G0512成乐高速",
        km0: 0.0,
        via: &["成都", "眉山", "乐山"],
    },
    RoadDef {
        name: "G4215成遵高速",
        km0: 0.0,
        via: &["成都", "仁寿", "自贡", "泸州"],
    },
    RoadDef {
        name: "G4217蓉昌高速",
        km0: 0.0,
        via: &["成都", "都江堰"],
    },
    RoadDef {
        name: "G5013渝蓉高速",
        km0: 0.0,
        via: &["重庆", "大足", "安岳", "简阳"],
    },
    RoadDef {
        name: "G8515广泸高速",
        km0: 0.0,
        via: &["广安", "合川", "铜梁", "永川", "泸州"],
    },
    RoadDef {
        name: "S1成温邛高速",
        km0: 0.0,
        via: &["成都", "邛崃"],
    },
    RoadDef {
        name: "S2成德南高速",
        km0: 32.0,
        via: &["德阳", "中江", "南充"],
    },
];

/// Longest straight-line spacing between consecutive checkpoints of a road, km.
const MAX_SPACING_KM: f64 = 22.0;
/// A checkpoint takes a nearby town's name ("…绵阳北卡口") within this distance.
const NAME_RADIUS_KM: f64 = 20.0;

/// A checkpoint of the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// KKMC, unique, e.g. "G5京昆高速绵阳北卡口" or "G42沪蓉高速K1893+200卡口".
    pub name: String,
    /// KKBH: the district's 6-digit code and a 3-digit number, e.g. "510100001".
    pub code: String,
    /// XZQHMC: the city or district the checkpoint sits in, e.g. "成都市".
    pub district: String,
    pub location: GeoPoint,
    /// The nearest city or town of the built-in list ("成都", "简阳", "万州" …).
    pub place: &'static str,
    /// Whether the checkpoint is at the place itself (an interchange), not between places.
    pub at_place: bool,
}

/// A directed road section between two consecutive checkpoints of one road.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: u32,
    pub to: u32,
    /// Road length, km: straight line × winding factor (≥ 1.15).
    pub km: f64,
    /// Road name, e.g. "G5京昆高速".
    pub road: &'static str,
    /// Driving in the direction of increasing stake (上行); otherwise 下行.
    pub up: bool,
}

/// The highway graph with precomputed all-pairs shortest paths.
#[derive(Debug, Clone)]
pub struct Network {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    adjacency: Vec<Vec<u32>>,
    /// `next[a * n + b]`: the first edge of the shortest path a → b (`u32::MAX` if a == b).
    next: Vec<u32>,
    /// `dist[a * n + b]`: shortest road distance, km.
    dist: Vec<f32>,
    /// For each node, all other nodes sorted by road distance.
    by_distance: Vec<Vec<u32>>,
}

/// Builds the built-in network (deterministic, a few milliseconds).
pub fn network() -> Network {
    Network::build()
}

/// A deterministic value in [0, 1) from some integers (the geometry is seed-independent).
fn unit_hash(parts: &[u64]) -> f64 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for &p in parts {
        h = crate::splitmix(h ^ p);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn place(name: &str) -> (usize, &'static Place) {
    PLACES
        .iter()
        .enumerate()
        .find(|(_, p)| p.0 == name)
        .unwrap_or_else(|| panic!("unknown place {name}"))
}

fn point(p: &Place) -> GeoPoint {
    GeoPoint { lon: p.1, lat: p.2 }
}

struct Draft {
    location: GeoPoint,
    /// Place index when the node is the place itself.
    place: Option<usize>,
    /// (road, stake km) of the first road that created it.
    road: usize,
    stake: f64,
    roads: usize,
}

impl Network {
    fn build() -> Network {
        let mut drafts: Vec<Draft> = Vec::new();
        let mut place_node: Vec<Option<u32>> = vec![None; PLACES.len()];
        let mut edges: Vec<Edge> = Vec::new();
        let mut seen_sections: Vec<(usize, usize)> = Vec::new();

        for (r, road) in ROADS.iter().enumerate() {
            let mut stake = road.km0;
            let mut prev: Option<u32> = None;
            for (s, pair) in road.via.windows(2).enumerate() {
                let (ia, a) = place(pair[0]);
                let (ib, b) = place(pair[1]);
                let section = (ia.min(ib), ia.max(ib));
                assert!(
                    !seen_sections.contains(&section),
                    "section {pair:?} on two roads"
                );
                seen_sections.push(section);

                let mut node_of_place =
                    |i: usize, stake: f64, drafts: &mut Vec<Draft>| -> (u32, bool) {
                        if let Some(id) = place_node[i] {
                            drafts[id as usize].roads += 1;
                            return (id, false);
                        }
                        let id = drafts.len() as u32;
                        drafts.push(Draft {
                            location: point(&PLACES[i]),
                            place: Some(i),
                            road: r,
                            stake,
                            roads: 1,
                        });
                        place_node[i] = Some(id);
                        (id, true)
                    };
                let start = match prev {
                    Some(id) => id,
                    None => node_of_place(ia, stake, &mut drafts).0,
                };
                let (pa, pb) = (point(a), point(b));
                let d = haversine_km(pa, pb);
                let pieces = (d / MAX_SPACING_KM).ceil().max(1.0) as usize;
                // A gentle bend: the checkpoints lie on an arc off the chord.
                let bend = (unit_hash(&[r as u64, s as u64, 1]) - 0.5) * 0.10 * d;
                let mut last = start;
                for k in 1..=pieces {
                    let (to, created) = if k == pieces {
                        node_of_place(ib, 0.0, &mut drafts)
                    } else {
                        let f = k as f64 / pieces as f64;
                        let location = offset(pa, pb, f, bend * (std::f64::consts::PI * f).sin());
                        let id = drafts.len() as u32;
                        drafts.push(Draft {
                            location,
                            place: None,
                            road: r,
                            stake: 0.0,
                            roads: 1,
                        });
                        (id, true)
                    };
                    let straight =
                        haversine_km(drafts[last as usize].location, drafts[to as usize].location);
                    let winding = 1.15 + 0.15 * unit_hash(&[r as u64, s as u64, k as u64, 2]);
                    let km = straight * winding;
                    stake += km;
                    if created {
                        drafts[to as usize].stake = stake;
                    }
                    edges.push(Edge {
                        from: last,
                        to,
                        km,
                        road: road.name,
                        up: true,
                    });
                    edges.push(Edge {
                        from: to,
                        to: last,
                        km,
                        road: road.name,
                        up: false,
                    });
                    last = to;
                }
                prev = Some(last);
            }
        }

        let nodes = name_nodes(&drafts);
        let n = nodes.len();
        let mut adjacency = vec![Vec::new(); n];
        for (i, e) in edges.iter().enumerate() {
            adjacency[e.from as usize].push(i as u32);
        }
        let (next, dist) = all_pairs(n, &edges, &adjacency);
        let by_distance = (0..n)
            .map(|a| {
                let mut others: Vec<u32> = (0..n as u32).filter(|&b| b as usize != a).collect();
                others.sort_by(|&x, &y| {
                    dist[a * n + x as usize]
                        .total_cmp(&dist[a * n + y as usize])
                        .then(x.cmp(&y))
                });
                others
            })
            .collect();
        Network {
            nodes,
            edges,
            adjacency,
            next,
            dist,
            by_distance,
        }
    }

    /// All checkpoints; a node's id is its index.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, id: u32) -> &Node {
        &self.nodes[id as usize]
    }

    /// Both directions of every road section.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The road sections leaving a node.
    pub fn edges_from(&self, id: u32) -> impl Iterator<Item = &Edge> + '_ {
        self.adjacency[id as usize]
            .iter()
            .map(|&e| &self.edges[e as usize])
    }

    /// Number of checkpoints.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node of a checkpoint name (KKMC).
    pub fn id_of(&self, name: &str) -> Option<u32> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| i as u32)
    }

    /// Shortest road distance, km (`f64::INFINITY` when unreachable).
    pub fn road_km(&self, from: u32, to: u32) -> f64 {
        self.dist[from as usize * self.nodes.len() + to as usize] as f64
    }

    /// The first section of the shortest path `from` → `to`; `None` when `from == to`
    /// or unreachable.
    pub fn next_edge(&self, from: u32, to: u32) -> Option<&Edge> {
        let e = self.next[from as usize * self.nodes.len() + to as usize];
        self.edges.get(e as usize)
    }

    /// The checkpoints of the shortest path, both ends included.
    pub fn path(&self, from: u32, to: u32) -> Vec<u32> {
        let mut path = vec![from];
        let mut at = from;
        while let Some(e) = self.next_edge(at, to) {
            at = e.to;
            path.push(at);
        }
        path
    }

    /// Every other node sorted by road distance from `from` (nearest first).
    pub fn by_distance(&self, from: u32) -> &[u32] {
        &self.by_distance[from as usize]
    }

    /// Whether every checkpoint can reach every other.
    pub fn is_connected(&self) -> bool {
        self.dist.iter().all(|d| d.is_finite())
    }

    /// The checkpoints as a directory; ids equal node ids. Export with
    /// [`CheckpointDirectory::to_csv`].
    pub fn checkpoints(&self) -> CheckpointDirectory {
        let mut dir = CheckpointDirectory::new();
        for n in &self.nodes {
            dir.upsert(Checkpoint {
                name: n.name.clone(),
                code: n.code.clone(),
                location: Some(n.location),
            });
        }
        dir
    }
}

/// A point at fraction `f` of the chord a → b, moved `off_km` to its left.
fn offset(a: GeoPoint, b: GeoPoint, f: f64, off_km: f64) -> GeoPoint {
    let lat0 = ((a.lat + b.lat) / 2.0).to_radians();
    let kx = 111.32 * lat0.cos();
    let ky = 110.57;
    let (dx, dy) = ((b.lon - a.lon) * kx, (b.lat - a.lat) * ky);
    let len = (dx * dx + dy * dy).sqrt().max(1e-9);
    let (nx, ny) = (-dy / len, dx / len);
    GeoPoint {
        lon: a.lon + (b.lon - a.lon) * f + nx * off_km / kx,
        lat: a.lat + (b.lat - a.lat) * f + ny * off_km / ky,
    }
}

fn nearest_place(p: GeoPoint) -> (usize, f64) {
    PLACES
        .iter()
        .enumerate()
        .map(|(i, pl)| (i, haversine_km(p, point(pl))))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("places")
}

fn name_nodes(drafts: &[Draft]) -> Vec<Node> {
    let mut names: hashbrown::HashSet<String> = hashbrown::HashSet::new();
    let mut per_district: hashbrown::HashMap<&str, u32> = hashbrown::HashMap::new();
    let mut nodes = Vec::with_capacity(drafts.len());
    for d in drafts {
        let road = ROADS[d.road].name;
        let (near, near_km) = match d.place {
            Some(i) => (i, 0.0),
            None => nearest_place(d.location),
        };
        let town = &PLACES[near];
        let mut candidates = Vec::new();
        match d.place {
            Some(_) if d.roads > 1 => candidates.push(format!("{road}{}枢纽卡口", town.0)),
            Some(_) => candidates.push(format!("{road}{}收费站卡口", town.0)),
            None if near_km <= NAME_RADIUS_KM => {
                let dx = (d.location.lon - town.1) * town.2.to_radians().cos();
                let dy = d.location.lat - town.2;
                let compass = if dx.abs() > dy.abs() {
                    if dx > 0.0 {
                        "东"
                    } else {
                        "西"
                    }
                } else if dy > 0.0 {
                    "北"
                } else {
                    "南"
                };
                candidates.push(format!("{road}{}{compass}卡口", town.0));
            }
            None => {}
        }
        let stake_m = (d.stake * 10.0).round() as u64 * 100;
        candidates.push(format!(
            "{road}K{}+{:03}卡口",
            stake_m / 1000,
            stake_m % 1000
        ));
        let mut name = candidates
            .into_iter()
            .find(|c| !names.contains(c))
            .expect("a name");
        let mut k = 2;
        while names.contains(&name) {
            name = format!("{road}K{}+{:03}卡口{k}", stake_m / 1000, stake_m % 1000);
            k += 1;
        }
        names.insert(name.clone());
        let counter = per_district.entry(town.4).or_insert(0);
        *counter += 1;
        nodes.push(Node {
            name,
            code: format!("{}{:03}", town.4, counter),
            district: town.3.to_owned(),
            location: d.location,
            place: town.0,
            at_place: d.place.is_some(),
        });
    }
    nodes
}

/// Dijkstra from every node: first edges and distances.
fn all_pairs(n: usize, edges: &[Edge], adjacency: &[Vec<u32>]) -> (Vec<u32>, Vec<f32>) {
    let mut next = vec![u32::MAX; n * n];
    let mut dist_out = vec![f32::INFINITY; n * n];
    let mut dist = vec![f64::INFINITY; n];
    let mut first = vec![u32::MAX; n];
    let mut heap = BinaryHeap::new();
    for s in 0..n {
        dist.fill(f64::INFINITY);
        first.fill(u32::MAX);
        dist[s] = 0.0;
        heap.push(Reverse((0u64, s as u32)));
        while let Some(Reverse((bits, u))) = heap.pop() {
            let du = f64::from_bits(bits);
            if du > dist[u as usize] {
                continue;
            }
            for &e in &adjacency[u as usize] {
                let edge = &edges[e as usize];
                let v = edge.to as usize;
                let dv = du + edge.km;
                if dv < dist[v] {
                    dist[v] = dv;
                    first[v] = if u as usize == s {
                        e
                    } else {
                        first[u as usize]
                    };
                    heap.push(Reverse((dv.to_bits(), v as u32)));
                }
            }
        }
        for t in 0..n {
            next[s * n + t] = first[t];
            dist_out[s * n + t] = dist[t] as f32;
        }
    }
    (next, dist_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_unique() {
        for (i, p) in PLACES.iter().enumerate() {
            assert!(PLACES[..i].iter().all(|q| q.0 != p.0), "{}", p.0);
        }
    }

    #[test]
    fn path_follows_edges() {
        let net = network();
        let a = net.id_of("G5京昆高速汉中收费站卡口").expect("汉中");
        let b = net
            .nodes()
            .iter()
            .position(|n| n.place == "遵义" && n.at_place)
            .unwrap() as u32;
        let path = net.path(a, b);
        assert_eq!(path.first(), Some(&a));
        assert_eq!(path.last(), Some(&b));
        let mut km = 0.0;
        for w in path.windows(2) {
            let e = net.edges_from(w[0]).find(|e| e.to == w[1]).expect("edge");
            km += e.km;
        }
        assert!((km - net.road_km(a, b)).abs() < 1e-3, "{km}");
    }
}
