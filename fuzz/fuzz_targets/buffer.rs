//! Random operation sequences on `Buffer`, checked against a `Vec` model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use net::Buffer;

fuzz_target!(|data: &[u8]| {
    let mut buf = Buffer::new();
    let mut model: Vec<u8> = Vec::new();
    let mut ops = data.chunks(3);
    while let Some(op) = ops.next() {
        let arg = op.get(1).copied().unwrap_or(0) as usize * 7 + op.get(2).copied().unwrap_or(0) as usize;
        match op[0] % 6 {
            0 => {
                let bytes: Vec<u8> = (0..arg).map(|i| i as u8).collect();
                buf.append(&bytes);
                model.extend_from_slice(&bytes);
            }
            1 => {
                let bytes = vec![op[0]; arg % 16];
                buf.prepend(&bytes);
                model.splice(0..0, bytes);
            }
            2 => {
                buf.retrieve(arg);
                model.drain(..arg.min(model.len()));
            }
            3 => buf.ensure_writable(arg),
            4 => buf.shrink(arg),
            _ => {
                buf.retrieve_all();
                model.clear();
            }
        }
        assert_eq!(buf.peek(), &model[..]);
    }
});
