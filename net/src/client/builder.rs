//! `TcpClientBuilder`: how a client is configured before it connects.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::client::retry::RetryPolicy;
use crate::client::tcp_client::TcpClient;
use crate::client::tcp_client::{ClientShared, RetryCallback, Target};
use crate::conn::callbacks::Callbacks;
use crate::conn::connection::TcpConnection;
use crate::conn::options::ConnOptions;
use crate::conn::service::Service;
use crate::layer::LayerFactory;
use crate::reactor::event_loop::EventLoop;
use crate::reactor::loop_handle::LoopHandle;
use crate::resolve::blocking::split_host_port;
use crate::resolve::resolver::Resolver;
use crate::resolve::shared::ResolverInner;

/// Configures a [`TcpClient`]; made by [`TcpClient::builder`].
pub struct TcpClientBuilder {
    addr: String,
    name: String,
    callbacks: Callbacks<TcpConnection>,
    options: ConnOptions,
    layer: Option<Arc<dyn LayerFactory>>,
    connect_timeout: Duration,
    retry: RetryPolicy,
    reconnect: bool,
    event_loop: Option<LoopHandle>,
    on_retry: Option<RetryCallback>,
    resolver: Option<Resolver>,
}

impl TcpClient {
    /// Starts configuring a client of `addr`: `ip:port`, `[ipv6]:port` (used as it
    /// is) or `host:port` (looked up on the client's loop before every attempt, by
    /// the process's default resolver unless [`TcpClientBuilder::resolver`] names
    /// another; it never blocks a thread).
    pub fn builder(addr: &str) -> TcpClientBuilder {
        TcpClientBuilder::new(addr)
    }
}

impl TcpClientBuilder {
    fn new(addr: &str) -> Self {
        TcpClientBuilder {
            addr: addr.to_string(),
            name: "client".into(),
            callbacks: Callbacks::default(),
            // A client usually produces on its own rather than in answer to what it
            // reads; pausing its reads when its output backs up can deadlock against a
            // server that applies the same backpressure. Opt in where it fits.
            options: ConnOptions {
                pause_reading_above_high_water: false,
                ..ConnOptions::default()
            },
            layer: None,
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            reconnect: false,
            event_loop: None,
            on_retry: None,
            resolver: None,
        }
    }

    /// The client's name, in logs (default "client").
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    crate::builder_setters::connection_setters!();

    /// How long one TCP connect attempt may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// When to retry a failed connect or handshake (default: backoff from 500 ms to
    /// 30 s with jitter, forever).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Reconnect after an established connection goes down (default off).
    pub fn reconnect(mut self, on: bool) -> Self {
        self.reconnect = on;
        self
    }

    /// Runs on this loop instead of a loop thread of the client's own.
    pub fn event_loop(mut self, handle: LoopHandle) -> Self {
        self.event_loop = Some(handle);
        self
    }

    /// Called before each retry with (consecutive failures, delay, last error).
    pub fn on_retry<F>(mut self, f: F) -> Self
    where
        F: Fn(u32, Duration, &io::Error) + Send + Sync + 'static,
    {
        self.on_retry = Some(Arc::new(f));
        self
    }

    /// Looks the host up with this resolver's configuration and TTL cache instead of
    /// the process's default one (`/etc/resolv.conf` and `/etc/hosts`, see
    /// [`Resolver::system_default`]). The lookups still run on the client's own loop,
    /// one before every attempt (retries and reconnects too, so a changed address is
    /// followed); a lookup that fails counts as a failed attempt, with the resolver's
    /// reason (NXDOMAIN, timeout after N queries, no address) as its error.
    pub fn resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Starts the client on its loop: the first attempt (lookup, then connect) is
    /// queued there, and this returns at once, without waiting for either; see
    /// [`TcpClient::wait_connected`]. Fails only for an address that is not
    /// "host:port" and for what the loop needs (its thread).
    pub fn connect(self) -> io::Result<TcpClient> {
        let target = match self.addr.parse::<SocketAddr>() {
            Ok(addr) => Target::Addrs(vec![addr]),
            Err(_) => {
                let (host, port) = split_host_port(&self.addr)?;
                Target::Name {
                    host: host.to_string(),
                    port,
                    resolver: match &self.resolver {
                        Some(r) => r.inner.clone(),
                        None => ResolverInner::system_default(),
                    },
                }
            }
        };
        self.callbacks.owner.check()?;
        let (loop_handle, own_loop) = match self.event_loop {
            Some(h) => (h, None),
            None => {
                let lp = EventLoop::new(&self.name)?;
                let h = lp.handle();
                let t = std::thread::Builder::new()
                    .name(self.name.clone())
                    .spawn(move || lp.run())?;
                (h, Some(t))
            }
        };
        let TcpClientBuilder {
            addr,
            name,
            mut callbacks,
            options,
            layer,
            connect_timeout,
            retry,
            reconnect,
            on_retry,
            ..
        } = self;
        let shared = Arc::new_cyclic(|me: &std::sync::Weak<ClientShared>| {
            let user = callbacks.connection.take();
            let up = me.clone();
            // The client's machine decides whether the application sees an "up" (not
            // once the client stopped) and so whether it sees the "down" that follows.
            callbacks.connection = Some(Arc::new(move |conn| {
                let deliver = match up.upgrade() {
                    Some(client) if conn.is_connected() => client.came_up(conn),
                    Some(client) => client.delivers_down(conn),
                    // The client is gone (dropped, so stopped).
                    None => {
                        conn.force_close();
                        false
                    }
                };
                if let (true, Some(cb)) = (deliver, &user) {
                    cb(conn);
                }
            }));
            // A layer that wants the server's name (TLS) takes it from the address.
            let host = crate::layer::host_of(&addr);
            let layer = layer.map(|l| l.for_server_name(host).unwrap_or(l));
            let mut service = Service::new(name.clone(), callbacks, options, layer);
            let _ = service.loops.set(vec![loop_handle.clone()]);
            let down = me.clone();
            service.release_hook = Some(Arc::new(move |conn| {
                if let Some(client) = down.upgrade() {
                    client.released(conn);
                }
            }));
            ClientShared::new(
                me.clone(),
                name,
                Arc::new(service),
                target,
                retry,
                connect_timeout,
                reconnect,
                loop_handle.clone(),
                on_retry,
            )
        });
        let first = shared.clone();
        loop_handle.queue_in_loop(move |ctx| first.start(ctx));
        Ok(TcpClient { shared, own_loop })
    }
}
