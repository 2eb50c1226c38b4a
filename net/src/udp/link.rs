//! `Link`: what the senders and the server's handles know of one loop's UDP socket —
//! its loop, its bounded inbox for datagrams sent from other threads, its slot on the
//! loop, and the flag that makes a burst of sends cost one task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crossbeam_channel::Sender;

use super::outbox::OutDatagram;
use crate::reactor::loop_handle::LoopHandle;
use crate::reactor::slab::SlotId;

/// What the server's handles know of one loop's endpoint.
pub(crate) struct Link {
    pub(crate) index: usize,
    pub(crate) lp: LoopHandle,
    pub(crate) inbox: Sender<OutDatagram>,
    pub(crate) slot: OnceLock<SlotId>,
    /// Set by the first sender since the endpoint last emptied its inbox: only that
    /// one queues a task to the loop.
    pub(crate) poked: AtomicBool,
}

impl Link {
    pub(crate) fn new(index: usize, lp: LoopHandle, inbox: Sender<OutDatagram>) -> Self {
        Link {
            index,
            lp,
            inbox,
            slot: OnceLock::new(),
            poked: AtomicBool::new(false),
        }
    }

    /// Makes the endpoint look at its inbox (and at the stop flag) soon.
    pub(crate) fn poke(&self) {
        // AcqRel on both sides: the endpoint's swap(false) either reads this `true`
        // (and so sees the datagram queued before it) or comes first (and this swap
        // reads `false` and queues a task).
        if self.poked.swap(true, Ordering::AcqRel) {
            return;
        }
        match self.slot.get() {
            Some(&slot) => {
                self.lp
                    .queue_in_loop(move |ctx| ctx.run_handler(slot, None));
            }
            None => self.poked.store(false, Ordering::Release),
        }
    }
}
