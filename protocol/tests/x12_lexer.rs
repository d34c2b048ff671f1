//! The lexer and envelope checks over the shared corpus and small hand-written inputs.

mod common;

use practice_protocol::x12::{Diagnostic, EnvelopeChecker, Position, SegmentReader, X12Error};

/// Lexes and envelope-checks `input`; returns segment ids and diagnostics as text.
fn lex(input: &[u8]) -> Result<(Vec<String>, Vec<String>), X12Error> {
    let mut reader = SegmentReader::new(input);
    let mut checker = EnvelopeChecker::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut ids = Vec::new();
    while let Some(segment) = reader.next_segment() {
        let segment = segment?;
        ids.push(segment.id_text());
        checker.on_segment(&segment, &mut diagnostics);
    }
    let end = Position::at_offset(reader.segments_read() + 1, reader.offset());
    checker.finish(end, &mut diagnostics);
    diagnostics.extend(reader.take_diagnostics());
    Ok((ids, diagnostics.iter().map(ToString::to_string).collect()))
}

#[test]
fn every_corpus_file_lexes() {
    let Some(files) = common::corpus_files() else { return };
    for path in files {
        let bytes = std::fs::read(&path).expect("read sample");
        let name = common::short_name(&path);
        match lex(&bytes) {
            Ok((ids, diagnostics)) => {
                assert!(ids.len() > 5, "{name}: only {} segments", ids.len());
                println!("{name}: {} segments, {} diagnostics", ids.len(), diagnostics.len());
                for diagnostic in diagnostics {
                    println!("    {diagnostic}");
                }
            }
            Err(error) => panic!("{name}: {error}"),
        }
    }
}
