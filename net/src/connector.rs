//! `Connector`: one non-blocking connect attempt, as a handler on the client's loop.
//!
//! Ownership: owns the connecting socket until the attempt ends. On success it hands
//! the socket to the loop as a connection of the client's service; on failure (error,
//! refused, self-connect) it reports to the client, which decides about retrying. The
//! connect timeout is a timer owned by the client (`client.rs`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::client::ClientShared;
use crate::loop_ctx::IoHandler;
use crate::slab::SlotId;
use crate::LoopCtx;

pub(crate) struct Connector {
    stream: Option<TcpStream>,
    addr: SocketAddr,
    client: Arc<ClientShared>,
}

impl Connector {
    /// Starts connecting to `addr`; the handler is woken when the outcome is known.
    pub(crate) fn start(
        ctx: &mut LoopCtx,
        addr: SocketAddr,
        client: Arc<ClientShared>,
    ) -> io::Result<SlotId> {
        let stream = TcpStream::connect(addr)?;
        ctx.add_handler(move |registry: &Registry, token: Token| {
            let mut stream = stream;
            registry.register(&mut stream, token, Interest::WRITABLE)?;
            Ok(Box::new(Connector {
                stream: Some(stream),
                addr,
                client,
            }) as Box<dyn IoHandler>)
        })
    }

    fn outcome(stream: &TcpStream) -> Option<io::Result<SocketAddr>> {
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
        let client = self.client.clone();
        match outcome {
            Ok(peer) => client.connected(ctx, id, stream, peer),
            Err(e) => client.attempt_failed(Some(id), e),
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
