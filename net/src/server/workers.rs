//! The worker loops a server serves its connections on: a pool of its own (stopped
//! and joined when the server's `run` returns), or loops of a [`LoopPool`] the
//! application shares among several servers (never stopped by a server: the
//! application stops the servers, then drops the pool).

use crate::reactor::loop_handle::LoopHandle;
use crate::reactor::loop_pool::LoopPool;

/// Whose worker loops a server uses.
pub(crate) enum Workers {
    /// Started by the server, stopped with it (empty with `threads(0)`).
    Own(LoopPool),
    /// The application's, shared with other servers: left running when this one stops.
    Shared(Vec<LoopHandle>),
}

impl Workers {
    /// The worker loops, in index order (empty: the main loop serves).
    pub(crate) fn loops(&self) -> &[LoopHandle] {
        match self {
            Workers::Own(pool) => pool.loops(),
            Workers::Shared(loops) => loops,
        }
    }

    /// The server's `run` ended: its own loops quit and are joined; shared ones stay.
    pub(crate) fn stop(&mut self) {
        if let Workers::Own(pool) = self {
            pool.stop();
        }
    }
}
