//! Unit and property tests of the PROXY protocol parser.

use std::net::SocketAddr;

use proptest::prelude::*;

use super::parse::{parse, Header, ParseError, V2_SIGNATURE};

const MAX: usize = 4096;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A version 2 header for TCP over IPv4 or IPv6 (or LOCAL), with TLVs.
pub(crate) fn v2(
    local: bool,
    pair: Option<(SocketAddr, SocketAddr)>,
    tlvs: &[(u8, &[u8])],
) -> Vec<u8> {
    let mut body = Vec::new();
    let fam = match pair {
        Some((SocketAddr::V4(s), SocketAddr::V4(d))) => {
            body.extend(s.ip().octets());
            body.extend(d.ip().octets());
            body.extend(s.port().to_be_bytes());
            body.extend(d.port().to_be_bytes());
            0x11
        }
        Some((SocketAddr::V6(s), SocketAddr::V6(d))) => {
            body.extend(s.ip().octets());
            body.extend(d.ip().octets());
            body.extend(s.port().to_be_bytes());
            body.extend(d.port().to_be_bytes());
            0x21
        }
        _ => 0x00,
    };
    for (t, v) in tlvs {
        body.push(*t);
        body.extend((v.len() as u16).to_be_bytes());
        body.extend(*v);
    }
    let mut h = V2_SIGNATURE.to_vec();
    h.push(if local { 0x20 } else { 0x21 });
    h.push(fam);
    h.extend((body.len() as u16).to_be_bytes());
    h.extend(body);
    h
}

fn done(buf: &[u8]) -> (Header, usize) {
    parse(buf, MAX).expect("valid").expect("complete")
}

#[test]
fn v1_tcp4_tcp6_and_unknown() {
    let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nHELLO";
    let (h, n) = done(line);
    assert_eq!(n, line.len() - 5);
    assert_eq!(
        h.addresses,
        Some((addr("192.0.2.1:56324"), addr("198.51.100.2:443")))
    );
    let (h, _) = done(b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n");
    assert_eq!(
        h.addresses,
        Some((addr("[2001:db8::1]:1"), addr("[::1]:65535")))
    );
    let (h, n) = done(b"PROXY UNKNOWN ffff::1 whatever\r\n");
    assert_eq!((h.addresses, n), (None, 32));
    assert_eq!(done(b"PROXY UNKNOWN\r\n").1, 15);
}

#[test]
fn v1_errors() {
    let bad = |b: &[u8]| parse(b, MAX).unwrap_err();
    assert_eq!(bad(b"GET / HTTP/1.1\r\n"), ParseError::NotProxy);
    assert_eq!(bad(b"PRI * HTTP/2.0"), ParseError::NotProxy);
    assert!(matches!(
        bad(b"PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n"),
        ParseError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n"),
        ParseError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 ::1 ::1 1 2\r\n"),
        ParseError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n"),
        ParseError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.4 1 65536\r\n"),
        ParseError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX"),
        ParseError::Malformed(_)
    ));
    assert!(matches!(
        bad(b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n"),
        ParseError::Malformed(_)
    ));
    let long = [b"PROXY UNKNOWN ".to_vec(), vec![b'a'; 200]].concat();
    assert_eq!(bad(&long), ParseError::TooLong(107));
    assert_eq!(parse(b"PROXY TCP4 1.2", MAX), Ok(None));
}

#[test]
fn v2_ipv4_ipv6_local_and_tlvs() {
    let pair = (addr("192.0.2.1:56324"), addr("198.51.100.2:443"));
    let h = v2(false, Some(pair), &[(0x01, b"h2"), (0x04, b"")]);
    let (got, n) = done(&[h.clone(), b"\x16\x03\x01".to_vec()].concat());
    assert_eq!(n, h.len());
    assert_eq!(got.addresses, Some(pair));
    assert_eq!(got.tlvs, vec![(0x01, b"h2".to_vec()), (0x04, vec![])]);
    let pair6 = (addr("[2001:db8::7]:1234"), addr("[::1]:8443"));
    assert_eq!(done(&v2(false, Some(pair6), &[])).0.addresses, Some(pair6));
    let (local, _) = done(&v2(true, None, &[]));
    assert!(local.local);
    assert_eq!(local.addresses, None);
}

#[test]
fn v2_errors() {
    let pair = (addr("192.0.2.1:1"), addr("192.0.2.2:2"));
    let mut h = v2(false, Some(pair), &[]);
    h[12] = 0x31;
    assert!(matches!(parse(&h, MAX), Err(ParseError::Malformed(_))));
    let mut h = v2(false, Some(pair), &[]);
    h[12] = 0x22;
    assert!(matches!(parse(&h, MAX), Err(ParseError::Malformed(_))));
    let mut h = v2(false, Some(pair), &[]);
    h[13] = 0x51;
    assert!(matches!(parse(&h, MAX), Err(ParseError::Malformed(_))));
    // A TLV that claims more than the header holds.
    let mut h = v2(false, Some(pair), &[(1, b"abc")]);
    let len = h.len();
    h[len - 4] = 9;
    assert!(matches!(parse(&h, MAX), Err(ParseError::Malformed(_))));
    // Longer than the limit: refused from the fixed part already.
    let big = v2(false, Some(pair), &[(0xe0, &[0; 5000])]);
    assert_eq!(parse(&big[..16], MAX), Err(ParseError::TooLong(MAX)));
    let mut sig = V2_SIGNATURE.to_vec();
    sig[5] = b'X';
    assert_eq!(parse(&sig, MAX), Err(ParseError::NotProxy));
}

/// A valid header's bytes, with the header they must parse to.
fn any_header() -> impl Strategy<Value = (Vec<u8>, Header)> {
    let v4 = (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(s, d, sp, dp)| (SocketAddr::from((s, sp)), SocketAddr::from((d, dp))));
    let v6 = (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(s, d, sp, dp)| (SocketAddr::from((s, sp)), SocketAddr::from((d, dp))));
    let pair = prop_oneof![v4, v6];
    let tlvs = proptest::collection::vec(
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)),
        0..4,
    );
    prop_oneof![
        (pair.clone(), tlvs, any::<bool>()).prop_map(|(p, tlvs, local)| {
            let t: Vec<(u8, &[u8])> = tlvs.iter().map(|(k, v)| (*k, v.as_slice())).collect();
            let addresses = if local { None } else { Some(p) };
            let bytes = v2(local, addresses, &t);
            let header = Header {
                version: 2,
                addresses,
                local,
                tlvs,
            };
            (bytes, header)
        }),
        pair.prop_map(|(s, d)| {
            let fam = if s.is_ipv4() { "TCP4" } else { "TCP6" };
            let bytes = format!(
                "PROXY {fam} {} {} {} {}\r\n",
                s.ip(),
                d.ip(),
                s.port(),
                d.port()
            )
            .into_bytes();
            let header = Header {
                version: 1,
                addresses: Some((s, d)),
                local: false,
                tlvs: Vec::new(),
            };
            (bytes, header)
        }),
    ]
}

proptest! {
    /// However the header arrives in pieces, every prefix asks for more and the whole
    /// parses to the header that was generated (addresses, ports, family, command,
    /// TLVs), with what follows it left alone.
    #[test]
    fn any_split_of_a_valid_header_parses_the_same((h, want) in any_header(), tail in proptest::collection::vec(any::<u8>(), 0..20)) {
        let whole = [h.clone(), tail].concat();
        let (header, n) = parse(&whole, MAX).unwrap().unwrap();
        prop_assert_eq!(&header, &want);
        prop_assert_eq!(n, h.len());
        for cut in 0..h.len() {
            prop_assert_eq!(parse(&whole[..cut], MAX), Ok(None));
        }
        prop_assert_eq!(parse(&h, MAX), Ok(Some((header, n))));
    }

    /// Garbage never panics, and a complete answer never claims more than it was given.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), v2_start in any::<bool>()) {
        let buf = if v2_start { [V2_SIGNATURE.to_vec(), bytes].concat() } else { bytes };
        if let Ok(Some((_, n))) = parse(&buf, MAX) {
            prop_assert!(n <= buf.len());
        }
    }
}
