//! A connection: its `Lifecycle` machine, the read and write paths that only move
//! bytes, the effects the machine asks for (callbacks, timers, close), the `ConnHandle`
//! other threads use, and the service state (callbacks, options, live count) shared by
//! every connection of one server or client.
//!
//! Depends on `reactor` (a connection is a `Pollable` in a loop's slab) and `layer`.

pub(crate) mod broadcast;
pub(crate) mod callback_owner;
pub(crate) mod callbacks;
pub(crate) mod connection;
pub(crate) mod events;
pub(crate) mod extensions;
pub(crate) mod handle;
pub(crate) mod lifecycle;
pub(crate) mod options;
pub(crate) mod proxy_info;
pub(crate) mod read;
pub(crate) mod service;
pub(crate) mod write;
