//! A monotone priority queue (radix heap) of `u64` keys.
//!
//! The simulator's clock never runs backwards: every key pushed is ≥ the last
//! key popped (or peeked: peeking moves the floor up to the current minimum). A radix heap then beats a binary heap of the whole fleet: pushes
//! are appends, and each key moves down at most 64 buckets in its lifetime,
//! touching memory sequentially.

#[derive(Debug, Clone)]
pub(crate) struct RadixHeap {
    last: u64,
    len: usize,
    buckets: [Vec<u64>; 65],
}

impl Default for RadixHeap {
    fn default() -> Self {
        RadixHeap {
            last: 0,
            len: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }
}

fn bucket(last: u64, key: u64) -> usize {
    64 - (key ^ last).leading_zeros() as usize
}

impl RadixHeap {
    /// Adds a key; it must not be smaller than the last key popped or peeked.
    pub fn push(&mut self, key: u64) {
        assert!(key >= self.last, "radix heap keys must not decrease");
        self.buckets[bucket(self.last, key)].push(key);
        self.len += 1;
    }

    /// The smallest key, without removing it.
    pub fn peek(&mut self) -> Option<u64> {
        if self.buckets[0].is_empty() {
            self.refill()?;
        }
        self.buckets[0].last().copied()
    }

    /// Removes and returns the smallest key.
    pub fn pop(&mut self) -> Option<u64> {
        if self.buckets[0].is_empty() {
            self.refill()?;
        }
        self.len -= 1;
        self.buckets[0].pop()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Moves the smallest keys into bucket 0.
    fn refill(&mut self) -> Option<()> {
        let i = (1..65).find(|&i| !self.buckets[i].is_empty())?;
        let mut items = std::mem::take(&mut self.buckets[i]);
        let min = items.iter().copied().min()?;
        self.last = min;
        for key in items.drain(..) {
            self.buckets[bucket(min, key)].push(key);
        }
        // Give the allocation back so the bucket does not regrow.
        self.buckets[i] = items;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn pops_in_order_like_a_binary_heap() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut radix = RadixHeap::default();
        let mut binary = std::collections::BinaryHeap::new();
        let mut now = 0u64;
        for _ in 0..50_000 {
            if rng.random_bool(0.55) {
                let key = now + rng.random_range(0..1_000_000u64);
                radix.push(key);
                binary.push(std::cmp::Reverse(key));
            } else {
                let a = radix.pop();
                let b = binary.pop().map(|r| r.0);
                assert_eq!(a, b);
                now = a.unwrap_or(now);
            }
            assert_eq!(radix.len(), binary.len());
            let peeked = radix.peek();
            assert_eq!(peeked, binary.peek().map(|r| r.0));
            now = peeked.unwrap_or(now);
        }
    }
}
