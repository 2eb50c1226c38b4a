//! `UdpClient`: a connected UDP socket on a loop, for request/response protocols.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::client_link::{ClientLink, Request};
use super::client_socket::ClientSocket;
use super::stats::{UdpCounters, UdpStats};
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;
use crate::resolve::resolver::Resolver;

/// Requests queued to the loop and not yet sent, at most.
const QUEUE: usize = 1024;

/// A UDP socket connected to one server, living on a loop. Each request waits for
/// the next reply, in order, bounded by its own timeout; the callback runs on the
/// loop with the reply or the error (`TimedOut`, `ConnectionRefused` when an ICMP
/// error says nobody listens, `ConnectionAborted` when the client closed). A reply
/// that comes after its request timed out is dropped and counted
/// (`drops.unexpected`). Dropping the client closes it.
///
/// ```no_run
/// # let lp = net::EventLoop::new("client")?;
/// let client = net::udp::UdpClient::connect(&lp.handle(), "127.0.0.1:5353".parse().unwrap())?;
/// client.request(b"ping", std::time::Duration::from_secs(1), |_ctx, reply| {
///     match reply {
///         Ok(bytes) => println!("{} bytes back", bytes.len()),
///         Err(e) => println!("no reply: {e}"),
///     }
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpClient {
    link: Arc<ClientLink>,
    local: SocketAddr,
    peer: SocketAddr,
}

impl UdpClient {
    /// A socket on an ephemeral port of `peer`'s family, connected to `peer`, served
    /// by the loop `lp`. Errors from creating or connecting the socket come back here.
    pub fn connect(lp: &LoopHandle, peer: SocketAddr) -> io::Result<UdpClient> {
        let socket = Socket::new(Domain::for_address(peer), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_nonblocking(true)?;
        socket.connect(&peer.into())?;
        let socket: UdpSocket = socket.into();
        let local = socket.local_addr()?;
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let link = Arc::new(ClientLink {
            name: format!("udp-client {local}->{peer}"),
            lp: lp.clone(),
            requests: tx,
            slot: OnceLock::new(),
            poked: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            counters: UdpCounters::new(1),
        });
        let l2 = link.clone();
        let queued = lp.queue_in_loop(move |ctx: &mut LoopCtx| {
            let s = ClientSocket::new(socket, l2.clone(), rx);
            match ctx
                .add_handler(|registry, token| s.register(registry, token).map(|s| s as Box<_>))
            {
                Ok(slot) => {
                    let _ = l2.slot.set(slot);
                }
                Err(e) => log::error!("{}: cannot register: {e}", l2.name),
            }
        });
        if !queued {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the loop has ended",
            ));
        }
        Ok(UdpClient { link, local, peer })
    }

    /// Resolves `target` ("host:port") with `resolver`, waiting on this thread
    /// (bounded; refused on the resolver's own loop), then connects to its first
    /// address (IPv6 first). Errors name what failed: the lookup's (NXDOMAIN, timeout
    /// after N queries, no address) or the socket's.
    pub fn connect_host(
        lp: &LoopHandle,
        resolver: &Resolver,
        target: &str,
    ) -> io::Result<UdpClient> {
        let addrs = resolver.lookup_socket_addrs(target)?;
        match addrs.first() {
            Some(addr) => Self::connect(lp, *addr),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{target}: no address"),
            )),
        }
    }

    /// Sends `data` and calls `reply` on the loop with the next datagram from the
    /// peer, or with the error if none comes within `timeout`. Errors here (the
    /// callback is then dropped unrun): `WouldBlock` with 1,024 requests queued and not
    /// yet sent, `NotConnected` once the client is closed.
    pub fn request<F>(&self, data: &[u8], timeout: Duration, reply: F) -> io::Result<()>
    where
        F: FnOnce(&mut LoopCtx, io::Result<&[u8]>) + Send + 'static,
    {
        if self.link.closing.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "UDP client closed",
            ));
        }
        let r = Request {
            data: data.to_vec(),
            timeout,
            reply: Box::new(reply),
        };
        match self.link.requests.try_send(r) {
            Ok(()) => {
                self.link.poke();
                Ok(())
            }
            Err(crossbeam_channel::TrySendError::Full(_)) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "UDP request queue full",
            )),
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "UDP client closed",
            )),
        }
    }

    /// The local address (an ephemeral port).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The server's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The client's counters.
    pub fn stats(&self) -> UdpStats {
        self.link.counters.snapshot()
    }

    /// Closes the socket on its loop; requests still waiting get `ConnectionAborted`.
    pub fn close(&self) {
        if !self.link.closing.swap(true, Ordering::AcqRel) {
            self.link.poked.store(false, Ordering::Release);
            self.link.poke();
        }
    }
}

impl Drop for UdpClient {
    fn drop(&mut self) {
        self.close();
    }
}
