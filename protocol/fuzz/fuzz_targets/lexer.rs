//! Fuzz the streaming lexer: any bytes, every element and component touched, the buffer never
//! past its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use practice_protocol::x12::SegmentReader;

fuzz_target!(|data: &[u8]| {
    let mut reader = SegmentReader::with_max_segment(data, 4096);
    while let Some(Ok(segment)) = reader.next_segment() {
        for n in 0..=segment.element_count() + 1 {
            let _ = segment.composite(n).0.count();
            let _ = segment.repetitions(n).count();
        }
        assert!(reader.buffer_len() <= reader.buffer_limit());
    }
});
