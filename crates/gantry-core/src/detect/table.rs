//! The per-plate table: plate → last sighting, open addressing with linear
//! probing, one 64-byte slot per plate.
//!
//! With millions of active plates the table is far larger than the caches,
//! so every lookup is a cache miss. A general-purpose map cannot say where
//! a key will land before looking; this one can, so the detector prefetches
//! the slots of the records it is about to process and the misses overlap.

use std::hash::BuildHasher;

/// A plate packed into 16 bytes; 0 is never a plate (plates are non-empty).
pub(super) type Key = u128;

/// What the table keeps per plate.
#[derive(Debug, Clone, Default)]
pub(super) struct Last {
    pub id: compact_str::CompactString,
    pub checkpoint: u32,
    pub time: i64,
}

#[derive(Debug, Clone, Default)]
#[repr(align(64))]
struct Slot {
    /// `EMPTY`, `TOMBSTONE` or a plate key.
    key: Key,
    last: Last,
}

const EMPTY: Key = 0;
/// A removed slot: lookups probe past it, inserts may reuse it. Plate keys
/// are UTF-8 bytes, which never start with 0xff, so this is never a plate.
const TOMBSTONE: Key = u128::MAX;

pub(super) struct PlateTable {
    slots: Vec<Slot>,
    len: usize,
    tombstones: usize,
    hasher: foldhash::fast::FixedState,
}

impl PlateTable {
    pub fn new() -> Self {
        PlateTable {
            slots: vec![Slot::default(); 1024],
            len: 0,
            tombstones: 0,
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    fn home(&self, key: Key) -> usize {
        self.hasher.hash_one(key) as usize & (self.slots.len() - 1)
    }

    /// Hints the CPU to fetch the slot `key` would probe first.
    #[inline]
    pub fn prefetch(&self, key: Key) {
        #[cfg(target_arch = "x86_64")]
        {
            let slot: *const Slot = &self.slots[self.home(key)];
            // SAFETY: prefetching is a hint; the pointer is in bounds.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(slot.cast())
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = key;
    }

    /// The index of `key`'s slot, or of the slot where it would go.
    fn find(&self, key: Key) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        let mut reusable = None;
        loop {
            match self.slots[i].key {
                k if k == key => return Ok(i),
                EMPTY => return Err(reusable.unwrap_or(i)),
                TOMBSTONE => {
                    reusable.get_or_insert(i);
                }
                _ => {}
            }
            i = (i + 1) & mask;
        }
    }

    pub fn get_mut(&mut self, key: Key) -> Option<&mut Last> {
        match self.find(key) {
            Ok(i) => Some(&mut self.slots[i].last),
            Err(_) => None,
        }
    }

    /// Inserts a plate that is not in the table.
    pub fn insert_new(&mut self, key: Key, last: Last) {
        debug_assert!(key != EMPTY && key != TOMBSTONE);
        if (self.len + self.tombstones + 1) * 4 > self.slots.len() * 3 {
            self.rebuild(self.len + 1);
        }
        match self.find(key) {
            Ok(i) => self.slots[i].last = last,
            Err(i) => {
                if self.slots[i].key == TOMBSTONE {
                    self.tombstones -= 1;
                }
                self.slots[i] = Slot { key, last };
                self.len += 1;
            }
        }
    }

    /// Removes every plate whose last sighting fails `keep`; returns how many.
    pub fn retain(&mut self, mut keep: impl FnMut(&Last) -> bool) -> usize {
        let mut removed = 0;
        for slot in &mut self.slots {
            if slot.key != EMPTY && slot.key != TOMBSTONE && !keep(&slot.last) {
                *slot = Slot {
                    key: TOMBSTONE,
                    last: Last::default(),
                };
                removed += 1;
            }
        }
        self.len -= removed;
        self.tombstones += removed;
        removed
    }

    /// Re-lays the table for `need` plates at most half full, dropping tombstones.
    fn rebuild(&mut self, need: usize) {
        let capacity = (need * 2).next_power_of_two().max(1024);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); capacity]);
        self.tombstones = 0;
        for slot in old {
            if slot.key != EMPTY && slot.key != TOMBSTONE {
                let Err(i) = self.find(slot.key) else {
                    unreachable!("keys are unique")
                };
                self.slots[i] = slot;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn last(time: i64) -> Last {
        Last {
            time,
            ..Last::default()
        }
    }

    #[test]
    fn slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
    }

    proptest! {
        /// Any sequence of inserts, updates and evictions agrees with a HashMap.
        #[test]
        fn agrees_with_a_hash_map(ops in prop::collection::vec((1u128..3000, 0i64..100, any::<bool>()), 1..3000)) {
            let mut table = PlateTable::new();
            let mut model: HashMap<u128, i64> = HashMap::new();
            for (key, time, evict) in ops {
                if evict {
                    let removed = table.retain(|l| l.time >= time);
                    let before = model.len();
                    model.retain(|_, t| *t >= time);
                    prop_assert_eq!(removed, before - model.len());
                } else if let Some(l) = table.get_mut(key) {
                    prop_assert_eq!(model.insert(key, time), Some(l.time));
                    l.time = time;
                } else {
                    prop_assert_eq!(model.insert(key, time), None);
                    table.insert_new(key, last(time));
                }
                prop_assert_eq!(table.len(), model.len());
            }
            for (key, time) in model {
                prop_assert_eq!(table.get_mut(key).map(|l| l.time), Some(time));
            }
        }
    }
}
