//! The in-memory transport the `h2` crate reads from and writes to.
//!
//! `h2` wants tokio's `AsyncRead`/`AsyncWrite`; the reactor already did the socket I/O
//! (and TLS), so the transport is two buffers: what the connection received and has not
//! been parsed yet, and what `h2` wrote and the connection has not sent yet. Nothing
//! here waits: "not ready" is answered with `Pending` and no waker is kept, because the
//! codec polls `h2` again after every event that can unblock it (bytes in, the output
//! drained, an answer from a responder). See `drive` in `mod.rs`.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The two buffers and what bounds them.
#[derive(Default)]
pub(super) struct WireBufs {
    /// Received bytes `h2` has not read yet.
    pub input: BytesMut,
    /// The peer ended its stream: a read past `input` is end-of-file.
    pub eof: bool,
    /// Bytes `h2` wrote, to hand to the connection after the poll.
    pub output: Vec<u8>,
    /// How many more bytes `h2` may write in this poll: the connection's room under its
    /// high-water mark, so a peer that does not read stalls `h2`'s writes (and so its
    /// reads of frames that need an answer) instead of growing the output.
    pub room: usize,
    /// A write found no room in this poll: `h2` has more to write once the output
    /// drains, so the drain must poll it again (and nothing else needs that poll).
    pub starved: bool,
}

/// A handle on the shared buffers; `h2` owns one, the codec another (same thread).
#[derive(Clone, Default)]
pub(super) struct Wire(pub Rc<RefCell<WireBufs>>);

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut w = self.0.borrow_mut();
        if w.input.is_empty() {
            // Ready with nothing filled is end-of-file for tokio's readers.
            return if w.eof {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            };
        }
        let n = w.input.len().min(buf.remaining());
        buf.put_slice(&w.input[..n]);
        w.input.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut w = self.0.borrow_mut();
        if w.room == 0 {
            w.starved = true;
            return Poll::Pending;
        }
        let n = w.room.min(data.len());
        w.output.extend_from_slice(&data[..n]);
        w.room -= n;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A waker that does nothing: the loop re-polls on its own events (module docs).
struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

thread_local! {
    static NOOP: Waker = Waker::from(Arc::new(NoopWake));
}

/// The no-op waker of this thread (cloning it is an `Arc` increment).
pub(super) fn noop_waker() -> Waker {
    NOOP.with(Waker::clone)
}
