//! The typed readers over the shared corpus and our own fixtures: every 835/276/277/277CA/999
//! parses into the right type, every 835's `balanced` matches what its numbers really say
//! (worked out by hand, noted per file), and JSON snapshots of a representative set.

mod common;

use expect_test::expect_file;
use practice_protocol::x12::{read_document, Diagnostic, Document, ParseOutput, TransactionBody};
use std::path::Path;

/// The JSON `practice x12 parse` prints.
fn parse_json(document: &Document, diagnostics: &[Diagnostic]) -> String {
    ParseOutput { transactions: &document.transactions, diagnostics }.to_json_pretty()
}

fn read_path(path: &Path) -> (Document, Vec<Diagnostic>) {
    let bytes = std::fs::read(path).expect("read sample");
    read_document(&bytes[..]).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn type_of(body: &TransactionBody) -> &'static str {
    match body {
        TransactionBody::Remittance(_) => "835",
        TransactionBody::ClaimStatus(_) => "277",
        TransactionBody::ClaimAcknowledgment(_) => "277ca",
        TransactionBody::Acknowledgment(_) => "999",
        TransactionBody::StatusRequest(_) => "276",
        TransactionBody::Other { .. } => "other",
    }
}

/// Each 835's balance, checked by hand against BPR02, CLP03/04, SVC02/03, CAS and PLB.
const EXPECTED_BALANCE: &[(&str, &[bool])] = &[
    // 34.00 paid; 541 − 34 = 516 − 9 (negative OA 94).
    ("edilens__835.test.0001.edi", &[true]),
    // 34.25 + 0 + 11.50 = 45.75; every line's charge − paid equals its CAS.
    ("k835__emedny_sample.txt", &[true]),
    // 88.92 + 261.07 = 349.99; CAS with two triplets on one segment.
    ("k835__united_healthcare_legacy_sample.txt", &[true]),
    // Line-level CAS only: 541 − 34 = 516 − 9.
    ("lfh__cob-contractural-adjustment.835", &[true]),
    // 450 + 495 = 945; lines pay 500/550, claim-level CO A2 50/55 brings them to CLP04.
    ("lfh__managed-care.835", &[true]),
    // 138018.40 + 11980.33 − (−1.27 PLB) = 150000.00.
    ("lfh__medicare-part-a.835", &[true]),
    // 912 + 310 = 1222.
    ("lfh__secondary-payment.835", &[true]),
    // SVC*HC*24599.00*1766.50*187.50: the procedure code slid into SVC02, so the line as
    // written charges 24599.00 and pays 1766.50 against CLP04 187.50: it does not balance.
    ("lfh__tertiary-payment.835", &[false]),
    // De-identified: amounts masked as 999.99, BPR02 9999.99: none of the three balances.
    ("oop__ExampleFromNth.txt", &[false, false, false]),
    // Junk 4010 content: BPR02 "NOT", CLP04 missing.
    ("pbx12__example835One.txt", &[false]),
    // Denied, BPR02 0: 915.39 − 0 = 500.04 + 127.80 + 287.55.
    ("pyx12__835_mult_loops.txt", &[true]),
    // Same remittance as k835 emedny_sample.
    ("tasty__profee.edi", &[true]),
];

#[test]
fn every_remittance_status_and_ack_in_the_corpus_reads() {
    let Some(files) = common::corpus_files() else { return };
    let mut checked_835 = 0;
    for path in files {
        let name = common::short_name(&path);
        let folder = name.split('/').next().unwrap_or_default().to_string();
        let (document, diagnostics) = read_path(&path);
        assert!(!document.transactions.is_empty(), "{name}: no transaction set");
        // The 276 examples are X12's own: they read clean.
        assert!(folder != "276" || diagnostics.is_empty(), "{name}: {diagnostics:#?}");
        let types: Vec<&str> = document.transactions.iter().map(|transaction| type_of(&transaction.body)).collect();
        let expected = match folder.as_str() {
            "835" | "276" | "277" | "277ca" | "999" => folder.as_str(),
            _ => "other",
        };
        assert!(types.iter().all(|found| *found == expected), "{name}: read as {types:?}, expected {expected}");
        if folder == "835" {
            let file = path.file_name().and_then(|file| file.to_str()).unwrap_or_default();
            let (_, balance) = EXPECTED_BALANCE
                .iter()
                .find(|(known, _)| *known == file)
                .unwrap_or_else(|| panic!("{name}: add its hand-checked balance to EXPECTED_BALANCE"));
            let found: Vec<bool> = document
                .transactions
                .iter()
                .filter_map(|transaction| match &transaction.body {
                    TransactionBody::Remittance(remittance) => Some(remittance.balanced),
                    _ => None,
                })
                .collect();
            assert_eq!(found, *balance, "{name}: balanced");
            checked_835 += 1;
        }
    }
    assert_eq!(checked_835, EXPECTED_BALANCE.len(), "every listed 835 is in the corpus");
}

#[test]
fn the_same_remittance_on_one_line_or_one_segment_per_line_reads_the_same() {
    let Some(files) = common::corpus_files() else { return };
    let find = |suffix: &str| files.iter().find(|path| path.ends_with(suffix)).expect("in corpus").clone();
    let (one_line, _) = read_path(&find("835/k835__emedny_sample.txt"));
    let (per_line, _) = read_path(&find("835/tasty__profee.edi"));
    assert_eq!(one_line.transactions[0].body, per_line.transactions[0].body);
}

/// JSON snapshots of a representative set (`UPDATE_EXPECT=1` rewrites them after review).
#[test]
fn corpus_json_snapshots() {
    let Some(files) = common::corpus_files() else { return };
    let representative = [
        "835/lfh__managed-care.835",
        "835/lfh__medicare-part-a.835",
        "835/k835__united_healthcare_legacy_sample.txt",
        "835/lfh__secondary-payment.835",
        "277ca/edilens__277CA.test.0001.edi",
        "277/lfh__claim-level-status.277",
        "276/lfh__provider-level-status.276",
        "999/oop__DHS_Wisconsin_Sample.txt",
        "999/pyx12__834_lui_id_5010.999.txt",
    ];
    for name in representative {
        let path = files.iter().find(|path| common::short_name(path) == name).expect("in corpus");
        let (document, diagnostics) = read_path(path);
        let snapshot = format!("snapshots/x12/{}.json", name.replace('/', "__"));
        expect_file![snapshot].assert_eq(&parse_json(&document, &diagnostics));
    }
}

#[test]
fn fixture_json_snapshots() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/x12");
    for name in ["reversal_correction_plb.835", "rejected.999", "accepted_rejected.277ca"] {
        let (document, diagnostics) = read_path(&fixtures.join(name));
        expect_file![format!("snapshots/x12/fixture__{name}.json")].assert_eq(&parse_json(&document, &diagnostics));
    }
}

#[test]
fn reversal_and_correction_are_kept_as_such() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/x12/reversal_correction_plb.835");
    let (document, diagnostics) = read_path(&path);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let TransactionBody::Remittance(remittance) = &document.transactions[0].body else { panic!("not an 835") };
    let statuses: Vec<(&str, bool, String)> =
        remittance.claims.iter().map(|claim| (claim.status.as_str(), claim.reversal, claim.paid.to_string())).collect();
    assert_eq!(
        statuses,
        [("22", true, "-150.00".to_string()), ("1", false, "180.00".to_string()), ("1", false, "150.00".to_string())]
    );
    assert_eq!(remittance.claims[1].corrected.as_ref().and_then(|name| name.first.as_deref()), Some("JANET"));
    let plb: Vec<(String, Option<String>, String)> = remittance
        .provider_adjustments
        .iter()
        .map(|adjustment| {
            (
                adjustment.reason.to_string(),
                adjustment.reference.as_ref().map(ToString::to_string),
                adjustment.amount.to_string(),
            )
        })
        .collect();
    assert_eq!(
        plb,
        [
            ("WO".to_string(), Some("ICN-0009".to_string()), "75.00".to_string()),
            ("L6".to_string(), None, "-25.00".to_string())
        ]
    );
    assert_eq!(remittance.claims[2].services[0].adjustments.len(), 7, "six CO triplets and one PR");
    assert!(remittance.balanced);
}
