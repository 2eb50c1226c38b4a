//! `ClientMachine`: the life of a `TcpClient` as a pure state machine, in one place.
//!
//! The client's shell (`tcp_client.rs`) does the I/O — lookups, connectors, timers,
//! adopting a socket as a connection — and reports what happened as an [`Event`];
//! [`ClientMachine::apply`] changes the state and returns the one [`Action`] to carry
//! out. No other code decides whether an attempt counts, when to retry, whether an
//! "up" reaches the application, or what a stop must undo, so these hold by
//! construction (and `machine_tests.rs` checks them over every reachable state and
//! random event sequences):
//!
//! - every attempt resolves the target again before it connects (the first, each
//!   retry and each reconnect), so a name whose address changed is followed; the
//!   resolver's TTL cache makes that cheap, and a literal address is answered at once;
//! - at most one thing is in flight: a lookup, a connect attempt, a connection
//!   (handshaking or up) or a backoff timer, each carried by the state that owns it;
//! - `Stop` from any state returns the action that undoes what that state owns, and
//!   from `Stopped` nothing starts again: a late lookup or connector is cancelled, a
//!   late connection closed, and a late "up" is withheld from the application;
//! - a failure (of the lookup, the connect or the handshake) counts once, and the
//!   client gives up exactly when the attempt limit is reached;
//! - "up" reaches the application only for the connection the machine is handshaking.
//!
//! ```text
//!        Start        Looking          Resolved       Started          Connected             Up
//!   Idle ────► Asking ──────► Resolving ──────► Dialing ─────► Connecting ─────► Handshaking ─────► Up
//!                ▲              │ ResolveFailed  │ StartFailed  │ DialFailed     │ Released       │ Released
//!            Due │              ▼                ▼              ▼                ▼                ├─(reconnect)─► BackingOff{0}
//!          BackingOff{n} ◄──────────────────── fail(n+1) ────────────────────────┘                └────────────► Disconnected
//!                └ fail(n) at the attempt limit ─► GaveUp{n}
//!   Stop, from every state ─► Stopped (terminal)
//! ```
//!
//! Generic over the handle types ([`Handles`]) so the machine knows nothing of the
//! loop and is tested with plain numbers.
//!
//! Thread rule: owned by its client behind the client's mutex; every event is applied
//! under that lock.

use std::fmt::Debug;

/// The kinds of handle the machine carries: what the shell needs to undo a state.
pub(crate) trait Handles: Debug + Clone + PartialEq {
    /// A lookup of the target's addresses in flight (or answered at once).
    type Lookup: Clone + PartialEq + Debug;
    /// The addresses a lookup found, for one connect attempt.
    type Addrs: Clone + PartialEq + Debug;
    /// A connect attempt in flight (the connector and its timeout timer).
    type Attempt: Clone + PartialEq + Debug;
    /// A connection of the client's (handshaking or up).
    type Conn: Clone + PartialEq + Debug;
    /// What the application is given for an up connection.
    type Up: Clone + Debug;
    /// A backoff timer.
    type Timer: Clone + PartialEq + Debug;
}

/// Where the client is.
#[derive(Debug)]
pub(crate) enum State<H: Handles> {
    /// Made; the first attempt is queued on the loop.
    Idle,
    /// The shell was told to look the target up ([`Action::Resolve`]) and reports the
    /// lookup in the same step; `failures` consecutive attempts failed before it.
    Asking { failures: u32 },
    /// The lookup `lookup` is in flight; `failures` consecutive attempts failed
    /// before it.
    Resolving { failures: u32, lookup: H::Lookup },
    /// The shell was told to connect to the addresses found ([`Action::Dial`]) and
    /// reports how it went in the same step; `failures` consecutive attempts failed
    /// before it.
    Dialing { failures: u32 },
    /// A connect attempt is in flight; `failures` consecutive ones failed before it.
    Connecting { failures: u32, attempt: H::Attempt },
    /// The socket connected and is connection `conn`, whose layer handshake runs.
    Handshaking { failures: u32, conn: H::Conn },
    /// The connection is up.
    Up { conn: H::Conn, handle: H::Up },
    /// Waiting for `timer` before the next attempt (`failures` 0: a reconnect).
    BackingOff { failures: u32, timer: H::Timer },
    /// The connection went down and the client does not reconnect.
    Disconnected,
    /// The retry policy's attempt limit was reached.
    GaveUp { failures: u32 },
    /// Stopped: terminal. `was_up`: the connection that was up when it stopped (its
    /// "down" still reaches the application when the stop closes it).
    Stopped {
        failures: u32,
        was_up: Option<H::Conn>,
    },
}

/// Something that happened to the client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event<H: Handles> {
    /// The first attempt's turn came (queued by `connect()`).
    Start,
    /// A backoff timer fired.
    Due(H::Timer),
    /// The shell started looking the target up (after [`Action::Resolve`]).
    Looking(H::Lookup),
    /// The lookup found these addresses (none empty).
    Resolved { lookup: H::Lookup, addrs: H::Addrs },
    /// The lookup failed (no such name, no answer, no address). If the client
    /// retries, `retry` is the timer to arm.
    ResolveFailed { lookup: H::Lookup, retry: H::Timer },
    /// The shell started a connect attempt (after [`Action::Dial`]).
    Started(H::Attempt),
    /// The shell could not start the attempt it was told to. If the client retries,
    /// `retry` is the timer to arm.
    StartFailed { retry: H::Timer },
    /// A connect attempt failed: refused, or timed out. If the client retries,
    /// `retry` is the timer to arm.
    DialFailed {
        attempt: H::Attempt,
        retry: H::Timer,
    },
    /// The attempt's socket connected and will be connection `conn`.
    Connected { attempt: H::Attempt, conn: H::Conn },
    /// Connection `conn` finished its handshake.
    Up { conn: H::Conn, handle: H::Up },
    /// Connection `conn` was released (a failed handshake, or down after up). If the
    /// client retries or reconnects, `retry` is the timer to arm.
    Released { conn: H::Conn, retry: H::Timer },
    /// `TcpClient::stop` (or drop).
    Stop,
}

/// What the shell must do after an event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action<H: Handles> {
    /// Nothing.
    None,
    /// Look the target up now; report [`Event::Looking`], then [`Event::Resolved`]
    /// or [`Event::ResolveFailed`] (in the same step if the answer is known at once).
    Resolve,
    /// Start a connect attempt to these addresses now; report [`Event::Started`] or
    /// [`Event::StartFailed`].
    Dial(H::Addrs),
    /// Take the connected socket in as the connection reported in `Connected`
    /// (without this action the socket is dropped).
    Adopt,
    /// Let the application see the connection come up.
    Deliver,
    /// Remove this attempt's connector and its timeout timer.
    Cancel(H::Attempt),
    /// Remove this lookup (its callback never runs).
    CancelLookup(H::Lookup),
    /// Close this connection; an "up" it reports is withheld from the application.
    Close(H::Conn),
    /// Cancel this backoff timer.
    CancelTimer(H::Timer),
    /// Arm `timer` for the delay after `failures` consecutive failures (retry).
    Retry { timer: H::Timer, failures: u32 },
    /// Arm `timer` for the first delay (reconnect after the connection went down).
    Reconnect { timer: H::Timer },
    /// The attempt limit is reached after `failures` failures.
    GiveUp { failures: u32 },
}

/// The client's state and the two settings that decide its transitions.
#[derive(Debug)]
pub(crate) struct ClientMachine<H: Handles> {
    state: State<H>,
    /// Give up after this many consecutive failures (`None`: never).
    max_attempts: Option<u32>,
    /// Reconnect after an up connection goes down.
    reconnect: bool,
}

impl<H: Handles> ClientMachine<H> {
    pub(crate) fn new(max_attempts: Option<u32>, reconnect: bool) -> Self {
        ClientMachine {
            state: State::Idle,
            max_attempts,
            reconnect,
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> &State<H> {
        &self.state
    }

    /// Feeds `event` to the machine; returns what to do.
    pub(crate) fn apply(&mut self, event: Event<H>) -> Action<H> {
        use State as S;
        match (&self.state, event) {
            (S::Idle, Event::Start) => {
                self.state = S::Asking { failures: 0 };
                Action::Resolve
            }
            (S::BackingOff { failures, timer }, Event::Due(t)) if *timer == t => {
                self.state = S::Asking {
                    failures: *failures,
                };
                Action::Resolve
            }
            (S::Asking { failures }, Event::Looking(lookup)) => {
                self.state = S::Resolving {
                    failures: *failures,
                    lookup,
                };
                Action::None
            }
            // A lookup nobody asked for (stopped meanwhile): undo it.
            (_, Event::Looking(lookup)) => Action::CancelLookup(lookup),
            (S::Resolving { failures, lookup }, Event::Resolved { lookup: l, addrs })
                if *lookup == l =>
            {
                self.state = S::Dialing {
                    failures: *failures,
                };
                Action::Dial(addrs)
            }
            (S::Resolving { failures, lookup }, Event::ResolveFailed { lookup: l, retry })
                if *lookup == l =>
            {
                let failures = *failures;
                self.fail(failures + 1, retry)
            }
            (S::Dialing { failures }, Event::Started(attempt)) => {
                self.state = S::Connecting {
                    failures: *failures,
                    attempt,
                };
                Action::None
            }
            // A connector nobody asked for (stopped meanwhile): undo it.
            (_, Event::Started(attempt)) => Action::Cancel(attempt),
            (S::Dialing { failures }, Event::StartFailed { retry }) => {
                let failures = *failures;
                self.fail(failures + 1, retry)
            }
            (S::Connecting { failures, attempt }, Event::DialFailed { attempt: a, retry })
                if *attempt == a =>
            {
                let failures = *failures;
                self.fail(failures + 1, retry)
            }
            (S::Connecting { failures, attempt }, Event::Connected { attempt: a, conn })
                if *attempt == a =>
            {
                self.state = S::Handshaking {
                    failures: *failures,
                    conn,
                };
                Action::Adopt
            }
            (S::Handshaking { conn, .. }, Event::Up { conn: c, handle }) if *conn == c => {
                self.state = S::Up { conn: c, handle };
                Action::Deliver
            }
            // Reported twice: it is up already.
            (S::Up { conn, .. }, Event::Up { conn: c, .. }) if *conn == c => Action::None,
            // Up, but not the connection this client waits for (stopped meanwhile).
            (_, Event::Up { conn, .. }) => Action::Close(conn),
            (S::Handshaking { failures, conn }, Event::Released { conn: c, retry })
                if *conn == c =>
            {
                let failures = *failures;
                self.fail(failures + 1, retry)
            }
            (S::Up { conn, .. }, Event::Released { conn: c, retry }) if *conn == c => {
                if self.reconnect {
                    self.state = S::BackingOff {
                        failures: 0,
                        timer: retry.clone(),
                    };
                    Action::Reconnect { timer: retry }
                } else {
                    self.state = S::Disconnected;
                    Action::None
                }
            }
            (S::Stopped { .. }, Event::Stop) => Action::None,
            (_, Event::Stop) => {
                let failures = self.failures();
                let was_up = match &self.state {
                    S::Up { conn, .. } => Some(conn.clone()),
                    _ => None,
                };
                let stopped = S::Stopped { failures, was_up };
                match std::mem::replace(&mut self.state, stopped) {
                    S::Resolving { lookup, .. } => Action::CancelLookup(lookup),
                    S::Connecting { attempt, .. } => Action::Cancel(attempt),
                    S::Handshaking { conn, .. } | S::Up { conn, .. } => Action::Close(conn),
                    S::BackingOff { timer, .. } => Action::CancelTimer(timer),
                    _ => Action::None,
                }
            }
            // Anything else is stale (an old timer, attempt or connection) or cannot
            // happen in this state: no effect.
            _ => Action::None,
        }
    }

    /// `failures` consecutive failures: back off, or give up at the limit.
    fn fail(&mut self, failures: u32, retry: H::Timer) -> Action<H> {
        if self.max_attempts.is_some_and(|max| failures >= max) {
            self.state = State::GaveUp { failures };
            Action::GiveUp { failures }
        } else {
            self.state = State::BackingOff {
                failures,
                timer: retry.clone(),
            };
            Action::Retry {
                timer: retry,
                failures,
            }
        }
    }

    /// Consecutive failed attempts (0 once up).
    pub(crate) fn failures(&self) -> u32 {
        match &self.state {
            State::Asking { failures }
            | State::Resolving { failures, .. }
            | State::Dialing { failures }
            | State::Connecting { failures, .. }
            | State::Handshaking { failures, .. }
            | State::BackingOff { failures, .. }
            | State::GaveUp { failures }
            | State::Stopped { failures, .. } => *failures,
            State::Idle | State::Up { .. } | State::Disconnected => 0,
        }
    }

    /// The up connection's handle, if it is up.
    pub(crate) fn up(&self) -> Option<&H::Up> {
        match &self.state {
            State::Up { handle, .. } => Some(handle),
            _ => None,
        }
    }

    /// The attempt in flight, if one is.
    pub(crate) fn attempt(&self) -> Option<&H::Attempt> {
        match &self.state {
            State::Connecting { attempt, .. } => Some(attempt),
            _ => None,
        }
    }

    /// Whether the "down" of connection `conn` reaches the application: only if its
    /// "up" did (it is the up connection, or was when the client stopped).
    pub(crate) fn delivers_down(&self, conn: &H::Conn) -> bool {
        match &self.state {
            State::Up { conn: c, .. } => c == conn,
            State::Stopped { was_up, .. } => was_up.as_ref() == Some(conn),
            _ => false,
        }
    }

    /// The lookup in flight, if one is.
    pub(crate) fn lookup(&self) -> Option<&H::Lookup> {
        match &self.state {
            State::Resolving { lookup, .. } => Some(lookup),
            _ => None,
        }
    }

    /// Whether the attempt limit was reached.
    pub(crate) fn gave_up(&self) -> bool {
        matches!(self.state, State::GaveUp { .. })
    }

    /// Whether the client will not connect again by itself (given up, disconnected
    /// without reconnect, or stopped).
    pub(crate) fn settled_down(&self) -> bool {
        matches!(
            self.state,
            State::GaveUp { .. } | State::Disconnected | State::Stopped { .. }
        )
    }

    /// Whether the client was stopped.
    pub(crate) fn is_stopped(&self) -> bool {
        matches!(self.state, State::Stopped { .. })
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
