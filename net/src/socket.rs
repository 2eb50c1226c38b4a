//! Socket operations the standard library does not offer as Muon needs them.

use std::io;
use std::os::fd::AsRawFd;

/// `send(2)` with `MSG_NOSIGNAL`: writing to a peer that is gone returns `EPIPE`
/// instead of raising SIGPIPE, whatever the process's signal disposition.
pub(crate) fn send(socket: &impl AsRawFd, data: &[u8]) -> io::Result<usize> {
    // SAFETY: `data` is a live slice of `data.len()` readable bytes for the whole call,
    // and the descriptor is owned by `socket`, which outlives the call.
    let n = unsafe {
        libc::send(
            socket.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
