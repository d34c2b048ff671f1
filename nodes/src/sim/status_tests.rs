//! `practice sim` answers 276 status requests: a 277 at once, with each claim's status as the
//! payer sees it that day — pending while in adjudication, finalized with the paid amount
//! after, not found for a claim it never received — and the same answer after a restart.

use super::generate::generate_claims;
use super::profile::demo_payers;
use super::service::{SimService, Taken};
use super::Rate;
use crate::connector::batch::{inquiry, write_interchange, write_status_request, Parties};
use chrono::NaiveDate;
use practice_protocol::domain::{Claim, ClaimType};
use practice_protocol::x12::read::status::ClaimStatus;
use practice_protocol::x12::read::{read_document, TransactionBody};
use practice_protocol::x12::write::StatusInquiry;
use practice_protocol::x12::Severity;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

fn request(claims: &[&Claim], control: u32, day: NaiveDate) -> Vec<u8> {
    let inquiries: Vec<StatusInquiry<'_>> = claims.iter().map(|claim| inquiry(claim, None)).collect();
    write_status_request(&Parties::default(), &inquiries, day, control).unwrap()
}

/// The claim statuses of a 277, by trace number: (category, code, paid, REF*1K).
fn statuses(bytes: &[u8]) -> BTreeMap<String, (String, String, Option<Decimal>, Option<String>)> {
    let (document, diagnostics) = read_document(bytes).unwrap();
    assert!(diagnostics.iter().all(|d| d.severity != Severity::Error), "{diagnostics:?}");
    let mut found = BTreeMap::new();
    for transaction in document.transactions {
        let TransactionBody::ClaimStatus(report) = transaction.body else { panic!("not a 277: {transaction:?}") };
        for claim in report.claims {
            let ClaimStatus { trace_number, statuses, payer_claim_control_number, .. } = claim;
            let status = &statuses[0];
            found.insert(
                trace_number.unwrap().as_str().to_string(),
                (
                    status.category.as_str().to_string(),
                    status.code.as_str().to_string(),
                    status.paid,
                    payer_claim_control_number.map(|text| text.as_str().to_string()),
                ),
            );
        }
    }
    found
}

#[test]
fn a_276_is_answered_with_each_claims_status_of_the_day() {
    let mut payers = demo_payers();
    for payer in &mut payers {
        payer.params.p_999_group_reject = Rate::ZERO;
        payer.params.p_277ca_reject = Rate::ZERO;
    }
    let claims = generate_claims(9, 0, 200, &payers, start() - chrono::Duration::days(10), 10).unwrap();
    let professional: Vec<&Claim> = claims
        .iter()
        .filter(|claim| claim.claim_type == ClaimType::Professional && claim.coverages.len() == 1)
        .filter(|claim| claim.coverages[0].payer.payer_id.as_str() == "87726")
        .take(4)
        .collect();
    assert_eq!(professional.len(), 4);
    let (sent, never_sent) = (&professional[..3], professional[3]);
    let batch: Vec<Claim> = sent.iter().map(|claim| (*claim).clone()).collect();
    let interchange = write_interchange(&Parties::default(), ClaimType::Professional, &batch, start(), 7).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let org = sent[0].org;
    let open = || SimService::open(dir.path(), org, 9, Some(start()), start(), payers.clone()).unwrap();
    let mut service = open();
    service.receive("000000007.837P.x12", &interchange).unwrap();

    // Asked the day the claims arrived: in adjudication, under the payer's claim number; the
    // claim never sent is not found.
    let first = request(&professional, 8, start());
    let taken = service.receive("000000008.276.x12", &first).unwrap();
    assert_eq!(taken, Taken::Request { batch_id: "000000008".into(), claims: 4, refused: None });
    let answers = service.advance_to(start()).unwrap();
    let answer = answers.iter().find(|answer| answer.name.ends_with(".277.x12")).expect("a 277");
    let pending = statuses(&answer.bytes);
    assert_eq!(pending.len(), 4, "{pending:?}");
    for claim in sent {
        let (category, code, paid, payer_ccn) = &pending[claim.patient_control_number.as_str()];
        assert_eq!((category.as_str(), code.as_str(), *paid), ("P1", "20", None));
        assert!(payer_ccn.as_deref().is_some_and(|ccn| !ccn.is_empty()), "REF*1K names the payer's claim");
    }
    let unknown = &pending[never_sent.patient_control_number.as_str()];
    assert_eq!((unknown.0.as_str(), unknown.1.as_str()), ("A4", "35"));
    service.delivered(answers.last().unwrap()).unwrap();
    assert_eq!(service.receive("again.276.x12", &first).unwrap(), Taken::Duplicate { batch_id: "000000008".into() });

    // Months later every claim is finalized: F1 with what the payer paid, F2 when it paid nothing.
    let later = start() + chrono::Duration::days(120);
    let answers = service.advance_to(later).unwrap();
    service.delivered(answers.last().unwrap()).unwrap();
    service.receive("000000009.276.x12", &request(sent, 9, later)).unwrap();
    let answers = service.advance_to(later).unwrap();
    assert_eq!(answers.len(), 1, "only the 277 is new");
    let finalized = statuses(&answers[0].bytes);
    let truth = service.truth_json();
    for claim in sent {
        let (category, code, paid, _) = &finalized[claim.patient_control_number.as_str()];
        let expected: Decimal =
            serde_json::from_value(truth["claims"][claim.patient_control_number.as_str()]["paid"].clone()).unwrap();
        assert_eq!(*paid, Some(expected), "STC05 is what the payer paid");
        let expected_status = if expected > Decimal::ZERO { ("F1", "65") } else { ("F2", "1") };
        assert_eq!((category.as_str(), code.as_str()), expected_status);
    }

    // Stopped before delivering it: a restart answers the same request with the same bytes.
    let mut reopened = open();
    let again = reopened.advance_to(later).unwrap();
    assert_eq!(again, answers, "replay answers byte for byte");
}
