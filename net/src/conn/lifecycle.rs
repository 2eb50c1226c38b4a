//! `Lifecycle`: the life of one connection as a state machine, in one place.
//!
//! The reactor code (read path, write path, timers) does I/O and reports what happened
//! as an [`Event`]; [`Lifecycle::apply`] changes the state and returns the
//! [`Effects`] to carry out. No other code decides when a connection is up, when a
//! side shuts, or when it is gone, so the callback rules hold by construction:
//!
//! - "connected" ([`Effects::CONNECTED`]) at most once, from `Handshaking` only;
//! - [`Effects::RELEASE`] at most once; after it, no event has any effect, and
//!   [`Lifecycle::delivers`] is false, so no callback runs on a closed connection;
//! - the down callback runs at release if and only if "up" was emitted
//!   ([`Lifecycle::was_connected`]); a connection that fails before it is up produces no
//!   callback at all;
//! - our side shuts ([`Effects::SHUT_WRITE`]) only on [`Event::OutputDrained`], after
//!   the clean-close message of a layer ([`Effects::CLOSE_LAYER`]) drained too: an
//!   orderly shutdown loses no output.
//!
//! ```text
//!                 HandshakeDone
//!  Handshaking ─────────────────► Connected ───────────────────┐
//!      │                          │ read:  Open ⇄ Paused → Ended (PeerClosed)
//!      │ PeerClosed, Shutdown,    │ write: Open → Flushing → Notifying → Shut
//!      │ Close, Failed            │         (Shutdown)  (drained)   (drained)
//!      ▼                          ▼                             │
//!    Closed ◄──── Close, Failed, or read Ended and write Shut ◄──┘
//! ```
//!
//! Thread rule: owned by its connection, on the connection's loop thread.

use crate::stats::CloseCause;

/// Where the connection is, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The layer's handshake runs; the application has not seen the connection.
    Handshaking,
    /// Connected (the public `ConnState::Connected`): callbacks run, and the two
    /// directions close independently.
    Connected,
    /// Gone: released once the code running now returns.
    Closed,
}

/// The read direction while up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadSide {
    /// Reading.
    Open,
    /// Not reading for now, for one or both reasons.
    Paused { by_app: bool, by_high_water: bool },
    /// The peer finished sending (EOF or TLS close_notify).
    Ended,
}

/// The write direction while up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteSide {
    /// The application may send.
    Open,
    /// Shutdown asked: sends are refused, pending output drains.
    Flushing,
    /// The layer's clean-close message (TLS close_notify) is queued and drains.
    Notifying,
    /// `shutdown(SHUT_WR)` done.
    Shut,
}

/// Who paused reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PauseBy {
    /// `stop_reading` / `start_reading`.
    App,
    /// The output passed the high-water mark / drained to half of it.
    HighWater,
}

/// Something that happened to the connection. The events that end a connection carry
/// why, so the close cause is decided here, with the rest of its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// The layer finished its handshake (at once for a plain connection).
    HandshakeDone,
    /// The peer finished sending: EOF, TLS close_notify, or a truncated TLS stream.
    PeerClosed,
    /// The application asked to half-close our side once the output is flushed.
    Shutdown,
    /// The output buffer is empty.
    OutputDrained,
    /// Close now, discarding pending output, for this reason (the application, a
    /// timer, a panicking callback).
    Close(CloseCause),
    /// The server (its stop deadline) or the loop (quitting) closes the connection:
    /// like `Close(Forced)`, and it overrides an orderly cause, since the orderly close
    /// did not finish.
    Stop,
    /// An I/O or protocol error.
    Failed,
    /// Stop reading.
    Pause(PauseBy),
    /// Reading may resume (if nobody else paused it).
    Resume(PauseBy),
}

/// What the connection must do after an event, as a small set (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Effects(u8);

impl Effects {
    /// Run the connected callback.
    pub(crate) const CONNECTED: Effects = Effects(1);
    /// Run the application's half-close callback.
    pub(crate) const HALF_CLOSE: Effects = Effects(1 << 1);
    /// Start the close-delay timer that bounds a half-closed connection.
    pub(crate) const ARM_CLOSE_TIMER: Effects = Effects(1 << 2);
    /// Queue the layer's clean-close message (then report `OutputDrained` again).
    pub(crate) const CLOSE_LAYER: Effects = Effects(1 << 3);
    /// `shutdown(SHUT_WR)` on the socket.
    pub(crate) const SHUT_WRITE: Effects = Effects(1 << 4);
    /// Closed: cancel timers, refuse handles, release the connection (the down
    /// callback runs then if [`Lifecycle::was_connected`]).
    pub(crate) const RELEASE: Effects = Effects(1 << 5);
    /// Reading was paused and may go on: read what arrived meanwhile.
    pub(crate) const RESUME_READ: Effects = Effects(1 << 6);

    /// No effect.
    pub(crate) const NONE: Effects = Effects(0);

    /// Whether every effect of `other` is in `self`.
    pub(crate) fn contains(self, other: Effects) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Both sets.
    pub(crate) fn with(self, other: Effects) -> Effects {
        Effects(self.0 | other.0)
    }
}

/// The state of one connection. See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Lifecycle {
    phase: Phase,
    read: ReadSide,
    write: WriteSide,
    /// The connected callback ran, so the down callback is owed at release.
    was_connected: bool,
    /// Why the connection ends (for the counters): the first cause, unless an error
    /// or a timeout follows an orderly one, or the server stops it.
    cause: Option<CloseCause>,
    /// A layer sends a clean-close message before our side shuts.
    has_layer: bool,
    /// The application handles the peer's half-close itself (else: shut down).
    app_handles_half_close: bool,
}

impl Lifecycle {
    /// A connection starting its handshake (a plain one gets `HandshakeDone` at once).
    pub(crate) fn new(has_layer: bool, app_handles_half_close: bool) -> Lifecycle {
        Lifecycle {
            phase: Phase::Handshaking,
            read: ReadSide::Open,
            write: WriteSide::Open,
            was_connected: false,
            cause: None,
            has_layer,
            app_handles_half_close,
        }
    }

    /// Applies `event`; returns what to do about it.
    pub(crate) fn apply(&mut self, event: Event) -> Effects {
        if self.phase != Phase::Closed {
            self.note_cause(event);
        }
        match (self.phase, event) {
            (Phase::Closed, _) => Effects::NONE,
            (_, Event::Close(_) | Event::Stop | Event::Failed) => self.close(),
            (_, Event::Pause(by)) => self.pause(by),
            (_, Event::Resume(by)) => self.resume(by),
            (Phase::Handshaking, Event::HandshakeDone) => {
                self.phase = Phase::Connected;
                self.was_connected = true;
                Effects::CONNECTED
            }
            // Nothing of the application's went out yet: the connection just goes.
            (Phase::Handshaking, Event::PeerClosed | Event::Shutdown) => self.close(),
            (Phase::Handshaking, Event::OutputDrained) => Effects::NONE,
            (Phase::Connected, Event::HandshakeDone) => Effects::NONE,
            (Phase::Connected, Event::PeerClosed) => self.on_peer_closed(),
            (Phase::Connected, Event::Shutdown) => {
                if self.write == WriteSide::Open {
                    self.write = WriteSide::Flushing;
                }
                Effects::NONE
            }
            (Phase::Connected, Event::OutputDrained) => self.on_drained(),
        }
    }

    /// Notes why the connection ends, from an event that may end it.
    fn note_cause(&mut self, event: Event) {
        let cause = match event {
            Event::PeerClosed if self.read != ReadSide::Ended => CloseCause::PeerEof,
            Event::Shutdown if self.phase == Phase::Connected => CloseCause::Shutdown,
            Event::Close(cause) => cause,
            Event::Failed => CloseCause::Error,
            Event::Stop => {
                if matches!(
                    self.cause,
                    None | Some(CloseCause::PeerEof | CloseCause::Shutdown)
                ) {
                    self.cause = Some(CloseCause::Forced);
                }
                return;
            }
            _ => return,
        };
        match self.cause {
            None => self.cause = Some(cause),
            Some(old) if old.is_orderly() && !cause.is_orderly() && cause != CloseCause::Forced => {
                self.cause = Some(cause)
            }
            Some(_) => {}
        }
    }

    /// Why the connection ended (`Forced` if nothing said: a loop dropped it).
    pub(crate) fn close_cause(&self) -> CloseCause {
        self.cause.unwrap_or(CloseCause::Forced)
    }

    fn close(&mut self) -> Effects {
        self.phase = Phase::Closed;
        Effects::RELEASE
    }

    fn on_peer_closed(&mut self) -> Effects {
        if self.read == ReadSide::Ended {
            return Effects::NONE;
        }
        self.read = ReadSide::Ended;
        if self.write == WriteSide::Shut {
            return self.close();
        }
        let effects = Effects::ARM_CLOSE_TIMER;
        if self.write != WriteSide::Open {
            return effects;
        }
        if self.app_handles_half_close {
            effects.with(Effects::HALF_CLOSE)
        } else {
            self.write = WriteSide::Flushing;
            effects
        }
    }

    fn on_drained(&mut self) -> Effects {
        match self.write {
            WriteSide::Open | WriteSide::Shut => Effects::NONE,
            WriteSide::Flushing if self.has_layer => {
                self.write = WriteSide::Notifying;
                Effects::CLOSE_LAYER
            }
            WriteSide::Flushing | WriteSide::Notifying => {
                self.write = WriteSide::Shut;
                let effects = Effects::SHUT_WRITE.with(Effects::ARM_CLOSE_TIMER);
                if self.read == ReadSide::Ended {
                    effects.with(self.close())
                } else {
                    effects
                }
            }
        }
    }

    fn pause(&mut self, by: PauseBy) -> Effects {
        let (mut app, mut high_water) = match self.read {
            ReadSide::Ended => return Effects::NONE,
            ReadSide::Open => (false, false),
            ReadSide::Paused {
                by_app,
                by_high_water,
            } => (by_app, by_high_water),
        };
        match by {
            PauseBy::App => app = true,
            PauseBy::HighWater => high_water = true,
        }
        self.read = ReadSide::Paused {
            by_app: app,
            by_high_water: high_water,
        };
        Effects::NONE
    }

    fn resume(&mut self, by: PauseBy) -> Effects {
        let ReadSide::Paused {
            mut by_app,
            mut by_high_water,
        } = self.read
        else {
            return Effects::NONE;
        };
        match by {
            PauseBy::App => by_app = false,
            PauseBy::HighWater => by_high_water = false,
        }
        if by_app || by_high_water {
            self.read = ReadSide::Paused {
                by_app,
                by_high_water,
            };
            Effects::NONE
        } else {
            self.read = ReadSide::Open;
            Effects::RESUME_READ
        }
    }

    /// Where the connection is.
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// The write direction.
    pub(crate) fn write_side(&self) -> WriteSide {
        self.write
    }

    /// Whether callbacks may run (connected, and not closed).
    pub(crate) fn delivers(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether the connected callback ran, so the down callback is owed at release.
    pub(crate) fn was_connected(&self) -> bool {
        self.was_connected
    }

    /// Whether the connection should read from its socket now.
    pub(crate) fn reads(&self) -> bool {
        self.phase != Phase::Closed && self.read == ReadSide::Open
    }

    /// Whether reading is paused (by the application or by the high-water policy).
    pub(crate) fn is_paused(&self) -> bool {
        matches!(self.read, ReadSide::Paused { .. })
    }

    /// Whether reading is paused by the high-water policy.
    #[cfg(test)]
    pub(crate) fn paused_by_high_water(&self) -> bool {
        matches!(
            self.read,
            ReadSide::Paused {
                by_high_water: true,
                ..
            }
        )
    }

    /// Whether the peer finished sending.
    pub(crate) fn peer_closed(&self) -> bool {
        self.read == ReadSide::Ended
    }

    /// Whether the application may still send (bytes sent while the handshake runs
    /// are kept by the layer until it completes).
    pub(crate) fn accepts_sends(&self) -> bool {
        self.phase != Phase::Closed && self.write == WriteSide::Open
    }

    /// Whether the connection is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
