//! Which response field names and values may be sent: RFC 9110 §5.1 (a name is a
//! `token`) and §5.5 (a value holds no CR, LF or NUL, which would split the message).
//!
//! Every handler's `Response::header` runs these, so they are table lookups: a check
//! per byte against a list of delimiters (`<[u8]>::contains`, a `memchr` call per byte)
//! was the largest single cost of a small response (docs/benchmarks.md, "Where the
//! time goes").

/// `TCHAR[b]`: byte `b` may appear in a token (visible ASCII but the delimiters).
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x21;
    while b < 0x7f {
        t[b] = true;
        b += 1;
    }
    let delimiters = b"()<>@,;:\\\"/[]?={}";
    let mut i = 0;
    while i < delimiters.len() {
        t[delimiters[i] as usize] = false;
        i += 1;
    }
    t
};

/// Whether `name` is a valid field name (a non-empty token).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| TCHAR[usize::from(b)])
}

/// Whether `value` may be sent as a field value without splitting the message.
pub(crate) fn valid_value(value: &[u8]) -> bool {
    !value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table says what the rule it replaced said, for every byte.
    #[test]
    fn table_matches_the_token_rule() {
        for b in 0..=255u8 {
            let rule = b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
            assert_eq!(TCHAR[usize::from(b)], rule, "byte {b:#04x}");
        }
    }

    #[test]
    fn names_and_values() {
        assert!(valid_name("Content-Type"));
        assert!(valid_name("x-a!#$%&'*+.^_`|~1"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name("caf\u{e9}"));
        assert!(valid_value(b"text/plain; charset=utf-8"));
        assert!(valid_value(b""));
        assert!(!valid_value(b"a\r\nSet-Cookie: x"));
        assert!(!valid_value(b"a\nb"));
        assert!(!valid_value(b"a\0b"));
    }
}
