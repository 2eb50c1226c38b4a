//! A complete WebSocket message, as handlers receive and send it.

use super::frame;

/// A complete WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8, checked).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Message {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The message as one server frame.
    pub fn to_frame(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let op = match self {
            Message::Text(_) => frame::OP_TEXT,
            Message::Binary(_) => frame::OP_BINARY,
        };
        frame::encode(op, self.as_bytes(), &mut out);
        out
    }
}
