//! Simulator source: the built-in traffic simulator, paced in real time or
//! as fast as it generates.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gantry_sim::{SimEvent, Simulator};

/// Longest sleep between checks of the stop flag.
const TICK: Duration = Duration::from_millis(100);

pub struct PacedSimulator {
    sim: Simulator,
    /// Real time: wall clock and event clock of the first record.
    pace: Option<(Instant, chrono::NaiveDateTime)>,
    next: Option<SimEvent>,
}

impl PacedSimulator {
    /// `real_time`: emit each record when its emission time comes.
    pub fn new(sim: Simulator, real_time: bool) -> Self {
        let mut sim = sim;
        let next = sim.next();
        let pace = real_time
            .then(|| next.as_ref().map(|e| (Instant::now(), e.emitted_at)))
            .flatten();
        PacedSimulator { sim, pace, next }
    }

    /// The next record, waiting for its time in real-time mode; `None`
    /// once `stop` is set.
    pub fn next_event(&mut self, stop: &AtomicBool) -> Option<SimEvent> {
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            let due = self.due_in()?;
            if due.is_zero() {
                let event = self.next.take();
                self.next = self.sim.next();
                return event;
            }
            std::thread::sleep(due.min(TICK));
        }
    }

    /// How long until the next record is due (zero when it is).
    fn due_in(&self) -> Option<Duration> {
        let event = self.next.as_ref()?;
        let Some((wall_start, event_start)) = self.pace else {
            return Some(Duration::ZERO);
        };
        let offset = (event.emitted_at - event_start)
            .to_std()
            .unwrap_or_default();
        Some(offset.saturating_sub(wall_start.elapsed()))
    }
}
