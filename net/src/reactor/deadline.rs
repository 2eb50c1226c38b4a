//! The duration rule: a duration a user passes (a timeout, a delay, an interval) never
//! overflows the clock. `Instant + Duration` panics past the clock's range, and
//! `Duration::MAX` is a natural way to say "no limit"; so every deadline computed
//! from a user's duration goes through [`deadline_after`], which saturates: a
//! duration beyond [`FOREVER`] (about a century) counts as `FOREVER`, a deadline that
//! never comes in practice (a timer then never fires, a wait never times out).

use std::time::{Duration, Instant};

/// The longest wait a deadline stands for: 100 years. Longer durations (up to
/// `Duration::MAX`) mean the same: never, in practice.
pub const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `from + after`, saturating: never panics, whatever `after` is (see the module docs).
///
/// ```
/// use std::time::{Duration, Instant};
/// let now = Instant::now();
/// assert_eq!(net::deadline_after(now, Duration::ZERO), now);
/// assert_eq!(net::deadline_after(now, Duration::MAX), net::deadline_after(now, net::FOREVER));
/// assert!(net::deadline_after(now, Duration::MAX) > now + Duration::from_secs(50 * 365 * 24 * 3600));
/// ```
pub fn deadline_after(from: Instant, after: Duration) -> Instant {
    let mut after = after.min(FOREVER);
    loop {
        // A century fits every clock Rust supports; the halving is only for a clock
        // that starts near its own end, so the loop always ends (`from + 0` fits).
        if let Some(deadline) = from.checked_add(after) {
            return deadline;
        }
        after /= 2;
    }
}

/// [`deadline_after`] from now.
pub(crate) fn deadline_in(after: Duration) -> Instant {
    deadline_after(Instant::now(), after)
}
