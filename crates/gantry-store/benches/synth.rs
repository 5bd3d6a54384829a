//! Synthetic pass records for the write bench and the load example.

use chrono::{Duration, NaiveDateTime};
use gantry_core::Pass;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HEADS: [&str; 8] = ["川A", "川B", "川C", "渝A", "渝B", "京A", "粤B", "陕A"];
const ALNUM: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Passes `first..first + n` of a deterministic stream: random 18-digit
/// ids, 300 checkpoints, ~60 000 plates, times rising ~86 ms per pass
/// (10 million passes span ten days), as exports are ordered.
pub fn passes(first: u64, n: usize) -> Vec<Pass> {
    let mut rng = ChaCha8Rng::seed_from_u64(first);
    let base = NaiveDateTime::parse_from_str("2023-12-01 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
    (first..first + n as u64)
        .map(|i| {
            let plate_no: u32 = rng.random_range(0..60_000);
            let mut plate = String::from(HEADS[plate_no as usize % HEADS.len()]);
            let mut x = plate_no;
            for _ in 0..5 {
                plate.push(ALNUM[(x % ALNUM.len() as u32) as usize] as char);
                x = x / ALNUM.len() as u32 + 7;
            }
            let k: u32 = rng.random_range(0..300);
            Pass {
                id: rng
                    .random_range(100_000_000_000_000_000u64..1_000_000_000_000_000_000)
                    .to_string(),
                district: format!("区县{}", k % 40),
                checkpoint: format!("G{}高速K{}卡口", k % 25, k),
                direction: ["1", "2"][k as usize % 2].into(),
                time: base + Duration::milliseconds((i * 86) as i64),
                plate_type: ["02", "02", "02", "01", "52"][rng.random_range(0..5)].into(),
                plate,
                brand: "大众-朗逸".into(),
            }
        })
        .collect()
}
