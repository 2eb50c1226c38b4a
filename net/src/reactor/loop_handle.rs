//! `LoopHandle`: reaches an event loop from any thread.
//!
//! Ownership: the loop owns the receiving end of its task channel; every handle shares
//! the sending end, the waker and the id counters through one `Arc<LoopShared>`.
//!
//! Wake-ups are batched: a producer wakes the loop only when it is the first to queue
//! since the loop last drained its queue, so a burst of N tasks costs one `write` on
//! the loop's eventfd, not N.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::reactor::deadline::deadline_in;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_ctx::{LoopShared, Task};
use crate::reactor::timer_queue::TimerId;

/// A `Clone + Send` handle to an event loop: queue work to it, set timers on it, stop it.
///
/// On the loop's own thread, code already holds `&mut LoopCtx` (or `&mut
/// TcpConnection`) and acts directly; a task queued from there runs before the loop
/// next blocks, without a wake-up.
///
/// ```no_run
/// let lp = net::EventLoop::new("worker")?;
/// let handle = lp.handle();
/// let t = std::thread::spawn(move || lp.run());
/// handle.run_after(std::time::Duration::from_millis(10), |ctx| ctx.quit());
/// t.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) shared: Arc<LoopShared>,
}

impl LoopHandle {
    /// Queues `task` to run on the loop. Returns `false` if the loop has ended (the
    /// task is dropped unrun).
    pub fn queue_in_loop<F>(&self, task: F) -> bool
    where
        F: FnOnce(&mut LoopCtx) + Send + 'static,
    {
        self.push(Box::new(task))
    }

    pub(crate) fn push(&self, task: Task) -> bool {
        if self.shared.tx.send(task).is_err() {
            return false;
        }
        if !self.is_in_loop_thread() && self.shared.wake.after_queue() {
            if let Err(e) = self.shared.waker.wake() {
                log::error!("loop {}: wake failed: {e}", self.shared.name);
            }
        }
        true
    }

    /// Runs `callback` once on the loop after `delay`.
    pub fn run_after<F>(&self, delay: Duration, callback: F) -> TimerId
    where
        F: FnMut(&mut LoopCtx) + Send + 'static,
    {
        self.run_at(deadline_in(delay), callback)
    }

    /// Runs `callback` once on the loop at `when` (monotonic clock).
    pub fn run_at<F>(&self, when: Instant, callback: F) -> TimerId
    where
        F: FnMut(&mut LoopCtx) + Send + 'static,
    {
        let id = self.shared.new_timer_id();
        self.push(Box::new(move |ctx| {
            ctx.insert_timer(id, when, None, Box::new(callback))
        }));
        id
    }

    /// Runs `callback` on the loop every `interval`, first after one interval.
    pub fn run_every<F>(&self, interval: Duration, callback: F) -> TimerId
    where
        F: FnMut(&mut LoopCtx) + Send + 'static,
    {
        let id = self.shared.new_timer_id();
        let when = deadline_in(interval);
        self.push(Box::new(move |ctx| {
            ctx.insert_timer(id, when, Some(interval), Box::new(callback))
        }));
        id
    }

    /// Cancels a timer; a timer already fired (or unknown) is left alone.
    pub fn cancel(&self, id: TimerId) {
        self.push(Box::new(move |ctx| {
            ctx.cancel(id);
        }));
    }

    /// Asks the loop to return from `run` after the tasks queued before this one.
    pub fn quit(&self) {
        self.push(Box::new(|ctx| ctx.quit()));
    }

    /// Whether the calling thread is the loop's own thread.
    pub fn is_in_loop_thread(&self) -> bool {
        self.shared.thread.get() == Some(&std::thread::current().id())
    }

    /// The loop's name (also its thread's name in a pool).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The loop's index in its pool (0 for a standalone loop).
    pub fn index(&self) -> usize {
        self.shared.index
    }
}

impl std::fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoopHandle({})", self.shared.name)
    }
}

impl LoopCtx {
    /// A handle to this loop, for other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.shared().clone(),
        }
    }
}
