//! Random session ticket keys, replaced every rotation period (net-ssl's
//! `ticket_key_rotation`, default 12 hours), for servers given no ticket key files.
//!
//! The key of the current period seals new tickets; the key of the previous period
//! still opens tickets, so a ticket resumes for at least one period and at most two.
//! A key older than that is gone: a stolen key opens at most two periods of recorded
//! sessions. Time is read from the acceptor's rustls `TimeProvider` (the system clock
//! unless a test injects another), on every seal and open, so an idle server that wakes
//! after two periods has no key older than that either.
//!
//! rustls's own `Ticketer` rotates every 6 hours with no way to set the period or the
//! clock, hence this store; tickets are sealed as with key files (see `ticket_files.rs`).

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use rustls::server::ProducesTickets;
use rustls::time_provider::TimeProvider;

use crate::error::RustlsError;
use crate::ticket_files::{open, random_key, seal, Key};

/// How often random ticket keys are replaced unless configured otherwise (net-ssl's
/// default too).
pub const DEFAULT_TICKET_KEY_ROTATION: Duration = Duration::from_secs(12 * 60 * 60);

/// The longest ticket lifetime TLS 1.3 allows announcing (RFC 8446, 4.6.1).
const MAX_LIFETIME_S: u64 = 7 * 24 * 60 * 60;

struct State {
    /// Seals new tickets, and opens them.
    current: Key,
    /// The previous period's key, which only opens tickets; none at start and after
    /// two periods without a ticket.
    previous: Option<Key>,
    /// When the current key started (seconds since 1970, from the clock).
    since: u64,
    period: Duration,
}

/// Random ticket keys rotated every period.
pub(crate) struct RotatingTickets {
    state: RwLock<State>,
    clock: Arc<dyn TimeProvider>,
    rng: SystemRandom,
}

impl RotatingTickets {
    /// A store with a fresh key, rotated every `period` (at least a second) of `clock`.
    pub(crate) fn new(
        period: Duration,
        clock: Arc<dyn TimeProvider>,
    ) -> Result<RotatingTickets, RustlsError> {
        check_period(period)?;
        let rng = SystemRandom::new();
        let key = random_key(&rng)
            .ok_or_else(|| RustlsError::msg("making a random session ticket key"))?;
        let since = now(&*clock).unwrap_or(0);
        Ok(RotatingTickets {
            state: RwLock::new(State {
                current: key,
                previous: None,
                since,
                period,
            }),
            clock,
            rng,
        })
    }

    /// Changes the period (a reconfigure); the keys stay.
    pub(crate) fn set_period(&self, period: Duration) -> Result<(), RustlsError> {
        check_period(period)?;
        self.write().period = period;
        Ok(())
    }

    /// Replaces the keys whose period is over, reading the clock.
    fn roll(&self) {
        let Some(now) = now(&*self.clock) else {
            log::warn!("TLS: the clock gives no time; session ticket keys not rotated");
            return;
        };
        let due = |s: &State| now.saturating_sub(s.since) >= s.period.as_secs();
        if !due(&self.read()) {
            return;
        }
        let mut state = self.write();
        if !due(&state) {
            return; // another thread rotated first
        }
        let Some(fresh) = random_key(&self.rng) else {
            // Keep the old key rather than fail handshakes; try again on the next ticket.
            log::error!("TLS: session ticket key rotation failed (no random bytes)");
            return;
        };
        let two_periods = now.saturating_sub(state.since) >= 2 * state.period.as_secs();
        let old = std::mem::replace(&mut state.current, fresh);
        state.previous = if two_periods { None } else { Some(old) };
        state.since = now;
        log::info!(
            "TLS: session ticket key rotated (random keys, period {:?})",
            state.period
        );
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // Only whole values are stored, so a panicked writer left a valid state.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Refuses a period under a second (every ticket would be sealed under a new key).
pub(crate) fn check_period(period: Duration) -> Result<(), RustlsError> {
    if period < Duration::from_secs(1) {
        return Err(RustlsError::msg(format!(
            "ticket_key_rotation must be at least one second (got {period:?})"
        )));
    }
    Ok(())
}

fn now(clock: &dyn TimeProvider) -> Option<u64> {
    clock.current_time().map(|t| t.as_secs())
}

impl ProducesTickets for RotatingTickets {
    fn enabled(&self) -> bool {
        true
    }

    /// One period: a ticket is sure to open for that long.
    fn lifetime(&self) -> u32 {
        let secs = self.read().period.as_secs().clamp(1, MAX_LIFETIME_S);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.roll();
        seal(&self.read().current, &self.rng, plain)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        self.roll();
        let state = self.read();
        open(
            std::iter::once(&state.current).chain(state.previous.as_ref()),
            ticket,
        )
    }
}

impl fmt::Debug for RotatingTickets {
    /// The period and the key names: the secrets never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        let hex = |k: &Key| -> String { k.name().iter().map(|b| format!("{b:02x}")).collect() };
        let names: Vec<String> = std::iter::once(&state.current)
            .chain(state.previous.as_ref())
            .map(hex)
            .collect();
        f.debug_struct("RotatingTickets")
            .field("period", &state.period)
            .field("names", &names)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::UnixTime;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Debug, Default)]
    struct FakeClock(AtomicU64);

    impl TimeProvider for FakeClock {
        fn current_time(&self) -> Option<UnixTime> {
            let secs = self.0.load(Ordering::Relaxed);
            Some(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
        }
    }

    #[test]
    fn a_ticket_opens_for_one_more_period_and_not_after_two() {
        let clock = Arc::new(FakeClock::default());
        let period = Duration::from_secs(100);
        let store = RotatingTickets::new(period, clock.clone()).unwrap();
        assert_eq!(store.lifetime(), 100);
        let first = store.encrypt(b"first").unwrap();
        clock.0.store(99, Ordering::Relaxed);
        assert_eq!(store.decrypt(&first).as_deref(), Some(&b"first"[..]));
        assert_eq!(
            &store.encrypt(b"x").unwrap()[..16],
            &first[..16],
            "same key"
        );
        clock.0.store(100, Ordering::Relaxed);
        let second = store.encrypt(b"second").unwrap();
        assert_ne!(&second[..16], &first[..16], "a new key seals");
        assert_eq!(store.decrypt(&first).as_deref(), Some(&b"first"[..]));
        clock.0.store(200, Ordering::Relaxed);
        assert_eq!(store.decrypt(&first), None, "two rotations ago");
        assert_eq!(store.decrypt(&second).as_deref(), Some(&b"second"[..]));
        let third = store.encrypt(b"third").unwrap();
        // One and a half periods idle: one rotation, the key of 200 still opens.
        clock.0.store(350, Ordering::Relaxed);
        assert_eq!(store.decrypt(&third).as_deref(), Some(&b"third"[..]));
        assert_eq!(store.decrypt(&second), None);
        // Two idle periods: nothing from before opens, even at the first use after.
        clock.0.store(550, Ordering::Relaxed);
        assert_eq!(store.decrypt(&third), None);
        assert!(store.enabled());
        let shown = format!("{store:?}");
        assert!(
            shown.contains("period: 100s") && shown.contains("names"),
            "{shown}"
        );
    }

    #[test]
    fn the_lifetime_is_one_period_up_to_seven_days() {
        let clock = Arc::new(FakeClock::default());
        let day = Duration::from_secs(24 * 60 * 60);
        let store = RotatingTickets::new(day, clock.clone()).unwrap();
        assert_eq!(store.lifetime(), 86_400);
        store.set_period(30 * day).unwrap();
        assert_eq!(store.lifetime(), 604_800, "RFC 8446's maximum");
        assert_eq!(DEFAULT_TICKET_KEY_ROTATION, Duration::from_secs(43_200));
    }

    #[test]
    fn a_period_under_a_second_is_refused() {
        let clock = Arc::new(FakeClock::default());
        let err = RotatingTickets::new(Duration::from_millis(999), clock.clone()).unwrap_err();
        assert!(err.to_string().contains("at least one second"), "{err}");
        let store = RotatingTickets::new(Duration::from_secs(1), clock).unwrap();
        assert!(store.set_period(Duration::ZERO).is_err());
    }
}
