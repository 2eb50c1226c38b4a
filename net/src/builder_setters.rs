//! The setters that server and client builders share (callbacks, connection options,
//! the layer), written once as a macro expanded into each builder.

/// The setters that server and client builders share: callbacks, connection options
/// and the layer. Expects `callbacks: Callbacks<TcpConnection>`, `options: ConnOptions` and
/// `layer: Option<Arc<dyn LayerFactory>>` fields on the builder.
macro_rules! connection_setters {
    () => {
        /// Called when a connection comes up (after the handshake, with TLS) and when
        /// it goes down; `conn.is_connected()` tells which.
        pub fn on_connection<F>(mut self, f: F) -> Self
        where
            F: Fn(&mut $crate::conn::connection::TcpConnection) + Send + Sync + 'static,
        {
            self.callbacks
                .owner
                .set_by_application($crate::conn::callback_owner::CallbackSet::CONNECTION);
            self.callbacks.connection = Some(std::sync::Arc::new(f));
            self
        }

        /// Called with the connection's input buffer when bytes arrive.
        pub fn on_message<F>(mut self, f: F) -> Self
        where
            F: Fn(&mut $crate::conn::connection::TcpConnection, &mut $crate::buffer::Buffer)
                + Send
                + Sync
                + 'static,
        {
            self.callbacks
                .owner
                .set_by_application($crate::conn::callback_owner::CallbackSet::MESSAGE);
            self.callbacks.message = Some(std::sync::Arc::new(f));
            self
        }

        /// Called when everything sent so far has been handed to the kernel.
        pub fn on_write_complete<F>(mut self, f: F) -> Self
        where
            F: Fn(&mut $crate::conn::connection::TcpConnection) + Send + Sync + 'static,
        {
            self.callbacks
                .owner
                .set_by_application($crate::conn::callback_owner::CallbackSet::WRITE_COMPLETE);
            self.callbacks.write_complete = Some(std::sync::Arc::new(f));
            self
        }

        /// Called when a connection's output buffer grows past the high-water mark
        /// ([`high_water_mark`](Self::high_water_mark)), with its size.
        pub fn on_high_water<F>(mut self, f: F) -> Self
        where
            F: Fn(&mut $crate::conn::connection::TcpConnection, usize) + Send + Sync + 'static,
        {
            self.callbacks
                .owner
                .set_by_application($crate::conn::callback_owner::CallbackSet::HIGH_WATER);
            self.callbacks.high_water = Some(std::sync::Arc::new(f));
            self
        }

        /// Called when the peer half-closes. Without it, the connection shuts down as
        /// soon as its pending output is flushed; with it, the application decides
        /// (reply, then `shutdown`), and the close delay bounds how long it may take.
        pub fn on_half_close<F>(mut self, f: F) -> Self
        where
            F: Fn(&mut $crate::conn::connection::TcpConnection) + Send + Sync + 'static,
        {
            self.callbacks
                .owner
                .set_by_application($crate::conn::callback_owner::CallbackSet::HALF_CLOSE);
            self.callbacks.half_close = Some(std::sync::Arc::new(f));
            self
        }

        /// Lets a codec (an HTTP service, say) set the connection callbacks in
        /// `install`, and makes `build()` fail with [`std::io::ErrorKind::InvalidInput`]
        /// if the application sets one too, before or after: the codec's would be
        /// replaced (its connections left unanswered) or the application's never run.
        /// `codec` names the codec in that error.
        pub fn install_codec(
            mut self,
            codec: &'static str,
            install: impl FnOnce(Self) -> Self,
        ) -> Self {
            // The codec sets its callbacks on an empty set (so its setters do not
            // count as the application's); the application's others are kept.
            let mine = std::mem::take(&mut self.callbacks);
            let mut b = install(self);
            let owned = b.callbacks.set();
            let mut owner = mine.owner;
            owner.installed(codec, owned, mine.set());
            b.callbacks = std::mem::take(&mut b.callbacks).or(mine);
            b.callbacks.owner = owner;
            b
        }

        /// Output bytes above which the high-water policy applies (default 64 KiB).
        pub fn high_water_mark(mut self, mark: usize) -> Self {
            self.options.high_water_mark = mark;
            self
        }

        /// Whether reading pauses while the output is above the high-water mark
        /// (default on for servers, off for clients).
        pub fn pause_reading_above_high_water(mut self, on: bool) -> Self {
            self.options.pause_reading_above_high_water = on;
            self
        }

        /// How long a half-closed connection may stay open (default 5 s).
        pub fn close_delay(mut self, delay: std::time::Duration) -> Self {
            self.options.close_delay = delay;
            self
        }

        /// Closes connections idle (no byte read or written) for `timeout`. For
        /// request/response protocols; a push service, whose subscribers only receive,
        /// wants [`read_idle_timeout`](Self::read_idle_timeout). The last of the two
        /// set applies.
        pub fn idle_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.idle = $crate::conn::options::IdlePolicy::Traffic(timeout);
            self
        }

        /// Closes connections that have read no byte for `timeout`, however much is
        /// sent to them: for push services, where a subscriber only receives (and
        /// sends a heartbeat now and then) and a vanished one would never count as
        /// idle by [`idle_timeout`](Self::idle_timeout)'s measure. The last of the two
        /// set applies.
        pub fn read_idle_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.idle = $crate::conn::options::IdlePolicy::Reads(timeout);
            self
        }

        /// TCP_NODELAY on every connection (default on).
        pub fn tcp_nodelay(mut self, on: bool) -> Self {
            self.options.tcp_nodelay = on;
            self
        }

        /// Puts a layer in every connection's read/write path: TLS with
        /// `muon::ssl::TlsAcceptor` on a server, a `muon::ssl::TlsConnector` on a
        /// client.
        pub fn tls<L: $crate::layer::LayerFactory>(mut self, layer: L) -> Self {
            self.layer = Some(std::sync::Arc::new(layer));
            self
        }
    };
}
pub(crate) use connection_setters;
