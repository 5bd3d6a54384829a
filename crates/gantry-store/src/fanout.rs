//! Queries over sharded stores: what each shard answers ([`ShardRead`])
//! and how the answers merge ([`Shards`]) into the answer one database
//! holding every row would give. Every engine shares this, so the SQLite
//! and the MySQL stores page, order and count alike.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::{NaiveDate, NaiveDateTime};
use gantry_core::{Checkpoint, CheckpointDirectory, Pass, Warning};

use crate::filter::Filter;
use crate::merge::{merge_sorted, page_of, sum_counts};
use crate::{check_page, Page, PassCursor, PassQuery, RejectedRow, StoreError, WarningQuery};

type Result<T> = std::result::Result<T, StoreError>;

/// What one shard answers. Orders are those of the [`crate::Store`] methods.
pub(crate) trait ShardRead {
    /// The driver's bind value.
    type Value: From<String>;

    /// Passes stored on this shard.
    fn pass_count(&self) -> Result<u64>;
    fn count_matching(&self, filter: &Filter<Self::Value>) -> Result<u64>;
    /// Passes of one province, from the rollup.
    fn province_count(&self, province: &str) -> Result<u64>;
    /// (gcsj, gcxh) of the first `limit` matches, newest first. `by_time`:
    /// see [`Filter::walk_time_index`] (engines may ignore it).
    fn pass_keys(
        &self,
        filter: &Filter<Self::Value>,
        limit: u64,
        by_time: bool,
    ) -> Result<Vec<(NaiveDateTime, String)>>;
    /// Matches newest first, `limit` from `offset`.
    fn pass_page(
        &self,
        filter: &Filter<Self::Value>,
        limit: u64,
        offset: u64,
        by_time: bool,
    ) -> Result<Vec<Pass>>;
    fn pass_by_id(&self, id: &str) -> Result<Option<Pass>>;
    /// Passes at or after `since`, oldest first (then id).
    fn passes_since(&self, since: NaiveDateTime) -> Result<Vec<Pass>>;
    fn warning_count(&self, plate: Option<&str>) -> Result<u64>;
    /// The first `limit` warnings by second sighting time desc, then id.
    fn warnings(&self, plate: Option<&str>, limit: u64) -> Result<Vec<Warning>>;
    fn checkpoint_counts(&self) -> Result<Vec<(String, u64)>>;
    fn province_counts(&self) -> Result<Vec<(String, u64)>>;
    fn vehicle_type_counts(&self) -> Result<Vec<(String, u64)>>;
    /// (hour, count) on `date`, at one checkpoint or all.
    fn hours(&self, date: NaiveDate, checkpoint: Option<&str>) -> Result<Vec<(u64, u64)>>;
    /// (minute, count) for minutes starting in `range`.
    fn minutes(&self, range: &Range<NaiveDateTime>) -> Result<Vec<(NaiveDateTime, u64)>>;
    fn rejected_counts(&self) -> Result<Vec<(String, u64)>>;
    fn rejected_total(&self) -> Result<u64>;
    /// Rejected rows in storage order, `limit` from `offset`.
    fn rejected_rows(&self, limit: u64, offset: u64) -> Result<Vec<RejectedRow>>;
    fn checkpoints(&self) -> Result<Vec<Checkpoint>>;
}

/// The shards of one store, in shard order; rejected rows and checkpoints
/// are read from shard 0.
pub(crate) struct Shards<'a, S>(pub &'a [S]);

impl<S: ShardRead> Shards<'_, S> {
    pub fn query_passes(&self, query: &PassQuery) -> Result<Page<Pass>> {
        check_page(query.page, query.size)?;
        let shards = self.0;
        let filter = Filter::<S::Value>::of(query);
        // Per shard: (rows, matches), for the total and for choosing a plan.
        let counts = shards
            .iter()
            .map(|db| {
                let rows = db.pass_count()?;
                let matches = if query.is_unfiltered() {
                    rows
                } else if let Some(province) = only_province(query) {
                    // The province rollup counts without scanning the table.
                    db.province_count(province)?
                } else {
                    db.count_matching(&filter)?
                };
                Ok((rows, matches))
            })
            .collect::<Result<Vec<(u64, u64)>>>()?;
        let total = counts.iter().map(|&(_, m)| m).sum::<u64>();
        let offset = (query.page - 1) * query.size;
        let depth = query.page * query.size;
        let by_time = |i: usize| filter.walk_time_index(depth, counts[i].0, counts[i].1);
        let items = if query.size == 0 || offset >= total {
            Vec::new()
        } else if let [db] = shards {
            db.pass_page(&filter, query.size, offset, by_time(0))?
        } else {
            // Keys first: the top page × size of each shard, merged; then the
            // page's rows from their shards.
            let lists = shards
                .iter()
                .enumerate()
                .map(|(i, db)| {
                    let keys = db.pass_keys(&filter, depth, by_time(i))?;
                    Ok(keys.into_iter().map(|(t, id)| (t, id, i)).collect())
                })
                .collect::<Result<Vec<Vec<_>>>>()?;
            let merged = merge_sorted(lists, to_usize(depth), |a, b| {
                (&b.0, &b.1).cmp(&(&a.0, &a.1))
            });
            page_of(merged, query.page, query.size)
                .into_iter()
                .filter_map(|(_, id, i)| shards[i].pass_by_id(&id).transpose())
                .collect::<Result<Vec<_>>>()?
        };
        Ok(Page {
            items,
            total,
            page: query.page,
            size: query.size,
        })
    }

    pub fn pass_chunk(
        &self,
        query: &PassQuery,
        after: Option<&PassCursor>,
        limit: u64,
    ) -> Result<Vec<Pass>> {
        let mut filter = Filter::<S::Value>::of(query);
        if let Some(cursor) = after {
            filter.after(cursor);
        }
        // Without a checkpoint or plate index to narrow it, walk time.
        let by_time = filter.no_checkpoint && !filter.has_plate;
        let lists = self
            .0
            .iter()
            .map(|db| db.pass_page(&filter, limit, 0, by_time))
            .collect::<Result<Vec<_>>>()?;
        Ok(merge_sorted(lists, to_usize(limit), |a, b| {
            (&b.time, &b.id).cmp(&(&a.time, &a.id))
        }))
    }

    pub fn warnings(&self, query: &WarningQuery) -> Result<Page<Warning>> {
        check_page(query.page, query.size)?;
        let plate = query.plate.as_deref();
        let total = self
            .0
            .iter()
            .map(|db| db.warning_count(plate))
            .sum::<Result<u64>>()?;
        let depth = query.page * query.size;
        let items = if query.size == 0 || (query.page - 1) * query.size >= total {
            Vec::new()
        } else {
            let lists = self
                .0
                .iter()
                .map(|db| db.warnings(plate, depth))
                .collect::<Result<Vec<_>>>()?;
            let merged = merge_sorted(lists, to_usize(depth), |a, b| {
                b.second
                    .time
                    .cmp(&a.second.time)
                    .then_with(|| a.id.cmp(&b.id))
            });
            page_of(merged, query.page, query.size)
        };
        Ok(Page {
            items,
            total,
            page: query.page,
            size: query.size,
        })
    }

    pub fn shard_counts(&self) -> Result<Vec<u64>> {
        self.0.iter().map(S::pass_count).collect()
    }

    pub fn count_passes(&self) -> Result<u64> {
        Ok(self.shard_counts()?.iter().sum())
    }

    pub fn top_checkpoints(&self, limit: usize) -> Result<Vec<(String, u64)>> {
        let mut top = self.sum_counts(S::checkpoint_counts)?;
        top.truncate(limit);
        Ok(top)
    }

    pub fn flow_by_hour(&self, date: NaiveDate, checkpoint: Option<&str>) -> Result<[u64; 24]> {
        let mut hours = [0u64; 24];
        for db in self.0 {
            for (hour, n) in db.hours(date, checkpoint)? {
                if let Some(slot) = usize::try_from(hour).ok().and_then(|h| hours.get_mut(h)) {
                    *slot += n;
                }
            }
        }
        Ok(hours)
    }

    pub fn provinces(&self) -> Result<Vec<(String, u64)>> {
        self.sum_counts(S::province_counts)
    }

    pub fn vehicle_types(&self) -> Result<Vec<(String, u64)>> {
        self.sum_counts(S::vehicle_type_counts)
    }

    pub fn passes_per_minute(
        &self,
        range: Range<NaiveDateTime>,
    ) -> Result<Vec<(NaiveDateTime, u64)>> {
        let mut minutes = BTreeMap::new();
        for db in self.0 {
            for (minute, n) in db.minutes(&range)? {
                *minutes.entry(minute).or_insert(0) += n;
            }
        }
        Ok(minutes.into_iter().collect())
    }

    pub fn rejected_counts(&self) -> Result<Vec<(String, u64)>> {
        self.sum_counts(S::rejected_counts)
    }

    pub fn rejected(&self, page: u64, size: u64) -> Result<Page<RejectedRow>> {
        check_page(page, size)?;
        let db = self.first()?;
        Ok(Page {
            items: db.rejected_rows(size, (page - 1) * size)?,
            total: db.rejected_total()?,
            page,
            size,
        })
    }

    pub fn checkpoints(&self) -> Result<CheckpointDirectory> {
        let mut dir = CheckpointDirectory::new();
        for c in self.first()?.checkpoints()? {
            dir.upsert(c);
        }
        Ok(dir)
    }

    pub fn recent_passes(&self, since: NaiveDateTime) -> Result<Vec<Pass>> {
        let lists = self
            .0
            .iter()
            .map(|db| db.passes_since(since))
            .collect::<Result<Vec<_>>>()?;
        Ok(merge_sorted(lists, usize::MAX, |a, b| {
            (a.time, &a.id).cmp(&(b.time, &b.id))
        }))
    }

    fn first(&self) -> Result<&S> {
        self.0.first().ok_or(StoreError::NoShards)
    }

    fn sum_counts(
        &self,
        f: impl Fn(&S) -> Result<Vec<(String, u64)>>,
    ) -> Result<Vec<(String, u64)>> {
        let mut all = Vec::new();
        for db in self.0 {
            all.extend(f(db)?);
        }
        Ok(sum_counts(all))
    }
}

/// The province, when it is the query's only filter.
fn only_province(q: &PassQuery) -> Option<&str> {
    let without = PassQuery {
        province: None,
        ..q.clone()
    };
    q.province.as_deref().filter(|_| without.is_unfiltered())
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The read half of [`crate::Store`] for an engine with a
/// `fn read(&self) -> Result<Shards<'_, _>, StoreError>`: every query fans
/// out and merges the same way, whatever the engine.
macro_rules! fan_out_reads {
    () => {
        fn query_passes(
            &self,
            query: &$crate::PassQuery,
        ) -> Result<$crate::Page<::gantry_core::Pass>, $crate::StoreError> {
            self.read()?.query_passes(query)
        }

        fn pass_chunk(
            &self,
            query: &$crate::PassQuery,
            after: Option<&$crate::PassCursor>,
            limit: u64,
        ) -> Result<Vec<::gantry_core::Pass>, $crate::StoreError> {
            self.read()?.pass_chunk(query, after, limit)
        }

        fn warnings(
            &self,
            query: &$crate::WarningQuery,
        ) -> Result<$crate::Page<::gantry_core::Warning>, $crate::StoreError> {
            self.read()?.warnings(query)
        }

        fn count_passes(&self) -> Result<u64, $crate::StoreError> {
            self.read()?.count_passes()
        }

        fn top_checkpoints(&self, limit: usize) -> Result<Vec<(String, u64)>, $crate::StoreError> {
            self.read()?.top_checkpoints(limit)
        }

        fn flow_by_hour(
            &self,
            date: ::chrono::NaiveDate,
            checkpoint: Option<&str>,
        ) -> Result<[u64; 24], $crate::StoreError> {
            self.read()?.flow_by_hour(date, checkpoint)
        }

        fn provinces(&self) -> Result<Vec<(String, u64)>, $crate::StoreError> {
            self.read()?.provinces()
        }

        fn vehicle_types(&self) -> Result<Vec<(String, u64)>, $crate::StoreError> {
            self.read()?.vehicle_types()
        }

        fn passes_per_minute(
            &self,
            range: ::std::ops::Range<::chrono::NaiveDateTime>,
        ) -> Result<Vec<(::chrono::NaiveDateTime, u64)>, $crate::StoreError> {
            self.read()?.passes_per_minute(range)
        }

        fn rejected_counts(&self) -> Result<Vec<(String, u64)>, $crate::StoreError> {
            self.read()?.rejected_counts()
        }

        fn rejected(
            &self,
            page: u64,
            size: u64,
        ) -> Result<$crate::Page<$crate::RejectedRow>, $crate::StoreError> {
            self.read()?.rejected(page, size)
        }

        fn checkpoints(&self) -> Result<::gantry_core::CheckpointDirectory, $crate::StoreError> {
            self.read()?.checkpoints()
        }

        fn recent_passes(
            &self,
            since: ::chrono::NaiveDateTime,
        ) -> Result<Vec<::gantry_core::Pass>, $crate::StoreError> {
            self.read()?.recent_passes(since)
        }

        fn shard_counts(&self) -> Result<Vec<u64>, $crate::StoreError> {
            self.read()?.shard_counts()
        }
    };
}

pub(crate) use fan_out_reads;
