//! Arbitrary bytes through `LengthHeaderCodec::decode`, fed in two pieces: it must
//! never panic, never yield a frame above the maximum, and account for every byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use net::codec::LengthHeaderCodec;
use net::Buffer;

fuzz_target!(|data: &[u8]| {
    let codec = LengthHeaderCodec::new(4096);
    let cut = data.first().copied().unwrap_or(0) as usize % (data.len() + 1);
    let mut input = Buffer::new();
    let mut consumed = 0;
    for piece in [&data[..cut], &data[cut..]] {
        input.append(piece);
        let result = codec.decode(&mut input, |frame| {
            assert!(frame.len() <= 4096);
            consumed += 4 + frame.len();
        });
        if result.is_err() {
            return;
        }
    }
    assert_eq!(consumed + input.readable_bytes(), data.len());
});
