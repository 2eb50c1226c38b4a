//! DNS messages through `hickory-proto`: a query for A or AAAA, and what a response
//! says about it (addresses with the chain's smallest TTL, following CNAMEs within
//! the answer; no such name; no data; a server error; truncated).

use std::net::IpAddr;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::BinDecodable;

/// CNAME links followed within one answer at most.
const MAX_CHAIN: usize = 16;

/// The two record types asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    V6,
    V4,
}

impl Family {
    fn record_type(self) -> RecordType {
        match self {
            Family::V6 => RecordType::AAAA,
            Family::V4 => RecordType::A,
        }
    }
}

/// What one response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Addresses {
        addrs: Vec<IpAddr>,
        ttl: u32,
    },
    /// The name exists, without a record of this type.
    NoData,
    NxDomain,
    /// SERVFAIL, REFUSED, ... (named).
    Failure(String),
    /// The answer did not fit in the datagram: ask again over TCP.
    Truncated,
}

/// A recursive query for `name`'s `family` records with message id `id`.
pub(crate) fn query(id: u16, name: &str, family: Family) -> Result<Vec<u8>, String> {
    let name = fqdn(name)?;
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name, family.record_type()));
    m.to_vec().map_err(|e| e.to_string())
}

/// Checks that `name` is a host name DNS can carry; returns its absolute form.
pub(crate) fn fqdn(name: &str) -> Result<Name, String> {
    if name.is_empty() || name.len() > 253 {
        return Err("empty or longer than 253 bytes".into());
    }
    let mut n = Name::from_ascii(name).map_err(|e| e.to_string())?;
    n.set_fqdn(true);
    Ok(n)
}

/// What `bytes` says in answer to query `id` for `name`/`family`; `None` when it is
/// not that answer (another id or question, not a response, unparsable): the caller
/// keeps waiting.
pub(crate) fn parse(bytes: &[u8], id: u16, name: &Name, family: Family) -> Option<Reply> {
    let m = Message::from_bytes(bytes).ok()?;
    if m.id() != id || m.message_type() != MessageType::Response {
        return None;
    }
    let q = m.queries().first()?;
    if q.query_type() != family.record_type() || q.name() != name {
        return None;
    }
    if m.truncated() {
        return Some(Reply::Truncated);
    }
    match m.response_code() {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Some(Reply::NxDomain),
        code => return Some(Reply::Failure(code.to_string())),
    }
    let mut current = name.clone();
    let mut ttl = u32::MAX;
    let mut addrs = Vec::new();
    for _ in 0..MAX_CHAIN {
        let mut next = None;
        for r in m.answers().iter().filter(|r| r.name() == &current) {
            match r.data() {
                Some(RData::A(a)) if family == Family::V4 => {
                    addrs.push(IpAddr::V4(a.0));
                    ttl = ttl.min(r.ttl());
                }
                Some(RData::AAAA(a)) if family == Family::V6 => {
                    addrs.push(IpAddr::V6(a.0));
                    ttl = ttl.min(r.ttl());
                }
                Some(RData::CNAME(c)) if next.is_none() => {
                    next = Some(c.0.clone());
                    ttl = ttl.min(r.ttl());
                }
                _ => {}
            }
        }
        match next {
            Some(target) if addrs.is_empty() => current = target,
            _ => break,
        }
    }
    if addrs.is_empty() {
        Some(Reply::NoData)
    } else {
        Some(Reply::Addresses { addrs, ttl })
    }
}
