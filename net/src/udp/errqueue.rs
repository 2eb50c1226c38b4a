//! ICMP errors on an unconnected UDP socket. With `IP_RECVERR` / `IPV6_RECVERR` the
//! kernel queues each ICMP error (port or host unreachable, ...) for the socket
//! instead of dropping it silently; the next receive fails once with that error, and
//! the details wait on the error queue. This drains the queue (so it never holds
//! receive-buffer space that datagrams need) and says how many errors there were.

use std::os::fd::RawFd;

/// Entries read per call at most (the queue is bounded by the receive buffer anyway).
const MAX_PER_CALL: usize = 256;

/// Reads and discards the socket's queued errors; returns how many there were.
pub(crate) fn drain(fd: RawFd) -> usize {
    let mut n = 0;
    let mut data = [0u8; 64];
    #[repr(C, align(8))]
    struct Control([u8; 256]);
    let mut control = Control([0; 256]);
    while n < MAX_PER_CALL {
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: an all-zero msghdr is valid; it points at the iovec, the data and
        // the aligned control buffer above, all alive during the call.
        let r = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = control.0.len() as _;
            libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT)
        };
        if r < 0 {
            break;
        }
        n += 1;
    }
    n
}

/// Whether a receive error is an ICMP error reported through `IP_RECVERR`.
pub(crate) fn is_icmp(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNREFUSED
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::EMSGSIZE
                | libc::EPROTO
        )
    )
}
