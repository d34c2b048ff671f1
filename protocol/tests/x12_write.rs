//! Structure of what the X12 writers produce: envelopes and counts, HL numbering, batching,
//! COB loops, replacement claims, caller-chosen delimiters, and typed errors on bad input.

mod support;

use practice_protocol::domain::{ClaimFrequency, ClaimType, CoverageOrder, PriorAdjudication};
use practice_protocol::x12::write::{
    write_276, write_835, write_837, Delimiters, StatusInquiry, StatusRequest, X12WriteError,
};
use rust_decimal::Decimal;
use std::str::FromStr;

/// Split a file into segments of elements (test-only; the real reader lives elsewhere).
fn segments(bytes: &[u8], delimiters: Delimiters) -> Vec<Vec<String>> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.split(char::from(delimiters.segment))
        .map(|segment| segment.trim_matches('\n'))
        .filter(|segment| !segment.is_empty())
        .map(|segment| segment.split(char::from(delimiters.element)).map(str::to_string).collect())
        .collect()
}

fn delimiters() -> Delimiters {
    support::envelope(1).delimiters
}

fn find<'a>(segments: &'a [Vec<String>], id: &str) -> Vec<&'a Vec<String>> {
    segments.iter().filter(|segment| segment[0] == id).collect()
}

/// Every ST..SE has the right SE01; GE01 counts the sets; IEA01 counts the groups.
fn assert_counts(segments: &[Vec<String>]) {
    let mut start = None;
    let mut sets = 0;
    for (index, segment) in segments.iter().enumerate() {
        match segment[0].as_str() {
            "ST" => start = Some(index),
            "SE" => {
                let count = index - start.take().unwrap() + 1;
                assert_eq!(segment[1], count.to_string(), "SE01 of set {}", segment[2]);
                sets += 1;
            }
            "GE" => assert_eq!(segment[1], sets.to_string()),
            "IEA" => assert_eq!(segment[1], "1"),
            _ => {}
        }
    }
}

/// HL ids run 1.. within each set, and each parent is an earlier HL of the expected level.
fn assert_hierarchy(segments: &[Vec<String>]) {
    let mut levels: Vec<(String, String)> = Vec::new();
    for segment in segments {
        match segment[0].as_str() {
            "ST" => levels.clear(),
            "HL" => {
                assert_eq!(segment[1], (levels.len() + 1).to_string(), "HL ids are sequential");
                let parent = segment.get(2).cloned().unwrap_or_default();
                let expected_parent_level = match segment[3].as_str() {
                    "20" => None,
                    "22" => Some("20"),
                    "23" => Some("22"),
                    other => panic!("unexpected HL level {other}"),
                };
                match expected_parent_level {
                    None => assert!(parent.is_empty()),
                    Some(level) => {
                        let index: usize = parent.parse().unwrap();
                        assert_eq!(levels[index - 1].1, level, "parent of HL {}", segment[1]);
                    }
                }
                levels.push((segment[1].clone(), segment[3].clone()));
            }
            _ => {}
        }
    }
}

#[test]
fn a_batch_is_split_per_payer_and_grouped_per_billing_provider() {
    let mut other_payer = support::professional_primary("b2");
    other_payer.coverages[0].payer.payer_id = practice_protocol::ids::PayerId::parse("99999").unwrap();
    let mut other_billing = support::professional_primary("b3");
    other_billing.billing.npi = practice_protocol::codes::npi_with_check_digit("111111111").unwrap();
    let claims =
        [support::professional_primary("b1"), other_payer, other_billing, support::professional_dependent("b4")];
    let bytes = write_837(&support::submission(1), ClaimType::Professional, &claims).unwrap();
    let segments = segments(&bytes, delimiters());
    assert_counts(&segments);
    assert_hierarchy(&segments);
    assert_eq!(find(&segments, "ST").len(), 2, "one set per payer");
    assert_eq!(find(&segments, "CLM").len(), 4);
    let billing_loops: Vec<_> = segments.iter().filter(|s| s[0] == "HL" && s[3] == "20").collect();
    assert_eq!(billing_loops.len(), 3, "payer 87726 has two billing providers, payer 99999 one");
    // Within a set, claims are grouped under their billing provider (b1 and b4 share one),
    // providers and claims in input order; the other payer's claim comes in the second set.
    let order: Vec<&str> = find(&segments, "CLM").iter().map(|s| s[1].as_str()).collect();
    assert_eq!(order, ["PCNB1", "PCNB4", "PCNB3", "PCNB2"]);
    // The dependent gets a patient loop with PAT*19 and no subscriber demographics.
    assert_eq!(find(&segments, "PAT").len(), 1);
    assert_eq!(find(&segments, "PAT")[0][1], "19");
}

#[test]
fn claim_and_line_amounts_and_codes_are_written_exactly() {
    let claim = support::professional_primary("m1");
    let bytes = write_837(&support::submission(1), ClaimType::Professional, std::slice::from_ref(&claim)).unwrap();
    let segments = segments(&bytes, delimiters());
    let clm = find(&segments, "CLM")[0];
    assert_eq!(clm[1..].join("*"), "PCNM1*209.5***11:B:1*Y*A*Y*Y");
    let lines = find(&segments, "SV1");
    assert_eq!(lines[0][1..].join("*"), "HC:99214:25*185*UN*1***1:2");
    assert_eq!(lines[1][1..].join("*"), "HC:82947*24.5*UN*1***1");
    assert_eq!(find(&segments, "HI")[0][1..].join("*"), "ABK:E119*ABF:I10");
    let controls: Vec<&str> =
        segments.iter().filter(|s| s[0] == "REF" && s[1] == "6R").map(|s| s[2].as_str()).collect();
    let expected: Vec<String> =
        claim.lines.iter().map(|line| line.id.0.simple().to_string().to_ascii_uppercase()).collect();
    assert_eq!(controls, expected);
}

#[test]
fn secondary_claims_carry_the_primary_adjudication() {
    let mut claim = support::professional_secondary("s1");
    // Make it tertiary with two prior payers, given out of order.
    let mut secondary_prior = claim.prior_adjudications[0].clone();
    secondary_prior.order = CoverageOrder::Secondary;
    secondary_prior.payer.payer_id = practice_protocol::ids::PayerId::parse("60054").unwrap();
    secondary_prior.paid = support::usd("20.00");
    claim.prior_adjudications.insert(0, secondary_prior);
    let mut tertiary = claim.coverages[1].clone();
    tertiary.order = CoverageOrder::Tertiary;
    tertiary.payer.payer_id = practice_protocol::ids::PayerId::parse("TRI01").unwrap();
    claim.coverages.push(tertiary);
    claim.responsibility = CoverageOrder::Tertiary;

    let bytes = write_837(&support::submission(1), ClaimType::Professional, &[claim]).unwrap();
    let segments = segments(&bytes, delimiters());
    let sbr: Vec<&str> = find(&segments, "SBR").iter().map(|s| s[1].as_str()).collect();
    assert_eq!(sbr, ["T", "P", "S"], "2000B is the tertiary; 2320 loops in payer order");
    let paid: Vec<&str> = segments.iter().filter(|s| s[0] == "AMT" && s[1] == "D").map(|s| s[2].as_str()).collect();
    assert_eq!(paid, ["120.4", "20"]);
    let svd: Vec<String> = find(&segments, "SVD").iter().map(|s| s[1..4].join("*")).collect();
    assert_eq!(svd, ["87726*104*HC:99214:25", "60054*104*HC:99214:25", "87726*16.4*HC:82947", "60054*16.4*HC:82947"]);
    let cas: Vec<String> = find(&segments, "CAS").iter().map(|s| s[1..].join("*")).collect();
    assert_eq!(cas[..2], ["CO*45*55".to_string(), "PR*2*26".to_string()]);
}

#[test]
fn replacement_and_void_claims_name_the_original() {
    let replacement = support::professional_replacement("f1");
    let mut void = support::professional_replacement("f2");
    void.frequency = ClaimFrequency::VoidPrior;
    let bytes = write_837(&support::submission(1), ClaimType::Professional, &[replacement, void]).unwrap();
    let segments = segments(&bytes, delimiters());
    let frequencies: Vec<&str> = find(&segments, "CLM").iter().map(|s| s[5].as_str()).collect();
    assert_eq!(frequencies, ["11:B:7", "11:B:8"]);
    let f8: Vec<&str> = segments.iter().filter(|s| s[0] == "REF" && s[1] == "F8").map(|s| s[2].as_str()).collect();
    assert_eq!(f8, ["PAYERCLM20261101", "PAYERCLM20261101"]);
}

#[test]
fn institutional_claims_write_facility_dates_and_revenue_codes() {
    let bytes = write_837(&support::submission(1), ClaimType::Institutional, &[support::institutional_secondary("i1")])
        .unwrap();
    let segments = segments(&bytes, delimiters());
    assert_counts(&segments);
    assert_hierarchy(&segments);
    assert_eq!(find(&segments, "GS")[0][8], "005010X223A2");
    assert_eq!(find(&segments, "CLM")[0][5], "13:A:1");
    assert_eq!(find(&segments, "CL1")[0][1..].join("*"), "1*7*01");
    assert_eq!(find(&segments, "SV2")[1][1..].join("*"), "0320*HC:71046:26*210*UN*1");
    assert_eq!(find(&segments, "SVD")[0][1..].join("*"), "87726*380*HC:99284*0450*1");
    assert_eq!(find(&segments, "NM1").iter().filter(|s| s[1] == "71").count(), 1, "attending provider");
}

#[test]
fn caller_chosen_delimiters_are_used_throughout() {
    let mut submission = support::submission(1);
    let chosen = Delimiters { element: b'|', repetition: b'!', component: b'>', segment: b'\'', newline: false };
    submission.envelope.delimiters = chosen;
    let bytes = write_837(&submission, ClaimType::Professional, &[support::professional_primary("d1")]).unwrap();
    assert!(!bytes.contains(&b'\n') && !bytes.contains(&b'*') && !bytes.contains(&b'~'));
    let segments = segments(&bytes, chosen);
    assert_eq!(segments[0][11], "!");
    assert_eq!(segments[0][16], ">");
    assert_eq!(find(&segments, "SV1")[0][1], "HC>99214>25");
    assert_counts(&segments);
}

#[test]
fn more_claims_than_a_set_may_hold_start_a_new_set() {
    let claim = support::professional_primary("big");
    let claims = vec![claim; practice_protocol::x12::write::claim837::MAX_CLAIMS_PER_SET + 1];
    let bytes = write_837(&support::submission(1), ClaimType::Professional, &claims).unwrap();
    let segments = segments(&bytes, delimiters());
    assert_eq!(find(&segments, "ST").len(), 2);
    assert_counts(&segments);
}

#[test]
fn unfit_input_gets_typed_errors() {
    let submission = support::submission(1);
    let error = write_837(&submission, ClaimType::Institutional, &[support::professional_primary("e1")]).unwrap_err();
    assert!(matches!(error, X12WriteError::WrongClaimType { index: 0, .. }), "{error}");

    let mut invalid = support::professional_primary("e2");
    invalid.lines[0].diagnosis_pointers = vec![9];
    let error =
        write_837(&submission, ClaimType::Professional, &[support::professional_primary("ok"), invalid]).unwrap_err();
    assert!(matches!(error, X12WriteError::InvalidClaim { index: 1, .. }), "{error}");

    assert!(matches!(write_837(&submission, ClaimType::Professional, &[]).unwrap_err(), X12WriteError::Empty { .. }));

    let mut bad_zip = support::professional_primary("e6");
    bad_zip.patient.address.postal_code = "6270".into();
    let error = write_837(&submission, ClaimType::Professional, &[bad_zip]).unwrap_err();
    assert_eq!(error.to_string(), "claim 0 (PCNE6): patient.address.postal_code: expected five or nine digits");

    let mut misordered = support::professional_secondary("e3");
    misordered.prior_adjudications[0].order = CoverageOrder::Secondary;
    let error = write_837(&submission, ClaimType::Professional, &[misordered]).unwrap_err();
    assert!(matches!(error, X12WriteError::Inconsistent { .. }), "{error}");

    let mut delimiter_in_name = support::professional_primary("e4");
    delimiter_in_name.coverages[0].subscriber.address.line1 = "12 ELM ST~APT 4".into();
    let error = write_837(&submission, ClaimType::Professional, &[delimiter_in_name]).unwrap_err();
    let X12WriteError::InClaim { index: 0, patient_control_number, source } = &error else { panic!("{error}") };
    assert_eq!(patient_control_number, "PCNE4");
    assert_eq!(**source, X12WriteError::BadCharacter { segment: "N3", element: 1, character: "'~'".into() });
    assert!(!error.to_string().contains("ELM"), "errors carry positions, not PHI: {error}");

    // A required value left empty, in the second claim of a batch.
    let mut no_city = support::professional_primary("e5");
    no_city.coverages[0].subscriber.address.city = " ".into();
    let error =
        write_837(&submission, ClaimType::Professional, &[support::professional_primary("ok"), no_city]).unwrap_err();
    let X12WriteError::InClaim { index: 1, source, .. } = &error else { panic!("{error}") };
    assert_eq!(**source, X12WriteError::MissingValue { segment: "N4", element: 1 });
    assert_eq!(error.to_string(), "claim 1 (PCNE5): N401: a required value is empty");
}

#[test]
fn prior_adjudication_without_lines_dates_the_other_payer_loop() {
    let mut claim = support::professional_secondary("c1");
    let prior: &mut PriorAdjudication = &mut claim.prior_adjudications[0];
    prior.lines.clear();
    let bytes = write_837(&support::submission(1), ClaimType::Professional, &[claim]).unwrap();
    let segments = segments(&bytes, delimiters());
    assert!(find(&segments, "SVD").is_empty());
    let dates: Vec<&str> = segments.iter().filter(|s| s[0] == "DTP" && s[1] == "573").map(|s| s[3].as_str()).collect();
    assert_eq!(dates, ["20261116"]);
}

#[test]
fn status_request_276_structure() {
    let primary = support::professional_primary("q1");
    let dependent = support::professional_dependent("q2");
    let inquiries = [
        StatusInquiry { claim: &primary, trace_number: "TRACE1".into(), payer_claim_control_number: None },
        StatusInquiry {
            claim: &dependent,
            trace_number: "TRACE2".into(),
            payer_claim_control_number: Some("PC9".into()),
        },
    ];
    let request =
        StatusRequest { reference: "REQ1".into(), receiver_name: "LAKESIDE".into(), receiver_id: "LFM0001".into() };
    let bytes = write_276(&support::envelope(3), &request, &inquiries).unwrap();
    let segments = segments(&bytes, delimiters());
    assert_counts(&segments);
    assert_eq!(find(&segments, "GS")[0][1], "HR");
    let hl: Vec<String> = find(&segments, "HL").iter().map(|s| s[1..].join("*")).collect();
    assert_eq!(hl, ["1**20*1", "2*1*21*1", "3*2*19*1", "4*3*22*0", "5*3*22*1", "6*5*23"]);
    let ids: Vec<&str> = segments.iter().map(|s| s[0].as_str()).collect();
    // The dependent: subscriber HL and name, then the patient HL with the claim's details.
    let tail: Vec<&str> = ids[ids.len() - 13..ids.len() - 3].to_vec();
    assert_eq!(tail, ["HL", "NM1", "HL", "DMG", "NM1", "TRN", "REF", "REF", "AMT", "DTP"]);
    let traces: Vec<&str> = find(&segments, "TRN").iter().map(|s| s[2].as_str()).collect();
    assert_eq!(traces, ["TRACE1", "TRACE2"]);
    let amounts: Vec<&str> = find(&segments, "AMT").iter().map(|s| s[2].as_str()).collect();
    assert_eq!(amounts, ["209.5", "185"]);
}

#[test]
fn remittance_balances_by_construction_and_refuses_a_negative_payment() {
    let claims = [support::professional_primary("x1"), support::professional_primary("x2")];
    let remittance = support::remittance(&claims);
    let bytes = write_835(&support::envelope(5), std::slice::from_ref(&remittance)).unwrap();
    let segments = segments(&bytes, delimiters());
    assert_counts(&segments);
    let clp_paid: Decimal = find(&segments, "CLP").iter().map(|s| Decimal::from_str(&s[4]).unwrap()).sum();
    let plb: Decimal = find(&segments, "PLB")
        .iter()
        .flat_map(|s| s[3..].chunks(2).map(|pair| Decimal::from_str(&pair[1]).unwrap()).collect::<Vec<_>>())
        .sum();
    let bpr = Decimal::from_str(&find(&segments, "BPR")[0][2]).unwrap();
    assert_eq!(bpr, clp_paid - plb);
    assert_eq!(find(&segments, "CLP").last().unwrap()[2], "22", "the reversal keeps CLP02 22");
    assert!(find(&segments, "REF").iter().any(|s| s[1] == "6R"));
    assert!(find(&segments, "ST")[0].len() == 3, "the 835 ST has no ST03");

    let mut unpaid = remittance.clone();
    unpaid.method = practice_protocol::x12::write::PaymentMethod835::NonPayment;
    let error = write_835(&support::envelope(5), &[unpaid]).unwrap_err();
    assert!(matches!(error, X12WriteError::Inconsistent { .. }), "{error}");

    let mut overdrawn = remittance;
    overdrawn.provider_adjustments[1].amount = support::usd("100000");
    let error = write_835(&support::envelope(5), &[overdrawn]).unwrap_err();
    assert!(matches!(error, X12WriteError::Inconsistent { .. }), "{error}");
}

#[test]
fn output_goes_to_any_writer() {
    let bytes =
        write_837(&support::submission(1), ClaimType::Professional, &[support::professional_primary("w1")]).unwrap();
    let mut sink = Vec::new();
    practice_protocol::x12::write::write_to(&bytes, &mut sink).unwrap();
    assert_eq!(sink, bytes);
}
