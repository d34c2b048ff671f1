//! Round trip: claim → our 837 writer → our 837 reader (on the x12read lexer) → the same
//! claim content, for professional and institutional, primary, dependent, replacement,
//! secondary and tertiary claims, with default and unusual delimiters.

mod support;

use practice_protocol::domain::{Claim, ClaimType, CoverageOrder};
use practice_protocol::x12::read837::{read_837, Claim837};
use practice_protocol::x12::write::{write_837, Delimiters};

fn round_trip(claim_type: ClaimType, claims: &[Claim], delimiters: Delimiters) {
    let mut submission = support::submission(31);
    submission.envelope.delimiters = delimiters;
    let bytes = write_837(&submission, claim_type, claims).unwrap();
    let (read, diagnostics) = read_837(&bytes[..]).unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    // The writer groups claims per payer and billing provider; compare by control number.
    assert_eq!(read.len(), claims.len());
    for claim in claims {
        let expected = Claim837::carried_by(claim).unwrap();
        let found = read
            .iter()
            .find(|read| read.patient_control_number == claim.patient_control_number)
            .unwrap_or_else(|| panic!("{} not read back", claim.patient_control_number));
        assert_eq!(found, &expected, "claim {}", claim.patient_control_number);
    }
}

fn tertiary() -> Claim {
    let mut claim = support::professional_secondary("t1");
    let mut secondary_prior = claim.prior_adjudications[0].clone();
    secondary_prior.order = CoverageOrder::Secondary;
    secondary_prior.payer = claim.coverages[1].payer.clone();
    secondary_prior.subscriber = claim.coverages[1].subscriber.clone();
    secondary_prior.paid = support::usd("20.00");
    secondary_prior.lines.truncate(1);
    secondary_prior.lines[0].paid = support::usd("20.00");
    claim.prior_adjudications.push(secondary_prior);
    let mut tertiary = claim.coverages[1].clone();
    tertiary.order = CoverageOrder::Tertiary;
    tertiary.payer.payer_id = practice_protocol::ids::PayerId::parse("TRI01").unwrap();
    claim.coverages.push(tertiary);
    claim.responsibility = CoverageOrder::Tertiary;
    claim
}

#[test]
fn professional_claims_round_trip() {
    let mut no_line_detail = support::professional_secondary("p6");
    no_line_detail.prior_adjudications[0].lines.clear();
    no_line_detail.prior_adjudications[0].claim_adjustments = vec![practice_protocol::claim::Adjustment {
        group: practice_protocol::claim::AdjustmentGroup::CO,
        reason: "45".into(),
        amount: support::usd("89.10"),
        quantity: Some(rust_decimal::Decimal::ONE),
    }];
    let claims = [
        support::professional_primary("p1"),
        support::professional_dependent("p2"),
        support::professional_replacement("p3"),
        support::professional_secondary("p4"),
        tertiary(),
        no_line_detail,
    ];
    round_trip(ClaimType::Professional, &claims, Delimiters::default());
}

#[test]
fn institutional_claims_round_trip() {
    let mut inpatient = support::institutional_primary("i3");
    if let Some(facility) = inpatient.institutional.as_mut() {
        facility.facility_type = "11".into();
        facility.admission_date = Some(support::date("2026-10-30"));
        facility.statement_from = support::date("2026-10-30");
    }
    let claims = [support::institutional_primary("i1"), support::institutional_secondary("i2"), inpatient];
    round_trip(ClaimType::Institutional, &claims, Delimiters::default());
}

#[test]
fn round_trip_survives_unusual_delimiters() {
    let delimiters = Delimiters { element: b'|', repetition: b'!', component: b'>', segment: b'\'', newline: false };
    round_trip(ClaimType::Professional, &[support::professional_secondary("u1")], delimiters);
    round_trip(ClaimType::Institutional, &[support::institutional_secondary("u2")], delimiters);
}

#[test]
fn the_round_trip_notices_a_difference() {
    // Guard against a comparison that cannot fail: a changed charge must show.
    let claim = support::professional_primary("n1");
    let bytes = write_837(&support::submission(1), ClaimType::Professional, std::slice::from_ref(&claim)).unwrap();
    let text = String::from_utf8(bytes).unwrap().replace("SV1*HC:99214:25*185*", "SV1*HC:99214:25*186*");
    let (read, _) = read_837(text.as_bytes()).unwrap();
    assert_ne!(read[0], Claim837::carried_by(&claim).unwrap());
    assert_eq!(read[0].lines[0].charge, rust_decimal::Decimal::from(186));
}

#[test]
fn bad_elements_get_positioned_diagnostics() {
    let claim = support::professional_primary("d1");
    let bytes = write_837(&support::submission(1), ClaimType::Professional, std::slice::from_ref(&claim)).unwrap();
    let text = String::from_utf8(bytes).unwrap().replace("DTP*472*D8*20261102", "DTP*472*D8*20261340");
    let (read, diagnostics) = read_837(text.as_bytes()).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].lines[0].service_date, None);
    let first = &diagnostics[0];
    assert_eq!(first.position.segment_id, "DTP");
    assert_eq!(first.position.element, Some(3));
}

/// `<workspace>/../shared/samples/x12` (or `$PRACTICE_SAMPLES/x12`); `None` skips, except
/// under `CI`, where a missing corpus fails.
fn corpus() -> Option<std::path::PathBuf> {
    let root = std::env::var_os("PRACTICE_SAMPLES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples"));
    let root = root.join("x12");
    if !root.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "corpus missing at {}", root.display());
        eprintln!("skipping: no corpus at {}", root.display());
        return None;
    }
    Some(root)
}

#[test]
fn third_party_837s_read_as_their_files_say() {
    use rust_decimal::Decimal;
    use std::str::FromStr;
    let Some(root) = corpus() else { return };
    let read = |name: &str| read_837(&std::fs::read(root.join(name)).unwrap()[..]).unwrap();
    // A secondary professional claim with the primary's line adjudications (checked by hand).
    let (claims, diagnostics) = read("837p/lfh__demo.cob.example3.B.837");
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let claim = &claims[0];
    assert_eq!(claim.patient_control_number, "26407789");
    assert_eq!(claim.total_charge, Decimal::from_str("79.04").unwrap());
    assert_eq!(claim.responsibility, Some(CoverageOrder::Secondary));
    assert_eq!(claim.payer.payer_id, "567890");
    assert_eq!(claim.diagnoses, ["4779", "2724", "2780", "53081"]);
    assert_eq!(claim.other_payers[0].paid, Some(Decimal::from_str("39.15").unwrap()));
    assert_eq!(claim.other_payers[0].payer.payer_id, "999996666");
    let paid: Vec<String> = claim.lines.iter().map(|line| line.adjudications[0].paid.to_string()).collect();
    assert_eq!(paid, ["40.00", "15.00", "21.04"]);
    assert_eq!(claim.lines[0].diagnosis_pointers, [1, 2, 3, 4]);
    // Two institutional claims under one provider.
    let (claims, diagnostics) = read("837i/lfh__two-claims-single-provider.837i");
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let summary: Vec<(&str, String, usize)> = claims
        .iter()
        .map(|claim| (claim.patient_control_number.as_str(), claim.total_charge.to_string(), claim.lines.len()))
        .collect();
    assert_eq!(summary, [("756048Q", "89.95".to_string(), 2), ("756049Q", "50.00".to_string(), 1)]);
    assert_eq!(claims[0].lines[1].revenue_code.as_deref(), Some("0730"));
    assert_eq!(claims[0].lines[1].units, Decimal::from(3));
    assert_eq!(claims[0].diagnoses, ["3669", "4019", "79431"]);
}

#[test]
fn the_shared_corpus_837s_read_without_panics() {
    let Some(root) = corpus() else { return };
    let mut claims_read = 0;
    for folder in ["837p", "837i"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            // Every sample is X12; some are deliberately broken, which may stop the lexer.
            if let Ok((claims, _)) = read_837(&bytes[..]) {
                claims_read += claims.len();
                for claim in &claims {
                    assert!(!claim.patient_control_number.is_empty() || !claim.lines.is_empty());
                }
            }
        }
    }
    assert!(claims_read >= 20, "read {claims_read} claims from the corpus");
}
