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

/// Segment counts per file from the corpus's `SOURCES.md` table (`segs` column: segments
/// counted by splitting on the ISA-declared terminator), keyed by `folder/file`.
fn documented_segment_counts(files: &[std::path::PathBuf]) -> std::collections::HashMap<String, usize> {
    let root = files[0].parent().and_then(|folder| folder.parent()).expect("corpus root");
    let sources = std::fs::read_to_string(root.join("SOURCES.md")).unwrap_or_default();
    let mut counts = std::collections::HashMap::new();
    for line in sources.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 4 {
            if let (Some(name), Ok(count)) =
                (cells[1].strip_prefix('`').and_then(|cell| cell.strip_suffix('`')), cells[3].parse())
            {
                counts.insert(name.to_string(), count);
            }
        }
    }
    counts
}

#[test]
fn every_corpus_file_lexes_to_its_documented_segment_count() {
    let Some(files) = common::corpus_files() else { return };
    let documented = documented_segment_counts(&files);
    assert!(!documented.is_empty(), "SOURCES.md lists segment counts");
    let mut compared = 0;
    for path in &files {
        let bytes = std::fs::read(path).expect("read sample");
        let name = common::short_name(path);
        let (ids, _) = lex(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
        match documented.get(&name) {
            Some(&count) => {
                assert_eq!(ids.len(), count, "{name}: segments");
                compared += 1;
            }
            None => assert!(ids.len() > 5, "{name}: only {} segments", ids.len()),
        }
    }
    assert!(compared * 2 >= files.len(), "only {compared} of {} files have a documented count", files.len());
}
