//! The event loop and what it owns: the poller, the task channel and its wake flag, the
//! timer queue, and the slab of slots that connections and handlers live in.
//!
//! Depends on nothing else in the crate: connections and handlers reach the loop
//! through the `Pollable` and `IoHandler` traits it defines.

pub(crate) mod deadline;
pub(crate) mod event_loop;
pub(crate) mod loop_ctx;
pub(crate) mod loop_handle;
pub(crate) mod loop_pool;
pub(crate) mod slab;
pub(crate) mod timer_queue;
pub(crate) mod wake_flag;
