//! Fuzz the 835 reader: a valid envelope up to ST, then fuzzer bytes as the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

const HEADER: &[u8] = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260115*1200*^*00501*000000001*0*T*:~GS*HP*SENDER*RECEIVER*20260115*1200*1*X*005010X221A1~ST*835*0001*005010X221A1~";

fuzz_target!(|data: &[u8]| {
    let mut input = HEADER.to_vec();
    input.extend_from_slice(data);
    let _ = practice_protocol::x12::read_document(&input[..]);
});
