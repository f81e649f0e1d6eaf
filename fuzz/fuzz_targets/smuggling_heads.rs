//! The HTTP/1.1 head tracker that spots requests with both Content-Length and Transfer-Encoding
//! (src/server/smuggling.rs): arbitrary bytes, delivered in arbitrary reads, must give the same
//! verdicts as the same bytes in one read, since a client chooses how its bytes are split.
//!
//! Input: the first byte seeds where the stream is cut into reads; the rest is the stream.
#![no_main]

use hookguard::fuzzing::smuggling_verdicts;
use libfuzzer_sys::fuzz_target;

/// Below the tracker's own bounds (64 KiB heads, 4 KiB lines), where a split can change what it
/// gives up on.
const MAX_STREAM: usize = 4000;

fuzz_target!(|data: &[u8]| {
    let Some((&cut_seed, stream)) = data.split_first() else {
        return;
    };
    if stream.len() > MAX_STREAM {
        return;
    }
    let whole = smuggling_verdicts([stream]);
    let split = smuggling_verdicts(reads(stream, cut_seed));
    assert_eq!(whole, split, "verdicts depend on how the stream was split");
    let bytewise = smuggling_verdicts(stream.chunks(1));
    assert_eq!(
        whole, bytewise,
        "verdicts differ when read a byte at a time"
    );
});

/// The stream cut into reads of 1 to 16 bytes, the lengths drawn from a small generator.
fn reads(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | 1;
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = ((state >> 16) as usize % 16 + 1).min(rest.len());
        let (read, tail) = rest.split_at(len);
        out.push(read);
        rest = tail;
    }
    out
}
