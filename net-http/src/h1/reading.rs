//! What an HTTP/1.1 connection is reading: the machine that decides when a request
//! may start, when parsing pauses, which deadline runs, and when no request will follow.
//!
//! Pure: it holds no I/O and calls nothing. The codec (`parse.rs`, `write.rs`,
//! `timer.rs`) tells it what happened and does what the answer says (stop or start
//! reading, drop a request cut short, close). It is generic over the body being read
//! so that its tests need no real request.
//!
//! ```text
//!            head bytes             head parsed (body)
//!   Between ───────────► Head ──────────────────────► Body ──body done──► Between
//!     ▲  │ head parsed (no body) ◄──┘                   │ (Done if it was the last)
//!     │  └─ pipeline full / output full / upgrade ─► Held ─release─► Between
//!     │                                                  │ (the peer's end waits here)
//!   release                   close requested, refused, peer ended, timeout
//!     └──────────── Held    any ──────────────────────────────────────────► Done
//! ```

use std::time::{Duration, Instant};

/// Why parsing is paused (and reading stopped). Each ends differently: the first two
/// when answers go out, an upgrade only by handing the connection to WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// As many requests wait for answers as the limits allow.
    PipelineFull,
    /// The answers already queued are above the high-water mark (a client that
    /// pipelines and does not read).
    OutputFull,
    /// A WebSocket upgrade was accepted: what follows is WebSocket, not HTTP.
    Upgrade,
}

/// The reading state; `B` is the body being read (its data and decoder).
#[derive(Debug)]
pub(crate) enum Reading<B> {
    /// Between requests. `idle_since` runs the keep-alive (or first-request) timeout
    /// once every answer is written; `None` while answers are owed, when the client is
    /// waiting on us and no deadline of its own runs.
    Between { idle_since: Option<Instant> },
    /// Part of a request head has arrived (the header-read timeout runs).
    Head { started: Instant },
    /// A request body is arriving.
    Body {
        body: B,
        /// The request asked not to keep the connection alive: nothing follows it.
        last: bool,
        /// A `100 Continue` is owed once this request is the next to be answered.
        continue_owed: bool,
    },
    /// Parsing is paused and reading stopped; input waits in the stash. `peer_ended`:
    /// the peer's EOF arrived meanwhile, to be applied after the stash is parsed.
    Held { why: Hold, peer_ended: bool },
    /// No request will be read again: the last one said close, one was refused, the
    /// peer ended, or the connection idled out. Close once the answers are out.
    Done,
}

/// A request cut short by the peer's end, for the codec to forget.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Dropped<B> {
    /// Nothing was in progress.
    Nothing,
    /// Part of a head: nothing was queued for it.
    Head,
    /// A body was arriving: its request's answer slot goes too.
    Body(B),
}

impl<B> Reading<B> {
    /// A new connection: waiting for its first request, the header timeout running.
    pub(crate) fn new(now: Instant) -> Self {
        Reading::Between {
            idle_since: Some(now),
        }
    }

    /// Whether another request head may be parsed now.
    pub(crate) fn accepts_head(&self) -> bool {
        matches!(self, Reading::Between { .. } | Reading::Head { .. })
    }

    /// Whether parsing is paused.
    pub(crate) fn is_held(&self) -> bool {
        matches!(self, Reading::Held { .. })
    }

    /// Whether no request will be read again.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self, Reading::Done)
    }

    /// Whether a request (head or body) is partly read.
    pub(crate) fn in_request(&self) -> bool {
        matches!(self, Reading::Head { .. } | Reading::Body { .. })
    }

    /// The first bytes of a head arrived; `true` if that started the header timeout.
    pub(crate) fn head_bytes(&mut self, now: Instant) -> bool {
        if let Reading::Between { .. } = self {
            *self = Reading::Head { started: now };
            return true;
        }
        false
    }

    /// A whole head was parsed. With a body to read, the connection reads it next;
    /// `close` says the request is the last one.
    pub(crate) fn head_parsed(&mut self, close: bool, body: Option<(B, bool)>) {
        if !self.accepts_head() {
            return;
        }
        *self = match body {
            Some((body, continue_owed)) => Reading::Body {
                body,
                last: close,
                continue_owed,
            },
            None if close => Reading::Done,
            None => Reading::Between { idle_since: None },
        };
    }

    /// The body being read, if one is.
    pub(crate) fn body(&self) -> Option<&B> {
        match self {
            Reading::Body { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The body being read, if one is, to add to.
    pub(crate) fn body_mut(&mut self) -> Option<&mut B> {
        match self {
            Reading::Body { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The body is complete: it is handed back, and the connection waits for the next
    /// request (or for nothing, if this one was the last).
    pub(crate) fn body_done(&mut self) -> Option<B> {
        let Reading::Body { last, .. } = self else {
            return None;
        };
        let next = if *last {
            Reading::Done
        } else {
            Reading::Between { idle_since: None }
        };
        match std::mem::replace(self, next) {
            Reading::Body { body, .. } => Some(body),
            _ => None,
        }
    }

    /// Takes the owed `100 Continue`, if one is owed: the caller sends it when the
    /// request being read is the next to be answered.
    pub(crate) fn take_continue(&mut self) -> bool {
        match self {
            Reading::Body { continue_owed, .. } => std::mem::take(continue_owed),
            _ => false,
        }
    }

    /// Pauses parsing at a request boundary (or, for an upgrade, wherever it is);
    /// `true` if reading must stop now.
    pub(crate) fn hold(&mut self, why: Hold) -> bool {
        match self {
            Reading::Between { .. } | Reading::Head { .. } => {
                *self = Reading::Held {
                    why,
                    peer_ended: false,
                };
                true
            }
            Reading::Held { why: held, .. } => {
                // An accepted upgrade outranks a full pipeline: only the upgrade
                // itself may end the pause then.
                if why == Hold::Upgrade {
                    *held = Hold::Upgrade;
                }
                false
            }
            Reading::Body { .. } | Reading::Done => false,
        }
    }

    /// Ends a pause that `can_release` allows (an upgrade pause never ends here).
    /// `Some(peer_ended)`: reading restarts, the stash is parsed, and then, if the peer
    /// ended meanwhile, its end is applied.
    pub(crate) fn release(&mut self, can_release: impl FnOnce(Hold) -> bool) -> Option<bool> {
        let Reading::Held { why, peer_ended } = *self else {
            return None;
        };
        if why == Hold::Upgrade || !can_release(why) {
            return None;
        }
        *self = Reading::Between { idle_since: None };
        Some(peer_ended)
    }

    /// The peer ended its stream. A request cut short is dropped (and named, so its
    /// answer slot goes too); a paused connection applies it after its stash.
    pub(crate) fn peer_ended(&mut self) -> Dropped<B> {
        if let Reading::Held { peer_ended, .. } = self {
            *peer_ended = true;
            return Dropped::Nothing;
        }
        match std::mem::replace(self, Reading::Done) {
            Reading::Head { .. } => Dropped::Head,
            Reading::Body { body, .. } => Dropped::Body(body),
            _ => Dropped::Nothing,
        }
    }

    /// No request will be read again (a close was answered or a request refused): a
    /// body being read is dropped and a pause ends with it.
    pub(crate) fn finish(&mut self) -> Option<B> {
        match std::mem::replace(self, Reading::Done) {
            Reading::Body { body, .. } => Some(body),
            _ => None,
        }
    }

    /// Every answer is out and nothing is being read: the idle timeout starts now.
    pub(crate) fn went_idle(&mut self, now: Instant) {
        if let Reading::Between { idle_since } = self {
            idle_since.get_or_insert(now);
        }
    }

    /// The time by which the client must have done something, if it must: the
    /// header-read timeout for a head (and for a body, since its last bytes), the
    /// first-request or keep-alive timeout while idle; none while we owe answers, hold
    /// or are done.
    pub(crate) fn deadline(
        &self,
        header_timeout: Duration,
        keep_alive_timeout: Duration,
        served: u64,
        last_rx: Instant,
    ) -> Option<Instant> {
        let after = |t: Instant, d: Duration| Some(net::deadline_after(t, d));
        match self {
            Reading::Head { started } => after(*started, header_timeout),
            Reading::Body { .. } => after(last_rx, header_timeout),
            Reading::Between {
                idle_since: Some(t),
            } => after(
                *t,
                if served == 0 {
                    header_timeout
                } else {
                    keep_alive_timeout
                },
            ),
            Reading::Between { idle_since: None } | Reading::Held { .. } | Reading::Done => None,
        }
    }
}

#[cfg(test)]
#[path = "reading_tests.rs"]
mod tests;
