//! Bad and odd input: each malformed case gets the right typed diagnostic (or fatal error),
//! and each tolerated oddity (other delimiters, BOM, CRLF, one line, bare ST…SE, `>`
//! composites, tiny reads) reads to exactly the same value as the clean file.

use expect_test::{expect, Expect};
use practice_protocol::x12::{read_document, Diagnostic, Document, SegmentReader, TransactionBody, X12Error};
use std::io::Read;

const REMITTANCE: &str = include_str!("fixtures/x12/reversal_correction_plb.835");
const ACK: &str = include_str!("fixtures/x12/rejected.999");

fn read(input: &[u8]) -> (Document, Vec<Diagnostic>) {
    read_document(input).unwrap_or_else(|error| panic!("fatal: {error}"))
}

fn check_diagnostics(input: &[u8], expected: Expect) {
    let (_, diagnostics) = read(input);
    let text: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    expected.assert_eq(&text.join("\n"));
}

fn fatal(input: &[u8]) -> X12Error {
    match read_document(input) {
        Ok((_, diagnostics)) => panic!("expected a fatal error, got {diagnostics:?}"),
        Err(error) => error,
    }
}

#[test]
fn clean_fixture_has_no_diagnostics() {
    check_diagnostics(REMITTANCE.as_bytes(), expect![[r#""#]]);
    check_diagnostics(ACK.as_bytes(), expect![[r#""#]]);
}

#[test]
fn truncated_file_reports_missing_terminator_and_envelopes() {
    let cut = REMITTANCE.find("CAS*PR*3").expect("fixture has CAS*PR*3") + 5;
    check_diagnostics(
        &REMITTANCE.as_bytes()[..cut],
        expect![[r#"
        error: segment 4 at byte 182 (BPR): does not balance: BPR02 = ΣCLP04 − ΣPLB: expected 180.00, found 130.00
        error: segment 32 at byte 937 (CLP): does not balance: claim CLAIM-0043 line 1: SVC02 − SVC03 = line CAS: expected 50.00, found 35.00
        error: segment 32 at byte 937 (CLP): does not balance: claim CLAIM-0043: CLP03 − CLP04 = claim and line CAS: expected 150.00, found 135.00
        error: segment 41 at byte 1249 (CAS): input ends inside a segment: expected segment terminator '~'
        error: segment 41 at byte 1249 (CAS02): missing required element: expected CAS02 adjustment reason code
        error: segment 42 at byte 1254: missing SE closing ST 0001 (segment 3 at byte 169 (ST))
        error: segment 42 at byte 1254: missing GE closing GS 101 (segment 2 at byte 107 (GS))
        error: segment 42 at byte 1254: missing IEA closing ISA 000000101 (segment 1 at byte 0 (ISA))"#]],
    );
}

#[test]
fn wrong_se_count() {
    check_diagnostics(
        REMITTANCE.replace("SE*44*0001", "SE*45*0001").as_bytes(),
        expect!["error: segment 46 at byte 1359 (SE01): SE01 segment count: trailer says 45, counted 44"],
    );
}

#[test]
fn wrong_control_numbers() {
    let input = REMITTANCE
        .replace("SE*44*0001", "SE*44*0002")
        .replace("GE*1*101", "GE*1*102")
        .replace("IEA*1*000000101", "IEA*1*000000999");
    check_diagnostics(
        input.as_bytes(),
        expect![[r#"
        error: segment 46 at byte 1359 (SE02): SE02 must equal ST02: trailer says "0002", header says "0001"
        error: segment 47 at byte 1371 (GE02): GE02 must equal GS06: trailer says "102", header says "101"
        error: segment 48 at byte 1381 (IEA02): IEA02 must equal ISA13: trailer says "000000999", header says "000000101""#]],
    );
}

#[test]
fn wrong_group_and_interchange_counts() {
    let input = REMITTANCE.replace("GE*1*101", "GE*2*101").replace("IEA*1*000000101", "IEA*3*000000101");
    check_diagnostics(
        input.as_bytes(),
        expect![[r#"
        error: segment 47 at byte 1371 (GE01): GE01 transaction set count: trailer says 2, counted 1
        error: segment 48 at byte 1381 (IEA01): IEA01 functional group count: trailer says 3, counted 1"#]],
    );
}

#[test]
fn unknown_segment() {
    check_diagnostics(
        REMITTANCE.replace("LX*1~", "LX*1~\nZZZ*1*2~").as_bytes(),
        expect![[r#"
        error: segment 16 at byte 515 (ZZZ): segment ZZZ is not part of transaction set 835
        error: segment 47 at byte 1368 (SE01): SE01 segment count: trailer says 44, counted 45"#]],
    );
}

#[test]
fn garbage_segment_inside_a_file() {
    check_diagnostics(
        REMITTANCE.replace("LX*1~", "LX*1~\n\u{1}\u{2}%PDF~").as_bytes(),
        expect![[r#"
        error: segment 16 at byte 515 (\x01\x02%PDF): expected a segment id of 2-3 capital letters or digits, found `\x01\x02%PDF`
        error: segment 47 at byte 1367 (SE01): SE01 segment count: trailer says 44, counted 45"#]],
    );
}

#[test]
fn unbalanced_payment() {
    check_diagnostics(REMITTANCE.replace("BPR*I*130.00", "BPR*I*131.00").as_bytes(), expect!["error: segment 4 at byte 182 (BPR): does not balance: BPR02 = ΣCLP04 − ΣPLB: expected 130.00, found 131.00"]);
}

#[test]
fn malformed_amount() {
    check_diagnostics(
        REMITTANCE.replace("*300.00*150.00*50.00", "*300,00*150.00*50.00").as_bytes(),
        expect![[r#"
        error: segment 32 at byte 937 (CLP03): invalid element: expected CLP03 total claim charge, found "300,00"
        error: segment 32 at byte 937 (CLP): does not balance: claim CLAIM-0043: CLP03 − CLP04 = claim and line CAS: expected -150.00, found 150.00"#]],
    );
}

#[test]
fn empty_input_is_fatal() {
    expect!["input is empty (0 bytes of X12)"].assert_eq(&fatal(b"").to_string());
}

#[test]
fn whitespace_only_input_is_not_x12() {
    expect!["input holds no segments: 5 bytes of whitespace"].assert_eq(&fatal(b" \r\n\r\n").to_string());
}

#[test]
fn non_x12_bytes_are_fatal() {
    expect![[
        r#"not X12 at byte 0: expected an ISA header or an ST segment, found `%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj`"#
    ]]
    .assert_eq(&fatal(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj").to_string());
    expect![[r#"not X12 at byte 0: expected an ISA header or an ST segment, found `<?xml version=\"1.0\"?><claim/>`"#]]
        .assert_eq(&fatal(b"<?xml version=\"1.0\"?><claim/>").to_string());
    expect!["input is UTF-16 encoded at byte 0: X12 must be ASCII or UTF-8"]
        .assert_eq(&fatal(&[0xFF, 0xFE, b'I', 0, b'S', 0]).to_string());
}

#[test]
fn truncated_isa_is_fatal() {
    expect!["malformed ISA header at byte 0: input ends after 7 of 16 ISA elements"]
        .assert_eq(&fatal(&REMITTANCE.as_bytes()[..60]).to_string());
}

#[test]
fn over_long_segment_is_fatal_with_bounded_memory() {
    let mut input = REMITTANCE[..REMITTANCE.find("LX*1~").expect("LX")].to_string();
    input.push_str("NTE*");
    input.push_str(&"A".repeat(5000));
    let mut reader = SegmentReader::with_max_segment(input.as_bytes(), 0);
    let error = loop {
        match reader.next_segment() {
            Some(Ok(_)) => continue,
            Some(Err(error)) => break error,
            None => panic!("expected SegmentTooLong"),
        }
    };
    expect!["segment 15 at byte 509 exceeds 1024 bytes without a terminator '~'"].assert_eq(&error.to_string());
}

/// The remittance read from `input`, envelope ids aside.
fn body(input: &[u8]) -> TransactionBody {
    let (document, diagnostics) = read(input);
    assert!(diagnostics.iter().all(|diagnostic| !diagnostic.is_error()), "{diagnostics:#?}");
    assert_eq!(document.transactions.len(), 1);
    document.transactions.into_iter().next().map(|transaction| transaction.body).expect("one transaction")
}

#[test]
fn other_delimiters_read_the_same() {
    let clean = body(REMITTANCE.as_bytes());
    // `~` as element separator and newline as segment terminator.
    let tilde = REMITTANCE.replace("~\n", "\n").replace('*', "~");
    assert_eq!(body(tilde.as_bytes()), clean);
    // `|` elements, `!` repetition, `>` components, `'` terminator, all on one line.
    let odd = REMITTANCE.replace("~\n", "'").replace('*', "|").replace(':', ">").replace("|^|", "|!|");
    assert_eq!(body(odd.as_bytes()), clean);
    // CRLF after terminators, and a newline terminator with CRLF line ends.
    assert_eq!(body(REMITTANCE.replace('\n', "\r\n").as_bytes()), clean);
    assert_eq!(body(REMITTANCE.replace("~\n", "\r\n").as_bytes()), clean);
    // Indented segments.
    assert_eq!(body(REMITTANCE.replace('\n', "\n   ").as_bytes()), clean);
}

#[test]
fn bom_is_skipped_with_a_warning() {
    let mut input = vec![0xEF, 0xBB, 0xBF];
    input.extend_from_slice(REMITTANCE.as_bytes());
    assert_eq!(body(&input), body(REMITTANCE.as_bytes()));
    check_diagnostics(
        &input,
        expect!["warning: segment 0 at byte 0: input starts with a UTF-8 byte order mark (skipped)"],
    );
}

#[test]
fn composites_with_the_wrong_separator_are_read_with_a_warning() {
    // Every SVC composite written with `>`, as some payers do.
    let all: String = REMITTANCE
        .lines()
        .map(|line| if line.starts_with("SVC*") { line.replace(':', ">") } else { line.to_string() } + "\n")
        .collect();
    assert_eq!(body(all.as_bytes()), body(REMITTANCE.as_bytes()));
    // Mixed within one composite (`HC>99213:25`): split on both.
    let input = REMITTANCE.replace("HC:", "HC>");
    assert_eq!(body(input.as_bytes()), body(REMITTANCE.as_bytes()));
    check_diagnostics(
        input.as_bytes(),
        expect![[r#"
        warning: segment 19 at byte 628 (SVC01): composite written with '>' but ISA16 declares ':'
        warning: segment 27 at byte 842 (SVC01): composite written with '>' but ISA16 declares ':'
        warning: segment 38 at byte 1112 (SVC01): composite written with '>' but ISA16 declares ':'
        warning: segment 38 at byte 1112 (SVC06): composite written with '>' but ISA16 declares ':'"#]],
    );
}

#[test]
fn bare_transaction_set_without_envelope() {
    let start = ACK.find("ST*").expect("ST");
    let end = ACK.find("GE*").expect("GE");
    let bare = &ACK[start..end];
    let (document, _) = read(bare.as_bytes());
    let (full, _) = read(ACK.as_bytes());
    assert_eq!(document.transactions[0].body, full.transactions[0].body);
    assert_eq!(document.transactions[0].envelope.interchange_control_number, None);
    assert_eq!(document.transactions[0].envelope.version.as_deref(), Some("005010X231A1"));
    check_diagnostics(bare.as_bytes(), expect!["warning: segment 1 at byte 0: no ISA interchange header: read a bare transaction set with guessed delimiters"]);
}

/// A reader that hands out one byte per call: every buffer boundary gets exercised.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&byte, rest)), Some(slot)) => {
                *slot = byte;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn one_byte_reads_give_the_same_document() {
    let (whole, whole_diagnostics) = read(REMITTANCE.as_bytes());
    let (trickled, trickled_diagnostics) = read_document(Trickle(REMITTANCE.as_bytes())).expect("reads");
    assert_eq!(trickled, whole);
    assert_eq!(trickled_diagnostics, whole_diagnostics);
}

#[test]
fn several_interchanges_in_one_file() {
    let twice = format!("{REMITTANCE}{ACK}{REMITTANCE}");
    let (document, diagnostics) = read(twice.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let types: Vec<&str> = document
        .transactions
        .iter()
        .map(|transaction| match transaction.body {
            TransactionBody::Remittance(_) => "835",
            TransactionBody::Acknowledgment(_) => "999",
            _ => "other",
        })
        .collect();
    assert_eq!(types, ["835", "999", "835"]);
}
