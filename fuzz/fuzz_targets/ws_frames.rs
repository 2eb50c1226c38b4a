//! Arbitrary bytes through the WebSocket frame reader, fed in two pieces: never a
//! panic, never a message over the maximum, failures only with 1002/1007/1009
//! (`net_http::fuzzing::ws_frames`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| net_http::fuzzing::ws_frames(data));
