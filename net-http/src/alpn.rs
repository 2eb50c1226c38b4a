//! The ALPN protocol ids a TLS acceptor of an HTTP service offers.

/// The ALPN protocol id of HTTP/1.1, for `TlsAcceptorBuilder::alpn_protocols`.
pub const ALPN_HTTP11: &str = "http/1.1";

/// The ALPN protocol id of HTTP/2 over TLS.
pub const ALPN_H2: &str = "h2";

/// What a TLS acceptor of an [`HttpService`](crate::HttpService) with HTTP/2 on (the default) offers by
/// ALPN, in the server's order of preference: `h2`, then `http/1.1`.
pub const ALPN_H2_HTTP11: [&str; 2] = [ALPN_H2, ALPN_HTTP11];
