//! Timers of one event loop, on the monotonic clock.
//!
//! Ownership: owned by its loop (behind the loop's `Rc`), touched only on the loop
//! thread. Other threads add and cancel timers through a `LoopHandle`, which queues
//! the change as a task. The earliest deadline sets the loop's poll timeout.
//!
//! Cancel is O(1): the entry is dropped from the map and its heap key is skipped when
//! it surfaces.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::num::NonZeroU64;
use std::time::{Duration, Instant};

/// Identifies a timer for `LoopCtx::cancel`, `LoopHandle::cancel` and
/// `TcpConnection::cancel_timer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(pub(crate) NonZeroU64);

impl TimerId {
    /// The id numbered `n` (ids count from 1; 0 never occurs before 2^64 timers).
    pub(crate) fn from_count(n: u64) -> TimerId {
        TimerId(NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN))
    }
}

/// A timer's callback (`C`: what the loop runs it with) and its repeat interval.
pub(crate) struct Timer<C> {
    pub(crate) callback: C,
    pub(crate) interval: Option<Duration>,
}

/// The queue; generic over the callback so that it knows nothing of the loop.
pub(crate) struct TimerQueue<C> {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    timers: HashMap<u64, (Instant, Timer<C>)>,
    /// The timer whose callback is running now, and whether it was cancelled meanwhile.
    firing: Option<(u64, bool)>,
}

impl<C> Default for TimerQueue<C> {
    fn default() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            timers: HashMap::new(),
            firing: None,
        }
    }
}

impl<C> TimerQueue<C> {
    pub(crate) fn insert(&mut self, id: TimerId, when: Instant, timer: Timer<C>) {
        self.heap.push(Reverse((when, id.0.get())));
        self.timers.insert(id.0.get(), (when, timer));
    }

    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        if let Some((firing, cancelled)) = &mut self.firing {
            if *firing == id.0.get() {
                *cancelled = true;
                return true;
            }
        }
        self.timers.remove(&id.0.get()).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.timers.len()
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((when, id))) = self.heap.peek().copied() {
            match self.timers.get(&id) {
                Some((w, _)) if *w == when => return Some(when),
                _ => {
                    self.heap.pop();
                }
            }
        }
        None
    }

    /// Takes out one timer due at `now`, marking it as firing.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(TimerId, Timer<C>)> {
        let when = self.next_deadline()?;
        if when > now {
            return None;
        }
        let Reverse((_, id)) = self.heap.pop()?;
        let (_, timer) = self.timers.remove(&id)?;
        self.firing = Some((id, false));
        Some((TimerId::from_count(id), timer))
    }

    /// Ends the firing of `id`; a repeating timer that was not cancelled is re-armed.
    pub(crate) fn finish(&mut self, id: TimerId, timer: Timer<C>, now: Instant) {
        let cancelled = matches!(self.firing.take(), Some((_, true)));
        if let (Some(interval), false) = (timer.interval, cancelled) {
            self.insert(id, now + interval, timer);
        }
    }
}
