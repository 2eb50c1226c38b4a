//! Arbitrary bytes through the HTTP request-head parser and the chunked decoder, fed
//! in two pieces: never a panic, never a body over the limit, never a byte consumed
//! that was not there (`net_http::fuzzing::http_request`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| net_http::fuzzing::http_request(data));
