//! `TcpClient`: one outgoing connection, with connect timeout, retry and reconnect.
//!
//! The client's life is decided by its state machine ([`ClientMachine`],
//! `machine.rs`): idle → resolving → connecting → handshaking → up, backing off
//! between failed attempts (and resolving again before each one), giving up at the
//! attempt limit, reconnecting after a disconnect if asked, stopped from anywhere.
//! This file is the machine's shell: it does the I/O the machine's actions ask for
//! (lookups on the client's own loop, connectors and their timeouts, backoff timers,
//! adopting a socket as a connection, closing it) and reports what happened as events.
//!
//! Thread rule: the machine runs behind a mutex so that other threads can read it and
//! wait on it; every event but `Stop` is applied on the client's loop thread. `stop()`
//! applies `Stop` on the calling thread and carries its action out on the loop: off
//! that loop's thread it waits (bounded) until the loop has done so, so once `stop()`
//! returns nothing of the client is left on the loop and no callback of the client's
//! runs again. Called on the loop's own thread (from a callback), the undoing runs
//! when that callback returns, before the loop polls again; an "up" the stopped client
//! did not wait for is withheld from the application either way.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::net::TcpStream;
use parking_lot::{Condvar, Mutex};

use crate::client::connector::{Completion, Connector};
use crate::client::happy_eyeballs::{HappyEyeballs, ATTEMPT_DELAY};
use crate::client::machine::{Action, ClientMachine, Event, Handles};
use crate::client::retry::RetryPolicy;
use crate::conn::connection::ConnService;
use crate::conn::connection::{ConnId, TcpConnection};
use crate::conn::handle::ConnHandle;
use crate::reactor::deadline::deadline_in;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;
use crate::reactor::slab::SlotId;
use crate::reactor::timer_queue::TimerId;
use crate::resolve::shared::ResolverInner;
use crate::resolve::task::LookupTask;
use crate::resolve::ResolveError;

/// Called before each retry with the number of consecutive failures, the delay chosen
/// and the last error.
pub type RetryCallback = Arc<dyn Fn(u32, Duration, &io::Error) + Send + Sync>;

/// How long `stop()` waits for the client's loop to carry the stop out (a loop that
/// does not answer in this time is busy elsewhere or gone; the stop goes on there).
const STOP_CONFIRM: Duration = Duration::from_secs(5);

/// The machine's handles, as the loop knows them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoopIds;

/// A connect attempt: the connector's slot and its timeout timer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dial {
    connector: SlotId,
    timeout: TimerId,
}

/// A lookup of the target: its number (unique in the client, which is how its
/// callback is told from a stale one) and the lookup's handler on the loop (`None`:
/// answered at once, from a literal, the hosts file or the cache).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lookup {
    seq: u64,
    task: Option<SlotId>,
}

/// What the client connects to.
pub(crate) enum Target {
    /// IP literals: no lookup.
    Addrs(Vec<SocketAddr>),
    /// A host name, looked up before every attempt with this resolver's
    /// configuration and cache (the lookup runs on the client's loop).
    Name {
        host: String,
        port: u16,
        resolver: Arc<ResolverInner>,
    },
}

impl Handles for LoopIds {
    type Lookup = Lookup;
    type Addrs = Vec<SocketAddr>;
    type Attempt = Dial;
    type Conn = ConnId;
    type Up = ConnHandle;
    type Timer = TimerId;
}

struct ClientState {
    machine: ClientMachine<LoopIds>,
    /// Kept for `last_error()` and `wait_connected()`'s error; decides nothing.
    last_error: Option<(io::ErrorKind, String)>,
    /// The number of the last lookup started.
    lookups: u64,
}

pub(crate) struct ClientShared {
    pub(crate) name: String,
    pub(crate) service: Arc<ConnService>,
    pub(crate) target: Target,
    pub(crate) policy: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) loop_handle: LoopHandle,
    pub(crate) on_retry: Option<RetryCallback>,
    me: Weak<ClientShared>,
    state: Mutex<ClientState>,
    changed: Condvar,
}

/// Where an action is carried out: on the loop (with its context), or elsewhere
/// (what needs the loop is queued to it).
enum Place<'a> {
    Loop(&'a mut LoopCtx),
    Away,
}

impl ClientShared {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        me: Weak<ClientShared>,
        name: String,
        service: Arc<ConnService>,
        target: Target,
        policy: RetryPolicy,
        connect_timeout: Duration,
        reconnect: bool,
        loop_handle: LoopHandle,
        on_retry: Option<RetryCallback>,
    ) -> Self {
        let machine = ClientMachine::new(policy.max_attempts, reconnect);
        ClientShared {
            name,
            service,
            target,
            policy,
            connect_timeout,
            loop_handle,
            on_retry,
            me,
            state: Mutex::new(ClientState {
                machine,
                last_error: None,
                lookups: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// Applies `event` and carries out the action, with the state locked. `error` is
    /// the failure the event reports, if any. Returns the retry to report to the
    /// application's retry callback once the lock is released (never under it: the
    /// callback may call the client).
    fn step(
        &self,
        st: &mut ClientState,
        place: Place<'_>,
        event: Event<LoopIds>,
        error: Option<&io::Error>,
    ) -> Option<Notice> {
        if let Some(e) = error {
            st.last_error = Some((e.kind(), e.to_string()));
        }
        let action = st.machine.apply(event);
        self.changed.notify_all();
        match action {
            Action::None | Action::Adopt | Action::Deliver => {}
            Action::Resolve => match place {
                Place::Loop(ctx) => return self.resolve(st, ctx),
                // Resolve comes only from Start and Due, which run on the loop.
                Place::Away => log::error!("{}: lookup asked off the loop", self.name),
            },
            Action::Dial(addrs) => match place {
                Place::Loop(ctx) => return self.dial(st, ctx, addrs),
                // Dial comes only from Resolved, which runs on the loop.
                Place::Away => log::error!("{}: dial asked off the loop", self.name),
            },
            Action::CancelLookup(lookup) => {
                if let Some(task) = lookup.task {
                    let undo = move |ctx: &mut LoopCtx| ctx.remove_handler(task);
                    match place {
                        Place::Loop(ctx) => undo(ctx),
                        Place::Away => {
                            self.loop_handle.queue_in_loop(undo);
                        }
                    }
                }
            }
            Action::Cancel(dial) => {
                let undo = move |ctx: &mut LoopCtx| {
                    ctx.cancel(dial.timeout);
                    ctx.remove_handler(dial.connector);
                };
                match place {
                    Place::Loop(ctx) => undo(ctx),
                    Place::Away => {
                        self.loop_handle.queue_in_loop(undo);
                    }
                }
            }
            Action::Close(id) => {
                let close = move |ctx: &mut LoopCtx| {
                    ctx.with_connection(id, |c| c.force_close());
                };
                match place {
                    Place::Loop(ctx) => close(ctx),
                    Place::Away => {
                        self.loop_handle.queue_in_loop(close);
                    }
                }
            }
            // Through the handle, queued after the task that armed it: always found.
            Action::CancelTimer(timer) => self.loop_handle.cancel(timer),
            Action::Retry { timer, failures } => {
                let delay = self.policy.delay(failures);
                self.arm(timer, delay);
                let why = error.map_or_else(|| "failed".to_string(), |e| e.to_string());
                log::warn!(
                    "{}: attempt {failures} failed: {why}; retrying in {delay:?}",
                    self.name
                );
                if let Some(e) = error {
                    return Some(Notice {
                        failures,
                        delay,
                        error: io::Error::new(e.kind(), e.to_string()),
                    });
                }
            }
            Action::Reconnect { timer } => {
                let delay = self.policy.delay(1);
                self.arm(timer, delay);
                log::info!("{}: disconnected; reconnecting in {delay:?}", self.name);
            }
            Action::GiveUp { failures } => {
                let why = error.map_or_else(|| "failed".to_string(), |e| e.to_string());
                // The error is the caller's (wait_connected returns it): one line, not
                // at ERROR, so an application that reports it does not log it twice.
                log::info!("{}: giving up after {failures} attempts: {why}", self.name);
            }
        }
        None
    }

    /// Tells the application's retry callback (with the state unlocked).
    fn notify(&self, notice: Option<Notice>) {
        if let (Some(cb), Some(n)) = (&self.on_retry, notice) {
            cb(n.failures, n.delay, &n.error);
        }
    }

    /// Arms backoff timer `timer` for `delay`.
    fn arm(&self, timer: TimerId, delay: Duration) {
        let me = self.me.clone();
        self.loop_handle
            .run_at_id(timer, deadline_in(delay), move |ctx| {
                if let Some(me) = me.upgrade() {
                    let mut st = me.state.lock();
                    let notice = me.step(&mut st, Place::Loop(ctx), Event::Due(timer), None);
                    drop(st);
                    me.notify(notice);
                }
            });
    }

    /// The first attempt's turn (on the loop).
    pub(crate) fn start(&self, ctx: &mut LoopCtx) {
        let mut st = self.state.lock();
        let notice = self.step(&mut st, Place::Loop(ctx), Event::Start, None);
        drop(st);
        self.notify(notice);
    }

    /// Looks the target up (on the loop, for [`Action::Resolve`]): a literal, a name
    /// in the hosts file or in the cache is answered in this step; else a lookup
    /// starts on this loop and its answer comes back through [`Self::lookup_done`].
    fn resolve(&self, st: &mut ClientState, ctx: &mut LoopCtx) -> Option<Notice> {
        st.lookups += 1;
        let seq = st.lookups;
        let (host, port, resolver) = match &self.target {
            Target::Addrs(addrs) => {
                let lookup = Lookup { seq, task: None };
                self.step(st, Place::Loop(ctx), Event::Looking(lookup), None);
                return self.found(st, ctx, lookup, Ok(addrs.clone()));
            }
            Target::Name {
                host,
                port,
                resolver,
            } => (host, *port, resolver),
        };
        let at_port = move |ips: Vec<std::net::IpAddr>| {
            ips.into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect::<Vec<_>>()
        };
        if let Some(answer) = resolver.answer_now(host) {
            let lookup = Lookup { seq, task: None };
            self.step(st, Place::Loop(ctx), Event::Looking(lookup), None);
            return self.found(st, ctx, lookup, answer.map(at_port));
        }
        log::debug!("{}: looking {host} up", self.name);
        let me = self.me.clone();
        let done = Box::new(move |ctx: &mut LoopCtx, answer: Result<_, ResolveError>| {
            if let Some(me) = me.upgrade() {
                me.lookup_done(ctx, seq, answer.map(at_port));
            }
        });
        match LookupTask::spawn(ctx, resolver.clone(), host.clone(), done) {
            Ok(task) => {
                let lookup = Lookup {
                    seq,
                    task: Some(task),
                };
                self.step(st, Place::Loop(ctx), Event::Looking(lookup), None)
            }
            Err(e) => {
                let lookup = Lookup { seq, task: None };
                self.step(st, Place::Loop(ctx), Event::Looking(lookup), None);
                let e = ResolveError::Io {
                    name: host.clone(),
                    error: format!("cannot start the lookup: {e}"),
                };
                self.found(st, ctx, lookup, Err(e))
            }
        }
    }

    /// A lookup started by [`Self::resolve`] answered (on the loop).
    fn lookup_done(
        &self,
        ctx: &mut LoopCtx,
        seq: u64,
        answer: Result<Vec<SocketAddr>, ResolveError>,
    ) {
        let mut st = self.state.lock();
        let Some(lookup) = st.machine.lookup().filter(|l| l.seq == seq).copied() else {
            // Stopped meanwhile (the stop's removal of the lookup was still queued).
            return;
        };
        let notice = self.found(&mut st, ctx, lookup, answer);
        drop(st);
        self.notify(notice);
    }

    /// Reports the answer to `lookup` to the machine: the addresses, or the failure
    /// (an empty answer is one: no address to connect to).
    fn found(
        &self,
        st: &mut ClientState,
        ctx: &mut LoopCtx,
        lookup: Lookup,
        answer: Result<Vec<SocketAddr>, ResolveError>,
    ) -> Option<Notice> {
        match answer {
            Ok(addrs) if !addrs.is_empty() => self.step(
                st,
                Place::Loop(ctx),
                Event::Resolved { lookup, addrs },
                None,
            ),
            Ok(_) => {
                let e = io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}: resolved to no address", self.target_name()),
                );
                let retry = self.loop_handle.new_timer_id();
                self.step(
                    st,
                    Place::Loop(ctx),
                    Event::ResolveFailed { lookup, retry },
                    Some(&e),
                )
            }
            Err(e) => {
                let e = io::Error::from(e);
                let retry = self.loop_handle.new_timer_id();
                self.step(
                    st,
                    Place::Loop(ctx),
                    Event::ResolveFailed { lookup, retry },
                    Some(&e),
                )
            }
        }
    }

    /// The target as the application gave it, for messages.
    fn target_name(&self) -> String {
        match &self.target {
            Target::Addrs(addrs) => format!("{addrs:?}"),
            Target::Name { host, port, .. } => format!("{host}:{port}"),
        }
    }

    /// Starts one connect attempt to `addrs` (on the loop, for [`Action::Dial`]).
    fn dial(
        &self,
        st: &mut ClientState,
        ctx: &mut LoopCtx,
        addrs: Vec<SocketAddr>,
    ) -> Option<Notice> {
        let me = self.me.upgrade()?;
        log::debug!("{}: connecting to {addrs:?}", self.name);
        let done: Completion = Box::new(move |ctx, id, outcome| match outcome {
            Ok((stream, peer)) => me.connected(ctx, id, stream, peer),
            Err(e) => me.dial_failed(ctx, id, e),
        });
        // One attempt tries every address (Happy Eyeballs, RFC 8305).
        let started = match addrs.as_slice() {
            [one] => Connector::start(ctx, *one, done),
            many => HappyEyeballs::start(ctx, many, ATTEMPT_DELAY, done),
        };
        match started {
            Ok(connector) => {
                let me = self.me.clone();
                let timeout = self.connect_timeout;
                let timer = ctx.run_after(timeout, move |ctx| {
                    ctx.remove_handler(connector);
                    if let Some(me) = me.upgrade() {
                        let e = io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("connect to {addrs:?} timed out after {timeout:?}"),
                        );
                        me.dial_failed(ctx, connector, e);
                    }
                });
                let dial = Dial {
                    connector,
                    timeout: timer,
                };
                self.step(st, Place::Loop(ctx), Event::Started(dial), None)
            }
            Err(e) => {
                let retry = self.loop_handle.new_timer_id();
                self.step(st, Place::Loop(ctx), Event::StartFailed { retry }, Some(&e))
            }
        }
    }

    /// The attempt whose connector is `connector`, if it is the one in flight.
    fn current(st: &ClientState, connector: SlotId) -> Option<Dial> {
        st.machine
            .attempt()
            .filter(|d| d.connector == connector)
            .copied()
    }

    /// A connect attempt failed (refused, self-connect, timed out), on the loop.
    fn dial_failed(&self, ctx: &mut LoopCtx, connector: SlotId, e: io::Error) {
        let mut st = self.state.lock();
        let Some(dial) = Self::current(&st, connector) else {
            return;
        };
        ctx.cancel(dial.timeout);
        ctx.remove_handler(dial.connector);
        let retry = self.loop_handle.new_timer_id();
        let event = Event::DialFailed {
            attempt: dial,
            retry,
        };
        let notice = self.step(&mut st, Place::Loop(ctx), event, Some(&e));
        drop(st);
        self.notify(notice);
    }

    /// The connector reached the server: the socket becomes a connection (on the
    /// loop), if the machine still wants it.
    fn connected(&self, ctx: &mut LoopCtx, connector: SlotId, stream: TcpStream, peer: SocketAddr) {
        let conn = ConnId {
            loop_index: ctx.index() as u32,
            slot: ctx.next_slot(),
        };
        {
            let mut st = self.state.lock();
            let Some(dial) = Self::current(&st, connector) else {
                return;
            };
            ctx.cancel(dial.timeout);
            let action = st.machine.apply(Event::Connected {
                attempt: dial,
                conn,
            });
            self.changed.notify_all();
            if action != Action::Adopt {
                return;
            }
        }
        // Unlocked: a plain connection comes up inside `adopt`, and its up callback
        // takes the lock.
        let place = self.service.admit(conn.loop_index);
        match ctx.adopt(stream, peer, place, None) {
            Ok(id) => debug_assert_eq!(id, conn, "the connection took another slot"),
            Err(e) => {
                let mut st = self.state.lock();
                let retry = self.loop_handle.new_timer_id();
                let event = Event::Released { conn, retry };
                let notice = self.step(&mut st, Place::Loop(ctx), event, Some(&e));
                drop(st);
                self.notify(notice);
            }
        }
    }

    /// The connection finished its handshake: whether the application may see it
    /// (if not, it is closed here: the client stopped meanwhile).
    pub(crate) fn came_up(&self, conn: &mut TcpConnection) -> bool {
        let mut st = self.state.lock();
        let event = Event::Up {
            conn: conn.id(),
            handle: conn.handle(),
        };
        let action = st.machine.apply(event);
        self.changed.notify_all();
        match action {
            Action::Deliver => true,
            Action::Close(_) => {
                drop(st);
                log::debug!("{}: came up after the client stopped; closing", self.name);
                conn.force_close();
                false
            }
            _ => false,
        }
    }

    /// Whether the application may see the down of `conn` (only if it saw its up).
    pub(crate) fn delivers_down(&self, conn: &TcpConnection) -> bool {
        self.state.lock().machine.delivers_down(&conn.id())
    }

    /// The connection was released (on the loop): a failed handshake counts as a
    /// failed attempt; a connection that was up may be followed by a reconnect.
    pub(crate) fn released(&self, conn: &mut TcpConnection) {
        let error = match conn.error() {
            Some(e) => Some(io::Error::new(e.kind(), e.to_string())),
            None if !conn.was_connected() => Some(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed during the handshake",
            )),
            None => None,
        };
        let mut st = self.state.lock();
        let retry = self.loop_handle.new_timer_id();
        let event = Event::Released {
            conn: conn.id(),
            retry,
        };
        // Released inside the loop's release step: timers and connections are reached
        // through the handle (queued), which is what `Away` does.
        let notice = self.step(&mut st, Place::Away, event, error.as_ref());
        drop(st);
        self.notify(notice);
    }

    /// Applies `Stop` (any thread); what it undoes is queued to the loop.
    fn stop(&self) {
        let mut st = self.state.lock();
        // Stop never retries: no notice.
        let _ = self.step(&mut st, Place::Away, Event::Stop, None);
    }
}

/// A retry to report to the application's retry callback.
struct Notice {
    failures: u32,
    delay: Duration,
    error: io::Error,
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
        self.shared.state.lock().machine.up().cloned()
    }

    /// Waits until the connection is up (after its handshake), the client settles
    /// without one (the retry policy gave up, the connection went down without
    /// `reconnect`, or the client stopped: the last error is returned), or `timeout`
    /// passes (`Duration::MAX`: no limit).
    pub fn wait_connected(&self, timeout: Duration) -> io::Result<ConnHandle> {
        let deadline = deadline_in(timeout);
        let mut st = self.shared.state.lock();
        loop {
            if let Some(conn) = st.machine.up() {
                return Ok(conn.clone());
            }
            if st.machine.settled_down() {
                let why = if st.machine.is_stopped() {
                    "client stopped"
                } else {
                    "not connected"
                };
                let (kind, msg) = st
                    .last_error
                    .clone()
                    .unwrap_or((io::ErrorKind::NotConnected, why.into()));
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
        self.shared.state.lock().machine.gave_up()
    }

    /// Consecutive failed attempts so far.
    pub fn failures(&self) -> u32 {
        self.shared.state.lock().machine.failures()
    }

    /// Number of live connections of this client (0 or 1).
    pub fn connection_count(&self) -> usize {
        self.shared.service.live()
    }

    /// Stops, in any state: cancels the connect attempt or the backoff, closes the
    /// connection (during its handshake too), and ends the client's own loop thread
    /// if it has one. Also done on drop.
    ///
    /// Called from any thread but the client's loop thread, it returns once the loop
    /// has carried the stop out (waiting at most 5 s for a loop busy elsewhere): then
    /// nothing of the client is left on the loop and none of its callbacks runs again
    /// (the down callback of a connection that was up runs before `stop` returns).
    /// Called on the loop's thread (from a callback), the undoing runs when that
    /// callback returns, before the loop next polls.
    pub fn stop(&mut self) {
        self.shared.stop();
        let handle = &self.shared.loop_handle;
        let on_loop = handle.is_in_loop_thread();
        if let Some(thread) = self.own_loop.take() {
            // The quit is queued after what the stop queued: the loop does both, then
            // ends (closing anything left), and the join waits for that.
            handle.quit();
            if on_loop {
                return;
            }
            match thread.join() {
                Ok(Err(e)) => log::error!("{}: loop failed: {e}", self.shared.name),
                Err(_) => log::error!("{}: loop thread panicked", self.shared.name),
                Ok(Ok(())) => {}
            }
        } else if !on_loop {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let queued = handle.queue_in_loop(move |_| {
                let _ = tx.send(());
            });
            if queued && rx.recv_timeout(STOP_CONFIRM).is_err() {
                log::warn!(
                    "{}: the loop did not confirm the stop within {STOP_CONFIRM:?}",
                    self.shared.name
                );
            }
        }
    }
}

impl Drop for TcpClient {
    fn drop(&mut self) {
        self.stop();
    }
}
