//! The server name a client asked for, carried from the certificate resolver to the
//! layer.
//!
//! rustls's unbuffered server connection does not expose the SNI it saw, but it asks
//! the configuration's certificate resolver during the handshake, synchronously, on the
//! thread that drives the connection. The acceptor's resolver records the name in a
//! thread-local; the layer clears it before driving a handshake and takes it right
//! after, so no other connection's name can be read.

use std::cell::RefCell;

thread_local! {
    static SEEN: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Forgets any name recorded before (called before driving a handshake).
pub(crate) fn begin() {
    SEEN.with(|s| s.borrow_mut().take());
}

/// Records the name the ClientHello carried (called by the resolver).
pub(crate) fn record(name: Option<&str>) {
    SEEN.with(|s| *s.borrow_mut() = name.map(str::to_string));
}

/// The name recorded since [`begin`], if the resolver ran and the client sent one.
pub(crate) fn take() -> Option<String> {
    SEEN.with(|s| s.borrow_mut().take())
}
