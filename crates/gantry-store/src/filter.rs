//! Pass filters as SQL, shared by the engines: a WHERE clause of fixed
//! text with `?` placeholders and the values to bind, in the driver's own
//! value type. User data only ever travels in `params`.

use chrono::NaiveDateTime;

use crate::{PassCursor, PassQuery};

#[derive(Debug, Clone)]
pub(crate) struct Filter<V> {
    pub where_sql: String,
    pub params: Vec<V>,
    /// No checkpoint filter, whose (kkmc, gcsj) index gives the order itself.
    pub no_checkpoint: bool,
    /// A plate filter, which the hphm index can answer.
    pub has_plate: bool,
}

impl<V: From<String>> Filter<V> {
    /// The WHERE clause and parameters of a pass query (its paging aside).
    /// Times bind as 'YYYY-MM-DD HH:MM:SS' text, which both SQLite's text
    /// column and a DATETIME column compare in time order.
    pub fn of(q: &PassQuery) -> Self {
        let mut filter = Filter {
            where_sql: String::new(),
            params: Vec::new(),
            no_checkpoint: q.checkpoint.is_none(),
            has_plate: q.plate.as_deref().is_some_and(|p| p != "*"),
        };
        if let Some(k) = &q.checkpoint {
            filter.and("kkmc = ?", [k.clone()]);
        }
        if let Some(plate) = &q.plate {
            match plate.strip_suffix('*') {
                Some("") => {}
                Some(prefix) => {
                    filter.and("hphm >= ?", [prefix.to_owned()]);
                    if let Some(upper) = prefix_upper_bound(prefix) {
                        filter.and("hphm < ?", [upper]);
                    }
                }
                None => filter.and("hphm = ?", [plate.clone()]),
            }
        }
        if let Some(t) = &q.plate_type {
            filter.and("hpzl = ?", [t.clone()]);
        }
        if let Some(p) = &q.province {
            filter.and("province = ?", [p.clone()]);
        }
        if let Some(start) = q.start {
            filter.and("gcsj >= ?", [time_text(start)]);
        }
        if let Some(end) = q.end {
            filter.and("gcsj <= ?", [time_text(end)]);
        }
        filter
    }

    /// Adds `clause` (with its `?` values) to the conditions.
    pub fn and(&mut self, clause: &str, values: impl IntoIterator<Item = String>) {
        let joiner = if self.where_sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        };
        self.where_sql.push_str(joiner);
        self.where_sql.push_str(clause);
        self.params.extend(values.into_iter().map(V::from));
    }

    /// Keeps only passes strictly after `cursor` in newest-first order.
    pub fn after(&mut self, cursor: &PassCursor) {
        let time = time_text(cursor.time);
        self.and(
            "(gcsj < ? OR (gcsj = ? AND gcxh < ?))",
            [time.clone(), time, cursor.id.clone()],
        );
    }
}

impl<V> Filter<V> {
    /// Whether to find the first `depth` matches of a shard by walking the
    /// gcsj index newest first (reading about `depth × rows / matches` rows)
    /// rather than letting the planner pick an index for the filters (for a
    /// plate, reading and sorting all `matches`). The planner cannot weigh
    /// this itself: it scans and sorts the whole table for filters without
    /// an index (province, plate type), where the walk stops after a few
    /// rows, and uses the plate index for broad prefixes ("川*") that match
    /// millions of rows.
    pub fn walk_time_index(&self, depth: u64, rows: u64, matches: u64) -> bool {
        self.no_checkpoint
            && (!self.has_plate || (depth as u128) * (rows as u128) < (matches as u128).pow(2))
    }
}

fn time_text(time: NaiveDateTime) -> String {
    let mut s = String::with_capacity(19);
    gantry_core::time::write_pass_time(time, &mut s);
    s
}

/// The smallest string greater than every string starting with `prefix`,
/// in byte (= code point) order; `None` when there is none.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound("川A").as_deref(), Some("川B"));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}").as_deref(),
            Some("a\u{E000}")
        );
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound(""), None);
        // Everything starting with the prefix sorts below the bound.
        let up = prefix_upper_bound("川A").unwrap();
        assert!("川A\u{10FFFF}\u{10FFFF}" < up.as_str());
        assert!("川A" < up.as_str());
    }
}
