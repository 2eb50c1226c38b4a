//! `UdpServerBuilder`: how a UDP server is configured before it binds.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use super::batch::MAX_BATCH;
use super::ctx::{OnDatagram, UdpCtx};
use super::endpoint::EndpointConfig;
use super::server::UdpServer;
use crate::reactor::loop_pool::LoopPool;

/// The largest UDP payload over IPv6 without jumbograms (65,535 − 8), rounded up: a
/// receive slot this large never truncates.
const LARGEST_DATAGRAM: usize = 65_536;

/// Configures a [`UdpServer`]; made by [`UdpServer::builder`].
pub struct UdpServerBuilder {
    addr: io::Result<SocketAddr>,
    name: String,
    threads: usize,
    on_datagram: Option<Arc<OnDatagram>>,
    reuse_port: bool,
    max_datagram: usize,
    batch: usize,
    read_budget: usize,
    queue_limit: usize,
    gso: bool,
    gro: bool,
    recv_buffer: Option<usize>,
    stop_timeout: Duration,
}

impl UdpServer {
    /// Starts configuring a server on `addr` (IPv4 or IPv6; port 0 picks a free port).
    pub fn builder(addr: impl ToSocketAddrs) -> UdpServerBuilder {
        let addr = addr.to_socket_addrs().and_then(|mut a| {
            a.next().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")
            })
        });
        UdpServerBuilder {
            addr,
            name: "udp".into(),
            threads: num_cpus::get(),
            on_datagram: None,
            reuse_port: false,
            max_datagram: LARGEST_DATAGRAM,
            batch: MAX_BATCH,
            read_budget: 4 * MAX_BATCH,
            queue_limit: 1024,
            gso: true,
            gro: true,
            recv_buffer: None,
            stop_timeout: Duration::from_secs(5),
        }
    }
}

impl UdpServerBuilder {
    /// The server's name, in logs and thread names (default "udp").
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Number of loops, each with its own socket (default: the number of CPUs; at
    /// least one).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Called on the receiving loop for every datagram with its payload, its sender
    /// and the local address it was sent to; [`UdpCtx::reply`] answers from that
    /// address. A panic is caught, logged and counted (`drops.panicked`).
    pub fn on_datagram<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut UdpCtx, &[u8], SocketAddr, SocketAddr) + Send + Sync + 'static,
    {
        self.on_datagram = Some(Arc::new(f));
        self
    }

    /// `SO_REUSEPORT` for other processes too (default off): several processes that
    /// all set it share the port. The server's own loops always share it.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// The largest datagram delivered (default 65,536: every datagram). A larger one
    /// is discarded and counted in `drops.truncated`, never delivered cut. Memory:
    /// each loop has `batch` slots of this size, touched only as large datagrams come.
    /// GRO is used only with slots of at least 65,535 bytes.
    pub fn max_datagram_size(mut self, bytes: usize) -> Self {
        self.max_datagram = bytes.max(1);
        self
    }

    /// Datagrams per `recvmmsg`/`sendmmsg` call (default and most 64).
    pub fn batch(mut self, datagrams: usize) -> Self {
        self.batch = datagrams.clamp(1, MAX_BATCH);
        self
    }

    /// Datagrams a loop receives per readiness event before it lets its other work
    /// run (default 256).
    pub fn read_budget(mut self, datagrams: usize) -> Self {
        self.read_budget = datagrams.max(1);
        self
    }

    /// Datagrams a loop may hold waiting for socket buffer space, and the size of each
    /// loop's inbox for sends from other threads (default 1024). Beyond it a send is
    /// refused and counted (`drops.queue_full`).
    pub fn send_queue(mut self, datagrams: usize) -> Self {
        self.queue_limit = datagrams.max(1);
        self
    }

    /// Whether replies to one peer may leave as one GSO message (default on, where the
    /// kernel offers `UDP_SEGMENT`).
    pub fn gso(mut self, on: bool) -> Self {
        self.gso = on;
        self
    }

    /// Whether the kernel may coalesce received datagrams (`UDP_GRO`, default on
    /// where offered); they are still delivered one by one.
    pub fn gro(mut self, on: bool) -> Self {
        self.gro = on;
        self
    }

    /// `SO_RCVBUF` of every socket (default: the system's).
    pub fn recv_buffer_size(mut self, bytes: usize) -> Self {
        self.recv_buffer = Some(bytes);
        self
    }

    /// How long a stop waits for replies to drain (default 5 s).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// Binds one socket per loop and starts the loops.
    pub fn build(self) -> io::Result<UdpServer> {
        let addr = self.addr?;
        let on_datagram = self.on_datagram.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a UDP server needs on_datagram",
            )
        })?;
        let loops = self.threads.max(1);
        let reuse = self.reuse_port || loops > 1;
        let mut sockets = Vec::with_capacity(loops);
        let mut at = addr;
        for _ in 0..loops {
            let s = super::bind::bind(at, reuse, self.recv_buffer)?;
            at = s.local_addr()?;
            sockets.push(s);
        }
        let pool = LoopPool::start(&self.name, loops)?;
        let config = EndpointConfig {
            batch: self.batch,
            slot_size: self.max_datagram,
            budget: self.read_budget,
            queue_limit: self.queue_limit,
            gso: self.gso,
            gro: self.gro,
        };
        Ok(UdpServer::assemble(
            self.name,
            at,
            sockets,
            pool,
            on_datagram,
            self.stop_timeout,
            config,
        ))
    }
}
