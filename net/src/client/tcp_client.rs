//! `TcpClient`: one outgoing connection, with connect timeout, retry and reconnect.
//!
//! Thread rule: the client's state machine runs on one loop (the caller's, or a loop
//! thread of its own). `ClientShared` holds the state behind a mutex so that other
//! threads can read it and wait on it; every transition happens on the loop thread.
//!
//! States: connecting (a `Connector` in flight, bounded by the connect timeout) →
//! handshaking (with TLS, bounded by the layer's handshake timeout) → connected →
//! (reconnect: back to connecting) — with backing off between failed attempts. Stopping
//! or dropping the client in any state cancels the attempt or the backoff timer and
//! closes the connection; nothing is left on the loop.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::net::TcpStream;
use parking_lot::{Condvar, Mutex};

use crate::client::connector::{Completion, Connector};
use crate::client::happy_eyeballs::{HappyEyeballs, ATTEMPT_DELAY};
use crate::client::retry::RetryPolicy;
use crate::conn::connection::ConnService;
use crate::conn::connection::TcpConnection;
use crate::conn::handle::ConnHandle;
use crate::reactor::deadline::deadline_in;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;
use crate::reactor::slab::SlotId;
use crate::reactor::timer_queue::TimerId;

/// Called before each retry with the number of consecutive failures, the delay chosen
/// and the last error.
pub type RetryCallback = Arc<dyn Fn(u32, Duration, &io::Error) + Send + Sync>;

#[derive(Default)]
struct ClientState {
    stopped: bool,
    failures: u32,
    /// The connector in flight and its timeout timer.
    attempt: Option<(SlotId, TimerId)>,
    retry_timer: Option<TimerId>,
    conn: Option<ConnHandle>,
    last_error: Option<(io::ErrorKind, String)>,
    gave_up: bool,
}

pub(crate) struct ClientShared {
    pub(crate) name: String,
    pub(crate) service: Arc<ConnService>,
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) policy: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect: bool,
    pub(crate) loop_handle: LoopHandle,
    pub(crate) on_retry: Option<RetryCallback>,
    me: Weak<ClientShared>,
    state: Mutex<ClientState>,
    changed: Condvar,
}

impl ClientShared {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        me: Weak<ClientShared>,
        name: String,
        service: Arc<ConnService>,
        addrs: Vec<SocketAddr>,
        policy: RetryPolicy,
        connect_timeout: Duration,
        reconnect: bool,
        loop_handle: LoopHandle,
        on_retry: Option<RetryCallback>,
    ) -> Self {
        ClientShared {
            name,
            service,
            addrs,
            policy,
            connect_timeout,
            reconnect,
            loop_handle,
            on_retry,
            me,
            state: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    fn schedule_attempt(&self, delay: Duration) -> TimerId {
        let me = self.me.clone();
        self.loop_handle.run_after(delay, move |ctx| {
            if let Some(me) = me.upgrade() {
                me.start_attempt(ctx);
            }
        })
    }

    /// Starts one connect attempt (on the loop).
    pub(crate) fn start_attempt(&self, ctx: &mut LoopCtx) {
        let mut st = self.state.lock();
        st.retry_timer = None;
        if st.stopped || st.attempt.is_some() || st.conn.is_some() {
            return;
        }
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let addrs = &self.addrs;
        log::debug!("{}: connecting to {addrs:?}", self.name);
        let done: Completion = Box::new(move |ctx, id, outcome| match outcome {
            Ok((stream, peer)) => me.connected(ctx, id, stream, peer),
            Err(e) => me.attempt_failed(Some(id), e),
        });
        // One attempt tries every address (Happy Eyeballs, RFC 8305).
        let started = match addrs.as_slice() {
            [one] => Connector::start(ctx, *one, done),
            many => HappyEyeballs::start(ctx, many, ATTEMPT_DELAY, done),
        };
        match started {
            Ok(id) => {
                let me = self.me.clone();
                let timeout = self.connect_timeout;
                let addrs = addrs.clone();
                let timer = ctx.run_after(timeout, move |ctx| {
                    ctx.remove_handler(id);
                    if let Some(me) = me.upgrade() {
                        let e = io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("connect to {addrs:?} timed out after {timeout:?}"),
                        );
                        me.attempt_failed(Some(id), e);
                    }
                });
                st.attempt = Some((id, timer));
            }
            Err(e) => {
                drop(st);
                self.attempt_failed(None, e);
            }
        }
    }

    /// The connector reached the server: the socket becomes a connection.
    pub(crate) fn connected(
        &self,
        ctx: &mut LoopCtx,
        id: SlotId,
        stream: TcpStream,
        peer: SocketAddr,
    ) {
        {
            let mut st = self.state.lock();
            if let Some((current, timer)) = st.attempt {
                if current == id {
                    st.attempt = None;
                    ctx.cancel(timer);
                }
            }
            if st.stopped {
                return;
            }
        }
        let place = self.service.admit(ctx.index() as u32);
        if let Err(e) = ctx.adopt(stream, peer, place, None) {
            self.attempt_failed(None, e);
        }
    }

    /// An attempt failed (connect error, timeout, self-connect, failed handshake):
    /// back off and retry, or give up when the policy is exhausted.
    pub(crate) fn attempt_failed(&self, id: Option<SlotId>, e: io::Error) {
        let mut st = self.state.lock();
        if let (Some(id), Some((current, timer))) = (id, st.attempt) {
            if current == id {
                st.attempt = None;
                self.loop_handle.cancel(timer);
            }
        }
        st.failures += 1;
        st.last_error = Some((e.kind(), e.to_string()));
        if st.stopped {
            return;
        }
        let failures = st.failures;
        if self.policy.exhausted(failures) {
            st.gave_up = true;
            self.changed.notify_all();
            drop(st);
            // The error is the caller's (wait_connected returns it): one line, not at
            // ERROR, so an application that reports it does not log it twice loudly.
            log::info!("{}: giving up after {failures} attempt(s): {e}", self.name);
            return;
        }
        let delay = self.policy.delay(failures);
        st.retry_timer = Some(self.schedule_attempt(delay));
        drop(st);
        log::warn!(
            "{}: attempt {failures} failed: {e}; retrying in {delay:?}",
            self.name
        );
        if let Some(cb) = &self.on_retry {
            cb(failures, delay, &e);
        }
    }

    /// The connection came up (after its handshake).
    pub(crate) fn came_up(&self, conn: &mut TcpConnection) {
        let mut st = self.state.lock();
        if st.stopped {
            // Stopped while the handshake was in flight.
            conn.force_close();
            return;
        }
        st.failures = 0;
        st.gave_up = false;
        st.conn = Some(conn.handle());
        self.changed.notify_all();
    }

    /// The connection was released: a failed handshake counts as a failed attempt; a
    /// connection that was up may be followed by a reconnect.
    pub(crate) fn released(&self, conn: &mut TcpConnection) {
        if !conn.was_connected() {
            let e = match conn.error() {
                Some(e) => io::Error::new(e.kind(), e.to_string()),
                None => io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "closed during the handshake",
                ),
            };
            return self.attempt_failed(None, e);
        }
        let mut st = self.state.lock();
        st.conn = None;
        if let Some(e) = conn.error() {
            st.last_error = Some((e.kind(), e.to_string()));
        }
        self.changed.notify_all();
        if self.reconnect && !st.stopped {
            let delay = self.policy.delay(1);
            log::info!("{}: disconnected; reconnecting in {delay:?}", self.name);
            st.retry_timer = Some(self.schedule_attempt(delay));
        }
    }

    fn stop(&self) {
        let mut st = self.state.lock();
        if st.stopped {
            return;
        }
        st.stopped = true;
        if let Some(t) = st.retry_timer.take() {
            self.loop_handle.cancel(t);
        }
        let attempt = st.attempt.take();
        let conn = st.conn.take();
        self.changed.notify_all();
        drop(st);
        self.loop_handle.queue_in_loop(move |ctx| {
            if let Some((id, timer)) = attempt {
                ctx.cancel(timer);
                ctx.remove_handler(id);
            }
        });
        if let Some(conn) = conn {
            conn.force_close();
        }
    }
}

/// A client: one outgoing connection. Made by [`TcpClient::builder`].
///
/// ```no_run
/// let client = net::TcpClient::builder("127.0.0.1:8443")
///     .on_message(|_conn, input| {
///         println!("{}", String::from_utf8_lossy(input.peek()));
///         input.retrieve_all();
///     })
///     .connect()?;
/// let conn = client.wait_connected(std::time::Duration::from_secs(5))?;
/// conn.send(b"hello".to_vec());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpClient {
    pub(crate) shared: Arc<ClientShared>,
    pub(crate) own_loop: Option<JoinHandle<io::Result<()>>>,
}

impl TcpClient {
    /// The connection, if it is up.
    pub fn connection(&self) -> Option<ConnHandle> {
        self.shared.state.lock().conn.clone()
    }

    /// Waits until the connection is up (after its handshake), the retry policy gives
    /// up (its last error is returned), or `timeout` passes.
    pub fn wait_connected(&self, timeout: Duration) -> io::Result<ConnHandle> {
        let deadline = deadline_in(timeout);
        let mut st = self.shared.state.lock();
        loop {
            if let Some(conn) = &st.conn {
                return Ok(conn.clone());
            }
            if st.gave_up || st.stopped {
                let (kind, msg) = st
                    .last_error
                    .clone()
                    .unwrap_or((io::ErrorKind::NotConnected, "client stopped".into()));
                return Err(io::Error::new(kind, msg));
            }
            if self
                .shared
                .changed
                .wait_until(&mut st, deadline)
                .timed_out()
            {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("not connected within {timeout:?}"),
                ));
            }
        }
    }

    /// The last connect, handshake or connection error, if any.
    pub fn last_error(&self) -> Option<io::Error> {
        let st = self.shared.state.lock();
        st.last_error
            .as_ref()
            .map(|(kind, msg)| io::Error::new(*kind, msg.clone()))
    }

    /// Whether the retry policy gave up.
    pub fn gave_up(&self) -> bool {
        self.shared.state.lock().gave_up
    }

    /// Consecutive failed attempts so far.
    pub fn failures(&self) -> u32 {
        self.shared.state.lock().failures
    }

    /// Number of live connections of this client (0 or 1).
    pub fn connection_count(&self) -> usize {
        self.shared.service.live()
    }

    /// Stops: cancels any attempt or backoff, closes the connection, ends the client's
    /// own loop thread if it has one. Also done on drop.
    pub fn stop(&mut self) {
        self.shared.stop();
        if let Some(thread) = self.own_loop.take() {
            self.shared.loop_handle.quit();
            if self.shared.loop_handle.is_in_loop_thread() {
                return;
            }
            match thread.join() {
                Ok(Err(e)) => log::error!("{}: loop failed: {e}", self.shared.name),
                Err(_) => log::error!("{}: loop thread panicked", self.shared.name),
                Ok(Ok(())) => {}
            }
        }
    }
}

impl Drop for TcpClient {
    fn drop(&mut self) {
        self.stop();
    }
}
