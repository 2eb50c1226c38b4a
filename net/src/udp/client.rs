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
use crate::resolve::blocking::split_host_port;
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
    /// (bounded; refused on the resolver's own loop; on any other loop's thread use
    /// [`resolve_then_connect`](Self::resolve_then_connect), which never waits), then connects to its first
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

    /// Resolves `target` ("host:port") with `resolver` without blocking anyone, then
    /// connects to its first address (IPv6 first) and hands the client, or the error
    /// naming what failed, to `done` on the resolver's loop. Safe to call from any
    /// thread, a loop's callback included (where [`connect_host`](Self::connect_host)
    /// would have to wait). A `target` that is not `host:port` is refused here, and
    /// `done` is then dropped unrun; so is it if the resolver's loop has ended.
    ///
    /// ```no_run
    /// # let lp = net::EventLoop::new("client")?;
    /// let resolver = net::resolve::Resolver::system_default(&lp.handle());
    /// net::udp::UdpClient::resolve_then_connect(&lp.handle(), &resolver, "dns.test:53", |client| {
    ///     match client {
    ///         Ok(c) => println!("connected to {}", c.peer_addr()),
    ///         Err(e) => println!("{e}"),
    ///     }
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn resolve_then_connect<F>(
        lp: &LoopHandle,
        resolver: &Resolver,
        target: &str,
        done: F,
    ) -> io::Result<()>
    where
        F: FnOnce(io::Result<UdpClient>) + Send + 'static,
    {
        let (host, port) = split_host_port(target)?;
        let lp = lp.clone();
        let target = target.to_string();
        resolver.resolve(host, move |_ctx, found| {
            let client = match found {
                Ok(ips) => match ips.first() {
                    Some(ip) => Self::connect(&lp, SocketAddr::new(*ip, port)),
                    None => Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{target}: no address"),
                    )),
                },
                Err(e) => Err(io::Error::from(e)),
            };
            done(client);
        });
        Ok(())
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
