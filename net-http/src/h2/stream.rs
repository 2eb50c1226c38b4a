//! One HTTP/2 stream as the codec sees it, an explicit state machine beside `h2`'s
//! own (which keeps RFC 9113's idle/open/half-closed/closed states and enforces them):
//!
//! ```text
//!  Receiving ──body complete──► dispatch ─Reply::Now──────────► Sending ──► Finished
//!      │ (request body under           └─Reply::Later─► Awaiting ─respond─┘
//!      │  flow control, ≤ max_body_bytes)
//!      └─ body too large: 413 ─► Sending;  reset by the peer anywhere ─► Finished
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use http::HeaderMap;

use super::convert::{response_parts, OutBody};
use crate::request::Request;
use crate::response::Response;

/// Empty chunks in a row from a body source before it is taken for a bug (as HTTP/1.1).
const MAX_EMPTY_CHUNKS: u32 = 64;

/// Where a stream is in the codec's life.
pub(super) enum StreamPhase {
    /// The request head is in; its body arrives.
    Receiving {
        request: Request,
        body: RecvStream,
        respond: SendResponse<Bytes>,
    },
    /// The handler answers later through a responder.
    Awaiting { respond: SendResponse<Bytes> },
    /// The response head went out; the body goes out as the peer's windows allow.
    Sending {
        send: SendStream<Bytes>,
        body: OutBody,
        trailers: Option<HeaderMap>,
    },
    /// Done (answered, or reset): dropped from the table.
    Finished,
}

/// What reading a request body did.
pub(super) enum Received {
    /// More to come; whether anything was read (its window update must go out).
    More(bool),
    /// The whole body is in: dispatch the request.
    Complete,
    /// Over `max_body_bytes`: answer 413.
    TooLarge,
    /// The stream was reset (the RFC 9113 error code) or the connection failed.
    Gone(u32),
}

/// Reads the body that has arrived into the request, releasing flow-control capacity
/// for what was consumed so the peer may send more (at most `max_body` in all).
pub(super) fn receive(
    request: &mut Request,
    body: &mut RecvStream,
    max_body: usize,
    cx: &mut Context<'_>,
) -> Received {
    let mut read = false;
    loop {
        match body.poll_data(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let n = chunk.len();
                if request.body.len() + n > max_body {
                    return Received::TooLarge;
                }
                request.body.extend_from_slice(&chunk);
                read = true;
                // The bytes are ours now: open the windows again.
                let _ = body.flow_control().release_capacity(n);
            }
            Poll::Ready(Some(Err(e))) => {
                log::debug!("HTTP/2 request body ended with {e}");
                return Received::Gone(e.reason().map_or(2, u32::from));
            }
            Poll::Ready(None) => return Received::Complete,
            Poll::Pending => return Received::More(read),
        }
    }
}

/// Sends the response head and returns the phase that carries the rest.
pub(super) fn start_response(
    mut respond: SendResponse<Bytes>,
    resp: Response,
    head_only: bool,
) -> StreamPhase {
    let (head, body, trailers) = response_parts(resp, head_only);
    let end = matches!(body, OutBody::Done) && trailers.is_none();
    match respond.send_response(head, end) {
        Ok(_) if end => StreamPhase::Finished,
        Ok(send) => StreamPhase::Sending {
            send,
            body,
            trailers,
        },
        Err(e) => {
            log::debug!("HTTP/2 response head not sent: {e}");
            StreamPhase::Finished
        }
    }
}

/// What sending a body did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    /// The body (and trailers) are all queued in `h2`.
    Done,
    /// Some went out; the rest waits for the windows.
    Some,
    /// Nothing could go (the windows are shut).
    Nothing,
}

/// Sends as much of the body as the windows allow.
/// Pulls a streamed body only when the previous chunk went out, so a peer that never
/// opens its window holds one chunk of it in the server.
pub(super) fn send_body(
    send: &mut SendStream<Bytes>,
    body: &mut OutBody,
    trailers: &mut Option<HeaderMap>,
    cx: &mut Context<'_>,
) -> Result<Sent, h2::Error> {
    let mut empty_in_a_row = 0;
    // Whatever was queued here must be flushed by another poll of the connection.
    let mut sent = Sent::Nothing;
    loop {
        // The next piece, and whether it is the body's last.
        let (piece, last) = match body {
            OutBody::Done => {
                match trailers.take() {
                    Some(t) => send.send_trailers(t)?,
                    None => send.send_data(Bytes::new(), true)?,
                }
                return Ok(Sent::Done);
            }
            OutBody::Bytes(b) => (b, true),
            OutBody::Stream {
                source,
                pending,
                remaining,
            } => {
                if pending.is_empty() {
                    let chunk = match catch_unwind(AssertUnwindSafe(|| source.next_chunk())) {
                        Ok(c) => c,
                        Err(_) => {
                            log::error!("HTTP/2 body source panicked; resetting the stream");
                            send.send_reset(h2::Reason::INTERNAL_ERROR);
                            return Ok(Sent::Done);
                        }
                    };
                    let Some(mut chunk) = chunk else {
                        if remaining.is_some_and(|r| r > 0) {
                            log::error!("streamed body shorter than its content-length; reset");
                            send.send_reset(h2::Reason::INTERNAL_ERROR);
                            return Ok(Sent::Done);
                        }
                        *body = OutBody::Done;
                        continue;
                    };
                    if chunk.is_empty() {
                        empty_in_a_row += 1;
                        if empty_in_a_row > MAX_EMPTY_CHUNKS {
                            log::error!("body source keeps returning empty chunks; reset");
                            send.send_reset(h2::Reason::INTERNAL_ERROR);
                            return Ok(Sent::Done);
                        }
                        continue;
                    }
                    empty_in_a_row = 0;
                    if let Some(left) = remaining.as_mut() {
                        if chunk.len() as u64 > *left {
                            log::error!("streamed body longer than its content-length; cut");
                            chunk.truncate(*left as usize);
                        }
                        *left -= chunk.len() as u64;
                    }
                    *pending = Bytes::from(chunk);
                }
                let last = remaining.is_some_and(|r| r == 0);
                (pending, last)
            }
        };
        if piece.is_empty() {
            *body = OutBody::Done;
            continue;
        }
        send.reserve_capacity(piece.len());
        let granted = match send.poll_capacity(cx) {
            Poll::Ready(Some(Ok(_))) => send.capacity(),
            Poll::Ready(Some(Err(e))) => return Err(e),
            Poll::Ready(None) => return Ok(Sent::Done),
            Poll::Pending => send.capacity(),
        };
        if granted == 0 {
            return Ok(sent);
        }
        let n = granted.min(piece.len());
        let out = piece.split_to(n);
        let all = piece.is_empty() && last;
        let end = all && trailers.is_none();
        send.send_data(out, end)?;
        sent = Sent::Some;
        if all {
            if end {
                return Ok(Sent::Done);
            }
            *body = OutBody::Done;
        } else if piece.is_empty() {
            // A streamed body's chunk went out; the loop pulls the next.
            continue;
        }
    }
}
