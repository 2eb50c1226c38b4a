//! `Callbacks`: what the application runs on a connection's events.
//!
//! Generic over the connection type `C` so that this file (and the service that holds
//! the callbacks) does not depend on the connection's; in Muon `C` is always
//! `TcpConnection`.

use std::sync::Arc;

use super::callback_owner::CallbackSet;
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
    /// A server's graceful stop began (servers only).
    pub(crate) drain: Option<ConnectionCallback<C>>,
    /// Who set them (a codec's callbacks must not be replaced by the application's).
    pub(crate) owner: crate::conn::callback_owner::CallbackOwner,
}

impl<C> Default for Callbacks<C> {
    fn default() -> Self {
        Callbacks {
            connection: None,
            message: None,
            write_complete: None,
            high_water: None,
            half_close: None,
            drain: None,
            owner: Default::default(),
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
            drain: self.drain.clone(),
            owner: self.owner,
        }
    }
}

impl<C> Callbacks<C> {
    /// The callbacks that are set.
    pub(crate) fn set(&self) -> CallbackSet {
        [
            (self.connection.is_some(), CallbackSet::CONNECTION),
            (self.message.is_some(), CallbackSet::MESSAGE),
            (self.write_complete.is_some(), CallbackSet::WRITE_COMPLETE),
            (self.high_water.is_some(), CallbackSet::HIGH_WATER),
            (self.half_close.is_some(), CallbackSet::HALF_CLOSE),
            (self.drain.is_some(), CallbackSet::DRAIN),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .fold(CallbackSet::default(), |all, (_, one)| all.with(one))
    }

    /// Fills the callbacks not set here from `other`.
    pub(crate) fn or(mut self, other: Callbacks<C>) -> Self {
        self.connection = self.connection.or(other.connection);
        self.message = self.message.or(other.message);
        self.write_complete = self.write_complete.or(other.write_complete);
        self.high_water = self.high_water.or(other.high_water);
        self.half_close = self.half_close.or(other.half_close);
        self.drain = self.drain.or(other.drain);
        self
    }
}
