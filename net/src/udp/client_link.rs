//! What a [`super::client::UdpClient`] shares with its socket on the loop: the bounded
//! queue of requests, the slot, the poke flag and the counters.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crossbeam_channel::Sender;

use super::stats::UdpCounters;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;
use crate::reactor::slab::SlotId;

/// What a request's callback gets: the reply, or why there is none.
pub(crate) type ReplyCallback = Box<dyn FnOnce(&mut LoopCtx, io::Result<&[u8]>) + Send>;

/// One request on its way to the loop.
pub(crate) struct Request {
    pub(crate) data: Vec<u8>,
    pub(crate) timeout: Duration,
    pub(crate) reply: ReplyCallback,
}

/// What the client's handle and its socket share.
pub(crate) struct ClientLink {
    pub(crate) name: String,
    pub(crate) lp: LoopHandle,
    pub(crate) requests: Sender<Request>,
    pub(crate) slot: OnceLock<SlotId>,
    pub(crate) poked: AtomicBool,
    pub(crate) closing: AtomicBool,
    pub(crate) counters: UdpCounters,
}

impl ClientLink {
    /// Makes the socket look at its queue (and the close flag) soon: one task per
    /// burst. The task reads the slot when it runs: the registration was queued before
    /// any request could be, so by then it is set.
    pub(crate) fn poke(self: &Arc<Self>) {
        if self.poked.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        self.lp.queue_in_loop(move |ctx| {
            if let Some(&slot) = me.slot.get() {
                ctx.run_handler(slot, None);
            }
        });
    }
}
