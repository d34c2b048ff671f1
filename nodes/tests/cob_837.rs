//! Secondary claims carry the primary's adjudication: a primary's remittance → the secondary
//! claim (`next_payer_claim`) → `practice x12 gen-837` → pyx12 accepts it, and the 2320/2330
//! loops hold the primary's paid amount and CAS.

use chrono::NaiveDate;
use practice_actors::billing::next_payer_claim;
use practice_protocol::claim::{Adjustment, AdjustmentGroup, LinePosting, PostingKind, RemittancePosting};
use practice_protocol::domain::{CoverageOrder, PaymentMethod};
use practice_protocol::fixtures;
use practice_protocol::ids::{OrgId, PaymentId};
use practice_protocol::Money;
use rust_decimal::Decimal;
use std::process::Command;

fn usd(cents: i64) -> Money {
    Money::usd(Decimal::new(cents, 2))
}

fn line(number: u32, charge: i64, paid: i64, adjustments: Vec<(AdjustmentGroup, &str, i64)>) -> LinePosting {
    LinePosting {
        line_number: number,
        paid: usd(paid),
        charge: usd(charge),
        allowed: None,
        adjustments: adjustments
            .into_iter()
            .map(|(group, reason, cents)| Adjustment {
                group,
                reason: reason.into(),
                amount: usd(cents),
                quantity: None,
            })
            .collect(),
        remark_codes: vec![],
    }
}

#[test]
fn a_secondary_claim_from_a_posted_primary_passes_pyx12() {
    let mut primary = fixtures::office_visit_claim(OrgId::derived(&[b"cob-test"]), 11);
    let patient = primary.patient.clone();
    primary.coverages.push(fixtures::coverage(
        CoverageOrder::Secondary,
        fixtures::payer("SKCO0", "State Medicaid", "MC"),
        &patient,
        "MCD0000011",
    ));
    let posting = RemittancePosting {
        payment_id: PaymentId::derived(&[b"cob-test"]),
        kind: PostingKind::Original,
        payer_name: "Acme Health Plan".into(),
        method: PaymentMethod::Eft,
        era_trace_number: Some("EFT123".into()),
        payer_claim_control_number: Some("PCCN77".into()),
        claim_status_code: "1".into(),
        paid: usd(9000),
        claim_adjustments: vec![],
        lines: vec![
            line(1, 15000, 6000, vec![(AdjustmentGroup::CO, "45", 7000), (AdjustmentGroup::PR, "2", 2000)]),
            line(2, 4500, 3000, vec![(AdjustmentGroup::CO, "45", 1500)]),
        ],
        remark_codes: vec![],
        paid_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
    };
    let secondary = next_payer_claim(&primary, &[posting]).unwrap().expect("a secondary coverage exists");

    let dir = tempfile::tempdir().unwrap();
    let claims_path = dir.path().join("claims.json");
    let out = dir.path().join("secondary.837p");
    std::fs::write(&claims_path, serde_json::to_vec(&vec![secondary]).unwrap()).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_practice"))
        .args(["x12", "gen-837", "--kind", "P", "--claims"])
        .arg(&claims_path)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    // Loop 2320: the other subscriber (SBR*P), the primary's paid amount (AMT*D) and its CAS.
    assert!(text.contains("SBR*P*18"), "{text}");
    assert!(text.contains("AMT*D*90"), "{text}");
    assert!(text.contains("CAS*CO*45*70"), "{text}");
    assert!(text.contains("CAS*PR*2*20"), "{text}");
    practice_tests::pyx12::validate(&[out.as_path()]).unwrap_or_else(|report| panic!("pyx12:\n{report}"));
}
