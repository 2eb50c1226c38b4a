//! Batched datagram I/O: one `recvmmsg` or `sendmmsg` moves up to [`MAX_BATCH`]
//! datagrams, with their addresses and control messages (`IP_PKTINFO` /
//! `IPV6_PKTINFO` for the local address, `UDP_GRO` / `UDP_SEGMENT` for offload).
//!
//! Ownership: each loop's UDP socket owns one [`RecvBatch`] (its data area is the
//! loop's receive buffer pool: `MAX_BATCH` slots allocated once, so receiving allocates
//! nothing) and one [`SendBatch`] (headers only; the payloads stay in the outbox's
//! pooled buffers). A `RecvBatch`'s headers point into its own boxed slices, which
//! never move or change size, so their pointers are set once; before each `recvmmsg`
//! only the fields the kernel wrote in the headers it filled last time are reset (with
//! a few datagrams per call, rewriting all 64 headers was the top of the echo server's
//! profile; see docs/benchmarks.md). A `SendBatch`'s pointers are set right before
//! each system call from storage that does not move during it.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;

use super::addr;

/// Datagrams per `recvmmsg` / `sendmmsg` call (and iovecs per `sendmmsg` call).
pub(crate) const MAX_BATCH: usize = 64;

/// Room for the control messages of one datagram: IPv6 pktinfo (40 bytes with its
/// header) plus a GRO/GSO size (24) plus slack for options we did not ask for.
const CONTROL_LEN: usize = 128;

/// One datagram's control-message area, aligned like `cmsghdr` (the kernel and the
/// `CMSG_*` helpers assume it).
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct Control([u8; CONTROL_LEN]);

/// One datagram as received.
pub(crate) struct Received<'a> {
    /// The payload (with GRO, several datagrams of `segment` bytes, the last maybe
    /// shorter).
    pub(crate) data: &'a [u8],
    pub(crate) peer: Option<SocketAddr>,
    /// The destination address of the datagram (pktinfo), if the kernel said.
    pub(crate) local_ip: Option<IpAddr>,
    /// The GRO segment size, when the kernel coalesced datagrams.
    pub(crate) segment: Option<usize>,
    /// The datagram did not fit its slot (`MSG_TRUNC`): never deliver it.
    pub(crate) truncated: bool,
}

/// A `recvmmsg` batch. See the module docs.
pub(crate) struct RecvBatch {
    slot_size: usize,
    data: Box<[u8]>,
    names: Box<[libc::sockaddr_storage]>,
    controls: Box<[Control]>,
    iovecs: Box<[libc::iovec]>,
    headers: Box<[libc::mmsghdr]>,
    /// Headers whose kernel-written fields may differ from their initial values
    /// (those the last call filled, or all it was given if it failed oddly).
    dirty: usize,
}

impl RecvBatch {
    /// A batch of `slots` datagrams of at most `slot_size` bytes each. The data area
    /// is zero-allocated, so pages are touched only when a datagram that large comes.
    pub(crate) fn new(slots: usize, slot_size: usize) -> Self {
        let slots = slots.clamp(1, MAX_BATCH);
        // SAFETY: all-zero bytes are valid values of these plain C structs (null
        // pointers and zero lengths); every pointer is set before each call.
        let (names, iovecs, headers) = unsafe {
            (
                vec![std::mem::zeroed::<libc::sockaddr_storage>(); slots],
                vec![std::mem::zeroed::<libc::iovec>(); slots],
                vec![std::mem::zeroed::<libc::mmsghdr>(); slots],
            )
        };
        let mut b = RecvBatch {
            slot_size,
            data: vec![0u8; slots * slot_size].into_boxed_slice(),
            names: names.into_boxed_slice(),
            controls: vec![Control([0; CONTROL_LEN]); slots].into_boxed_slice(),
            iovecs: iovecs.into_boxed_slice(),
            headers: headers.into_boxed_slice(),
            dirty: 0,
        };
        // The boxed slices' storage never moves (moving the batch moves the boxes'
        // pointers, not what they point at), so these pointers stay valid for the
        // batch's life.
        let base = b.data.as_mut_ptr();
        for i in 0..slots {
            b.iovecs[i] = libc::iovec {
                // SAFETY: slot i lies inside `data` (slots * slot_size bytes).
                iov_base: unsafe { base.add(i * slot_size) }.cast(),
                iov_len: slot_size,
            };
            let h = &mut b.headers[i].msg_hdr;
            h.msg_name = (&mut b.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_iov = &mut b.iovecs[i];
            h.msg_iovlen = 1;
            h.msg_control = b.controls[i].0.as_mut_ptr().cast();
            Self::reset(&mut b.headers[i]);
        }
        b
    }

    /// The fields of a header the kernel writes back, to their values before a call.
    fn reset(h: &mut libc::mmsghdr) {
        h.msg_len = 0;
        h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
        h.msg_hdr.msg_controllen = CONTROL_LEN as _;
        h.msg_hdr.msg_flags = 0;
    }

    /// How many datagrams one call can take.
    pub(crate) fn slots(&self) -> usize {
        self.headers.len()
    }

    /// Receives up to `max` datagrams without blocking. `Ok(0)` never happens for a
    /// UDP socket: an empty queue is `WouldBlock`.
    pub(crate) fn recv(&mut self, fd: RawFd, max: usize) -> io::Result<usize> {
        let n = max.clamp(1, self.slots());
        for h in &mut self.headers[..self.dirty] {
            Self::reset(h);
        }
        self.dirty = 0;
        // SAFETY: every header points at live, writable storage of the lengths given
        // (set in `new`, owned by self, in boxed slices that never move), and the
        // fields the kernel writes back were reset above.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            // An empty queue writes nothing back; any other failure may have written
            // part of a header: reset all it was given.
            if e.kind() != io::ErrorKind::WouldBlock {
                self.dirty = n;
            }
            Err(e)
        } else {
            self.dirty = r as usize;
            Ok(r as usize)
        }
    }

    /// Datagram `i` of the last `recv` (`i` below what it returned).
    pub(crate) fn get(&self, i: usize) -> Received<'_> {
        let h = &self.headers[i];
        let len = (h.msg_len as usize).min(self.slot_size);
        let start = i * self.slot_size;
        let mut local_ip = None;
        let mut segment = None;
        // SAFETY: the kernel filled msg_controllen bytes of this datagram's aligned
        // control area; CMSG_FIRSTHDR/NXTHDR stay within it, and each payload is read
        // unaligned with its declared length checked first.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&h.msg_hdr);
            while !c.is_null() {
                let hdr = &*c;
                let data = libc::CMSG_DATA(c);
                let room = hdr.cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                match (hdr.cmsg_level, hdr.cmsg_type) {
                    (libc::IPPROTO_IP, libc::IP_PKTINFO)
                        if room >= size_of::<libc::in_pktinfo>() =>
                    {
                        let p: libc::in_pktinfo = std::ptr::read_unaligned(data.cast());
                        local_ip =
                            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(p.ipi_addr.s_addr))));
                    }
                    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO)
                        if room >= size_of::<libc::in6_pktinfo>() =>
                    {
                        let p: libc::in6_pktinfo = std::ptr::read_unaligned(data.cast());
                        local_ip = Some(IpAddr::V6(Ipv6Addr::from(p.ipi6_addr.s6_addr)));
                    }
                    (libc::SOL_UDP, UDP_GRO) if room >= size_of::<libc::c_int>() => {
                        let s: libc::c_int = std::ptr::read_unaligned(data.cast());
                        if s > 0 {
                            segment = Some(s as usize);
                        }
                    }
                    _ => {}
                }
                c = libc::CMSG_NXTHDR(&h.msg_hdr, c);
            }
        }
        Received {
            data: &self.data[start..start + len],
            peer: addr::from_storage(&self.names[i], h.msg_hdr.msg_namelen as usize),
            local_ip: local_ip.map(addr::canonical_ip),
            segment,
            truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        }
    }
}

/// `UDP_SEGMENT` (send-side GSO) and `UDP_GRO`, from linux/udp.h.
pub(crate) const UDP_SEGMENT: libc::c_int = 103;
pub(crate) const UDP_GRO: libc::c_int = 104;

/// One message for [`SendBatch`]: the destination, the source address to send from
/// (`None`: the kernel's choice), and one or more datagrams of equal size (the last
/// may be shorter) sent as one GSO message when there are several.
pub(crate) struct OutMsg {
    pub(crate) to: SocketAddr,
    pub(crate) from: Option<IpAddr>,
    /// Index of the first iovec (in push order) and how many.
    first: usize,
    count: usize,
    segment: usize,
}

impl OutMsg {
    /// The size of this message's first (full-size) datagram.
    pub(crate) fn segment_len(&self) -> usize {
        self.segment
    }
}

/// A `sendmmsg` batch: headers and control areas; payloads are borrowed for the
/// duration of one [`SendBatch::send`].
pub(crate) struct SendBatch {
    v6: bool,
    msgs: Vec<OutMsg>,
    iovecs: Box<[libc::iovec]>,
    iov_len: usize,
    names: Box<[libc::sockaddr_storage]>,
    controls: Box<[Control]>,
    headers: Box<[libc::mmsghdr]>,
}

impl SendBatch {
    /// A batch for a socket of the given family (`v6`: an IPv6 socket).
    pub(crate) fn new(v6: bool) -> Self {
        // SAFETY: all-zero bytes are valid values of these plain C structs.
        let (iovecs, names, headers) = unsafe {
            (
                vec![std::mem::zeroed::<libc::iovec>(); MAX_BATCH],
                vec![std::mem::zeroed::<libc::sockaddr_storage>(); MAX_BATCH],
                vec![std::mem::zeroed::<libc::mmsghdr>(); MAX_BATCH],
            )
        };
        SendBatch {
            v6,
            msgs: Vec::with_capacity(MAX_BATCH),
            iovecs: iovecs.into_boxed_slice(),
            iov_len: 0,
            names: names.into_boxed_slice(),
            controls: vec![Control([0; CONTROL_LEN]); MAX_BATCH].into_boxed_slice(),
            headers: headers.into_boxed_slice(),
        }
    }

    /// Room for another message, and for `datagrams` more payloads.
    pub(crate) fn has_room(&self, datagrams: usize) -> bool {
        self.msgs.len() < MAX_BATCH && self.iov_len + datagrams <= MAX_BATCH
    }

    /// Starts a message to `to` from `from` with its first datagram.
    pub(crate) fn push(&mut self, to: SocketAddr, from: Option<IpAddr>, payload: &[u8]) {
        self.msgs.push(OutMsg {
            to,
            from,
            first: self.iov_len,
            count: 0,
            segment: payload.len(),
        });
        self.append(payload);
    }

    /// Whether `payload` may join the last message as one more GSO segment of at most
    /// `max_segments` (same peer and source, the last message's segments all full).
    pub(crate) fn can_append(
        &self,
        to: SocketAddr,
        from: Option<IpAddr>,
        len: usize,
        max_segments: usize,
        max_total: usize,
    ) -> bool {
        let Some(m) = self.msgs.last() else {
            return false;
        };
        let last_len = self.iovecs[m.first + m.count - 1].iov_len;
        m.to == to
            && m.from == from
            && m.segment > 0
            && len > 0
            && len <= m.segment
            && last_len == m.segment
            && m.count < max_segments
            && (m.count * m.segment + len) <= max_total
            && self.iov_len < MAX_BATCH
    }

    /// Adds `payload` to the last message as one more segment.
    pub(crate) fn append(&mut self, payload: &[u8]) {
        self.iovecs[self.iov_len] = libc::iovec {
            iov_base: payload.as_ptr() as *mut libc::c_void,
            iov_len: payload.len(),
        };
        self.iov_len += 1;
        if let Some(m) = self.msgs.last_mut() {
            m.count += 1;
        }
    }

    /// The messages pushed so far, in order.
    pub(crate) fn messages(&self) -> &[OutMsg] {
        &self.msgs
    }

    /// How many datagrams message `i` carries, and their bytes.
    pub(crate) fn size_of(&self, i: usize) -> (usize, usize) {
        let m = &self.msgs[i];
        let bytes = self.iovecs[m.first..m.first + m.count]
            .iter()
            .map(|v| v.iov_len)
            .sum();
        (m.count, bytes)
    }

    /// Empties the batch (the payload pointers are forgotten).
    pub(crate) fn clear(&mut self) {
        self.msgs.clear();
        self.iov_len = 0;
    }

    /// Sends the messages from index `from` on. Returns how many the kernel took.
    ///
    /// The payloads passed to `push`/`append` since the last `clear` must still be
    /// alive and unmoved: the caller keeps them borrowed across push and send.
    pub(crate) fn send(&mut self, fd: RawFd, from: usize) -> io::Result<usize> {
        let n = self.msgs.len() - from;
        if n == 0 {
            return Ok(0);
        }
        for (k, i) in (from..self.msgs.len()).enumerate() {
            let m = &self.msgs[i];
            let namelen = addr::to_storage(m.to, self.v6, &mut self.names[k]);
            let control = &mut self.controls[k];
            let mut used = 0;
            if let Some(ip) = m.from {
                put_pktinfo(control, &mut used, ip, self.v6);
            }
            if m.count > 1 {
                put_cmsg(
                    control,
                    &mut used,
                    libc::SOL_UDP,
                    UDP_SEGMENT,
                    &(m.segment as u16).to_ne_bytes(),
                );
            }
            let h = &mut self.headers[k];
            h.msg_len = 0;
            h.msg_hdr.msg_name = (&mut self.names[k] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = namelen;
            h.msg_hdr.msg_iov = &mut self.iovecs[m.first];
            h.msg_hdr.msg_iovlen = m.count as _;
            h.msg_hdr.msg_control = if used == 0 {
                std::ptr::null_mut()
            } else {
                control.0.as_mut_ptr().cast()
            };
            h.msg_hdr.msg_controllen = used as _;
            h.msg_hdr.msg_flags = 0;
        }
        // SAFETY: the first n headers point at names, control areas and iovecs owned
        // by self, and the iovecs at payloads the caller keeps alive (see above).
        let r = unsafe {
            libc::sendmmsg(
                fd,
                self.headers.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
}

/// The source-address control message: `IP_PKTINFO` for IPv4 (also on an IPv6
/// socket, for an IPv4-mapped peer), `IPV6_PKTINFO` for IPv6.
fn put_pktinfo(control: &mut Control, used: &mut usize, ip: IpAddr, v6_socket: bool) {
    match ip {
        IpAddr::V4(v4) if !v6_socket => {
            let info = libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(v4).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            // SAFETY: in_pktinfo is plain old data; its bytes are what the kernel reads.
            let bytes = unsafe { as_bytes(&info) };
            put_cmsg(control, used, libc::IPPROTO_IP, libc::IP_PKTINFO, bytes);
        }
        ip => {
            let v6 = match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                ipi6_ifindex: 0,
            };
            // SAFETY: in6_pktinfo is plain old data.
            let bytes = unsafe { as_bytes(&info) };
            put_cmsg(control, used, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, bytes);
        }
    }
}

/// The bytes of a plain C struct.
///
/// # Safety
/// `T` must have no padding that matters to the reader (the kernel reads the declared
/// fields only).
unsafe fn as_bytes<T>(value: &T) -> &[u8] {
    std::slice::from_raw_parts((value as *const T).cast(), size_of::<T>())
}

/// Appends one control message at `*used` in `control`.
fn put_cmsg(control: &mut Control, used: &mut usize, level: i32, ty: i32, data: &[u8]) {
    // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic.
    let (space, len) = unsafe {
        (
            libc::CMSG_SPACE(data.len() as u32) as usize,
            libc::CMSG_LEN(data.len() as u32) as usize,
        )
    };
    if *used + space > CONTROL_LEN {
        // Two messages of at most 40 and 24 bytes always fit; never write past it.
        debug_assert!(false, "control area too small");
        return;
    }
    // SAFETY: `*used` is a multiple of CMSG_SPACE alignment (8) from an 8-aligned
    // buffer, so the header is aligned; the header and data fit (checked above).
    unsafe {
        let c = control.0.as_mut_ptr().add(*used).cast::<libc::cmsghdr>();
        std::ptr::write_bytes(c.cast::<u8>(), 0, space);
        (*c).cmsg_level = level;
        (*c).cmsg_type = ty;
        (*c).cmsg_len = len as _;
        let d = libc::CMSG_DATA(c);
        std::ptr::copy_nonoverlapping(data.as_ptr(), d, data.len());
    }
    *used += space;
}
