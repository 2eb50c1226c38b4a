//! `EventLoop`: one thread, one `mio::Poll`, one waker, a task queue and a timer queue.
//!
//! Thread rule: an `EventLoop` is created anywhere and moved to the thread that calls
//! [`EventLoop::run`]; from then on everything it owns (connections, timers, handlers)
//! is touched only on that thread, through [`LoopCtx`]. Other threads use a
//! [`LoopHandle`]. No lock is taken on the hot path: the only shared structure is the
//! lock-free task channel.
//!
//! One iteration: poll (timeout = earliest timer, or zero when work is pending) →
//! dispatch I/O events → fire due timers → run queued tasks → continue reads that
//! were cut short to keep the loop fair.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use mio::{Events, Poll, Token};

use crate::reactor::loop_ctx::{LoopCtx, LoopShared, Task};
use crate::reactor::loop_handle::LoopHandle;

/// The token of the loop's waker; connections and handlers use slab indexes below it.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// Events fetched by one `epoll_wait`.
const EVENTS_CAPACITY: usize = 1024;

/// An event loop, not yet running: one thread, one poller, one waker, a task queue and
/// a timer queue. Made anywhere and moved to the thread that calls
/// [`EventLoop::run`]; from then on what it owns is touched only on that thread,
/// through [`LoopCtx`]; other threads use a [`LoopHandle`].
pub struct EventLoop {
    poll: Poll,
    /// Made here, not in `run`: a loop thread that starts late (under load, or after
    /// the acceptor has used every descriptor) must not need a new descriptor.
    registry: mio::Registry,
    shared: Arc<LoopShared>,
    rx: Receiver<Task>,
}

impl EventLoop {
    /// A new loop named `name` (the name shows in logs).
    pub fn new(name: &str) -> io::Result<EventLoop> {
        Self::with_index(name.to_string(), 0)
    }

    pub(crate) fn with_index(name: String, index: usize) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(LoopShared::new(name, index, tx, waker));
        let registry = poll.registry().try_clone()?;
        Ok(EventLoop {
            poll,
            registry,
            shared,
            rx,
        })
    }

    /// A handle for reaching this loop from any thread.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs the loop on the calling thread until [`LoopCtx::quit`] or
    /// [`LoopHandle::quit`].
    pub fn run(self) -> io::Result<()> {
        self.run_with(|_| {})
    }

    /// Runs the loop, first calling `init` on it (to register handlers, say).
    pub fn run_with<F: FnOnce(&mut LoopCtx)>(self, init: F) -> io::Result<()> {
        let EventLoop {
            mut poll,
            registry,
            shared,
            rx,
        } = self;
        if shared.thread.set(std::thread::current().id()).is_err() {
            return Err(io::Error::other("an event loop runs only once"));
        }
        let mut ctx = LoopCtx::new(shared, rx, registry);
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        log::debug!("loop {} running", ctx.handle().name());
        init(&mut ctx);
        while !ctx.quitting() {
            let timeout = if ctx.has_pending_work() {
                Some(std::time::Duration::ZERO)
            } else {
                ctx.next_timeout(Instant::now())
            };
            if let Err(e) = poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in events.iter() {
                if event.token() != WAKER_TOKEN {
                    ctx.dispatch(event);
                }
            }
            ctx.run_due_timers();
            ctx.maybe_release_memory();
            ctx.shared().wake.before_drain();
            ctx.run_tasks();
            ctx.continue_reads();
        }
        ctx.close_all();
        log::debug!("loop {} stopped", ctx.handle().name());
        Ok(())
    }
}
