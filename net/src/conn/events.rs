//! Where a connection's events meet its state machine: [`TcpConnection::apply`]
//! feeds an event to the [`Lifecycle`](crate::conn::lifecycle) and carries out the effects
//! it returns (callbacks, timers, the layer's close, `shutdown(SHUT_WR)`, release);
//! [`TcpConnection::settle`] runs after every piece of user code so that what a
//! callback asked for (a shutdown, a write that completed) takes effect without
//! re-entering it. Also the connection's timers (handshake, idle, close delay, and the
//! application's own) and the loop-side entry points (`with_connection`, `Pollable`).
//!
//! Thread rule: all of it runs on the connection's loop thread.

use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use mio::event::Event as Readiness;
use mio::Registry;

use crate::conn::connection::{ConnId, TcpConnection};
use crate::conn::lifecycle::{Effects, Event};
use crate::reactor::deadline::{deadline_after, deadline_in};
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_ctx::Pollable;
use crate::reactor::timer_queue::TimerId;
use crate::stats::CloseCause;
use crate::util::panic_message;

impl TcpConnection {
    /// Feeds `event` to the state machine and carries out what it says.
    ///
    /// Not re-entrant: carrying out an effect can report another event (flushing the
    /// close_notify fails, a callback shuts down); the machine takes that event at
    /// once, but its effects join the set being carried out, and this one loop runs
    /// them after the current ones. So no effect runs inside another.
    pub(crate) fn apply(&mut self, event: Event) {
        let effects = self.life.apply(event);
        if self.io.acting {
            self.io.deferred = self.io.deferred.with(effects);
            return;
        }
        self.io.acting = true;
        let mut effects = effects;
        while effects != Effects::NONE {
            self.act(effects);
            effects = std::mem::take(&mut self.io.deferred);
        }
        self.io.acting = false;
    }

    fn act(&mut self, effects: Effects) {
        if effects.contains(Effects::CONNECTED) {
            self.connected();
        }
        if effects.contains(Effects::HALF_CLOSE) {
            let callbacks = self.callbacks.clone();
            if let Some(cb) = &callbacks.half_close {
                self.call_user(|c| cb(c));
            }
        }
        if effects.contains(Effects::CLOSE_LAYER) {
            if let Some(layer) = self.layer.as_mut() {
                if let Err(e) = layer.close(&mut self.output) {
                    log::debug!("{self}: close_notify not sent: {e}");
                }
            }
            self.flush_output();
        }
        if effects.contains(Effects::SHUT_WRITE) {
            if let Err(e) = self.stream.shutdown(std::net::Shutdown::Write) {
                log::debug!("{self}: shutdown(write): {e}");
            }
        }
        if effects.contains(Effects::RESUME_READ) {
            self.io.read_again = true;
        }
        if effects.contains(Effects::RELEASE) {
            self.mark_dead();
            let timers = std::mem::take(&mut self.timers);
            for t in [timers.handshake, timers.close, timers.idle]
                .into_iter()
                .flatten()
            {
                self.local.cancel(t);
            }
        } else if effects.contains(Effects::ARM_CLOSE_TIMER) {
            self.arm_close_timer();
        }
    }

    /// Starts the connection on its loop: the layer's handshake (with its timeout), or
    /// straight to up.
    pub(crate) fn start(&mut self) {
        if let Some(idle) = self.service.options.idle.timeout() {
            self.arm_idle_timer(idle);
        }
        let Some(layer) = self.layer.as_mut() else {
            self.apply(Event::HandshakeDone);
            return;
        };
        if let Err(e) = layer.start(&mut self.output) {
            self.fail(e, "handshake start");
            return;
        }
        if let Some(timeout) = self
            .service
            .layer
            .as_ref()
            .and_then(|f| f.handshake_timeout())
        {
            self.timers.handshake = Some(self.run_after(timeout, move |conn| {
                conn.timers.handshake = None;
                if !conn.life.was_connected() {
                    log::warn!("{conn}: handshake timed out after {timeout:?}; closing");
                    conn.error = Some(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("handshake timed out after {timeout:?}"),
                    ));
                    conn.apply(Event::Close(CloseCause::HandshakeTimeout));
                }
            }));
        }
        self.flush_output();
    }

    /// The connected effect: the handshake's buffers go, the connected callback runs.
    fn connected(&mut self) {
        if let Some(t) = self.timers.handshake.take() {
            self.local.cancel(t);
        }
        if self.layer.is_some() {
            self.service.stats.handshake_ok(self.id.loop_index);
        }
        // The handshake's messages sized these buffers; an idle connection should not
        // keep that memory (a few KiB each, times every connection).
        if self.output.is_empty() {
            self.output.shrink(0);
        }
        if self.wire_in.is_empty() {
            self.wire_in.shrink(0);
        }
        let callbacks = self.callbacks.clone();
        if let Some(cb) = &callbacks.connection {
            self.call_user(|c| cb(c));
        }
    }

    /// Applies what callbacks asked for, and runs the callbacks that follow from it,
    /// until nothing changes.
    pub(crate) fn settle(&mut self) {
        while !self.life.is_closed() {
            if self.io.write_complete_pending && self.output.is_empty() {
                self.io.write_complete_pending = false;
                let callbacks = self.callbacks.clone();
                if let (Some(cb), true) = (&callbacks.write_complete, self.life.delivers()) {
                    self.call_user(|c| cb(c));
                    continue;
                }
            }
            if let Some(queued) = self.io.high_water_pending.take() {
                let callbacks = self.callbacks.clone();
                if let (Some(cb), true) = (&callbacks.high_water, self.life.delivers()) {
                    self.call_user(|c| cb(c, queued.get()));
                    continue;
                }
            }
            if self.output.is_empty() {
                let effects = self.life.apply(Event::OutputDrained);
                if effects != Effects::NONE {
                    self.act(effects);
                    continue;
                }
            }
            return;
        }
    }

    /// Runs `f` with `self`, catching a panic: a panicking callback closes its
    /// connection, with an error log, and the loop goes on.
    pub(crate) fn call_user<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> Option<R> {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(r) => Some(r),
            Err(p) => {
                log::error!(
                    "{self}: callback panicked: {}; closing the connection",
                    panic_message(&*p)
                );
                self.error = Some(io::Error::other("callback panicked"));
                self.force_close();
                None
            }
        }
    }

    /// Records an I/O or layer failure and closes.
    pub(crate) fn fail(&mut self, e: io::Error, what: &str) {
        match e.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                log::debug!("{self}: {what}: {e}")
            }
            // The layer's error already says "handshake failed" and why.
            _ if what == "handshake" => log::warn!("{self}: {e}"),
            _ => log::warn!("{self}: {what} failed: {e}"),
        }
        self.error = Some(e);
        self.apply(Event::Failed);
    }

    /// Runs `callback` on this connection after `delay`, if it is still open then.
    pub fn run_after<F>(&mut self, delay: Duration, mut callback: F) -> TimerId
    where
        F: FnMut(&mut TcpConnection) + 'static,
    {
        let id = self.id;
        self.local.add_timer(
            deadline_in(delay),
            None,
            Box::new(move |ctx| {
                ctx.with_connection(id, &mut callback);
            }),
        )
    }

    /// Cancels a timer set with [`TcpConnection::run_after`].
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.local.cancel(id)
    }

    /// Closes after `delay` (unless it closed before).
    pub fn force_close_with_delay(&mut self, delay: Duration) {
        self.run_after(delay, |conn| conn.force_close());
    }

    fn arm_close_timer(&mut self) {
        if self.timers.close.is_some() {
            return;
        }
        let delay = self.service.options.close_delay;
        self.timers.close = Some(self.run_after(delay, move |conn| {
            conn.timers.close = None;
            log::debug!("{conn}: close delay of {delay:?} passed; closing");
            conn.apply(Event::Close(CloseCause::CloseDelayTimeout));
        }));
    }

    fn arm_idle_timer(&mut self, idle: Duration) {
        let at = deadline_after(self.last_activity, idle);
        let delay = at.saturating_duration_since(Instant::now());
        self.timers.idle = Some(self.run_after(delay, move |conn| {
            conn.timers.idle = None;
            if conn.last_activity.elapsed() >= idle {
                log::info!("{conn}: idle for {idle:?}; closing");
                conn.error = Some(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"));
                conn.apply(Event::Close(CloseCause::IdleTimeout));
            } else {
                conn.arm_idle_timer(idle);
            }
        }));
    }

    /// A graceful stop began: the drain callback runs if the connection is up.
    pub(crate) fn drain_begins(&mut self) {
        let callbacks = self.callbacks.clone();
        if let (Some(cb), true) = (&callbacks.drain, self.life.delivers()) {
            self.call_user(|c| cb(c));
        }
    }

    /// Whether the connected callback ran (the handshake, if any, completed).
    pub(crate) fn was_connected(&self) -> bool {
        self.life.was_connected()
    }

    /// Closes for the server's stop deadline or a quitting loop: an orderly close
    /// that did not finish counts as forced.
    pub(crate) fn stop_now(&mut self) {
        self.apply(Event::Stop);
    }
}

impl Pollable for TcpConnection {
    fn on_event(&mut self, event: &Readiness) {
        if event.is_read_closed() || event.is_error() {
            self.io.read_hup = true;
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.handle_read();
        }
        if event.is_writable() && !self.life.is_closed() && !self.output.is_empty() {
            self.flush_output();
        }
        self.settle();
    }

    fn on_resume(&mut self) {
        self.handle_read();
        self.settle();
    }

    fn take_resume(&mut self) -> bool {
        std::mem::take(&mut self.io.read_again)
    }

    fn is_closed(&self) -> bool {
        self.life.is_closed()
    }

    fn close_now(&mut self) {
        self.stop_now();
    }

    /// Runs the down callback (if the up callback ran) and gives the connection up.
    fn release(&mut self, registry: &Registry) {
        if let Err(e) = registry.deregister(&mut self.stream) {
            log::debug!("{self}: deregister: {e}");
        }
        if self.life.was_connected() {
            let callbacks = self.callbacks.clone();
            if let Some(cb) = &callbacks.connection {
                self.call_user(|c| cb(c));
            }
        }
        let failed_handshake = self.layer.is_some() && !self.life.was_connected();
        let cause = self.life.close_cause();
        (self.service.stats).released(self.id.loop_index, cause, &self.tally, failed_handshake);
        if let Some(hook) = self.service.release_hook.clone() {
            hook(self);
        }
        if let Some(place) = self.place.take() {
            place.release();
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl LoopCtx {
    /// Runs `f` on the connection `id` if it is still open on this loop. A panic in
    /// `f` closes that connection; state changes `f` makes (sends, closes) take effect
    /// before this returns.
    pub fn with_connection<R>(
        &mut self,
        id: ConnId,
        f: impl FnOnce(&mut TcpConnection) -> R,
    ) -> Option<R> {
        if id.loop_index as usize != self.index() {
            return None;
        }
        let conn = self
            .connection_mut(id.slot)?
            .as_any_mut()
            .downcast_mut::<TcpConnection>()?;
        if conn.is_closed() {
            return None;
        }
        let result = conn.call_user(f);
        conn.settle();
        self.after_conn(id.slot);
        result
    }
}
