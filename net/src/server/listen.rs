//! The server's listening sockets: bound here, or inherited from a process that hands
//! its listeners over (see `handover.rs` beside this file).
//!
//! One listener serves the main-reactor mode; the per-loop mode binds one listener per
//! worker loop, all with `SO_REUSEPORT` on the same address, so the kernel spreads new
//! connections over them (by a hash of the 4-tuple). Several processes that each set
//! `reuse_port` share a port the same way.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

/// Binds `count` listeners on `addr` (with port 0, the first one picks the port and
/// the others join it). `SO_REUSEADDR` always; `SO_REUSEPORT` when asked or when more
/// than one listener is bound.
pub(crate) fn bind(
    addr: SocketAddr,
    count: usize,
    reuse_port: bool,
    backlog: i32,
) -> io::Result<Vec<TcpListener>> {
    let mut listeners: Vec<TcpListener> = Vec::with_capacity(count.max(1));
    let mut at = addr;
    for _ in 0..count.max(1) {
        let socket = Socket::new(Domain::for_address(at), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        if reuse_port || count > 1 {
            socket.set_reuse_port(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&at.into())?;
        socket.listen(backlog)?;
        let l: TcpListener = socket.into();
        at = l.local_addr()?;
        listeners.push(l);
    }
    Ok(listeners)
}

/// Makes inherited listeners ready for the reactor (non-blocking) and checks that they
/// are listening TCP sockets on one address.
pub(crate) fn adopt(listeners: Vec<TcpListener>) -> io::Result<Vec<TcpListener>> {
    let mut addr = None;
    for l in &listeners {
        l.set_nonblocking(true)?;
        let a = l.local_addr()?;
        if *addr.get_or_insert(a) != a {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("inherited listeners on different addresses: {a} and {addr:?}"),
            ));
        }
        if !Socket::from(l.try_clone()?).is_listener()? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("inherited socket on {a} is not listening"),
            ));
        }
    }
    if listeners.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no listener inherited",
        ));
    }
    Ok(listeners)
}
