//! Property tests: `Buffer` and `LengthHeaderCodec` against simple models, over random
//! operation sequences.

use net::codec::{FrameTooLarge, LengthHeaderCodec};
use net::Buffer;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    Prepend(Vec<u8>),
    Retrieve(usize),
    RetrieveAll,
    Ensure(usize),
    Fill(Vec<u8>),
    Shrink(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..600).prop_map(Op::Append),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Op::Prepend),
        3 => (0usize..800).prop_map(Op::Retrieve),
        1 => Just(Op::RetrieveAll),
        1 => (0usize..2000).prop_map(Op::Ensure),
        2 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Fill),
        1 => (0usize..300).prop_map(Op::Shrink),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the sequence, the readable bytes equal a plain `Vec` model's.
    #[test]
    fn buffer_matches_a_vec_model(ops in proptest::collection::vec(op(), 0..60)) {
        let mut buf = Buffer::new();
        let mut model: Vec<u8> = Vec::new();
        for op in ops {
            match op {
                Op::Append(b) => { buf.append(&b); model.extend_from_slice(&b); }
                Op::Prepend(b) => { buf.prepend(&b); model.splice(0..0, b.iter().copied()); }
                Op::Retrieve(n) => { buf.retrieve(n); model.drain(..n.min(model.len())); }
                Op::RetrieveAll => { buf.retrieve_all(); model.clear(); }
                Op::Ensure(n) => { buf.ensure_writable(n); prop_assert!(buf.writable_bytes() >= n); }
                Op::Fill(b) => {
                    buf.ensure_writable(b.len());
                    buf.writable_slice()[..b.len()].copy_from_slice(&b);
                    buf.has_written(b.len());
                    model.extend_from_slice(&b);
                }
                Op::Shrink(r) => buf.shrink(r),
            }
            prop_assert_eq!(buf.peek(), &model[..]);
            prop_assert_eq!(buf.readable_bytes(), model.len());
            prop_assert_eq!(buf.is_empty(), model.is_empty());
            let crlf = model.windows(2).position(|w| w == b"\r\n");
            prop_assert_eq!(buf.find_crlf(), crlf);
        }
    }

    /// Frames cut into arbitrary pieces decode to exactly the payloads sent, in order.
    #[test]
    fn codec_decodes_any_split(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
        cuts in proptest::collection::vec(1usize..200, 0..40),
    ) {
        let codec = LengthHeaderCodec::new(1024);
        let mut wire = Buffer::new();
        for p in &payloads {
            codec.encode(p, &mut wire).unwrap();
        }
        let wire = wire.retrieve_all_as_vec();
        let mut input = Buffer::new();
        let mut got = Vec::new();
        let mut at = 0usize;
        for cut in cuts.into_iter().chain(std::iter::once(usize::MAX)) {
            let end = at.saturating_add(cut).min(wire.len());
            input.append(&wire[at..end]);
            at = end;
            codec.decode(&mut input, |f| got.push(f.to_vec())).unwrap();
        }
        prop_assert_eq!(got, payloads);
        prop_assert!(input.is_empty());
    }

    /// Any byte soup either decodes into frames no larger than the maximum, or stops
    /// at an oversized header with a clear error; it never panics.
    #[test]
    fn codec_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let codec = LengthHeaderCodec::new(512);
        let mut input = Buffer::new();
        input.append(&bytes);
        let mut total = 0;
        match codec.decode(&mut input, |f| { assert!(f.len() <= 512); total += 4 + f.len(); }) {
            Ok(()) => {
                // What is left is an incomplete frame.
                let rest = input.peek();
                let incomplete = rest.len() < 4
                    || rest.len() < 4 + u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                prop_assert!(incomplete);
            }
            Err(FrameTooLarge { len, max }) => prop_assert!(len > max),
        }
        prop_assert_eq!(total + input.readable_bytes(), bytes.len());
    }
}
