//! `HeaderReader`: reads one connection's PROXY protocol header on the loop that will
//! own the connection, then hands the socket on as a connection with the original
//! client's address.
//!
//! It peeks (`MSG_PEEK`) rather than reads, so the bytes after the header (a TLS
//! ClientHello) stay in the socket for the connection; once the header is complete it
//! reads exactly the header's bytes. Edge-triggered epoll still reports every new
//! arrival while peeked bytes wait. Bounded: a header longer than the limit, or not
//! complete by the deadline, closes the connection; so does the peer's EOF before the
//! end of the header, or bytes that are not a header.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry};

use super::parse::{parse, Header};
use super::policy::ProxyProtocol;
use crate::conn::connection::ConnService;
use crate::conn::connection::TcpConnection;
use crate::conn::proxy_info::ProxyInfo;
use crate::conn::service::LivePlace;
use crate::reactor::deadline::deadline_in;
use crate::reactor::loop_ctx::IoHandler;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::slab::SlotId;
use crate::stats::{CloseCause, HandshakeFailure};

pub(crate) struct HeaderReader {
    /// `None` once handed on (or closed).
    stream: Option<TcpStream>,
    peer: SocketAddr,
    service: Arc<ConnService>,
    /// The connection's place in the live count: handed on with the socket, or given
    /// back (counted as a failed PROXY header) when the reader gives up or is dropped.
    place: Option<LivePlace<TcpConnection>>,
    max_len: usize,
    deadline: Instant,
    /// The peer's FIN arrived (a peek then returns the bytes before it, not 0).
    read_closed: bool,
}

impl HeaderReader {
    /// Starts reading the header of `stream` (with its `place` in the live count) on
    /// this loop. Every outcome is counted, and the place given back if it fails.
    pub(crate) fn start(
        ctx: &mut LoopCtx,
        place: LivePlace<TcpConnection>,
        mut stream: TcpStream,
        peer: SocketAddr,
        policy: &ProxyProtocol,
    ) {
        let (max_len, timeout) = policy.limits();
        let service = place.service().clone();
        // A failed registration drops the closure, and the place with it (counted).
        let added = ctx.add_handler(|registry, token| {
            registry.register(&mut stream, token, Interest::READABLE)?;
            Ok(Box::new(HeaderReader {
                stream: Some(stream),
                peer,
                service: service.clone(),
                place: Some(place),
                max_len,
                deadline: deadline_in(timeout),
                read_closed: false,
            }))
        });
        match added {
            Ok(id) => {
                // The timer pokes the handler, which checks its deadline. It is not
                // cancelled: once the handler is gone the slot id (with its
                // generation) reaches nothing.
                ctx.run_after(timeout, move |ctx| ctx.run_handler(id, None));
            }
            Err(e) => log::warn!("{}: {peer}: cannot register: {e}", service.name),
        }
    }

    /// Peeks at what arrived: `Ok(Some)` with the header and its length once complete,
    /// `Ok(None)` to wait for more, `Err` with why the connection must close.
    fn peek(&mut self) -> Result<Option<(Header, usize)>, (String, CloseCause)> {
        let Some(stream) = self.stream.as_ref() else {
            return Ok(None);
        };
        let mut buf = vec![0; self.max_len];
        let n = loop {
            match stream.peek(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err((format!("read failed: {e}"), CloseCause::Error)),
            }
        };
        match parse(&buf[..n], self.max_len) {
            Ok(Some(done)) => Ok(Some(done)),
            Err(e) => Err((e.to_string(), CloseCause::Error)),
            Ok(None) if n == 0 || self.read_closed => Err((
                "peer closed before the end of the PROXY protocol header".into(),
                CloseCause::PeerEof,
            )),
            Ok(None) if n >= self.max_len => Err((
                format!("PROXY protocol header longer than {} bytes", self.max_len),
                CloseCause::Error,
            )),
            Ok(None) => Ok(None),
        }
    }

    /// Reads the header's `len` bytes (already in the socket: they were peeked).
    fn consume(&mut self, len: usize) -> io::Result<TcpStream> {
        let mut stream = self
            .stream
            .take()
            .ok_or_else(|| io::Error::other("no stream"))?;
        let mut buf = vec![0; len];
        let mut got = 0;
        while got < len {
            match stream.read(&mut buf[got..]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(stream)
    }

    fn give_up(&mut self, ctx: &mut LoopCtx, id: SlotId, why: &str, cause: CloseCause) {
        log::warn!("{}: {}: {why}; closing", self.service.name, self.peer);
        self.count_failure(cause);
        ctx.remove_handler(id);
    }

    fn count_failure(&mut self, cause: CloseCause) {
        self.stream = None;
        if let Some(place) = self.place.take() {
            place.fail(HandshakeFailure::ProxyHeader, cause);
        }
    }

    fn hand_on(&mut self, ctx: &mut LoopCtx, id: SlotId, header: Header, len: usize) {
        if let Some(stream) = self.stream.as_mut() {
            if let Err(e) = ctx.registry.deregister(stream) {
                log::debug!("{}: {}: deregister: {e}", self.service.name, self.peer);
            }
        }
        let stream = match self.consume(len) {
            Ok(s) => s,
            Err(e) => {
                return self.give_up(
                    ctx,
                    id,
                    &format!("reading the header: {e}"),
                    CloseCause::Error,
                )
            }
        };
        ctx.remove_handler(id);
        let info = ProxyInfo {
            proxy: self.peer,
            destination: header.addresses.map(|a| a.1),
            version: header.version,
            local: header.local,
            tlvs: header.tlvs,
        };
        let client = header.addresses.map_or(self.peer, |a| a.0);
        log::debug!(
            "{}: {} via PROXY v{} from {}",
            self.service.name,
            client,
            info.version,
            self.peer
        );
        let info = Some(Box::new(info));
        let Some(place) = self.place.take() else {
            return;
        };
        if let Err(e) = ctx.adopt(stream, client, place, info) {
            log::warn!(
                "{}: {client}: cannot take the connection in: {e}",
                self.service.name
            );
        }
    }
}

impl IoHandler for HeaderReader {
    fn ready(&mut self, ctx: &mut LoopCtx, id: SlotId, event: Option<&Event>) {
        if self.stream.is_none() {
            return;
        }
        if event.is_some_and(|e| e.is_read_closed() || e.is_error()) {
            self.read_closed = true;
        }
        match self.peek() {
            Ok(Some((header, len))) => self.hand_on(ctx, id, header, len),
            Err((why, cause)) => self.give_up(ctx, id, &why, cause),
            Ok(None) if event.is_none() && Instant::now() >= self.deadline => {
                let why = "PROXY protocol header not complete before the deadline";
                self.give_up(ctx, id, why, CloseCause::HandshakeTimeout)
            }
            Ok(None) => {}
        }
    }

    fn deregister(&mut self, registry: &Registry) {
        if let Some(stream) = self.stream.as_mut() {
            if let Err(e) = registry.deregister(stream) {
                log::debug!("{}: {}: deregister: {e}", self.service.name, self.peer);
            }
        }
    }
}

impl Drop for HeaderReader {
    /// Dropped with its socket still here: the loop is ending (the server stops).
    fn drop(&mut self) {
        self.count_failure(CloseCause::Forced);
    }
}
