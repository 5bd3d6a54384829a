//! Shard routing bit-compatible with MyCat 1.6 `PartitionByMurmurHash`.
//!
//! MyCat builds a consistent-hash ring of `virtual_buckets × weight` points
//! per node. Point names come from ONE `StringBuilder` per node that keeps
//! growing ("SHARD-0-NODE-0", "SHARD-0-NODE-0-NODE-1", …), each hashed with
//! Guava's `murmur3_32(seed).hashUnencodedChars`, and the ring is a
//! `TreeMap<Integer, Integer>` (signed order; a later node wins a hash
//! collision). A key goes to the first point at or after its own hash,
//! wrapping to the first point. Reproducing all of this makes a store laid
//! out by gantry readable through an existing MyCat deployment, and back.

/// MyCat's default seed.
pub const MYCAT_SEED: u32 = 0;
/// MyCat's default virtual buckets per node.
pub const MYCAT_VIRTUAL_BUCKETS: usize = 160;

/// Picks a shard for a checkpoint name (KKMC) as MyCat would.
#[derive(Debug, Clone)]
pub struct ShardRouter {
    seed: u32,
    shards: usize,
    /// Ring points sorted by signed hash.
    ring: Vec<(i32, u32)>,
}

impl ShardRouter {
    /// MyCat's defaults: seed 0, 160 virtual buckets per node, equal weights.
    ///
    /// # Panics
    /// When `shards` is 0; callers validate the option first.
    pub fn mycat(shards: usize) -> Self {
        Self::with_weights(MYCAT_SEED, MYCAT_VIRTUAL_BUCKETS, &vec![1; shards])
    }

    /// A ring with explicit seed, virtual buckets and per-node weights
    /// (MyCat's `seed`, `virtualBucketTimes` and `weightMapFile`).
    pub fn with_weights(seed: u32, virtual_buckets: usize, weights: &[usize]) -> Self {
        assert!(
            !weights.is_empty(),
            "a shard router needs at least one shard"
        );
        let mut points = std::collections::BTreeMap::new();
        for (node, &weight) in weights.iter().enumerate() {
            let mut name = format!("SHARD-{node}");
            for n in 0..virtual_buckets * weight.max(1) {
                name.push_str("-NODE-");
                name.push_str(&n.to_string());
                points.insert(murmur3_32_utf16(&name, seed) as i32, node as u32);
            }
        }
        ShardRouter {
            seed,
            shards: weights.len(),
            ring: points.into_iter().collect(),
        }
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The shard index for a key (KKMC).
    pub fn shard_of(&self, key: &str) -> usize {
        let h = murmur3_32_utf16(key, self.seed) as i32;
        let at = self.ring.partition_point(|&(point, _)| point < h);
        let (_, node) = self.ring.get(at).unwrap_or(&self.ring[0]);
        *node as usize
    }
}

/// MurmurHash3 x86_32 of bytes.
pub fn murmur3_32(bytes: &[u8], seed: u32) -> u32 {
    let mut h = seed;
    let mut blocks = bytes.chunks_exact(4);
    for block in &mut blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        h = mix_h(h, mix_k(k));
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail
            .iter()
            .rev()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        h ^= mix_k(k);
    }
    fmix(h ^ bytes.len() as u32)
}

/// Guava's `murmur3_32(seed).hashUnencodedChars(s)`: MurmurHash3 over the
/// string's UTF-16 code units, two per block (equal to hashing UTF-16LE bytes).
pub fn murmur3_32_utf16(text: &str, seed: u32) -> u32 {
    let mut h = seed;
    let mut len = 0u32;
    let mut pending: Option<u16> = None;
    for unit in text.encode_utf16() {
        len += 1;
        match pending.take() {
            None => pending = Some(unit),
            Some(low) => {
                let k = u32::from(low) | (u32::from(unit) << 16);
                h = mix_h(h, mix_k(k));
            }
        }
    }
    if let Some(last) = pending {
        h ^= mix_k(u32::from(last));
    }
    fmix(h ^ (2 * len))
}

fn mix_k(k: u32) -> u32 {
    k.wrapping_mul(0xcc9e_2d51)
        .rotate_left(15)
        .wrapping_mul(0x1b87_3593)
}

fn mix_h(h: u32, k: u32) -> u32 {
    (h ^ k)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

fn fmix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published MurmurHash3 x86_32 test vectors.
    #[test]
    fn murmur3_matches_published_vectors() {
        let cases: &[(&[u8], u32, u32)] = &[
            (b"", 0, 0),
            (b"", 1, 0x514e_28b7),
            (b"", 0xffff_ffff, 0x81f1_6f39),
            (&[0, 0, 0, 0], 0, 0x2362_f9de),
            (&[0xff, 0xff, 0xff, 0xff], 0, 0x7629_3b50),
            (&[0x21, 0x43, 0x65, 0x87], 0, 0xf55b_516b),
            (&[0x21, 0x43, 0x65, 0x87], 0x5082_edee, 0x2362_f9de),
            (&[0x21, 0x43, 0x65], 0, 0x7e4a_8634),
            (&[0x21, 0x43], 0, 0xa0f7_b07a),
            (&[0x21], 0, 0x7266_1cf4),
            (b"aaaa", 0x9747_b28c, 0x5a97_808a),
            (b"aaa", 0x9747_b28c, 0x283e_0130),
            (b"aa", 0x9747_b28c, 0x5d21_1726),
            (b"a", 0x9747_b28c, 0x7fa0_9ea6),
            (b"abcd", 0x9747_b28c, 0xf047_8627),
            (b"Hello, world!", 0x9747_b28c, 0x2488_4cba),
            (
                b"The quick brown fox jumps over the lazy dog",
                0x9747_b28c,
                0x2fa8_26cd,
            ),
        ];
        for &(input, seed, want) in cases {
            assert_eq!(murmur3_32(input, seed), want, "{input:?} seed {seed:#x}");
        }
    }

    #[test]
    fn utf16_variant_equals_hashing_utf16le_bytes() {
        for s in [
            "",
            "a",
            "ab",
            "abc",
            "成都东卡口",
            "🚗卡口",
            "G42沪蓉高速K1893+200卡口",
        ] {
            let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            assert_eq!(murmur3_32_utf16(s, 0), murmur3_32(&bytes, 0), "{s}");
            assert_eq!(murmur3_32_utf16(s, 7), murmur3_32(&bytes, 7), "{s}");
        }
    }

    #[test]
    fn every_shard_gets_keys() {
        let router = ShardRouter::mycat(3);
        let mut seen = [0usize; 3];
        for i in 0..3000 {
            seen[router.shard_of(&format!("卡口{i}"))] += 1;
        }
        assert!(seen.iter().all(|&n| n > 500), "{seen:?}");
    }
}
