//! `Callbacks`: what the application runs on a connection's events.
//!
//! Generic over the connection type `C` so that this file (and the service that holds
//! the callbacks) does not depend on the connection's; in Muon `C` is always
//! `TcpConnection`.

use std::sync::Arc;

use crate::buffer::Buffer;

/// Called with the connection (up, down, write complete, half-close).
pub(crate) type ConnectionCallback<C> = Arc<dyn Fn(&mut C) + Send + Sync>;
/// Called with the connection and its input buffer when bytes arrive.
pub(crate) type MessageCallback<C> = Arc<dyn Fn(&mut C, &mut Buffer) + Send + Sync>;
/// Called when the output buffer grows past the high-water mark, with its size.
pub(crate) type HighWaterCallback<C> = Arc<dyn Fn(&mut C, usize) + Send + Sync>;

/// The callbacks of a server's or client's connections. All run on the connection's
/// own loop thread, with `&mut` access to it.
pub(crate) struct Callbacks<C> {
    pub(crate) connection: Option<ConnectionCallback<C>>,
    pub(crate) message: Option<MessageCallback<C>>,
    pub(crate) write_complete: Option<ConnectionCallback<C>>,
    pub(crate) high_water: Option<HighWaterCallback<C>>,
    pub(crate) half_close: Option<ConnectionCallback<C>>,
}

impl<C> Default for Callbacks<C> {
    fn default() -> Self {
        Callbacks {
            connection: None,
            message: None,
            write_complete: None,
            high_water: None,
            half_close: None,
        }
    }
}

impl<C> Clone for Callbacks<C> {
    fn clone(&self) -> Self {
        Callbacks {
            connection: self.connection.clone(),
            message: self.message.clone(),
            write_complete: self.write_complete.clone(),
            high_water: self.high_water.clone(),
            half_close: self.half_close.clone(),
        }
    }
}
