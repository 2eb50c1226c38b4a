//! The chat_server example sets the timeouts a real server sets (issue 25): a client
//! that starts a frame and stalls (two bytes of a header) is closed after the frame
//! timeout, a silent one after the idle timeout, and the others keep chatting.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::example::start_example;
use common::*;
use muon::codec::LengthHeaderCodec;

fn frame(payload: &[u8]) -> Vec<u8> {
    LengthHeaderCodec::default().frame(payload).unwrap()
}

/// Reads one frame's payload (blocking, bounded by the read timeout).
fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut header = [0; 4];
    s.read_exact(&mut header).expect("frame header");
    let mut payload = vec![0; u32::from_be_bytes(header) as usize];
    s.read_exact(&mut payload).expect("frame payload");
    payload
}

/// Waits for the server to close `s`: EOF (or a reset), never a read timeout.
fn closed_within(s: &mut TcpStream) -> Duration {
    let t = Instant::now();
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("not closed by the server: {e}"),
    }
    t.elapsed()
}

#[test]
fn a_stalled_frame_is_closed_and_the_room_goes_on() {
    let (_server, addr) = start_example(
        "chat_server",
        &[
            "--threads",
            "1",
            "--frame-timeout",
            "0.5",
            "--idle-timeout",
            "60",
        ],
    );
    let addr = addr.parse().unwrap();
    let mut good = connect(addr);
    let mut stalled = connect(addr);
    // Two bytes of a four-byte header, then nothing.
    stalled.write_all(&[0, 0]).unwrap();
    let t = Instant::now();
    good.write_all(&frame(b"hello")).unwrap();
    assert_eq!(read_frame(&mut good), b"hello");
    closed_within(&mut stalled);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );
    // A frame finished in time does not trip the timer; the room still works.
    good.write_all(&frame(b"still here")[..3]).unwrap();
    good.write_all(&frame(b"still here")[3..]).unwrap();
    assert_eq!(read_frame(&mut good), b"still here");
}

#[test]
fn a_silent_client_is_closed_after_the_idle_timeout() {
    let (_server, addr) =
        start_example("chat_server", &["--threads", "1", "--idle-timeout", "0.5"]);
    let mut silent = connect(addr.parse().unwrap());
    let waited = closed_within(&mut silent);
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );
}
