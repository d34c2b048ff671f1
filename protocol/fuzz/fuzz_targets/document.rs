//! Fuzz the whole reader (lexer, envelope checks, every transaction reader) on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((document, _)) = practice_protocol::x12::read_document(data) {
        let _ = practice_protocol::x12::ParseOutput { transactions: &document.transactions, diagnostics: &[] }
            .to_json_pretty();
    }
});
