//! The `Date` header value, formatted at most once a second per loop thread.
//!
//! Every response needs one (RFC 9110 §6.6.1). Each loop thread keeps the formatted
//! value of the current second in a thread-local and reformats only when the second
//! changes, so a response costs a clock read (vDSO) and a copy, not a format.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_LEN: usize = 29;

thread_local! {
    static CACHE: RefCell<(u64, [u8; DATE_LEN])> = const { RefCell::new((u64::MAX, [0; DATE_LEN])) };
}

/// Appends the current `Date` value to `out`.
pub(crate) fn append_date(out: &mut Vec<u8>) {
    with_date(|_, date| out.extend_from_slice(date));
}

/// Runs `f` with the current second (since the Unix epoch) and its `Date` value, so a
/// caller can keep its own form of the value (HTTP/2's `HeaderValue`) per second.
pub(crate) fn with_date<R>(f: impl FnOnce(u64, &[u8; DATE_LEN]) -> R) -> R {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            *c = (secs, format_imf_fixdate(secs));
        }
        f(secs, &c.1)
    })
}

/// Formats seconds since the Unix epoch as an IMF-fixdate.
pub(crate) fn format_imf_fixdate(secs: u64) -> [u8; DATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = [0u8; DATE_LEN];
    let mut w = Writer(&mut out, 0);
    w.put(DAYS[(days % 7) as usize]);
    w.put(b", ");
    w.two(day as u64);
    w.put(b" ");
    w.put(MONTHS[(month - 1) as usize]);
    w.put(b" ");
    w.four(year as u64);
    w.put(b" ");
    w.two(rem / 3600);
    w.put(b":");
    w.two(rem % 3600 / 60);
    w.put(b":");
    w.two(rem % 60);
    w.put(b" GMT");
    out
}

struct Writer<'a>(&'a mut [u8; DATE_LEN], usize);

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) {
        self.0[self.1..self.1 + b.len()].copy_from_slice(b);
        self.1 += b.len();
    }
    fn two(&mut self, n: u64) {
        self.put(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
    }
    fn four(&mut self, n: u64) {
        self.two(n / 100);
        self.two(n % 100);
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc_examples() {
        assert_eq!(
            &format_imf_fixdate(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(&format_imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &format_imf_fixdate(951_782_400),
            b"Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            &format_imf_fixdate(4_102_444_799),
            b"Thu, 31 Dec 2099 23:59:59 GMT"
        );
    }

    #[test]
    fn cached_value_is_the_current_second() {
        let mut v = Vec::new();
        append_date(&mut v);
        assert_eq!(v.len(), DATE_LEN);
        assert!(v.ends_with(b" GMT"));
    }
}
