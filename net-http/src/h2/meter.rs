//! Reads the peer's frame headers as bytes arrive, before `h2` parses them, for what
//! `h2` does not check or answers with the wrong code:
//!
//! - floods: SETTINGS and PING frames (not ACKs) cost an answer and do no work; `h2`
//!   only backpressures a peer that does not read its answers, so one that reads them
//!   could make the server answer for ever. Past `h2_max_control_frames` of them in a
//!   row (no request in between): GOAWAY(ENHANCE_YOUR_CALM), as nghttp2 does.
//! - RFC 9113's codes where `h2` says PROTOCOL_ERROR: a fixed-size frame of the wrong
//!   size is FRAME_SIZE_ERROR (§4.2, §6.3-§6.9); SETTINGS_INITIAL_WINDOW_SIZE above
//!   2^31-1 is FLOW_CONTROL_ERROR (§6.5.2); HEADERS or DATA on a stream the client
//!   already ended (END_STREAM or RST_STREAM) is STREAM_CLOSED (§5.1); a PUSH_PROMISE
//!   from a client is PROTOCOL_ERROR at once (§8.4; h2 waits for a CONTINUATION first).
//!
//! A verdict names the offset of the offending frame in the bytes fed, so the codec
//! hands `h2` only what came before it and then closes with the verdict's code.

use std::collections::VecDeque;

/// The client connection preface (RFC 9113 §3.4) that opens every HTTP/2 connection
/// (and cleartext HTTP/2 with prior knowledge).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113 §6).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const ACK: u8 = 0x1;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;

/// Streams the client ended that are remembered (the newest ones; an older one is
/// still caught by `h2`, with PROTOCOL_ERROR).
const REMEMBERED_ENDED: usize = 256;

/// What the peer did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Too many control frames in a row.
    Flood,
    /// A connection error with this RFC 9113 code.
    Error(h2::Reason),
}

/// Where the meter is in the byte stream.
enum Position {
    /// Inside the client preface: this many bytes of it are still to come.
    Preface(usize),
    /// Reading a frame header: this many of its 9 bytes are in.
    Header(usize),
    /// Inside a frame's payload: this many bytes are still to come.
    Payload(usize),
    /// Inside a SETTINGS payload: bytes still to come, bytes of the current entry in.
    Settings(usize, usize),
    /// A verdict was given: nothing more is read.
    Done,
}

pub(super) struct FrameMeter {
    at: Position,
    head: [u8; 9],
    entry: [u8; 6],
    in_a_row: u32,
    max: u32,
    ended: VecDeque<u32>,
    /// A header block is open (HEADERS without END_HEADERS): only CONTINUATION may
    /// follow, and `h2` judges the rest (PROTOCOL_ERROR, §6.10).
    in_block: bool,
}

impl FrameMeter {
    /// A meter for a connection whose first bytes are the client preface.
    pub(super) fn new(max: u32) -> Self {
        FrameMeter {
            at: Position::Preface(PREFACE.len()),
            head: [0; 9],
            entry: [0; 6],
            in_a_row: 0,
            max,
            ended: VecDeque::new(),
            in_block: false,
        }
    }

    /// Reads `bytes`; a verdict with the offset in `bytes` where the offending frame
    /// starts (0 when it started in an earlier call).
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Option<(usize, Verdict)> {
        let mut i = 0;
        // Where the frame being read started in `bytes`.
        let mut frame_start = 0;
        while i < bytes.len() {
            match self.at {
                Position::Done => return None,
                Position::Preface(left) => {
                    let n = left.min(bytes.len() - i);
                    i += n;
                    self.at = if n == left {
                        Position::Header(0)
                    } else {
                        Position::Preface(left - n)
                    };
                }
                Position::Payload(left) => {
                    let n = left.min(bytes.len() - i);
                    i += n;
                    self.at = if n == left {
                        Position::Header(0)
                    } else {
                        Position::Payload(left - n)
                    };
                }
                Position::Settings(left, have) => {
                    let n = left.min(6 - have).min(bytes.len() - i);
                    self.entry[have..have + n].copy_from_slice(&bytes[i..i + n]);
                    i += n;
                    let (left, have) = (left - n, have + n);
                    if have == 6 {
                        let id = u16::from_be_bytes([self.entry[0], self.entry[1]]);
                        let value = u32::from_be_bytes([
                            self.entry[2],
                            self.entry[3],
                            self.entry[4],
                            self.entry[5],
                        ]);
                        if id == SETTINGS_INITIAL_WINDOW_SIZE && value > 0x7fff_ffff {
                            return self.verdict(frame_start, h2::Reason::FLOW_CONTROL_ERROR);
                        }
                    }
                    self.at = match (left, have % 6) {
                        (0, _) => Position::Header(0),
                        (left, have) => Position::Settings(left, have),
                    };
                }
                Position::Header(have) => {
                    if have == 0 {
                        frame_start = i;
                    }
                    let n = (9 - have).min(bytes.len() - i);
                    self.head[have..have + n].copy_from_slice(&bytes[i..i + n]);
                    i += n;
                    if have + n < 9 {
                        self.at = Position::Header(have + n);
                        continue;
                    }
                    if let Some(v) = self.check_header() {
                        self.at = Position::Done;
                        return Some((frame_start, v));
                    }
                }
            }
        }
        None
    }

    fn verdict(&mut self, at: usize, reason: h2::Reason) -> Option<(usize, Verdict)> {
        self.at = Position::Done;
        Some((at, Verdict::Error(reason)))
    }

    /// Checks a complete frame header and moves to its payload.
    fn check_header(&mut self) -> Option<Verdict> {
        let h = &self.head;
        let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
        let (kind, flags) = (h[3], h[4]);
        let stream = u32::from_be_bytes([h[5] & 0x7f, h[6], h[7], h[8]]);
        let size_error = Some(Verdict::Error(h2::Reason::FRAME_SIZE_ERROR));
        match kind {
            PING if len != 8 => return size_error,
            SETTINGS if flags & ACK != 0 && len != 0 => return size_error,
            SETTINGS if len % 6 != 0 => return size_error,
            WINDOW_UPDATE | RST_STREAM if len != 4 => return size_error,
            PRIORITY if len != 5 => return size_error,
            // A client cannot push (§8.4); h2 waits for the block's end before it says so.
            PUSH_PROMISE => return Some(Verdict::Error(h2::Reason::PROTOCOL_ERROR)),
            _ => {}
        }
        match kind {
            SETTINGS | PING if flags & ACK == 0 => self.in_a_row += 1,
            HEADERS => self.in_a_row = 0,
            _ => {}
        }
        if self.in_a_row > self.max {
            return Some(Verdict::Flood);
        }
        if self.in_block {
            // Whatever breaks the block is h2's to judge; the block ends with the
            // CONTINUATION that carries END_HEADERS.
            self.in_block = kind == CONTINUATION && flags & END_HEADERS == 0;
        } else if matches!(kind, HEADERS | DATA) && stream != 0 {
            self.in_block = kind == HEADERS && flags & END_HEADERS == 0;
            if self.ended.contains(&stream) {
                return Some(Verdict::Error(h2::Reason::STREAM_CLOSED));
            }
            if flags & END_STREAM != 0 {
                self.remember_ended(stream);
            }
        } else if kind == RST_STREAM && stream != 0 {
            self.remember_ended(stream);
        }
        self.at = match (kind, len) {
            (_, 0) => Position::Header(0),
            (SETTINGS, len) => Position::Settings(len, 0),
            (_, len) => Position::Payload(len),
        };
        None
    }

    fn remember_ended(&mut self, stream: u32) {
        if self.ended.len() == REMEMBERED_ENDED {
            self.ended.pop_front();
        }
        self.ended.push_back(stream);
    }
}

#[cfg(test)]
mod tests {
    use super::{FrameMeter, Verdict, PREFACE};

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn pings_over_the_limit_are_a_flood_in_any_split() {
        let mut stream = PREFACE.to_vec();
        for _ in 0..5 {
            stream.extend(frame(6, 0, 0, b"12345678"));
        }
        stream.extend(frame(6, 1, 0, b"12345678")); // an ACK does not count
        stream.extend(frame(0, 0, 1, &[6; 100])); // DATA whose payload looks like frames
        stream.extend(frame(4, 0, 0, &[0, 4, 0, 0, 0xff, 0xff])); // a good SETTINGS
        for split in 1..stream.len() {
            let mut m = FrameMeter::new(6);
            assert!(m.feed(&stream[..split]).is_none(), "{split}");
            assert!(m.feed(&stream[split..]).is_none(), "{split}");
            assert_eq!(m.feed(&frame(4, 0, 0, &[])), Some((0, Verdict::Flood)));
        }
    }

    #[test]
    fn a_request_resets_the_count() {
        let mut m = FrameMeter::new(2);
        assert!(m.feed(PREFACE).is_none());
        let two = [frame(6, 0, 0, b"12345678"), frame(4, 0, 0, &[])].concat();
        assert!(m.feed(&two).is_none());
        assert!(m.feed(&frame(1, 4, 1, b"\x82")).is_none());
        assert!(m.feed(&two).is_none());
        assert_eq!(
            m.feed(&frame(6, 0, 0, b"12345678")),
            Some((0, Verdict::Flood))
        );
    }

    #[test]
    fn wrong_codes_of_h2_are_given_the_rfc_ones_at_the_frame_offset() {
        let error = |r| Some(Verdict::Error(r));
        let good = frame(6, 0, 0, b"12345678");
        let cases = [
            (frame(6, 0, 0, b"1234567"), h2::Reason::FRAME_SIZE_ERROR),
            (frame(4, 1, 0, &[0; 6]), h2::Reason::FRAME_SIZE_ERROR),
            (frame(4, 0, 0, &[0; 5]), h2::Reason::FRAME_SIZE_ERROR),
            (frame(8, 0, 0, &[0; 3]), h2::Reason::FRAME_SIZE_ERROR),
            (frame(3, 0, 1, &[0; 5]), h2::Reason::FRAME_SIZE_ERROR),
            (frame(2, 0, 1, &[0; 4]), h2::Reason::FRAME_SIZE_ERROR),
            (
                frame(5, 0, 1, &[0, 0, 0, 2, 0x88]),
                h2::Reason::PROTOCOL_ERROR,
            ),
            (
                frame(4, 0, 0, &[0, 3, 0, 0, 0, 1, 0, 4, 0x80, 0, 0, 0]),
                h2::Reason::FLOW_CONTROL_ERROR,
            ),
        ];
        for (bad, reason) in cases {
            let mut m = FrameMeter::new(100);
            let bytes = [PREFACE, &good, &bad].concat();
            let (at, v) = m.feed(&bytes).expect("a verdict");
            assert_eq!(
                (at, v),
                (PREFACE.len() + good.len(), error(reason).unwrap())
            );
        }
        // HEADERS with END_STREAM, then DATA on that stream: STREAM_CLOSED.
        let mut m = FrameMeter::new(100);
        let bytes = [
            PREFACE,
            &frame(1, 0x5, 1, b"\x82"),
            &frame(1, 0x4, 3, b"\x82"),
            &frame(0, 0, 3, b"ok"),
            &frame(0, 0, 1, b"late"),
        ]
        .concat();
        assert_eq!(
            m.feed(&bytes).map(|(_, v)| v),
            error(h2::Reason::STREAM_CLOSED)
        );
    }
}
