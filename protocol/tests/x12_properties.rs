//! Bounded fuzz-style properties in the normal suite: random bytes and mutated real/own
//! samples never panic, diagnostics point inside the input, the lexer's buffer never grows
//! past its limit, and segments built with random delimiters lex back exactly.

mod common;

use practice_protocol::x12::{read_document, SegmentReader};
use proptest::prelude::*;

const OWN: [&str; 3] = [
    include_str!("fixtures/x12/reversal_correction_plb.835"),
    include_str!("fixtures/x12/rejected.999"),
    include_str!("fixtures/x12/accepted_rejected.277ca"),
];

/// Our fixtures plus, when present, the corpus's transaction sets we read.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = OWN.iter().map(|text| text.as_bytes().to_vec()).collect();
    if let Some(files) = common::corpus_files() {
        for path in files {
            let name = common::short_name(&path);
            if ["835/", "277", "999/"].iter().any(|prefix| name.starts_with(prefix)) {
                seeds.push(std::fs::read(&path).expect("read sample"));
            }
        }
    }
    seeds
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Duplicate { at: usize, len: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (any::<usize>(), 0usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 0usize..256).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(input: &mut Vec<u8>, mutation: &Mutation) {
    let len = input.len().max(1);
    match mutation {
        Mutation::Flip { at, byte } => {
            if let Some(slot) = input.get_mut(at % len) {
                *slot = *byte;
            }
        }
        Mutation::Delete { at, len: count } => {
            let start = (at % len).min(input.len());
            let end = (start + count).min(input.len());
            input.drain(start..end);
        }
        Mutation::Insert { at, bytes } => {
            let start = (at % len).min(input.len());
            input.splice(start..start, bytes.iter().copied());
        }
        Mutation::Duplicate { at, len: count } => {
            let start = (at % len).min(input.len());
            let end = (start + count).min(input.len());
            let copy = input[start..end].to_vec();
            input.splice(end..end, copy);
        }
        Mutation::Truncate { at } => input.truncate(at % len),
    }
}

/// Reads `input` fully; checks the invariants that must hold for any bytes.
fn check_any_input(input: &[u8]) {
    if let Ok((_, diagnostics)) = read_document(input) {
        for diagnostic in diagnostics {
            assert!(diagnostic.position.offset <= input.len() as u64, "{diagnostic} beyond {} bytes", input.len());
        }
    }
    let mut reader = SegmentReader::with_max_segment(input, 4096);
    while let Some(segment) = reader.next_segment() {
        if segment.is_err() {
            break;
        }
        assert!(reader.buffer_len() <= reader.buffer_limit());
    }
    assert!(reader.buffer_len() <= reader.buffer_limit());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_any_input(&input);
    }

    #[test]
    fn random_bytes_after_an_isa_never_panic(tail in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut input = OWN[0].as_bytes()[..107].to_vec();
        input.extend_from_slice(&tail);
        check_any_input(&input);
    }

    #[test]
    fn mutated_samples_never_panic(seed in any::<prop::sample::Index>(), mutations in prop::collection::vec(mutation(), 1..8)) {
        let seeds = SEEDS.with(|seeds| seeds.clone());
        let mut input = seed.get(&seeds).clone();
        for mutation in &mutations {
            apply(&mut input, mutation);
        }
        check_any_input(&input);
    }

    #[test]
    fn segments_with_random_delimiters_lex_back_exactly(
        separators in prop::sample::subsequence(vec![b'*', b'|', b'~', b'^', b'!', b'\'', b'+', b'{', b':'], 4),
        newline_terminator in any::<bool>(),
        // Any id but ISA: an ISA segment starts a new interchange and re-reads the delimiters
        // (the generator made one in about one run in seven).
        segments in prop::collection::vec(
            ("[A-Z][A-Z0-9]{1,2}".prop_filter("ISA starts an interchange", |id| id != "ISA"),
             prop::collection::vec("[A-Z0-9 .-]{0,12}", 0..12)),
            1..40,
        ),
    ) {
        let (element, component, repetition) = (separators[0], separators[1], separators[2]);
        let terminator = if newline_terminator { b'\n' } else { separators[3] };
        let isa = format!(
            "ISA{e}00{e}          {e}00{e}          {e}ZZ{e}SENDER         {e}ZZ{e}RECEIVER       {e}260115{e}1200{e}{r}{e}00501{e}000000001{e}0{e}T{e}{c}{t}",
            e = element as char, r = repetition as char, c = component as char, t = terminator as char
        );
        let mut input = isa.into_bytes();
        for (id, elements) in &segments {
            input.extend_from_slice(id.as_bytes());
            for value in elements {
                input.push(element);
                input.extend_from_slice(value.as_bytes());
            }
            input.push(terminator);
        }
        let mut reader = SegmentReader::new(&input[..]);
        let first = reader.next_segment().expect("ISA").expect("ISA lexes");
        prop_assert_eq!(first.id(), b"ISA");
        prop_assert_eq!(first.element(16), [component]);
        for (id, elements) in &segments {
            let segment = reader.next_segment().expect("segment").expect("lexes");
            prop_assert_eq!(segment.id(), id.as_bytes());
            // Trailing spaces of a last element before a newline terminator are kept.
            let found: Vec<&[u8]> = (1..=segment.element_count()).map(|n| segment.element(n)).collect();
            let expected: Vec<&[u8]> = elements.iter().map(|value| value.as_bytes()).collect();
            prop_assert_eq!(found, expected);
        }
        prop_assert!(reader.next_segment().is_none());
    }
}

thread_local! {
    static SEEDS: Vec<Vec<u8>> = seeds();
}
