//! Socket addresses between Rust and the C structures that `recvmmsg`/`sendmmsg` fill
//! and read. IPv4-mapped IPv6 peers (a dual-stack socket) are kept as the kernel gives
//! them, so a reply goes back on the same family.

use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// The peer address the kernel wrote into `storage` (`len` bytes), if it is IPv4 or
/// IPv6 (the only families a UDP/IP socket reports).
pub(crate) fn from_storage(storage: &libc::sockaddr_storage, len: usize) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family is AF_INET and the kernel wrote at least a whole
            // sockaddr_in; sockaddr_storage is aligned for every sockaddr type.
            let a = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for AF_INET6 and sockaddr_in6.
            let a = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Writes `addr` into `storage` for a socket of the family `v6` (an IPv4 address
/// sent through an IPv6 socket becomes IPv4-mapped); returns the length to pass.
pub(crate) fn to_storage(addr: SocketAddr, v6: bool, storage: &mut libc::sockaddr_storage) -> u32 {
    let addr = match (addr, v6) {
        (SocketAddr::V4(a), true) => {
            SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
        }
        (a, _) => a,
    };
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let out = unsafe { &mut *(storage as *mut _ as *mut libc::sockaddr_in) };
            *out = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            size_of::<libc::sockaddr_in>() as u32
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let out = unsafe { &mut *(storage as *mut _ as *mut libc::sockaddr_in6) };
            *out = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            size_of::<libc::sockaddr_in6>() as u32
        }
    }
}

/// The address as the application should see it: an IPv4-mapped IPv6 address is
/// shown as the IPv4 address it stands for.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_families() {
        for addr in ["127.0.0.2:53", "[::1]:5353", "[fe80::1%2]:9"] {
            let addr: SocketAddr = addr.parse().unwrap();
            // SAFETY: an all-zero sockaddr_storage is a valid value.
            let mut s: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let len = to_storage(addr, addr.is_ipv6(), &mut s);
            assert_eq!(from_storage(&s, len as usize), Some(addr));
        }
    }

    #[test]
    fn ipv4_through_an_ipv6_socket_is_mapped() {
        let addr: SocketAddr = "10.0.0.1:7".parse().unwrap();
        // SAFETY: an all-zero sockaddr_storage is a valid value.
        let mut s: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = to_storage(addr, true, &mut s);
        let back = from_storage(&s, len as usize).unwrap();
        assert_eq!(back, "[::ffff:10.0.0.1]:7".parse::<SocketAddr>().unwrap());
        assert_eq!(canonical_ip(back.ip()), addr.ip());
    }
}
