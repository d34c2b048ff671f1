//! ERA matching tests: line matching, suspense, reversal + correction, PLB, idempotency.

use super::*;
use crate::fixture;
use crate::ingest::remit::ProviderAdjustment;
use chrono::{TimeZone, Utc};
use practice_protocol::claim::{
    decide, Adjustment, AdjustmentGroup, ClaimCommand, ClaimEvent, ClaimState, ClaimStatus, DecideContext,
};
use practice_protocol::domain::PaymentMethod;
use practice_protocol::roles::{Actor, SystemComponent};
use practice_protocol::Currency;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn usd(amount: Decimal) -> Money {
    Money::usd(amount)
}

fn cas(group: AdjustmentGroup, reason: &str, amount: Decimal) -> Adjustment {
    Adjustment { group, reason: reason.into(), amount: usd(amount), quantity: None }
}

fn remit_line(claim: &Claim, number: usize, paid: Decimal, adjustments: Vec<Adjustment>) -> RemitLine {
    let ours = &claim.lines[number - 1];
    RemitLine {
        procedure: ours.procedure.to_string(),
        modifiers: ours.modifiers.iter().map(ToString::to_string).collect(),
        submitted_procedure: None,
        submitted_modifiers: vec![],
        charge: ours.charge,
        paid: usd(paid),
        units: Some(ours.units),
        service_date: Some(ours.service_date),
        line_control_number: Some(ours.id.to_string()),
        allowed: None,
        adjustments,
        remark_codes: vec![],
    }
}

/// Line 1 (150.00): paid 80, CO-45 50, PR-2 20. Line 2 (25.00): paid 20, CO-45 5.
fn paid_claim(claim: &Claim, status: &str, sign: Decimal) -> RemitClaim {
    let scale = |adjustments: Vec<Adjustment>| {
        adjustments.into_iter().map(|a| Adjustment { amount: usd(a.amount.amount * sign), ..a }).collect()
    };
    RemitClaim {
        patient_control_number: claim.patient_control_number.to_string(),
        status_code: status.into(),
        charge: usd(dec!(175) * sign),
        paid: usd(dec!(100) * sign),
        patient_responsibility: Some(usd(dec!(20) * sign)),
        payer_claim_control_number: Some("PCCN-1".into()),
        adjustments: vec![],
        remark_codes: vec![],
        lines: vec![
            remit_line(
                claim,
                1,
                dec!(80) * sign,
                scale(vec![cas(AdjustmentGroup::CO, "45", dec!(50)), cas(AdjustmentGroup::PR, "2", dec!(20))]),
            ),
            remit_line(claim, 2, dec!(20) * sign, scale(vec![cas(AdjustmentGroup::CO, "45", dec!(5))])),
        ],
    }
}

fn remittance(claims: Vec<RemitClaim>, plb: Vec<ProviderAdjustment>) -> Remittance {
    let paid: Decimal =
        claims.iter().map(|c| c.paid.amount).sum::<Decimal>() - plb.iter().map(|p| p.amount.amount).sum::<Decimal>();
    Remittance {
        trace_number: "TRACE-001".into(),
        payer_id: Some("87726".into()),
        payer_name: "Payer 87726".into(),
        method: PaymentMethod::Eft,
        total_paid: usd(paid),
        paid_on: fixture::date(2026, 3, 30),
        claims,
        provider_adjustments: plb,
    }
}

fn submitted_state(claim: &Claim) -> ClaimState {
    let mut state = ClaimState::default();
    for event in [
        ClaimEvent::Created { claim: Box::new(claim.clone()) },
        ClaimEvent::SignedOff,
        ClaimEvent::ScrubPassed { warnings: vec![] },
        ClaimEvent::Submitted { tracking_id: "ISA1".into(), frequency: claim.frequency },
    ] {
        state.apply(&event);
    }
    state
}

/// Post through `decide` like the claim actor would; returns the events appended.
fn post(state: &mut ClaimState, posting: &EraPosting) -> Vec<ClaimEvent> {
    let actor = Actor::System { org: state.claim.as_ref().unwrap().org, component: SystemComponent::Ingestion };
    let context = DecideContext::at(Utc.with_ymd_and_hms(2026, 3, 30, 0, 0, 0).unwrap());
    let command = ClaimCommand::PostRemittance { posting: Box::new(posting.posting.clone()) };
    let events = decide(state, posting.command_id, &command, &actor, &context).expect("posting accepted");
    for event in &events {
        state.apply(event);
    }
    state.applied_commands.insert(posting.command_id);
    events
}

#[test]
fn matches_by_line_control_number_and_posts_to_the_cent() {
    let claim = fixture::claim();
    let index = ClaimIndex::new([&claim]);
    let remit = remittance(vec![paid_claim(&claim, "1", Decimal::ONE)], vec![]);
    let outcome = match_remittance(&remit, &index);
    assert!(outcome.suspense.is_empty() && !outcome.out_of_balance);
    let posting = &outcome.postings[0];
    assert_eq!(posting.claim_id, claim.id);
    assert_eq!(posting.posting.kind, PostingKind::Original);
    assert_eq!(posting.posting.lines.iter().map(|l| l.line_number).collect::<Vec<_>>(), [1, 2]);
    let mut state = submitted_state(&claim);
    post(&mut state, posting);
    let ledger = state.ledger.as_ref().unwrap();
    assert_eq!(state.status, Some(ClaimStatus::Paid), "patient responsibility settles the payer side");
    assert!(ledger.conservation_holds());
    assert_eq!(
        (ledger.totals.paid, ledger.totals.contractual, ledger.totals.patient_responsibility),
        (dec!(100), dec!(55), dec!(20))
    );
}

#[test]
fn the_same_835_twice_posts_once() {
    let claim = fixture::claim();
    let index = ClaimIndex::new([&claim]);
    let remit = remittance(vec![paid_claim(&claim, "1", Decimal::ONE)], vec![]);
    let first = match_remittance(&remit, &index);
    let again = match_remittance(&remit.clone(), &index);
    assert_eq!(first, again, "ids are derived from content");
    let mut state = submitted_state(&claim);
    assert!(!post(&mut state, &first.postings[0]).is_empty());
    // A fresh command id (say, a re-upload under another file name) still posts nothing:
    // the payment id is already applied.
    let mut replay = again.postings[0].clone();
    replay.command_id = CommandId::derived(&[b"other"]);
    assert!(post(&mut state, &replay).is_empty());
    assert_eq!(state.ledger.as_ref().unwrap().totals.paid, dec!(100));
}

#[test]
fn remittance_keys_name_payer_trace_and_amount() {
    let claim = fixture::claim();
    let remit = remittance(vec![paid_claim(&claim, "1", Decimal::ONE)], vec![]);
    let mut same = remit.clone();
    same.total_paid = usd(dec!(100.00)); // 100 and 100.00 are one amount
    assert_eq!(remittance_key(&remit), remittance_key(&same));
    let mut other = remit.clone();
    other.trace_number = "TRACE-XYZ".into();
    assert_ne!(remittance_key(&remit), remittance_key(&other));
    let mut other_payer = remit.clone();
    other_payer.payer_id = Some("99999".into());
    assert_ne!(remittance_key(&remit), remittance_key(&other_payer));
}

#[test]
fn survives_rewritten_codes_and_dropped_modifiers() {
    let mut claim = fixture::claim();
    claim.lines[0].modifiers = vec![fixture::modifier("25")];
    claim.lines.push(fixture::line(3, "99213", dec!(150), claim.lines[0].service_date));
    claim.lines[2].modifiers = vec![fixture::modifier("25"), fixture::modifier("59")];
    let index = ClaimIndex::new([&claim]);
    let mut remit_claim = paid_claim(&claim, "1", Decimal::ONE);
    for line in &mut remit_claim.lines {
        line.line_control_number = None;
    }
    // The payer pays 99213-25-59 (our line 3) as 99212 with modifier 59 dropped, listing it first.
    let mut rewritten = remit_line(&claim, 3, dec!(60), vec![cas(AdjustmentGroup::CO, "45", dec!(90))]);
    rewritten.line_control_number = None;
    rewritten.procedure = "99212".into();
    rewritten.modifiers = vec!["25".into()];
    rewritten.submitted_procedure = Some("99213".into());
    rewritten.submitted_modifiers = vec!["25".into()];
    remit_claim.lines.insert(0, rewritten);
    remit_claim.paid = usd(dec!(160));
    let outcome = match_remittance(&remittance(vec![remit_claim], vec![]), &index);
    assert!(outcome.suspense.is_empty(), "{:?}", outcome.suspense);
    let numbers: Vec<u32> = outcome.postings[0].posting.lines.iter().map(|l| l.line_number).collect();
    // Exact modifiers win for the first 99213-25 line; the next 99213 takes what is left.
    assert_eq!(numbers, [1, 3, 2]);
}

#[test]
fn unmatched_claims_and_lines_go_to_suspense() {
    let claim = fixture::claim();
    let index = ClaimIndex::new([&claim]);
    let mut unknown = paid_claim(&claim, "1", Decimal::ONE);
    unknown.patient_control_number = "NOT-OURS".into();
    let mut bad_line = paid_claim(&claim, "1", Decimal::ONE);
    bad_line.lines[1].procedure = "80053".into();
    bad_line.lines[1].line_control_number = Some("no-such-line".into());
    let mut other_currency = paid_claim(&claim, "1", Decimal::ONE);
    other_currency.paid = Money::new(dec!(100), Currency::parse("CAD").unwrap());
    let outcome = match_remittance(&remittance(vec![unknown, bad_line, other_currency], vec![]), &index);
    assert!(outcome.postings.is_empty());
    let reasons: Vec<&SuspenseReason> = outcome.suspense.iter().map(|s| &s.reason).collect();
    assert_eq!(reasons[0], &SuspenseReason::UnknownPatientControlNumber);
    assert!(matches!(reasons[1], SuspenseReason::LineNotMatched { line_index: 1, .. }));
    assert!(matches!(reasons[2], SuspenseReason::CurrencyMismatch { .. }));
    assert_eq!(outcome.suspense[1].claim_id, Some(claim.id));
}

#[test]
fn reversal_then_correction_ends_at_the_corrected_amounts() {
    let claim = fixture::claim();
    let index = ClaimIndex::new([&claim]);
    let mut state = submitted_state(&claim);
    let first = match_remittance(&remittance(vec![paid_claim(&claim, "1", Decimal::ONE)], vec![]), &index);
    post(&mut state, &first.postings[0]);
    // Later 835: reverse the original, then pay line 1 at 70 instead of 80 (CO-45 60).
    let reversal = paid_claim(&claim, "22", Decimal::NEGATIVE_ONE);
    let mut correction = paid_claim(&claim, "1", Decimal::ONE);
    correction.paid = usd(dec!(90));
    correction.lines[0].paid = usd(dec!(70));
    correction.lines[0].adjustments[0].amount = usd(dec!(60));
    let mut later = remittance(vec![reversal, correction], vec![]);
    later.trace_number = "TRACE-002".into();
    let outcome = match_remittance(&later, &index);
    let kinds: Vec<PostingKind> = outcome.postings.iter().map(|p| p.posting.kind).collect();
    assert_eq!(kinds, [PostingKind::Reversal, PostingKind::Correction]);
    for posting in &outcome.postings {
        post(&mut state, posting);
        assert!(state.ledger.as_ref().unwrap().conservation_holds());
    }
    let ledger = state.ledger.as_ref().unwrap();
    assert_eq!((ledger.totals.paid, ledger.totals.contractual), (dec!(90), dec!(65)));
    assert_eq!(ledger.lines[0].buckets.paid, dec!(70));
    assert_eq!(state.status, Some(ClaimStatus::Paid));
}

#[test]
fn plb_entries_are_provider_level_and_the_file_balances() {
    let claim = fixture::claim();
    let index = ClaimIndex::new([&claim]);
    let plb = vec![
        ProviderAdjustment {
            provider_id: "1234567893".into(),
            reason_code: "WO".into(),
            reference: Some("OLD-CCN".into()),
            amount: usd(dec!(30)),
        },
        ProviderAdjustment {
            provider_id: "1234567893".into(),
            reason_code: "L6".into(),
            reference: None,
            amount: usd(dec!(-1.25)),
        },
    ];
    let mut remit = remittance(vec![paid_claim(&claim, "1", Decimal::ONE)], plb);
    let outcome = match_remittance(&remit, &index);
    assert!(!outcome.out_of_balance);
    assert_eq!(remit.total_paid.amount, dec!(71.25));
    let kinds: Vec<ProviderEntryKind> = outcome.provider_entries.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ProviderEntryKind::Recoupment, ProviderEntryKind::Interest]);
    assert_ne!(outcome.provider_entries[0].id, outcome.provider_entries[1].id);
    remit.total_paid = usd(dec!(100));
    assert!(match_remittance(&remit, &index).out_of_balance);
}

use proptest::prelude::*;

proptest! {
    /// Lines with distinct codes find their own line whatever order the payer lists them in
    /// and whichever REF*6R it leaves out.
    #[test]
    fn line_matching_survives_order_and_missing_control_numbers(
        order in proptest::sample::subsequence(vec![0usize, 1, 2, 3], 4).prop_shuffle(),
        omit in proptest::collection::vec(proptest::bool::ANY, 4),
    ) {
        let mut claim = fixture::claim();
        let day = claim.lines[0].service_date;
        claim.lines.push(fixture::line(3, "80053", dec!(48), day));
        claim.lines.push(fixture::line(4, "85025", dec!(35), day));
        let index = ClaimIndex::new([&claim]);
        let mut remit_claim = paid_claim(&claim, "1", Decimal::ONE);
        remit_claim.lines = order
            .iter()
            .map(|i| {
                let mut line = remit_line(&claim, i + 1, dec!(1), vec![]);
                if omit[*i] {
                    line.line_control_number = None;
                }
                line
            })
            .collect();
        let outcome = match_remittance(&remittance(vec![remit_claim], vec![]), &index);
        prop_assert!(outcome.suspense.is_empty());
        let numbers: Vec<u32> = outcome.postings[0].posting.lines.iter().map(|l| l.line_number).collect();
        let expected: Vec<u32> = order.iter().map(|i| *i as u32 + 1).collect();
        prop_assert_eq!(numbers, expected);
    }
}

#[test]
fn one_control_number_for_primary_and_secondary_claims() {
    use practice_protocol::domain::CoverageOrder;
    let primary = fixture::claim();
    let mut secondary = fixture::claim();
    secondary.id = practice_protocol::ids::ClaimId::derived(&[b"secondary"]);
    secondary.responsibility = CoverageOrder::Secondary;
    let mut coverage = secondary.coverages[0].clone();
    coverage.order = CoverageOrder::Secondary;
    coverage.payer = fixture::payer("SEC01", "MC");
    secondary.coverages.push(coverage);
    let index = ClaimIndex::new([&primary, &secondary]);
    // The secondary payer's 835 names itself: its claim is found by payer.
    let mut from_secondary = remittance(vec![paid_claim(&secondary, "2", Decimal::ONE)], vec![]);
    from_secondary.payer_id = Some("SEC01".into());
    assert_eq!(match_remittance(&from_secondary, &index).postings[0].claim_id, secondary.id);
    // Without a payer id CLP02 decides.
    from_secondary.payer_id = None;
    assert_eq!(match_remittance(&from_secondary, &index).postings[0].claim_id, secondary.id);
    let from_primary = remittance(vec![paid_claim(&primary, "1", Decimal::ONE)], vec![]);
    assert_eq!(match_remittance(&from_primary, &index).postings[0].claim_id, primary.id);
    // A denial (CLP02 4) from an unnamed payer cannot be placed.
    let mut unclear = remittance(vec![paid_claim(&primary, "4", Decimal::ONE)], vec![]);
    unclear.payer_id = None;
    let outcome = match_remittance(&unclear, &index);
    assert_eq!(outcome.suspense[0].reason, SuspenseReason::AmbiguousClaim { candidates: 2 });
}
