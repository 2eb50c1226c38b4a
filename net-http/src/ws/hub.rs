//! The loops on which one service has had WebSockets, so that a broadcaster outside
//! any handler can reach them all with one task per loop (as `WsConn::broadcast`
//! does) without knowing the server. A loop is noted at its first WebSocket: a lock
//! at most once per loop and then an atomic bit test per upgrade, never per message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use net::{LoopHandle, TcpConnection};

/// One service's WebSocket loops; compared by address to tell services apart on
/// shared loops.
#[derive(Default)]
pub(crate) struct WsHub {
    /// Bit `i` set: loop `i` is in `loops` (loops past 63 always take the lock).
    noted: AtomicU64,
    loops: Mutex<Vec<(usize, LoopHandle)>>,
}

impl WsHub {
    /// Notes the loop of `conn`, a WebSocket of this service that just opened.
    pub(crate) fn note_loop(&self, conn: &TcpConnection) {
        let index = conn.id().loop_index();
        let bit = 1u64.checked_shl(index as u32).filter(|_| index < 64);
        if bit.is_some_and(|b| self.noted.load(Ordering::Acquire) & b != 0) {
            return;
        }
        let Ok(mut loops) = self.loops.lock() else {
            return;
        };
        if !loops.iter().any(|(i, _)| *i == index) {
            loops.push((index, conn.loop_handle()));
        }
        if let Some(b) = bit {
            self.noted.fetch_or(b, Ordering::Release);
        }
    }

    /// The loops noted so far.
    pub(crate) fn loops(&self) -> Vec<LoopHandle> {
        self.loops
            .lock()
            .map(|l| l.iter().map(|(_, h)| h.clone()).collect())
            .unwrap_or_default()
    }
}
