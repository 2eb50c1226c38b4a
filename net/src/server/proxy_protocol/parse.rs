//! The PROXY protocol header parser (HAProxy's specification, versions 1 and 2).
//!
//! Pure and incremental in the simplest way: [`parse`] looks at the bytes received so
//! far and says "need more", "here is a header of `n` bytes", or why it is not one. It
//! never reads past the header, so what follows (a TLS ClientHello) stays untouched.
//!
//! Version 1 is one text line, at most 107 bytes: `PROXY TCP4|TCP6 <src> <dst> <sport>
//! <dport>\r\n` or `PROXY UNKNOWN ...\r\n`. Version 2 is a 12-byte signature, a
//! version/command byte (LOCAL or PROXY), a family/transport byte, a 16-bit length and
//! that many bytes: the addresses, then type-length-value extensions (TLVs).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The 12 bytes every version 2 header starts with.
pub(crate) const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest version 1 line the specification allows, CRLF included.
pub(crate) const V1_MAX_LEN: usize = 107;

/// What a header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// 1 or 2.
    pub version: u8,
    /// The original client and the address it connected to, when the header carries
    /// TCP over IPv4 or IPv6. `None` for LOCAL (the proxy's own connection, such as
    /// a health check), UNKNOWN, and families Muon does not map (UNIX, UDP).
    pub addresses: Option<(SocketAddr, SocketAddr)>,
    /// Whether this is a version 2 LOCAL command.
    pub local: bool,
    /// Version 2 type-length-value extensions, in order, as (type, value).
    pub tlvs: Vec<(u8, Vec<u8>)>,
}

/// Why bytes are not a PROXY protocol header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The connection does not start with either version's signature.
    NotProxy,
    /// It starts like one but breaks the specification; says where.
    Malformed(&'static str),
    /// The header would be longer than the limit (the version 1 maximum, or the
    /// server's configured limit for version 2).
    TooLong(usize),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NotProxy => write!(f, "not a PROXY protocol header"),
            ParseError::Malformed(why) => write!(f, "malformed PROXY protocol header: {why}"),
            ParseError::TooLong(n) => write!(f, "PROXY protocol header longer than {n} bytes"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses the header at the start of `buf`: `Ok(None)` if more bytes are needed,
/// `Ok(Some((header, length)))` once it is complete. `max_len` bounds a version 2
/// header (a version 1 header is bounded by its own 107 bytes).
pub fn parse(buf: &[u8], max_len: usize) -> Result<Option<(Header, usize)>, ParseError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    match first {
        b'P' => parse_v1(buf),
        b'\r' => parse_v2(buf, max_len),
        _ => Err(ParseError::NotProxy),
    }
}

fn starts_like(buf: &[u8], prefix: &[u8]) -> bool {
    let n = buf.len().min(prefix.len());
    buf[..n] == prefix[..n]
}

fn parse_v1(buf: &[u8]) -> Result<Option<(Header, usize)>, ParseError> {
    if !starts_like(buf, V1_PREFIX) {
        return Err(ParseError::NotProxy);
    }
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    let Some(cr) = window.iter().position(|&b| b == b'\r') else {
        if window.len() >= V1_MAX_LEN {
            return Err(ParseError::TooLong(V1_MAX_LEN));
        }
        if window.contains(&b'\n') {
            return Err(ParseError::Malformed("line feed without carriage return"));
        }
        return Ok(None);
    };
    if cr + 1 >= buf.len() {
        return if cr + 1 >= V1_MAX_LEN {
            Err(ParseError::TooLong(V1_MAX_LEN))
        } else {
            Ok(None)
        };
    }
    if buf[cr + 1] != b'\n' {
        return Err(ParseError::Malformed(
            "carriage return not followed by line feed",
        ));
    }
    let line = std::str::from_utf8(&buf[V1_PREFIX.len()..cr])
        .map_err(|_| ParseError::Malformed("not ASCII"))?;
    let header = |addresses| Header {
        version: 1,
        addresses,
        local: false,
        tlvs: Vec::new(),
    };
    let mut fields = line.split(' ');
    let family = fields.next().unwrap_or_default();
    if family == "UNKNOWN" {
        // The rest of the line is to be ignored (the proxy could not tell).
        return Ok(Some((header(None), cr + 2)));
    }
    let v6 = match family {
        "TCP4" => false,
        "TCP6" => true,
        _ => return Err(ParseError::Malformed("family is not TCP4, TCP6 or UNKNOWN")),
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(ParseError::Malformed("not four address fields"));
    };
    let ip = |s: &str| -> Result<IpAddr, ParseError> {
        let ip = if v6 {
            s.parse::<Ipv6Addr>().map(IpAddr::V6)
        } else {
            s.parse::<Ipv4Addr>().map(IpAddr::V4)
        };
        ip.map_err(|_| ParseError::Malformed("bad address"))
    };
    let port = |s: &str| -> Result<u16, ParseError> {
        // The specification forbids leading zeros and signs.
        if s.is_empty()
            || (s.len() > 1 && s.starts_with('0'))
            || !s.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(ParseError::Malformed("bad port"));
        }
        s.parse().map_err(|_| ParseError::Malformed("bad port"))
    };
    let source = SocketAddr::new(ip(src)?, port(sport)?);
    let destination = SocketAddr::new(ip(dst)?, port(dport)?);
    Ok(Some((header(Some((source, destination))), cr + 2)))
}

fn parse_v2(buf: &[u8], max_len: usize) -> Result<Option<(Header, usize)>, ParseError> {
    if !starts_like(buf, &V2_SIGNATURE) {
        return Err(ParseError::NotProxy);
    }
    if buf.len() < 16 {
        return Ok(None);
    }
    let (ver_cmd, fam) = (buf[12], buf[13]);
    if ver_cmd >> 4 != 2 {
        return Err(ParseError::Malformed("version is not 2"));
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(ParseError::Malformed("command is not LOCAL or PROXY")),
    };
    let body_len = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    let total = 16 + body_len;
    if total > max_len {
        return Err(ParseError::TooLong(max_len));
    }
    if buf.len() < total {
        return Ok(None);
    }
    let body = &buf[16..total];
    let addr_len = match fam >> 4 {
        0 => 0,
        1 => 12,
        2 => 36,
        3 => 216,
        _ => return Err(ParseError::Malformed("unknown address family")),
    };
    if body.len() < addr_len {
        return Err(ParseError::Malformed(
            "address block shorter than its family",
        ));
    }
    let stream = fam & 0x0f == 1;
    let a = &body[..addr_len];
    let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
    let addresses = match (local, fam >> 4, stream) {
        (false, 1, true) => {
            let ip =
                |at: usize| IpAddr::from(<[u8; 4]>::try_from(&a[at..at + 4]).unwrap_or_default());
            Some((
                SocketAddr::new(ip(0), port(8)),
                SocketAddr::new(ip(4), port(10)),
            ))
        }
        (false, 2, true) => {
            let ip =
                |at: usize| IpAddr::from(<[u8; 16]>::try_from(&a[at..at + 16]).unwrap_or_default());
            Some((
                SocketAddr::new(ip(0), port(32)),
                SocketAddr::new(ip(16), port(34)),
            ))
        }
        // LOCAL, UNSPEC, UNIX, datagrams: keep the connection's own addresses.
        _ => None,
    };
    let tlvs = parse_tlvs(&body[addr_len..])?;
    Ok(Some((
        Header {
            version: 2,
            addresses,
            local,
            tlvs,
        },
        total,
    )))
}

fn parse_tlvs(mut rest: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, ParseError> {
    let mut tlvs = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 3 {
            return Err(ParseError::Malformed("truncated TLV"));
        }
        let len = u16::from_be_bytes([rest[1], rest[2]]) as usize;
        let Some(value) = rest.get(3..3 + len) else {
            return Err(ParseError::Malformed("TLV longer than the header"));
        };
        tlvs.push((rest[0], value.to_vec()));
        rest = &rest[3 + len..];
    }
    Ok(tlvs)
}
