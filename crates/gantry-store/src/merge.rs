//! Engine-neutral helpers to merge per-shard answers into the answer one
//! database would give. Every sharded engine uses them the same way.

use std::cmp::Ordering;
use std::collections::HashMap;

/// Sums `(key, count)` pairs from every shard; orders by count desc, then key.
pub fn sum_counts<I>(parts: I) -> Vec<(String, u64)>
where
    I: IntoIterator<Item = (String, u64)>,
{
    let mut sums: HashMap<String, u64> = HashMap::new();
    for (key, n) in parts {
        *sums.entry(key).or_insert(0) += n;
    }
    let mut out: Vec<(String, u64)> = sums.into_iter().filter(|&(_, n)| n > 0).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Merges lists each sorted by `cmp` into one sorted list of at most
/// `limit` items. Equal items keep the order of their lists.
pub fn merge_sorted<T, F>(lists: Vec<Vec<T>>, limit: usize, cmp: F) -> Vec<T>
where
    F: Fn(&T, &T) -> Ordering,
{
    let total: usize = lists.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total.min(limit));
    let mut heads: Vec<std::vec::IntoIter<T>> = lists.into_iter().map(Vec::into_iter).collect();
    let mut fronts: Vec<Option<T>> = heads.iter_mut().map(Iterator::next).collect();
    while out.len() < limit {
        // Shard counts are small: a linear scan of the fronts beats a heap.
        let mut best: Option<usize> = None;
        for (i, front) in fronts.iter().enumerate() {
            let Some(candidate) = front else { continue };
            let better = match best.and_then(|b| fronts[b].as_ref()) {
                Some(current) => cmp(candidate, current) == Ordering::Less,
                None => true,
            };
            if better {
                best = Some(i);
            }
        }
        let Some(b) = best else { break };
        let next = heads[b].next();
        if let Some(item) = std::mem::replace(&mut fronts[b], next) {
            out.push(item);
        }
    }
    out
}

/// The rows of 1-based `page` of `size` from a merged list of the first
/// `page × size` rows.
pub fn page_of<T>(merged: Vec<T>, page: u64, size: u64) -> Vec<T> {
    let skip = page.saturating_sub(1).saturating_mul(size);
    merged
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_orders_counts() {
        let parts = vec![
            ("b".to_string(), 2),
            ("a".to_string(), 1),
            ("c".to_string(), 3),
            ("a".to_string(), 1),
            ("z".to_string(), 0),
        ];
        assert_eq!(
            sum_counts(parts),
            vec![
                ("c".to_string(), 3),
                ("a".to_string(), 2),
                ("b".to_string(), 2)
            ]
        );
    }

    #[test]
    fn merges_sorted_lists_up_to_a_limit() {
        let lists = vec![vec![9, 5, 1], vec![8, 7, 2], vec![], vec![6]];
        let desc = |a: &i32, b: &i32| b.cmp(a);
        assert_eq!(
            merge_sorted(lists.clone(), 100, desc),
            vec![9, 8, 7, 6, 5, 2, 1]
        );
        assert_eq!(merge_sorted(lists, 3, desc), vec![9, 8, 7]);
        assert!(merge_sorted(Vec::<Vec<i32>>::new(), 3, desc).is_empty());
    }

    #[test]
    fn pages_a_merged_list() {
        let merged: Vec<i32> = (1..=7).collect();
        assert_eq!(page_of(merged.clone(), 1, 3), vec![1, 2, 3]);
        assert_eq!(page_of(merged.clone(), 3, 3), vec![7]);
        assert!(page_of(merged, 4, 3).is_empty());
    }
}
