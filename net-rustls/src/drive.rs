//! Driving rustls's unbuffered state machine over Muon's buffers.
//!
//! `process_tls_records` looks at the inbound ciphertext and names the one thing to do
//! next (decrypted data to take, a handshake record to encode, bytes to transmit, more
//! input needed, application data may be written). [`drive`] does each in turn until
//! rustls needs more input or the caller's job (encrypt this, send close_notify) is
//! done. Encoded records go to the connection's output buffer; the connection sends
//! them after the layer call returns, which is what "transmit" means here.

use net::Buffer;
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncryptError, InsufficientSizeError, UnbufferedStatus,
    WriteTraffic,
};

/// A rustls connection of either side, as the driver sees it.
pub(crate) trait Unbuffered {
    /// rustls's side-specific connection data.
    type Data;
    /// `process_tls_records` of that side.
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
}

impl Unbuffered for rustls::server::UnbufferedServerConnection {
    type Data = rustls::server::ServerConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

impl Unbuffered for rustls::client::UnbufferedClientConnection {
    type Data = rustls::client::ClientConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

/// The largest TLS plaintext record.
const RECORD: usize = 16 * 1024;

/// What the caller wants done once application data may be written.
pub(crate) struct Job<'a> {
    /// Plaintext to encrypt (empty: none).
    pub(crate) send: &'a [u8],
    /// Queue a close_notify after it.
    pub(crate) close: bool,
}

impl Job<'_> {
    /// Only process what arrived.
    pub(crate) const NONE: Job<'static> = Job {
        send: &[],
        close: false,
    };
}

/// Where [`drive`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The handshake needs more bytes from the peer.
    Blocked,
    /// Application data may flow (the job, if any, is done); any further inbound
    /// record needs more bytes first.
    Writable,
    /// Both sides sent close_notify; nothing more happens on this session.
    Closed,
}

/// What one [`drive`] call saw besides where it stopped.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Seen {
    /// The peer's close_notify arrived during this call.
    pub(crate) peer_closed: bool,
    /// The job ran (its bytes were encrypted, its close_notify queued).
    pub(crate) job_done: bool,
}

/// Runs the state machine of `conn` over `incoming` until it needs more input.
/// Decrypted data is appended to `plain`, records to `wire_out`; consumed ciphertext
/// is removed from `incoming`.
pub(crate) fn drive<C: Unbuffered>(
    conn: &mut C,
    incoming: &mut Buffer,
    plain: &mut Buffer,
    wire_out: &mut Buffer,
    job: Job<'_>,
) -> Result<(Stop, Seen), rustls::Error> {
    let mut seen = Seen::default();
    loop {
        let UnbufferedStatus { mut discard, state } = conn.process(incoming.peek_mut());
        let step = match state {
            Err(e) => Err(e),
            Ok(state) => handle(state, plain, wire_out, &job, &mut seen, &mut discard),
        };
        // rustls's own offsets into the input assume this discard happened, on error
        // too: the alert that follows an error is fetched with the same input.
        incoming.retrieve(discard);
        if let Some(stop) = step? {
            return Ok((stop, seen));
        }
    }
}

/// Does what one state asks; `Some` when [`drive`] should stop there.
fn handle<D>(
    state: ConnectionState<'_, '_, D>,
    plain: &mut Buffer,
    wire_out: &mut Buffer,
    job: &Job<'_>,
    seen: &mut Seen,
    discard: &mut usize,
) -> Result<Option<Stop>, rustls::Error> {
    Ok(match state {
        ConnectionState::ReadTraffic(mut traffic) => {
            while let Some(record) = traffic.next_record() {
                let record = record?;
                *discard += record.discard;
                plain.append(record.payload);
            }
            None
        }
        ConnectionState::EncodeTlsData(mut encode) => {
            encode_into(wire_out, 512, |out| encode.encode(out))?;
            None
        }
        ConnectionState::TransmitTlsData(transmit) => {
            // The encoded records are in `wire_out`; the connection sends them when
            // this layer call returns, in order with anything encrypted after them.
            transmit.done();
            None
        }
        ConnectionState::BlockedHandshake => Some(Stop::Blocked),
        ConnectionState::PeerClosed => {
            seen.peer_closed = true;
            None
        }
        ConnectionState::Closed => Some(Stop::Closed),
        ConnectionState::WriteTraffic(mut traffic) => {
            run_job(&mut traffic, wire_out, job)?;
            seen.job_done = true;
            Some(Stop::Writable)
        }
        // Early data is never enabled, so rustls cannot report it; anything else is
        // a state this rustls version added and this code does not know.
        other => {
            return Err(rustls::Error::General(format!(
                "unexpected rustls state {other:?}"
            )))
        }
    })
}

/// Encodes the record rustls queued last (after an error: its fatal alert), if any.
///
/// One `process_tls_records` call only: rustls hands out queued records before it looks
/// at the input, and looking at the input again after an alert would meet the same bad
/// bytes and raise a second fatal alert, which rustls treats as a bug (a debug
/// assertion). The input must be the one the failing call saw (after its discard):
/// rustls keeps offsets into it and indexes out of range on any other.
pub(crate) fn encode_queued<C: Unbuffered>(
    conn: &mut C,
    incoming: &mut Buffer,
    wire_out: &mut Buffer,
) {
    let status = conn.process(incoming.peek_mut());
    if let Ok(ConnectionState::EncodeTlsData(mut encode)) = status.state {
        // Nothing more can be done about a failure here: the connection is closing.
        let _ = encode_into(wire_out, 64, |out| encode.encode(out));
    }
}

/// Encrypts the job's bytes and queues its close_notify.
fn run_job<D>(
    traffic: &mut WriteTraffic<'_, D>,
    wire_out: &mut Buffer,
    job: &Job<'_>,
) -> Result<(), rustls::Error> {
    if !job.send.is_empty() {
        // A record adds at most 22 bytes (header, tag, content type); ask for that much
        // room up front so the common case encrypts once.
        let hint = job.send.len() + (job.send.len() / RECORD + 1) * 32;
        encode_into(wire_out, hint, |out| traffic.encrypt(job.send, out))?;
    }
    if job.close {
        encode_into(wire_out, 64, |out| traffic.queue_close_notify(out))?;
    }
    Ok(())
}

/// An error of `encode`/`encrypt` that says how much room it needs.
trait NeedsRoom {
    fn needs(&self) -> Option<usize>;
    fn into_rustls(self) -> rustls::Error;
}

impl NeedsRoom for EncodeError {
    fn needs(&self) -> Option<usize> {
        match self {
            EncodeError::InsufficientSize(InsufficientSizeError { required_size }) => {
                Some(*required_size)
            }
            _ => None,
        }
    }
    fn into_rustls(self) -> rustls::Error {
        rustls::Error::General(self.to_string())
    }
}

impl NeedsRoom for EncryptError {
    fn needs(&self) -> Option<usize> {
        match self {
            EncryptError::InsufficientSize(InsufficientSizeError { required_size }) => {
                Some(*required_size)
            }
            _ => None,
        }
    }
    fn into_rustls(self) -> rustls::Error {
        match self {
            EncryptError::EncryptExhausted => rustls::Error::EncryptError,
            other => rustls::Error::General(other.to_string()),
        }
    }
}

/// Calls `f` on the free space of `out`, growing it once to what `f` says it needs.
fn encode_into<E: NeedsRoom>(
    out: &mut Buffer,
    hint: usize,
    mut f: impl FnMut(&mut [u8]) -> Result<usize, E>,
) -> Result<(), rustls::Error> {
    out.ensure_writable(hint);
    let first = f(out.writable_slice());
    let err = match first {
        Ok(n) => {
            out.has_written(n);
            return Ok(());
        }
        Err(e) => e,
    };
    let Some(need) = err.needs() else {
        return Err(err.into_rustls());
    };
    out.ensure_writable(need);
    match f(out.writable_slice()) {
        Ok(n) => {
            out.has_written(n);
            Ok(())
        }
        Err(e) => Err(e.into_rustls()),
    }
}
