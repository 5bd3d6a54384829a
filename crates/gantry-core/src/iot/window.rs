//! Streaming aggregates per series over event-time windows: count, sum
//! (and so the mean), min, max and the newest value of each window.
//!
//! A [`WindowSpec`] is tumbling (one window per `size`) or sliding (windows
//! of `size` starting every `slide`, e.g. 5 min every 1 min), aligned to the
//! epoch like [`step_start`](super::step_start). [`Windows`] folds points in
//! as they come, in any order:
//! - each series has a watermark, its newest point time minus the allowed
//!   lateness; a window closes once the watermark reaches its end, is handed
//!   out once and is never changed again;
//! - a point counts in those of its windows that are still open (late for
//!   all of them, it is dropped and counted);
//! - a point of a series and millisecond already seen is a duplicate: the
//!   first one counts, as the series store keeps the first;
//! - memory is bounded: the last [`WindowLimits::keep_closed`] closed windows
//!   per series, the open ones, the times seen that an open window may still
//!   need; series idle for [`WindowLimits::idle_ms`] (by the caller's clock,
//!   [`Windows::evict_idle`]) are dropped.
//!
//! Windows without points do not exist (as steps without points in a
//! downsampled range). No I/O, no clock: the caller passes times in.
//!
//! ```
//! use gantry_core::iot::window::{WindowLimits, WindowSpec, Windows};
//! let spec = WindowSpec::tumbling(60_000).unwrap();
//! let mut windows = Windows::new(spec, WindowLimits { lateness_ms: 0, ..WindowLimits::default() });
//! let mut closed = Vec::new();
//! windows.push("t", 1_000, 20.0, &mut closed);
//! windows.push("t", 30_000, 22.0, &mut closed);
//! windows.push("t", 61_000, 25.0, &mut closed); // closes the first minute
//! assert_eq!(closed.len(), 1);
//! assert_eq!((closed[0].window.count, closed[0].window.avg()), (2, 21.0));
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Longest window: a week.
pub const MAX_SIZE_MS: i64 = 7 * 86_400_000;

/// Most windows one point falls in (`size / slide`): each point updates
/// that many aggregates.
pub const MAX_OVERLAP: i64 = 1_440;

/// Point times beyond ± this are refused: the window arithmetic stays far
/// from overflow (it is about 146,000 years either side of 1970).
const MAX_ABS_TIME_MS: i64 = 1 << 62;

/// Which windows a point falls in: `size` long, one starting every `slide`
/// (equal for tumbling windows), starts aligned to the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowSpec {
    size_ms: i64,
    slide_ms: i64,
}

/// Why a window spec is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowSpecError {
    #[error("a window size must be between 1 ms and 7 days, not {0} ms")]
    Size(i64),
    #[error("a slide must be positive and at most the size, not {0} ms")]
    Slide(i64),
    #[error("the slide ({slide_ms} ms) must divide the size ({size_ms} ms) evenly")]
    Uneven { size_ms: i64, slide_ms: i64 },
    #[error("a {size_ms} ms window sliding by {slide_ms} ms puts each point in more than {MAX_OVERLAP} windows")]
    Overlap { size_ms: i64, slide_ms: i64 },
}

impl WindowSpec {
    /// Back-to-back windows of `size_ms`.
    pub fn tumbling(size_ms: i64) -> Result<WindowSpec, WindowSpecError> {
        WindowSpec::sliding(size_ms, size_ms)
    }

    /// Windows of `size_ms` starting every `slide_ms`; the slide must divide
    /// the size, so every point falls in exactly `size / slide` windows.
    pub fn sliding(size_ms: i64, slide_ms: i64) -> Result<WindowSpec, WindowSpecError> {
        if !(1..=MAX_SIZE_MS).contains(&size_ms) {
            return Err(WindowSpecError::Size(size_ms));
        }
        if !(1..=size_ms).contains(&slide_ms) {
            return Err(WindowSpecError::Slide(slide_ms));
        }
        if size_ms % slide_ms != 0 {
            return Err(WindowSpecError::Uneven { size_ms, slide_ms });
        }
        if size_ms / slide_ms > MAX_OVERLAP {
            return Err(WindowSpecError::Overlap { size_ms, slide_ms });
        }
        Ok(WindowSpec { size_ms, slide_ms })
    }

    pub fn size_ms(&self) -> i64 {
        self.size_ms
    }

    pub fn slide_ms(&self) -> i64 {
        self.slide_ms
    }

    pub fn is_tumbling(&self) -> bool {
        self.size_ms == self.slide_ms
    }

    /// Starts of the windows holding `ts_ms`, oldest first.
    fn starts(&self, ts_ms: i64) -> impl Iterator<Item = i64> {
        let newest = super::step_start(ts_ms, self.slide_ms);
        let oldest = newest - self.size_ms + self.slide_ms;
        let slide = self.slide_ms;
        (0..self.size_ms / slide).map(move |k| oldest + k * slide)
    }
}

/// The aggregate of one window of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Epoch ms, inclusive.
    pub start_ms: i64,
    /// Epoch ms, exclusive.
    pub end_ms: i64,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// Time and value of the newest point in the window.
    pub last_ms: i64,
    pub last: f64,
}

impl Window {
    fn of_point(start_ms: i64, end_ms: i64, ts_ms: i64, value: f64) -> Window {
        Window {
            start_ms,
            end_ms,
            count: 1,
            sum: value,
            min: value,
            max: value,
            last_ms: ts_ms,
            last: value,
        }
    }

    fn add(&mut self, ts_ms: i64, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if ts_ms > self.last_ms {
            self.last_ms = ts_ms;
            self.last = value;
        }
    }

    /// The mean of the window's points (never empty).
    pub fn avg(&self) -> f64 {
        self.sum / self.count as f64
    }
}

/// A window that closed, with its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub series: String,
    pub window: Window,
}

/// What became of a pushed point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Counted in at least one open window.
    Added,
    /// The series already had a point at that millisecond.
    Duplicate,
    /// Every window of the point had closed.
    Late,
    /// Not a finite value, or a time too far from 1970.
    Refused,
}

/// How late points may come and how much is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimits {
    /// A window closes once a point this much newer than its end arrived.
    pub lateness_ms: i64,
    /// Closed windows kept per series (the newest).
    pub keep_closed: usize,
    /// A series without points for this long (caller's clock) is dropped.
    pub idle_ms: i64,
}

impl Default for WindowLimits {
    /// 5 s lateness, the last 60 closed windows, series idle for an hour dropped.
    fn default() -> Self {
        WindowLimits {
            lateness_ms: 5_000,
            keep_closed: 60,
            idle_ms: 3_600_000,
        }
    }
}

/// Counts of what [`Windows::push`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowCounts {
    pub added: u64,
    pub duplicates: u64,
    pub late: u64,
    pub refused: u64,
    /// Series dropped as idle.
    pub evicted: u64,
}

/// One series' windows.
#[derive(Debug, Default)]
struct SeriesWindows {
    /// Newest point time; `None` before the first point.
    newest_ms: Option<i64>,
    /// Caller's clock at the last point, for [`Windows::evict_idle`].
    touched_ms: i64,
    /// By start (and so by end: all windows have one size).
    open: BTreeMap<i64, Window>,
    /// Oldest first, at most `keep_closed`.
    closed: VecDeque<Window>,
    /// Times of the points counted that an open window may still hold.
    seen: BTreeSet<i64>,
}

/// A series' windows as they stand.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesView {
    /// Oldest first.
    pub closed: Vec<Window>,
    /// Oldest first; tumbling windows have at most a few (the newest and
    /// those waiting out the lateness).
    pub open: Vec<Window>,
    /// Newest point time minus the lateness: windows ending by it are closed.
    pub watermark_ms: i64,
}

/// Windowed aggregates of many series, fed one point at a time.
#[derive(Debug)]
pub struct Windows {
    spec: WindowSpec,
    limits: WindowLimits,
    series: HashMap<String, SeriesWindows>,
    counts: WindowCounts,
    /// Caller's clock at the last idle sweep.
    swept_ms: Option<i64>,
}

impl Windows {
    pub fn new(spec: WindowSpec, limits: WindowLimits) -> Windows {
        Windows {
            spec,
            limits,
            series: HashMap::new(),
            counts: WindowCounts::default(),
            swept_ms: None,
        }
    }

    pub fn spec(&self) -> WindowSpec {
        self.spec
    }

    pub fn limits(&self) -> WindowLimits {
        self.limits
    }

    pub fn counts(&self) -> WindowCounts {
        self.counts
    }

    /// Series ids with state, in no particular order.
    pub fn series_ids(&self) -> impl Iterator<Item = &str> {
        self.series.keys().map(String::as_str)
    }

    /// Folds in one point; windows it closes are appended to `closed`.
    pub fn push(
        &mut self,
        series: &str,
        ts_ms: i64,
        value: f64,
        closed: &mut Vec<Closed>,
    ) -> Outcome {
        self.push_at(series, ts_ms, value, 0, closed)
    }

    /// [`push`](Windows::push), marking the series active at `now_ms`
    /// (caller's clock) for [`evict_idle`](Windows::evict_idle).
    pub fn push_at(
        &mut self,
        series: &str,
        ts_ms: i64,
        value: f64,
        now_ms: i64,
        closed: &mut Vec<Closed>,
    ) -> Outcome {
        let outcome = self.fold(series, ts_ms, value, now_ms, closed);
        let count = match outcome {
            Outcome::Added => &mut self.counts.added,
            Outcome::Duplicate => &mut self.counts.duplicates,
            Outcome::Late => &mut self.counts.late,
            Outcome::Refused => &mut self.counts.refused,
        };
        *count += 1;
        outcome
    }

    fn fold(
        &mut self,
        series: &str,
        ts_ms: i64,
        value: f64,
        now_ms: i64,
        closed: &mut Vec<Closed>,
    ) -> Outcome {
        if !value.is_finite() || !(-MAX_ABS_TIME_MS..=MAX_ABS_TIME_MS).contains(&ts_ms) {
            return Outcome::Refused;
        }
        let (spec, limits) = (self.spec, self.limits);
        let state = match self.series.get_mut(series) {
            Some(state) => state,
            None => self.series.entry(series.to_owned()).or_default(),
        };
        state.touched_ms = now_ms;
        if state.seen.contains(&ts_ms) {
            return Outcome::Duplicate;
        }
        let watermark = state.watermark(limits.lateness_ms);
        let mut added = false;
        for start in spec.starts(ts_ms) {
            let end = start + spec.size_ms;
            if end <= watermark {
                continue;
            }
            added = true;
            state
                .open
                .entry(start)
                .and_modify(|w| w.add(ts_ms, value))
                .or_insert_with(|| Window::of_point(start, end, ts_ms, value));
        }
        if !added {
            return Outcome::Late;
        }
        state.seen.insert(ts_ms);
        if state.newest_ms.is_none_or(|newest| ts_ms > newest) {
            state.newest_ms = Some(ts_ms);
            state.close(series, spec, limits, closed);
        }
        Outcome::Added
    }

    /// Drops the series no point came for in `idle_ms` before `now_ms`
    /// (the clock [`push_at`](Windows::push_at) was given), handing out
    /// their open windows as closed first. Sweeps at most every
    /// `idle_ms / 8`, so calling it per point costs little.
    pub fn evict_idle(&mut self, now_ms: i64, closed: &mut Vec<Closed>) {
        let every = (self.limits.idle_ms / 8).max(1);
        if self.swept_ms.is_some_and(|at| now_ms - at < every) {
            return;
        }
        self.swept_ms = Some(now_ms);
        let idle_ms = self.limits.idle_ms;
        let before = self.series.len();
        self.series.retain(|id, state| {
            let keep = now_ms - state.touched_ms < idle_ms;
            if !keep {
                closed.extend(state.open.values().map(|w| Closed {
                    series: id.clone(),
                    window: *w,
                }));
            }
            keep
        });
        self.counts.evicted += (before - self.series.len()) as u64;
    }

    /// The windows of `series`: the newest `limit` closed ones and the open
    /// ones; `None` for a series without state.
    pub fn view(&self, series: &str, limit: usize) -> Option<SeriesView> {
        let state = self.series.get(series)?;
        let skip = state.closed.len().saturating_sub(limit);
        Some(SeriesView {
            closed: state.closed.iter().skip(skip).copied().collect(),
            open: state.open.values().copied().collect(),
            watermark_ms: state.watermark(self.limits.lateness_ms),
        })
    }
}

impl SeriesWindows {
    /// Windows ending by this are closed; `i64::MIN` before any point.
    fn watermark(&self, lateness_ms: i64) -> i64 {
        self.newest_ms
            .map_or(i64::MIN, |newest| newest.saturating_sub(lateness_ms))
    }

    /// Closes the windows the watermark passed and forgets the point times
    /// no open window can hold any more.
    fn close(&mut self, id: &str, spec: WindowSpec, limits: WindowLimits, out: &mut Vec<Closed>) {
        let watermark = self.watermark(limits.lateness_ms);
        while let Some(entry) = self.open.first_entry() {
            if entry.get().end_ms > watermark {
                break;
            }
            let window = entry.remove();
            out.push(Closed {
                series: id.to_owned(),
                window,
            });
            if limits.keep_closed > 0 {
                if self.closed.len() == limits.keep_closed {
                    self.closed.pop_front();
                }
                self.closed.push_back(window);
            }
        }
        // A point at ts lies in windows ending by ts + size at the latest.
        let needed_from = watermark.saturating_sub(spec.size_ms).saturating_add(1);
        if self.seen.first().is_some_and(|first| *first < needed_from) {
            self.seen = self.seen.split_off(&needed_from);
        }
    }
}

#[cfg(test)]
mod tests;
