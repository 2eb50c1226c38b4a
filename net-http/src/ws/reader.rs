//! Turns a client's frames into messages and control events, as bytes arrive.
//!
//! Payload bytes are unmasked straight into the message being assembled, so a frame
//! never has to sit whole in the input buffer; the message is bounded by the maximum
//! size, checked against each frame's announced length before any of it is stored.
//! Text is validated as it arrives (the standard library's validator, resumed at the
//! last complete character), so invalid UTF-8 fails fast, even inside a fragment.

use net::Buffer;

use super::frame::{
    self, fail, FrameHead, WsFail, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT,
};
use super::message::Message;

/// What the reader produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Message(Message),
    Ping(Vec<u8>),
    Pong,
    /// The peer's close: its code (None: no code) and reason.
    Close(Option<u16>, String),
}

pub(crate) struct WsReader {
    frame: Option<FrameHead>,
    left: u64,
    mask_pos: usize,
    message: Vec<u8>,
    message_op: Option<u8>,
    utf8_checked: usize,
    control: Vec<u8>,
    max_message: usize,
}

impl WsReader {
    pub(crate) fn new(max_message: usize) -> Self {
        WsReader {
            frame: None,
            left: 0,
            mask_pos: 0,
            message: Vec::new(),
            message_op: None,
            utf8_checked: 0,
            control: Vec::new(),
            max_message,
        }
    }

    /// The next event from `buf`, consuming what it used; `Ok(None)` when more bytes
    /// are needed.
    pub(crate) fn next(&mut self, buf: &mut Buffer) -> Result<Option<Event>, WsFail> {
        loop {
            let head = match self.frame {
                Some(h) => h,
                None => {
                    let Some((h, n)) = frame::parse_head(buf.peek())? else {
                        return Ok(None);
                    };
                    buf.retrieve(n);
                    self.begin_frame(h)?;
                    h
                }
            };
            let take = usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .min(buf.readable_bytes());
            if take > 0 {
                let target = if head.is_control() {
                    &mut self.control
                } else {
                    &mut self.message
                };
                let start = target.len();
                target.extend_from_slice(&buf.peek()[..take]);
                buf.retrieve(take);
                self.mask_pos = frame::unmask(&mut target[start..], head.mask, self.mask_pos);
                self.left -= take as u64;
                if !head.is_control() && self.message_op == Some(OP_TEXT) {
                    self.check_utf8(false)?;
                }
            }
            if self.left > 0 {
                return Ok(None);
            }
            self.frame = None;
            if let Some(event) = self.end_frame(head)? {
                return Ok(Some(event));
            }
        }
    }

    fn begin_frame(&mut self, h: FrameHead) -> Result<(), WsFail> {
        match h.opcode {
            OP_TEXT | OP_BINARY if self.message_op.is_some() => {
                return Err(fail(1002, "new message inside a fragmented one"))
            }
            OP_TEXT | OP_BINARY => self.message_op = Some(h.opcode),
            OP_CONTINUATION if self.message_op.is_none() => {
                return Err(fail(1002, "continuation without a message"))
            }
            _ => {}
        }
        if !h.is_control() && self.message.len() as u64 + h.len > self.max_message as u64 {
            return Err(fail(1009, "message too big"));
        }
        if h.is_control() {
            self.control.clear();
        }
        self.frame = Some(h);
        self.left = h.len;
        self.mask_pos = 0;
        Ok(())
    }

    fn end_frame(&mut self, h: FrameHead) -> Result<Option<Event>, WsFail> {
        match h.opcode {
            OP_PING => Ok(Some(Event::Ping(std::mem::take(&mut self.control)))),
            OP_PONG => Ok(Some(Event::Pong)),
            OP_CLOSE => parse_close(&self.control).map(Some),
            _ if !h.fin => Ok(None),
            _ => {
                let op = self.message_op.take();
                let payload = std::mem::take(&mut self.message);
                self.utf8_checked = 0;
                if op == Some(OP_TEXT) {
                    let text = String::from_utf8(payload)
                        .map_err(|_| fail(1007, "invalid UTF-8 in a text message"))?;
                    Ok(Some(Event::Message(Message::Text(text))))
                } else {
                    Ok(Some(Event::Message(Message::Binary(payload))))
                }
            }
        }
    }

    /// Validates the text received so far; an incomplete character at the end is
    /// fine until the message ends.
    fn check_utf8(&mut self, _final: bool) -> Result<(), WsFail> {
        match std::str::from_utf8(&self.message[self.utf8_checked..]) {
            Ok(_) => self.utf8_checked = self.message.len(),
            Err(e) if e.error_len().is_none() => self.utf8_checked += e.valid_up_to(),
            Err(_) => return Err(fail(1007, "invalid UTF-8 in a text message")),
        }
        Ok(())
    }
}

fn parse_close(payload: &[u8]) -> Result<Event, WsFail> {
    match payload {
        [] => Ok(Event::Close(None, String::new())),
        [_] => Err(fail(1002, "close payload of one byte")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !frame::valid_close_code(code) {
                return Err(fail(1002, "invalid close code"));
            }
            let reason = std::str::from_utf8(reason)
                .map_err(|_| fail(1007, "invalid UTF-8 in a close reason"))?;
            Ok(Event::Close(Some(code), reason.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let mut out = Vec::new();
        frame::encode(op, payload, &mut out);
        if !fin {
            out[0] &= 0x7f;
        }
        out[1] |= 0x80;
        let at = out.len() - payload.len();
        let mut masked = payload.to_vec();
        frame::unmask(&mut masked, mask, 0);
        out.truncate(at);
        out.extend_from_slice(&mask);
        out.extend_from_slice(&masked);
        out
    }

    fn events(wire: &[u8], max: usize) -> Result<Vec<Event>, WsFail> {
        let mut r = WsReader::new(max);
        let mut buf = Buffer::new();
        buf.append(wire);
        let mut out = Vec::new();
        while let Some(e) = r.next(&mut buf)? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn fragments_with_a_ping_between_split_anywhere() {
        let mut wire = client_frame(false, OP_TEXT, "héllo ".as_bytes());
        wire.extend(client_frame(true, OP_PING, b"p"));
        wire.extend(client_frame(true, OP_CONTINUATION, "wörld".as_bytes()));
        for cut in 0..=wire.len() {
            let mut r = WsReader::new(1024);
            let mut buf = Buffer::new();
            let mut got = Vec::new();
            buf.append(&wire[..cut]);
            while let Some(e) = r.next(&mut buf).unwrap() {
                got.push(e);
            }
            buf.append(&wire[cut..]);
            while let Some(e) = r.next(&mut buf).unwrap() {
                got.push(e);
            }
            assert_eq!(
                got,
                [
                    Event::Ping(b"p".to_vec()),
                    Event::Message(Message::Text("héllo wörld".into()))
                ],
                "cut {cut}"
            );
        }
    }

    #[test]
    fn utf8_split_across_fragments_is_fine_but_invalid_fails_fast() {
        let e = "é".as_bytes();
        let mut wire = client_frame(false, OP_TEXT, &e[..1]);
        wire.extend(client_frame(true, OP_CONTINUATION, &e[1..]));
        assert_eq!(
            events(&wire, 100).unwrap(),
            [Event::Message(Message::Text("é".into()))]
        );
        // An invalid byte in the first fragment fails before the message ends.
        let wire = client_frame(false, OP_TEXT, &[b'a', 0xff]);
        assert_eq!(events(&wire, 100).unwrap_err().code, 1007);
        // A truncated character at the end of the message fails.
        let wire = client_frame(true, OP_TEXT, &e[..1]);
        assert_eq!(events(&wire, 100).unwrap_err().code, 1007);
    }

    #[test]
    fn sequencing_size_and_close_rules() {
        assert_eq!(
            events(&client_frame(true, OP_CONTINUATION, b"x"), 100)
                .unwrap_err()
                .code,
            1002
        );
        let mut two = client_frame(false, OP_TEXT, b"a");
        two.extend(client_frame(true, OP_TEXT, b"b"));
        assert_eq!(events(&two, 100).unwrap_err().code, 1002);
        assert_eq!(
            events(&client_frame(true, OP_BINARY, &[0; 101]), 100)
                .unwrap_err()
                .code,
            1009
        );
        assert_eq!(
            events(&client_frame(true, OP_CLOSE, &[3]), 100)
                .unwrap_err()
                .code,
            1002
        );
        assert_eq!(
            events(&client_frame(true, OP_CLOSE, &[3, 0xe7]), 100)
                .unwrap_err()
                .code,
            1002
        );
        assert_eq!(
            events(&client_frame(true, OP_CLOSE, &[3, 0xe8, 0xff]), 100)
                .unwrap_err()
                .code,
            1007
        );
        assert_eq!(
            events(&client_frame(true, OP_CLOSE, &[3, 0xe8, b'o', b'k']), 100).unwrap(),
            [Event::Close(Some(1000), "ok".into())]
        );
    }
}
