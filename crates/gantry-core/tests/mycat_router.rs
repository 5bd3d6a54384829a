//! The shard router against vectors that Guava's murmur3_32 and MyCat 1.6's
//! PartitionByMurmurHash definition produced (tests/mycat/MycatVectors.java,
//! output in tests/mycat/vectors.txt).

use gantry_core::shard::{murmur3_32_utf16, ShardRouter};

const VECTORS: &str = include_str!("mycat/vectors.txt");
const KEYS: [&str; 10] = [
    "",
    "a",
    "KKMC",
    "成都东卡口",
    "G5京昆高速绵阳北卡口",
    "G42沪蓉高速K1893+200卡口",
    "S325_Suining_01",
    "川A12345",
    "重庆收费站",
    "\u{1F697}卡口",
];

fn lines(tag: &str) -> impl Iterator<Item = &'static str> + '_ {
    VECTORS.lines().filter_map(move |l| l.strip_prefix(tag))
}

#[test]
fn hash_unencoded_chars_matches_guava() {
    let mut n = 0;
    for line in lines("hash ") {
        let (key, value) = line.rsplit_once(' ').unwrap();
        let want: i32 = value.parse().unwrap();
        assert_eq!(murmur3_32_utf16(key, 0) as i32, want, "{key:?}");
        n += 1;
    }
    assert_eq!(n, KEYS.len());
}

#[test]
fn routes_match_mycat() {
    let mut n = 0;
    for line in lines("route ") {
        let (count, routes) = line.split_once(' ').unwrap();
        let router = ShardRouter::mycat(count.parse().unwrap());
        let want: Vec<usize> = routes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let got: Vec<usize> = KEYS.iter().map(|k| router.shard_of(k)).collect();
        assert_eq!(got, want, "{count} shards");
        n += 1;
    }
    assert_eq!(n, 6);
}

#[test]
fn thousand_keys_match_mycat() {
    for line in lines("bulk ") {
        let (count, digits) = line.split_once(' ').unwrap();
        let router = ShardRouter::mycat(count.parse().unwrap());
        assert_eq!(digits.trim().len(), 1000);
        for (i, d) in digits.trim().chars().enumerate() {
            let want = d.to_digit(10).unwrap() as usize;
            assert_eq!(
                router.shard_of(&format!("卡口-{i}")),
                want,
                "key 卡口-{i}, {count} shards"
            );
        }
    }
}
