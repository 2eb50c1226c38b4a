//! `Connector`: one non-blocking connect attempt, as a handler on the client's loop.
//!
//! Ownership: owns the connecting socket until the attempt ends, then hands the
//! outcome (the connected socket, or the error: refused, self-connect, ...) to the
//! completion its starter gave it; the client decides about adopting and retrying.
//! The connect timeout is a timer owned by the client (`tcp_client.rs`).

use std::io;
use std::net::SocketAddr;

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::reactor::loop_ctx::IoHandler;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::slab::SlotId;

/// What happens with the outcome of an attempt: called once, on the loop, with the
/// connector's slot id and the connected socket and its peer, or the error.
pub(crate) type Completion =
    Box<dyn FnOnce(&mut LoopCtx, SlotId, io::Result<(TcpStream, SocketAddr)>)>;

pub(crate) struct Connector {
    stream: Option<TcpStream>,
    addr: SocketAddr,
    done: Option<Completion>,
}

impl Connector {
    /// Starts connecting to `addr`; the handler is woken when the outcome is known.
    pub(crate) fn start(
        ctx: &mut LoopCtx,
        addr: SocketAddr,
        done: Completion,
    ) -> io::Result<SlotId> {
        let stream = TcpStream::connect(addr)?;
        ctx.add_handler(move |registry: &Registry, token: Token| {
            let mut stream = stream;
            registry.register(&mut stream, token, Interest::WRITABLE)?;
            Ok(Box::new(Connector {
                stream: Some(stream),
                addr,
                done: Some(done),
            }) as Box<dyn IoHandler>)
        })
    }

    /// Whether a connect finished: `None` while in progress, else the peer or the error.
    pub(crate) fn outcome(stream: &TcpStream) -> Option<io::Result<SocketAddr>> {
        match stream.take_error() {
            Ok(Some(e)) | Err(e) => return Some(Err(e)),
            Ok(None) => {}
        }
        match stream.peer_addr() {
            Ok(peer) => {
                // Connecting to a free local port can connect the socket to itself.
                match stream.local_addr() {
                    Ok(local) if local == peer => Some(Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        "self-connect: the socket connected to itself",
                    ))),
                    _ => Some(Ok(peer)),
                }
            }
            // Still in progress: a spurious wake-up.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl IoHandler for Connector {
    fn ready(&mut self, ctx: &mut LoopCtx, id: SlotId, _event: Option<&Event>) {
        let Some(stream) = self.stream.as_ref() else {
            return;
        };
        let Some(outcome) = Self::outcome(stream) else {
            return;
        };
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        if let Err(e) = ctx.registry.deregister(&mut stream) {
            log::debug!("connector {}: deregister: {e}", self.addr);
        }
        ctx.remove_handler(id);
        if let Some(done) = self.done.take() {
            done(ctx, id, outcome.map(|peer| (stream, peer)));
        }
    }

    fn deregister(&mut self, registry: &Registry) {
        if let Some(stream) = self.stream.as_mut() {
            if let Err(e) = registry.deregister(stream) {
                log::debug!("connector {}: deregister: {e}", self.addr);
            }
        }
    }
}
