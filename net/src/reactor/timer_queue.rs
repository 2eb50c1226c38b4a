//! Timers of one event loop, on the monotonic clock.
//!
//! Ownership: owned by its loop (behind the loop's `Rc`), touched only on the loop
//! thread. Other threads add and cancel timers through a `LoopHandle`, which queues
//! the change as a task. The earliest deadline sets the loop's poll timeout.
//!
//! Cancel is amortised O(1): the entry is dropped from the map and its heap key is
//! skipped when it surfaces. A cancelled timer's heap key would otherwise stay until
//! its deadline (an hour-long timer armed and cancelled per request grows the heap
//! without bound while `len()` stays 0), so once the dead keys outnumber the live ones
//! (more than `2 × live + COMPACT_SLACK` keys in all) the heap is rebuilt from the
//! live timers, in O(live). At least half the keys are dead when that happens, so the
//! rebuilds cost O(1) per cancel, and the heap never holds more than
//! `2 × live + COMPACT_SLACK` keys.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use crate::reactor::deadline::deadline_after;

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

/// Dead heap keys tolerated beyond the live ones before a rebuild, so that a queue of
/// a few timers is not rebuilt on every cancel.
const COMPACT_SLACK: usize = 64;

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
        let removed = self.timers.remove(&id.0.get()).is_some();
        if removed {
            self.compact_if_mostly_dead();
        }
        removed
    }

    /// Rebuilds the heap from the live timers once dead keys dominate (see the module
    /// docs for the bound and the cost).
    fn compact_if_mostly_dead(&mut self) {
        if self.heap.len() <= 2 * self.timers.len() + COMPACT_SLACK {
            return;
        }
        let mut keys = std::mem::take(&mut self.heap).into_vec();
        keys.clear();
        keys.extend(
            self.timers
                .iter()
                .map(|(id, (when, _))| Reverse((*when, *id))),
        );
        keys.shrink_to(2 * keys.len() + COMPACT_SLACK);
        self.heap = BinaryHeap::from(keys);
    }

    pub(crate) fn len(&self) -> usize {
        self.timers.len()
    }

    /// Keys in the heap, live and dead (a test hook for the memory bound).
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        self.heap.len()
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
            self.insert(id, deadline_after(now, interval), timer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer() -> Timer<()> {
        Timer {
            callback: (),
            interval: None,
        }
    }

    /// Millions of arm-then-cancel cycles with far deadlines (the pattern of idle and
    /// per-request timers) keep the heap within its bound, with and without other timers
    /// alive; the map follows the live count exactly.
    #[test]
    fn cancelled_timers_do_not_accumulate() {
        let mut q = TimerQueue::default();
        let now = Instant::now();
        let far = now + Duration::from_secs(3600);
        let mut next = 1u64;
        let mut id = || {
            next += 1;
            TimerId::from_count(next)
        };
        // Some long-lived timers alongside the churn.
        let kept: Vec<TimerId> = (0..1000).map(|_| id()).collect();
        for &k in &kept {
            q.insert(k, far, timer());
        }
        let mut max_heap = 0;
        for i in 0..2_000_000u64 {
            let t = id();
            q.insert(t, far + Duration::from_nanos(i), timer());
            assert!(q.cancel(t));
            max_heap = max_heap.max(q.heap_len());
        }
        assert_eq!(q.len(), kept.len());
        assert!(
            max_heap <= 2 * kept.len() + COMPACT_SLACK + 1,
            "heap grew to {max_heap} keys for {} live timers",
            kept.len()
        );
        // Cancelling the long-lived ones too leaves at most the slack behind.
        for &k in &kept {
            assert!(q.cancel(k));
        }
        assert_eq!(q.len(), 0);
        assert!(q.heap_len() <= COMPACT_SLACK + 1, "{}", q.heap_len());
        assert_eq!(q.next_deadline(), None);
    }

    /// Compaction keeps every live timer, in deadline order.
    #[test]
    fn compaction_keeps_live_timers_in_order() {
        let mut q = TimerQueue::default();
        let now = Instant::now();
        for n in 1..=1000u64 {
            // Deadlines in reverse order of ids, so the order comes from the heap.
            q.insert(
                TimerId::from_count(n),
                now + Duration::from_millis(2000 - n),
                timer(),
            );
        }
        for n in (1..=1000u64).filter(|n| n % 3 != 0) {
            assert!(q.cancel(TimerId::from_count(n)));
        }
        assert!(q.heap_len() <= 2 * q.len() + COMPACT_SLACK + 1);
        let end = now + Duration::from_secs(10);
        let mut fired = Vec::new();
        while let Some((id, t)) = q.pop_due(end) {
            fired.push(id.0.get());
            q.finish(id, t, end);
        }
        let want: Vec<u64> = (1..=1000u64).rev().filter(|n| n % 3 == 0).collect();
        assert_eq!(fired, want);
    }
}
