//! Small helpers shared by the crate.

use std::any::Any;

/// The message of a caught panic, for the log line that reports it.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

/// A random number in `[0, 1)`, for retry jitter (std's per-instance random hash keys;
/// no cryptographic quality needed).
pub(crate) fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Hands whole free pages of the allocator's heaps back to the system. Called when a
/// loop has had no connection for a second: after a burst of thousands of connections, glibc
/// keeps their freed memory mapped (fragmented arenas) unless asked; other allocators
/// return memory on their own, so this is a no-op for them.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims the allocator's own free lists; it has
    // no preconditions and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
