//! One exchange: the A and AAAA queries for one name at one nameserver, over UDP
//! (a fresh connected socket, so a random source port and only that server's
//! datagrams), then over TCP when an answer came back truncated.
//!
//! Memory is bounded whatever the server sends: one 64 KiB receive buffer for UDP;
//! over TCP, at most two length-prefixed messages of at most 64 KiB each.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use hickory_proto::rr::Name;
use mio::event::Event;
use mio::{Interest, Registry, Token};

use super::machine::Outcome;
use super::message::{self, Family, Reply};

const FAMILIES: [Family; 2] = [Family::V6, Family::V4];
/// The largest DNS message (its length prefix over TCP is 16 bits).
const MAX_MESSAGE: usize = 65_535;

enum Transport {
    Udp(mio::net::UdpSocket),
    Tcp {
        stream: mio::net::TcpStream,
        out: Vec<u8>,
        written: usize,
        input: Vec<u8>,
    },
}

/// One exchange in flight. See the module docs.
pub(crate) struct Exchange {
    name: Name,
    server: SocketAddr,
    ids: [u16; 2],
    replies: [Option<Reply>; 2],
    transport: Transport,
    buf: Box<[u8]>,
}

fn random_id() -> u16 {
    (crate::util::random_fraction() * 65_536.0) as u16
}

impl Exchange {
    /// Sends both queries over a new UDP socket registered with `token`.
    pub(crate) fn start(
        name: &str,
        server: SocketAddr,
        registry: &Registry,
        token: Token,
    ) -> io::Result<Exchange> {
        let fqdn =
            message::fqdn(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let bind: SocketAddr = if server.is_ipv6() {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        }
        .parse()
        .map_err(io::Error::other)?;
        let std_socket = std::net::UdpSocket::bind(bind)?;
        std_socket.set_nonblocking(true)?;
        std_socket.connect(server)?;
        let mut socket = mio::net::UdpSocket::from_std(std_socket);
        let ids = [random_id(), random_id()];
        for (family, id) in FAMILIES.iter().zip(ids) {
            let q = message::query(id, name, *family)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            socket.send(&q)?;
        }
        registry.register(&mut socket, token, Interest::READABLE)?;
        Ok(Exchange {
            name: fqdn,
            server,
            ids,
            replies: [None, None],
            transport: Transport::Udp(socket),
            buf: vec![0u8; MAX_MESSAGE].into_boxed_slice(),
        })
    }

    /// Handles readiness; returns the outcome once both answers are in.
    pub(crate) fn ready(
        &mut self,
        event: &Event,
        registry: &Registry,
        token: Token,
    ) -> Option<Outcome> {
        let result = match &mut self.transport {
            Transport::Udp(_) => self.read_udp(),
            Transport::Tcp { .. } => self.drive_tcp(event),
        };
        if let Err(e) = result {
            return Some(Outcome::Io(format!("{}: {e}", self.server)));
        }
        if matches!(self.transport, Transport::Udp(_))
            && self.replies.contains(&Some(Reply::Truncated))
        {
            if let Err(e) = self.switch_to_tcp(registry, token) {
                return Some(Outcome::Io(format!("{} over TCP: {e}", self.server)));
            }
            return None;
        }
        self.outcome()
    }

    fn take(&mut self, bytes_at: std::ops::Range<usize>, from_tcp: bool) {
        for (i, family) in FAMILIES.iter().enumerate() {
            if self.replies[i].is_some() {
                continue;
            }
            let bytes = if from_tcp {
                &self.tcp_input()[bytes_at.clone()]
            } else {
                &self.buf[bytes_at.clone()]
            };
            if let Some(r) = message::parse(bytes, self.ids[i], &self.name, *family) {
                // A truncated answer over TCP would loop: take it as a failure.
                self.replies[i] = Some(if from_tcp && r == Reply::Truncated {
                    Reply::Failure("truncated over TCP".into())
                } else {
                    r
                });
                return;
            }
        }
    }

    fn tcp_input(&self) -> &[u8] {
        match &self.transport {
            Transport::Tcp { input, .. } => input,
            Transport::Udp(_) => &[],
        }
    }

    fn read_udp(&mut self) -> io::Result<()> {
        loop {
            let Transport::Udp(socket) = &self.transport else {
                return Ok(());
            };
            match socket.recv(&mut self.buf) {
                Ok(n) => self.take(0..n, false),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn switch_to_tcp(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let mut out = Vec::new();
        for (i, family) in FAMILIES.iter().enumerate() {
            if matches!(self.replies[i], None | Some(Reply::Truncated)) {
                self.replies[i] = None;
                self.ids[i] = random_id();
                let q = message::query(self.ids[i], &self.name.to_ascii(), *family)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                out.extend_from_slice(&(q.len() as u16).to_be_bytes());
                out.extend_from_slice(&q);
            }
        }
        if let Transport::Udp(socket) = &mut self.transport {
            registry.deregister(socket)?;
        }
        let mut stream = mio::net::TcpStream::connect(self.server)?;
        registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        self.transport = Transport::Tcp {
            stream,
            out,
            written: 0,
            input: Vec::new(),
        };
        Ok(())
    }

    fn drive_tcp(&mut self, event: &Event) -> io::Result<()> {
        let Transport::Tcp {
            stream,
            out,
            written,
            input,
        } = &mut self.transport
        else {
            return Ok(());
        };
        if event.is_error() {
            return Err(stream
                .take_error()?
                .unwrap_or_else(|| io::Error::other("socket error")));
        }
        while *written < out.len() {
            match stream.write(&out[*written..]) {
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut chunk = [0u8; 4096];
        loop {
            // At most two messages of at most 64 KiB each are ever expected.
            if input.len() > 2 * (MAX_MESSAGE + 2) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "oversized TCP answer",
                ));
            }
            match stream.read(&mut chunk) {
                Ok(0) => {
                    self.take_frames();
                    return if self.replies.iter().all(Option::is_some) {
                        Ok(())
                    } else {
                        Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "nameserver closed the TCP connection",
                        ))
                    };
                }
                Ok(n) => input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.take_frames();
        Ok(())
    }

    /// Parses every whole length-prefixed message in the TCP input.
    fn take_frames(&mut self) {
        let mut at = 0;
        loop {
            let input = self.tcp_input();
            let Some(len) = input
                .get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
            else {
                break;
            };
            if input.len() < at + 2 + len {
                break;
            }
            self.take(at + 2..at + 2 + len, true);
            at += 2 + len;
        }
        if let Transport::Tcp { input, .. } = &mut self.transport {
            input.drain(..at);
        }
    }

    /// Both answers combined, once both are in.
    fn outcome(&self) -> Option<Outcome> {
        if self.replies.iter().all(Option::is_some) {
            Some(self.combine())
        } else {
            None
        }
    }

    /// The timeout came: what is in so far (addresses of one family are enough).
    pub(crate) fn timed_out(&self) -> Outcome {
        match self.combine() {
            found @ Outcome::Found { .. } => found,
            _ => Outcome::Timeout,
        }
    }

    fn combine(&self) -> Outcome {
        let mut addrs = Vec::new();
        let mut ttl = u32::MAX;
        for r in self.replies.iter().flatten() {
            if let Reply::Addresses { addrs: a, ttl: t } = r {
                addrs.extend_from_slice(a);
                ttl = ttl.min(*t);
            }
        }
        if !addrs.is_empty() {
            return Outcome::Found { addrs, ttl };
        }
        let replies: Vec<&Reply> = self.replies.iter().flatten().collect();
        if replies.iter().any(|r| **r == Reply::NxDomain) {
            Outcome::NxDomain
        } else if let Some(Reply::Failure(code)) =
            replies.iter().find(|r| matches!(r, Reply::Failure(_)))
        {
            Outcome::Failure(code.clone())
        } else if replies.len() == 2 {
            Outcome::NoData
        } else {
            Outcome::Timeout
        }
    }

    /// Takes the socket off the poller.
    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let r = match &mut self.transport {
            Transport::Udp(s) => registry.deregister(s),
            Transport::Tcp { stream, .. } => registry.deregister(stream),
        };
        if let Err(e) = r {
            log::debug!("resolver: deregister: {e}");
        }
    }
}
