//! `LoopCtx`: what code running on a loop's thread gets — its connections, timers,
//! handlers and task queue.
//!
//! Ownership: created by [`crate::EventLoop::run`] on the loop thread and lent by
//! `&mut` to tasks and timers. Connections live in a slab keyed by token, each slot
//! with a generation, so an id kept after a connection closed never reaches the next
//! connection to use the slot.

use std::any::Any;
use std::cell::RefCell;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::event::Event;
use mio::{Registry, Token};

use crate::reactor::deadline::deadline_in;
use crate::reactor::slab::{Slab, SlotId};
use crate::reactor::timer_queue::{Timer, TimerId, TimerQueue};
use crate::reactor::wake_flag::WakeFlag;
use crate::util::panic_message;

/// A unit of work queued to a loop.
pub(crate) type Task = Box<dyn FnOnce(&mut LoopCtx) + Send>;

/// A timer's callback on a loop.
pub(crate) type TimerCallback = Box<dyn FnMut(&mut LoopCtx)>;

/// What a loop shares with the handles that reach it from other threads.
pub(crate) struct LoopShared {
    pub(crate) name: String,
    pub(crate) index: usize,
    pub(crate) tx: Sender<Task>,
    pub(crate) waker: mio::Waker,
    /// Which producer wakes the loop (the first since the loop last drained).
    pub(crate) wake: WakeFlag,
    pub(crate) thread: OnceLock<ThreadId>,
    next_timer: std::sync::atomic::AtomicU64,
}

impl LoopShared {
    pub(crate) fn new(name: String, index: usize, tx: Sender<Task>, waker: mio::Waker) -> Self {
        LoopShared {
            name,
            index,
            tx,
            waker,
            wake: WakeFlag::default(),
            thread: OnceLock::new(),
            next_timer: std::sync::atomic::AtomicU64::new(1),
        }
    }

    pub(crate) fn new_timer_id(&self) -> TimerId {
        TimerId::from_count(
            self.next_timer
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
    }
}

/// Something other than a connection that waits for readiness on a loop (the
/// acceptor, a connector in progress).
pub(crate) trait IoHandler {
    /// The handler's source is ready (or, with `None`, the handler was poked by a
    /// timer to retry). It may remove itself with [`LoopCtx::remove_handler`].
    fn ready(&mut self, ctx: &mut LoopCtx, id: SlotId, event: Option<&Event>);
    /// Takes the source off the poller before the handler is dropped.
    fn deregister(&mut self, registry: &Registry);
}

/// A connection as its loop sees it. The loop drives it without knowing its type, so
/// the loop's code does not depend on the connection's (see docs/architecture.md).
pub(crate) trait Pollable: Any {
    /// Readiness on the connection's socket.
    fn on_event(&mut self, event: &Event);
    /// Continues a read cut short by the per-event budget, or resumed after a pause.
    fn on_resume(&mut self);
    /// Whether the connection asked to continue reading later in this iteration.
    fn take_resume(&mut self) -> bool;
    /// Whether the connection is closed (the loop then releases it).
    fn is_closed(&self) -> bool;
    /// Closes it now (the loop is ending).
    fn close_now(&mut self);
    /// Takes the socket off the poller and runs the down callback.
    fn release(&mut self, registry: &Registry);
    /// The connection itself, for code that knows its type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

enum Slot {
    Conn(Box<dyn Pollable>),
    /// `None` while the handler is out running.
    Handler(Option<Box<dyn IoHandler>>),
}

/// The loop-thread state a connection keeps a reference to (its timers).
pub(crate) struct LoopLocal {
    pub(crate) timers: RefCell<TimerQueue<TimerCallback>>,
    pub(crate) shared: Arc<LoopShared>,
}

impl LoopLocal {
    pub(crate) fn add_timer(
        &self,
        when: Instant,
        interval: Option<Duration>,
        callback: TimerCallback,
    ) -> TimerId {
        let id = self.shared.new_timer_id();
        self.timers
            .borrow_mut()
            .insert(id, when, Timer { callback, interval });
        id
    }

    pub(crate) fn cancel(&self, id: TimerId) -> bool {
        self.timers.borrow_mut().cancel(id)
    }
}

/// The running loop, as seen from its own thread: its connections, timers, handlers
/// and task queue. Made by [`crate::EventLoop::run`] and lent by `&mut` to tasks and
/// timers; connection ids carry a generation, so an id kept after its connection
/// closed never reaches the next connection in that slot.
pub struct LoopCtx {
    shared: Arc<LoopShared>,
    rx: Receiver<Task>,
    pub(crate) registry: Registry,
    pub(crate) local: Rc<LoopLocal>,
    slots: Slab<Slot>,
    quit: bool,
    pending_reads: Vec<SlotId>,
    connections: usize,
    /// When to give freed memory back, once the loop has had no connection for a
    /// while (see `util::release_free_memory`).
    trim_at: Option<Instant>,
}

/// How long a loop must stay without connections before it trims the allocator.
const TRIM_AFTER_IDLE: Duration = Duration::from_secs(1);

impl LoopCtx {
    pub(crate) fn new(shared: Arc<LoopShared>, rx: Receiver<Task>, registry: Registry) -> Self {
        let local = Rc::new(LoopLocal {
            timers: RefCell::new(TimerQueue::default()),
            shared: shared.clone(),
        });
        LoopCtx {
            shared,
            rx,
            registry,
            local,
            slots: Slab::new(),
            quit: false,
            pending_reads: Vec::new(),
            connections: 0,
            trim_at: None,
        }
    }

    /// This loop's index in its pool.
    pub fn index(&self) -> usize {
        self.shared.index
    }

    pub(crate) fn shared(&self) -> &Arc<LoopShared> {
        &self.shared
    }

    /// Makes `run` return at the end of this iteration. Connections still open are
    /// closed (their down callbacks run) before it returns.
    pub fn quit(&mut self) {
        self.quit = true;
    }

    pub(crate) fn quitting(&self) -> bool {
        self.quit
    }

    /// Runs `callback` once after `delay`.
    pub fn run_after<F: FnMut(&mut LoopCtx) + 'static>(
        &mut self,
        delay: Duration,
        callback: F,
    ) -> TimerId {
        self.local
            .add_timer(deadline_in(delay), None, Box::new(callback))
    }

    /// Runs `callback` once at `when`.
    pub fn run_at<F: FnMut(&mut LoopCtx) + 'static>(
        &mut self,
        when: Instant,
        callback: F,
    ) -> TimerId {
        self.local.add_timer(when, None, Box::new(callback))
    }

    /// Runs `callback` every `interval`, first after one interval.
    pub fn run_every<F: FnMut(&mut LoopCtx) + 'static>(
        &mut self,
        interval: Duration,
        callback: F,
    ) -> TimerId {
        self.local
            .add_timer(deadline_in(interval), Some(interval), Box::new(callback))
    }

    /// Cancels a timer. Returns whether it was pending (or firing right now).
    pub fn cancel(&mut self, id: TimerId) -> bool {
        self.local.cancel(id)
    }

    pub(crate) fn insert_timer(
        &mut self,
        id: TimerId,
        when: Instant,
        interval: Option<Duration>,
        callback: TimerCallback,
    ) {
        self.local
            .timers
            .borrow_mut()
            .insert(id, when, Timer { callback, interval });
    }

    /// Number of timers pending on this loop.
    pub fn timer_count(&self) -> usize {
        self.local.timers.borrow().len()
    }

    /// Number of connections this loop owns.
    pub fn connection_count(&self) -> usize {
        self.connections
    }

    /// The next free slot: the token a new connection registers with.
    pub(crate) fn next_slot(&self) -> SlotId {
        self.slots.next_id()
    }

    /// Takes in a registered connection at `slot` (from [`LoopCtx::next_slot`]).
    pub(crate) fn insert_connection(&mut self, conn: Box<dyn Pollable>) -> SlotId {
        self.connections += 1;
        self.trim_at = None;
        self.slots.insert(Slot::Conn(conn))
    }

    /// The connection in `slot`, if it is one and still there.
    pub(crate) fn connection_mut(&mut self, slot: SlotId) -> Option<&mut dyn Pollable> {
        match self.slots.get_mut(slot) {
            Some(Slot::Conn(conn)) => Some(conn.as_mut()),
            _ => None,
        }
    }

    /// The connection at slot index `index` (for visiting every connection without
    /// collecting ids).
    pub(crate) fn connection_at(&mut self, index: usize) -> Option<(SlotId, &mut dyn Pollable)> {
        match self.slots.get_by_index_mut(index) {
            Some((id, Slot::Conn(conn))) => Some((id, conn.as_mut())),
            _ => None,
        }
    }

    /// One past the highest slot index in use.
    pub(crate) fn slot_bound(&self) -> usize {
        self.slots.index_bound()
    }

    /// Registers a handler built by `make` with the token it will be woken with.
    pub(crate) fn add_handler<F>(&mut self, make: F) -> io::Result<SlotId>
    where
        F: FnOnce(&Registry, Token) -> io::Result<Box<dyn IoHandler>>,
    {
        let slot = self.slots.next_id();
        let handler = make(&self.registry, Token(slot.index as usize))?;
        Ok(self.slots.insert(Slot::Handler(Some(handler))))
    }

    /// Removes a handler (also from inside its own `ready`).
    pub(crate) fn remove_handler(&mut self, id: SlotId) {
        if let Some(Slot::Handler(Some(mut h))) = self.slots.remove(id) {
            h.deregister(&self.registry);
        }
    }

    pub(crate) fn dispatch(&mut self, event: &Event) {
        let Some((id, slot)) = self.slots.get_by_index_mut(event.token().0) else {
            return;
        };
        match slot {
            Slot::Conn(conn) => {
                conn.on_event(event);
                self.after_conn(id);
            }
            Slot::Handler(_) => self.run_handler(id, Some(event)),
        }
    }

    /// Runs the handler `id` (with `None`: a retry poke from a timer).
    pub(crate) fn run_handler(&mut self, id: SlotId, event: Option<&Event>) {
        let Some(Slot::Handler(handler)) = self.slots.get_mut(id) else {
            return;
        };
        let Some(mut handler) = handler.take() else {
            return;
        };
        // A handler runs user code too (an acceptor taking a connection in runs the
        // layer factory): a panic there is caught like a task's, so it cannot end the
        // loop and every connection on it. The handler stays (an acceptor keeps
        // accepting); what it was doing is given up, and counted by the places it held.
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| handler.ready(self, id, event))) {
            log::error!(
                "loop {}: handler panicked: {}",
                self.shared.name,
                panic_message(&*p)
            );
        }
        match self.slots.get_mut(id) {
            Some(Slot::Handler(h)) => *h = Some(handler),
            _ => handler.deregister(&self.registry),
        }
    }

    /// After a connection ran: queue it for a fair continuation of its reads, or
    /// release it if it closed.
    pub(crate) fn after_conn(&mut self, id: SlotId) {
        let Some(Slot::Conn(conn)) = self.slots.get_mut(id) else {
            return;
        };
        if conn.is_closed() {
            if let Some(Slot::Conn(mut conn)) = self.slots.remove(id) {
                self.connections -= 1;
                conn.release(&self.registry);
                if self.connections == 0 {
                    self.trim_at = Some(Instant::now() + TRIM_AFTER_IDLE);
                }
            }
        } else if conn.take_resume() {
            self.pending_reads.push(id);
        }
    }

    pub(crate) fn has_pending_work(&self) -> bool {
        !self.pending_reads.is_empty() || !self.rx.is_empty()
    }

    pub(crate) fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        let timer = self.local.timers.borrow_mut().next_deadline();
        let deadline = match (timer, self.trim_at) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(deadline.saturating_duration_since(now))
    }

    /// Trims the allocator if the loop has been idle since `trim_at`.
    pub(crate) fn maybe_release_memory(&mut self) {
        if let Some(at) = self.trim_at {
            if Instant::now() >= at {
                self.trim_at = None;
                if self.connections == 0 {
                    crate::util::release_free_memory();
                }
            }
        }
    }

    pub(crate) fn run_due_timers(&mut self) {
        let now = Instant::now();
        loop {
            let due = self.local.timers.borrow_mut().pop_due(now);
            let Some((id, mut timer)) = due else {
                break;
            };
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| (timer.callback)(self))) {
                log::error!(
                    "loop {}: timer callback panicked: {}",
                    self.shared.name,
                    panic_message(&*p)
                );
            }
            self.local
                .timers
                .borrow_mut()
                .finish(id, timer, Instant::now());
        }
    }

    /// Runs the tasks queued so far; tasks they queue run next iteration.
    pub(crate) fn run_tasks(&mut self) {
        for _ in 0..self.rx.len() {
            let Ok(task) = self.rx.try_recv() else {
                break;
            };
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| task(self))) {
                log::error!(
                    "loop {}: task panicked: {}",
                    self.shared.name,
                    panic_message(&*p)
                );
            }
        }
    }

    pub(crate) fn continue_reads(&mut self) {
        for id in std::mem::take(&mut self.pending_reads) {
            if let Some(Slot::Conn(conn)) = self.slots.get_mut(id) {
                conn.on_resume();
                self.after_conn(id);
            }
        }
    }

    /// Closes every connection and handler (the loop is ending).
    pub(crate) fn close_all(&mut self) {
        for id in self.slots.ids() {
            match self.slots.get_mut(id) {
                Some(Slot::Conn(conn)) => {
                    conn.close_now();
                    self.after_conn(id);
                }
                Some(Slot::Handler(_)) => self.remove_handler(id),
                None => {}
            }
        }
    }
}
