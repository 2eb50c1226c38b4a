//! OpenSSL's per-thread error queue, kept clean around every call Muon makes.
//!
//! OpenSSL records failures on a queue per thread, and `SSL_get_error` looks at that
//! queue to tell "wait for more bytes" from "fatal". Anything else on a loop thread —
//! the application's own OpenSSL calls in a callback, another library, another
//! connection's failure — can leave an entry there; an `SSL_read` that merely needs
//! more input would then be judged fatal, and a healthy connection closed with somebody
//! else's error as its reason. So every OpenSSL call Muon makes runs between two
//! drains: it starts from an empty queue, and leaves one behind.

use openssl::error::ErrorStack;

/// Runs `f` (which calls OpenSSL) on an empty error queue, and empties the queue again
/// afterwards. Errors `f` reports were already taken off the queue into its result.
pub(crate) fn with_clean_error_queue<R>(f: impl FnOnce() -> R) -> R {
    discard_errors();
    let result = f();
    discard_errors();
    result
}

/// Empties the calling thread's error queue. Cheap when it is empty (one lookup of the
/// thread's queue, no allocation).
fn discard_errors() {
    let stale = ErrorStack::get();
    if !stale.errors().is_empty() {
        log::trace!("discarded an OpenSSL error left by other code: {stale}");
    }
}
