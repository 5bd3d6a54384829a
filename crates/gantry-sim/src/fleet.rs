//! Vehicles: plates (号牌号码), plate types (号牌种类, GA 24.7) and brands (车辆品牌型号).

use compact_str::CompactString;
use rand::Rng;

/// A plate type of the simulated fleet.
pub(crate) struct PlateKind {
    /// HPZL code.
    pub code: &'static str,
    pub weight: f64,
    /// Trucks, buses and trailers drive at most 90 km/h.
    pub heavy: bool,
    pub brands: &'static [&'static str],
}

const CARS: &[&str] = &[
    "大众朗逸",
    "大众速腾",
    "大众宝来",
    "大众帕萨特",
    "丰田卡罗拉",
    "丰田凯美瑞",
    "丰田RAV4",
    "本田雅阁",
    "本田思域",
    "日产轩逸",
    "别克英朗",
    "吉利帝豪",
    "吉利星越L",
    "长安CS75",
    "长安逸动",
    "哈弗H6",
    "五菱宏光",
    "奥迪A4L",
    "宝马3系",
    "奔驰C级",
    "马自达阿特兹",
    "奇瑞瑞虎8",
    "传祺GS4",
    "红旗H5",
];
const NEW_ENERGY: &[&str] = &[
    "比亚迪秦",
    "比亚迪汉",
    "比亚迪宋PLUS",
    "比亚迪海豚",
    "特斯拉Model3",
    "特斯拉ModelY",
    "理想L7",
    "蔚来ES6",
    "小鹏P7",
    "五菱宏光MINIEV",
    "埃安S",
    "问界M7",
    "极氪001",
    "深蓝SL03",
];
const HEAVY: &[&str] = &[
    "东风天龙",
    "一汽解放J6P",
    "重汽豪沃",
    "陕汽德龙X3000",
    "福田欧曼",
    "宇通客车",
    "金龙客车",
    "江淮格尔发",
];
const HEAVY_NEW_ENERGY: &[&str] = &["比亚迪K9", "宇通E12", "中通客车", "三一电动重卡"];
const TRAILERS: &[&str] = &["中集挂车", "梁山挂车", "-"];
const COACHES: &[&str] = &["大众捷达", "大众桑塔纳", "丰田卡罗拉", "长安悦翔"];

/// The plate types with their share of the fleet.
pub(crate) const KINDS: &[PlateKind] = &[
    PlateKind {
        code: "02",
        weight: 0.760,
        heavy: false,
        brands: CARS,
    },
    PlateKind {
        code: "52",
        weight: 0.090,
        heavy: false,
        brands: NEW_ENERGY,
    },
    PlateKind {
        code: "01",
        weight: 0.090,
        heavy: true,
        brands: HEAVY,
    },
    PlateKind {
        code: "51",
        weight: 0.010,
        heavy: true,
        brands: HEAVY_NEW_ENERGY,
    },
    PlateKind {
        code: "15",
        weight: 0.030,
        heavy: true,
        brands: TRAILERS,
    },
    PlateKind {
        code: "16",
        weight: 0.020,
        heavy: false,
        brands: COACHES,
    },
];

/// A plate prefix (province + issuing-authority letter) and where its vehicles live.
pub(crate) struct Prefix {
    pub province: char,
    pub letter: char,
    pub weight: f64,
    /// Places (see the network) the vehicles are based at.
    pub homes: &'static [&'static str],
}

macro_rules! prefix {
    ($p:literal $l:literal $w:literal [$($h:literal),+]) => {
        Prefix { province: $p, letter: $l, weight: $w, homes: &[$($h),+] }
    };
}

/// ~60 % 川, ~26 % 渝, the rest from neighbouring and far provinces.
pub(crate) const PREFIXES: &[Prefix] = &[
    prefix!('川' 'A' 18.0 ["成都", "简阳", "都江堰", "邛崃"]),
    prefix!('川' 'B' 3.5 ["绵阳"]),
    prefix!('川' 'C' 2.0 ["自贡"]),
    prefix!('川' 'D' 1.2 ["攀枝花"]),
    prefix!('川' 'E' 2.5 ["泸州"]),
    prefix!('川' 'F' 2.8 ["德阳", "中江"]),
    prefix!('川' 'H' 1.5 ["广元", "剑阁"]),
    prefix!('川' 'J' 2.0 ["遂宁"]),
    prefix!('川' 'K' 2.0 ["内江", "隆昌"]),
    prefix!('川' 'L' 2.5 ["乐山", "峨眉山"]),
    prefix!('川' 'M' 1.5 ["资阳", "安岳"]),
    prefix!('川' 'Q' 3.0 ["宜宾"]),
    prefix!('川' 'R' 3.5 ["南充", "阆中", "南部", "营山"]),
    prefix!('川' 'S' 3.0 ["达州", "大竹"]),
    prefix!('川' 'T' 1.2 ["雅安", "石棉"]),
    prefix!('川' 'W' 1.5 ["西昌", "冕宁"]),
    prefix!('川' 'X' 2.0 ["广安", "武胜", "邻水"]),
    prefix!('川' 'Y' 1.5 ["巴中"]),
    prefix!('川' 'Z' 2.0 ["眉山", "仁寿"]),
    prefix!('渝' 'A' 8.0 ["重庆", "璧山", "江津", "合川", "綦江"]),
    prefix!('渝' 'B' 6.0 ["重庆", "长寿", "南川", "铜梁"]),
    prefix!('渝' 'C' 3.5 ["永川", "荣昌", "大足", "潼南", "铜梁"]),
    prefix!('渝' 'D' 2.0 ["重庆", "江津"]),
    prefix!('渝' 'F' 3.0 ["万州", "梁平", "忠县"]),
    prefix!('渝' 'G' 2.0 ["涪陵", "丰都", "垫江", "长寿"]),
    prefix!('渝' 'H' 1.5 ["黔江", "武隆"]),
    prefix!('贵' 'A' 1.5 ["遵义", "綦江"]),
    prefix!('贵' 'C' 2.0 ["遵义"]),
    prefix!('云' 'A' 1.5 ["攀枝花", "宜宾", "西昌"]),
    prefix!('陕' 'A' 1.5 ["汉中", "广元"]),
    prefix!('陕' 'F' 1.5 ["汉中"]),
    prefix!('甘' 'A' 0.8 ["广元", "汉中"]),
    prefix!('鄂' 'A' 0.8 ["万州", "黔江"]),
    prefix!('鄂' 'Q' 0.8 ["万州"]),
    prefix!('湘' 'A' 0.6 ["黔江", "涪陵"]),
    prefix!('粤' 'A' 0.8 ["成都", "重庆"]),
    prefix!('粤' 'B' 0.6 ["成都", "重庆"]),
    prefix!('京' 'A' 0.4 ["成都"]),
    prefix!('浙' 'A' 0.5 ["成都", "重庆"]),
];

/// Fixed placeholder plates from the field: unplated or unread vehicles.
pub const PLACEHOLDER_PLATES: &[&str] = &["无牌", "未识别", "车牌", "00000000"];

/// Whether a plate is a placeholder the simulator emits instead of a real plate:
/// one of [`PLACEHOLDER_PLATES`] or a masked plate with `*` ("川A1**45").
pub fn is_placeholder(plate: &str) -> bool {
    PLACEHOLDER_PLATES.contains(&plate) || plate.contains('*')
}

/// Letters used on plates (no I, no O).
const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Picks an index by weight.
pub(crate) fn pick_weighted<R: Rng>(
    rng: &mut R,
    weights: impl Iterator<Item = f64> + Clone,
) -> usize {
    let total: f64 = weights.clone().sum();
    let mut x = rng.random::<f64>() * total;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if x < w {
            return i;
        }
        x -= w;
        last = i;
    }
    last
}

fn digit<R: Rng>(rng: &mut R) -> char {
    (b'0' + rng.random_range(0..10u8)) as char
}

fn letter<R: Rng>(rng: &mut R) -> char {
    LETTERS[rng.random_range(0..LETTERS.len())] as char
}

/// A random plate of a prefix and plate type, e.g. "川A3K821", "川AD12345", "渝B1234挂".
pub(crate) fn random_plate<R: Rng>(
    rng: &mut R,
    prefix: &Prefix,
    kind: &PlateKind,
) -> CompactString {
    let mut s = CompactString::default();
    s.push(prefix.province);
    s.push(prefix.letter);
    match kind.code {
        // small new energy: D/F + 5 (or a letter and 4 digits)
        "52" => {
            s.push(if rng.random_bool(0.7) { 'D' } else { 'F' });
            s.push(if rng.random_bool(0.8) {
                digit(rng)
            } else {
                letter(rng)
            });
            for _ in 0..4 {
                s.push(digit(rng));
            }
        }
        // large new energy: 5 digits + D/F
        "51" => {
            for _ in 0..5 {
                s.push(digit(rng));
            }
            s.push(if rng.random_bool(0.7) { 'D' } else { 'F' });
        }
        "15" => {
            for _ in 0..4 {
                s.push(digit(rng));
            }
            s.push('挂');
        }
        "16" => {
            for _ in 0..4 {
                s.push(digit(rng));
            }
            s.push('学');
        }
        _ => {
            // up to two letters among the five characters
            let letters = match rng.random::<f64>() {
                x if x < 0.55 => 0,
                x if x < 0.90 => 1,
                _ => 2,
            };
            let mut at = [usize::MAX; 2];
            for slot in at.iter_mut().take(letters) {
                *slot = rng.random_range(0..5);
            }
            for i in 0..5 {
                s.push(if at.contains(&i) {
                    letter(rng)
                } else {
                    digit(rng)
                });
            }
        }
    }
    s
}

/// A brand for a plate type; about 4 % unknown ("-").
pub(crate) fn random_brand<R: Rng>(rng: &mut R, kind: &PlateKind) -> &'static str {
    if rng.random_bool(0.04) {
        "-"
    } else {
        kind.brands[rng.random_range(0..kind.brands.len())]
    }
}

/// The plate as shown in a record: the plate, a fixed placeholder, or masked.
pub(crate) fn masked(plate: &str) -> String {
    plate
        .chars()
        .enumerate()
        .map(|(i, c)| if i == 3 || i == 4 { '*' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn plates_have_the_right_shapes() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let p = &PREFIXES[0];
        for _ in 0..200 {
            for kind in KINDS {
                let plate = random_plate(&mut rng, p, kind);
                let n = plate.chars().count();
                assert!(plate.starts_with("川A"), "{plate}");
                match kind.code {
                    "52" | "51" => assert_eq!(n, 8, "{plate}"),
                    "15" => assert!(plate.ends_with('挂') && n == 7, "{plate}"),
                    "16" => assert!(plate.ends_with('学') && n == 7, "{plate}"),
                    _ => assert_eq!(n, 7, "{plate}"),
                }
                assert!(!plate.contains('I') && !plate.contains('O'));
            }
        }
    }

    #[test]
    fn masks_the_middle() {
        assert_eq!(masked("川A12345"), "川A1**45");
        assert!(is_placeholder("川A1**45"));
        assert!(is_placeholder("无牌"));
        assert!(!is_placeholder("川A12345"));
    }
}
