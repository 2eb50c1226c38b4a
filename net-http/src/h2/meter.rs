//! Counts the peer's frames that cost the server an answer and do no work (SETTINGS
//! and PING without ACK), read from the frame headers as bytes arrive, before `h2`
//! parses them. `h2` answers each and only backpressures a peer that does not read
//! the answers; a peer that reads them could make the server answer for ever. Past
//! `h2_max_control_frames` of them in a row (no request in between) the connection
//! gets GOAWAY(ENHANCE_YOUR_CALM), as nghttp2 and others do.

/// The client connection preface (RFC 9113 §3.4) that opens every HTTP/2 connection
/// (and cleartext HTTP/2 with prior knowledge).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113 §6).
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

/// Where the meter is in the byte stream.
enum Position {
    /// Inside the client preface: this many bytes of it are still to come.
    Preface(usize),
    /// Reading a frame header: this many of its 9 bytes are in.
    Header(usize),
    /// Inside a frame's payload: this many bytes are still to come.
    Payload(usize),
}

pub(super) struct FrameMeter {
    at: Position,
    head: [u8; 9],
    in_a_row: u32,
    max: u32,
}

impl FrameMeter {
    /// A meter for a connection whose first bytes are the client preface.
    pub(super) fn new(max: u32) -> Self {
        FrameMeter {
            at: Position::Preface(PREFACE.len()),
            head: [0; 9],
            in_a_row: 0,
            max,
        }
    }

    /// Reads `bytes`; `true` when the peer went over the limit.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            match self.at {
                Position::Preface(left) | Position::Payload(left) => {
                    let n = left.min(bytes.len());
                    bytes = &bytes[n..];
                    self.at = if left == n {
                        Position::Header(0)
                    } else if matches!(self.at, Position::Preface(_)) {
                        Position::Preface(left - n)
                    } else {
                        Position::Payload(left - n)
                    };
                }
                Position::Header(have) => {
                    let n = (9 - have).min(bytes.len());
                    self.head[have..have + n].copy_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if have + n < 9 {
                        self.at = Position::Header(have + n);
                        continue;
                    }
                    let len = (usize::from(self.head[0]) << 16)
                        | (usize::from(self.head[1]) << 8)
                        | usize::from(self.head[2]);
                    let (kind, flags) = (self.head[3], self.head[4]);
                    match kind {
                        SETTINGS | PING if flags & ACK == 0 => self.in_a_row += 1,
                        HEADERS => self.in_a_row = 0,
                        _ => {}
                    }
                    if self.in_a_row > self.max {
                        return true;
                    }
                    self.at = if len == 0 {
                        Position::Header(0)
                    } else {
                        Position::Payload(len)
                    };
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::FrameMeter;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            0,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn pings_over_the_limit_are_a_flood_in_any_split() {
        let mut stream = super::PREFACE.to_vec();
        for _ in 0..5 {
            stream.extend(frame(6, 0, b"12345678"));
        }
        stream.extend(frame(6, 1, b"12345678")); // an ACK does not count
        stream.extend(frame(0, 0, &[7; 100])); // DATA with a payload that looks like frames
        for split in 1..stream.len() {
            let mut m = FrameMeter::new(5);
            assert!(
                !m.feed(&stream[..split]) && !m.feed(&stream[split..]),
                "{split}"
            );
            assert!(m.feed(&frame(4, 0, &[])), "the sixth in a row");
        }
    }

    #[test]
    fn a_request_resets_the_count() {
        let mut m = FrameMeter::new(2);
        assert!(!m.feed(super::PREFACE));
        assert!(!m.feed(&[frame(6, 0, b"12345678"), frame(4, 0, &[])].concat()));
        assert!(!m.feed(&frame(1, 4, b"\x82")));
        assert!(!m.feed(&[frame(6, 0, b"12345678"), frame(4, 0, &[])].concat()));
        assert!(m.feed(&frame(6, 0, b"12345678")));
    }
}
