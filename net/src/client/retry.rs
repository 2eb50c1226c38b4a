//! `RetryPolicy`: when a client tries again after a failed connect or handshake.

use std::time::Duration;

use crate::util::random_fraction;

/// Exponential backoff with optional jitter and an optional attempt limit.
///
/// The delay after the n-th consecutive failure is `initial_delay * 2^(n-1)`, capped at
/// `max_delay`. With jitter it is drawn from `[d/2, d]` ("equal jitter"), so clients
/// that failed together spread out, while each client's delays still grow.
///
/// ```
/// use std::time::Duration;
/// let p = net::RetryPolicy { jitter: false, ..Default::default() };
/// assert_eq!(p.delay(1), Duration::from_millis(500));
/// assert_eq!(p.delay(3), Duration::from_secs(2));
/// assert_eq!(p.delay(30), Duration::from_secs(30));
/// ```
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Delay after the first failure (default 500 ms).
    pub initial_delay: Duration,
    /// Largest delay (default 30 s).
    pub max_delay: Duration,
    /// Give up after this many consecutive failed attempts (default: never).
    pub max_attempts: Option<u32>,
    /// Randomise each delay within `[d/2, d]` (default on).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn no_retry() -> Self {
        RetryPolicy {
            max_attempts: Some(1),
            ..Default::default()
        }
    }

    /// The delay before the attempt that follows `failures` consecutive failures.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let d = self
            .initial_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay);
        if self.jitter {
            (d / 2)
                .saturating_add(d.mul_f64(random_fraction() / 2.0))
                .min(d)
        } else {
            d
        }
    }

    /// Whether `failures` consecutive failures exhaust the policy.
    pub fn exhausted(&self, failures: u32) -> bool {
        self.max_attempts.is_some_and(|max| failures >= max)
    }
}
