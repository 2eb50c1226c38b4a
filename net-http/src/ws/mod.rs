//! WebSocket (RFC 6455) over an upgraded HTTP/1.1 connection: framing, masking,
//! fragmentation, ping/pong, the close handshake, UTF-8 validation, a maximum message
//! size; broadcast to every WebSocket of the server across loops.
//!
//! Written here rather than taken from a crate: the well-kept framing crates
//! (tungstenite and its relatives) drive a blocking or async `Read + Write` stream,
//! while Muon's loop pushes bytes into a callback; the codec below is fed from the
//! connection's input buffer and writes through `TcpConnection::send`. It is proven by
//! the Autobahn|Testsuite (docs/autobahn.md).

mod broadcaster;
mod conn;
mod frame;
mod handler;
pub(crate) mod handshake;
pub(crate) mod hub;
mod message;
pub(crate) mod reader;
mod session;
mod state;

pub use broadcaster::WsBroadcaster;
pub use conn::{WsConn, WsHandle};
pub use frame::WsFail;
pub use handler::WsHandler;
pub use message::Message;
pub(crate) use session::{on_down, on_drain, on_half_close, on_message, take_over};
