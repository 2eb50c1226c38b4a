//! Making a loop's UDP socket: `SO_REUSEPORT` so every loop binds the same address
//! (the kernel spreads flows by their 4-tuple), pktinfo so each datagram on a wildcard
//! address says which local address it hit, and the offloads the kernel offers, found
//! out once.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Once;

use socket2::{Domain, Protocol, Socket, Type};

use super::batch::{UDP_GRO, UDP_SEGMENT};

/// Binds one UDP socket on `addr`, non-blocking, with `SO_REUSEPORT` when `reuse_port`,
/// RECVERR on, and pktinfo on a wildcard address only: a socket bound to one address
/// receives only what is sent to that address, so the kernel's per-datagram control
/// message would only repeat it (and parsing it was a tenth of the echo server's
/// user-space work per datagram); the endpoint then uses the bound address. An IPv6
/// address other than `::` is IPv6 only; `[::]` also takes IPv4 (mapped), as the
/// system's default says.
pub(crate) fn bind(
    addr: SocketAddr,
    reuse_port: bool,
    recv_buffer: Option<usize>,
) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.set_nonblocking(true)?;
    let fd = socket.as_raw_fd();
    // RECVERR: ICMP errors (port unreachable, ...) are queued for the socket and
    // counted (errqueue.rs) instead of being dropped by the kernel unseen.
    let wildcard = addr.ip().is_unspecified();
    match addr {
        SocketAddr::V4(_) => {
            if wildcard {
                set_int(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
            }
            set_int(fd, libc::IPPROTO_IP, libc::IP_RECVERR, 1)?;
        }
        SocketAddr::V6(_) => {
            if !wildcard {
                socket.set_only_v6(true)?;
            } else {
                // IPv4-mapped datagrams on a dual-stack socket report IP_PKTINFO.
                set_int(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
                set_int(fd, libc::IPPROTO_IP, libc::IP_RECVERR, 1)?;
                set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
            }
            set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)?;
        }
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Which offloads a socket may use.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Offload {
    /// `UDP_SEGMENT` on send.
    pub(crate) gso: bool,
    /// `UDP_GRO` on receive (switched on by [`enable_gro`]).
    pub(crate) gro: bool,
}

static GSO_LOG: Once = Once::new();
static GRO_LOG: Once = Once::new();

/// Finds out whether the kernel offers GSO on `socket` (reading the option is enough:
/// kernels without it refuse the read) and switches GRO on if `want_gro`. Each missing
/// offload is logged once per process, not per loop.
pub(crate) fn offload(socket: &UdpSocket, want_gso: bool, want_gro: bool) -> Offload {
    let fd = socket.as_raw_fd();
    let gso = want_gso && get_int(fd, libc::SOL_UDP, UDP_SEGMENT).is_ok();
    if want_gso && !gso {
        GSO_LOG.call_once(|| {
            log::info!("UDP GSO (UDP_SEGMENT) not offered by the kernel: one message per reply")
        });
    }
    let gro = want_gro && set_int(fd, libc::SOL_UDP, UDP_GRO, 1).is_ok();
    if want_gro && !gro {
        GRO_LOG.call_once(|| {
            log::info!("UDP GRO not offered by the kernel: one datagram per receive slot")
        });
    }
    Offload { gso, gro }
}

fn set_int(fd: i32, level: i32, name: i32, value: libc::c_int) -> io::Result<()> {
    // SAFETY: fd is an open socket; the option value is a c_int of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn get_int(fd: i32, level: i32, name: i32) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: fd is an open socket; value and len are writable and len says its size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(value)
    }
}
