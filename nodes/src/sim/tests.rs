//! End to end without X12: the simulator's 835s → ERA matching → `decide`/`apply` on our
//! claims must equal the simulator's ground truth to the cent, keep G7 on every claim, and
//! post nothing new when every 835 arrives a second time.

use super::generate::generate_claims;
use super::*;
use chrono::{NaiveDate, TimeZone, Utc};
use practice_actors::ingest::era::{match_remittance, ClaimIndex, EraPosting};
use practice_protocol::claim::{decide, ClaimCommand, ClaimEvent, ClaimState, ClaimStatus, DecideContext};
use practice_protocol::domain::Claim;
use practice_protocol::ids::{ClaimId, PayerId};
use practice_protocol::roles::{Actor, SystemComponent};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

fn payers() -> Vec<PayerProfile> {
    PayerKind::ALL
        .iter()
        .enumerate()
        .map(|(index, kind)| {
            PayerProfile::new(PayerId::parse(&format!("PAYER{index}")).unwrap(), &format!("{kind:?} plan"), *kind)
        })
        .collect()
}

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
}

fn submitted(claim: &Claim) -> ClaimState {
    let mut state = ClaimState::default();
    for event in [
        ClaimEvent::Created { claim: Box::new(claim.clone()) },
        ClaimEvent::SignedOff,
        ClaimEvent::ScrubPassed { warnings: vec![] },
        ClaimEvent::Submitted { tracking_id: "batch".into(), frequency: claim.frequency },
    ] {
        state.apply(&event);
    }
    state
}

fn post(state: &mut ClaimState, posting: &EraPosting) -> usize {
    let actor = Actor::System { org: state.claim.as_ref().unwrap().org, component: SystemComponent::Ingestion };
    let context = DecideContext::at(Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap());
    let command = ClaimCommand::PostRemittance { posting: Box::new(posting.posting.clone()) };
    let events = decide(state, posting.command_id, &command, &actor, &context)
        .unwrap_or_else(|error| panic!("posting refused for {}: {error}", posting.claim_id));
    for event in &events {
        state.apply(event);
    }
    state.applied_commands.insert(posting.command_id);
    events.len()
}

struct Run {
    claims: Vec<Claim>,
    outputs: Vec<SimOutput>,
    truth: GroundTruth,
}

fn run(seed: u64, count: u64) -> Run {
    let profiles = payers();
    let claims = generate_claims(seed, 0, count, &profiles, start() - chrono::Duration::days(20), 20).unwrap();
    let mut sim = Simulator::new(seed, start(), profiles);
    let mut by_payer: BTreeMap<PayerId, Vec<Claim>> = BTreeMap::new();
    for claim in &claims {
        by_payer.entry(claim.coverages[0].payer.payer_id.clone()).or_default().push(claim.clone());
    }
    for (payer, batch) in &by_payer {
        sim.receive(&format!("B-{payer}"), batch).unwrap();
    }
    let outputs = sim.drain(400).unwrap();
    assert!(sim.is_idle());
    Run { claims, outputs, truth: sim.truth().clone() }
}

#[test]
fn a_seed_replays_exactly() {
    let first = run(11, 120);
    let second = run(11, 120);
    assert_eq!(first.outputs, second.outputs);
    assert_eq!(first.truth, second.truth);
    assert_ne!(run(12, 120).truth, first.truth);
}

#[test]
fn posted_money_equals_the_ground_truth_to_the_cent() {
    let run = run(2026, 1500);
    let index = ClaimIndex::new(run.claims.iter());
    let mut states: BTreeMap<ClaimId, ClaimState> =
        run.claims.iter().map(|claim| (claim.id, submitted(claim))).collect();
    let mut plb_posted = Decimal::ZERO;
    let remits: Vec<_> = run
        .outputs
        .iter()
        .filter_map(|output| match output {
            SimOutput::Remit { remittance, .. } => Some(remittance.as_ref()),
            _ => None,
        })
        .collect();
    assert!(remits.len() > 10);
    let mut kinds = BTreeMap::new();
    for remit in &remits {
        assert!(remit.balances(), "{} does not balance", remit.trace_number);
        let outcome = match_remittance(remit, &index);
        assert!(outcome.suspense.is_empty(), "{:?}", outcome.suspense);
        for posting in &outcome.postings {
            *kinds.entry(format!("{:?}", posting.posting.kind)).or_insert(0) += 1;
            let state = states.get_mut(&posting.claim_id).unwrap();
            assert!(post(state, posting) > 0);
            assert!(state.ledger.as_ref().unwrap().conservation_holds());
        }
        plb_posted += outcome.provider_entries.iter().map(|entry| entry.amount.amount).sum::<Decimal>();
    }
    assert!(kinds.get("Reversal").copied().unwrap_or(0) > 0, "{kinds:?}");
    assert_eq!(kinds.get("Reversal"), kinds.get("Correction"));
    let mut total_paid = Decimal::ZERO;
    let mut denied = 0;
    for claim in &run.claims {
        let state = &states[&claim.id];
        let ledger = state.ledger.as_ref().unwrap();
        assert!(ledger.conservation_holds(), "G7 broken for {}", claim.id);
        assert_eq!(ledger.totals.paid, run.truth.paid(&claim.id), "claim {}", claim.id);
        assert_eq!(ledger.totals.patient_responsibility, run.truth.patient_responsibility(&claim.id));
        for (line_number, paid) in run.truth.paid_by_line(&claim.id) {
            let line = ledger.lines.iter().find(|line| line.line_number == line_number).unwrap();
            assert_eq!(line.buckets.paid, paid, "claim {} line {line_number}", claim.id);
        }
        total_paid += ledger.totals.paid;
        denied += usize::from(state.status == Some(ClaimStatus::Denied));
    }
    assert_eq!(total_paid, run.truth.paid_total());
    assert_eq!(plb_posted, run.truth.plb_total());
    assert!(denied > 0, "some claims are denied");

    // Billing over the posted ledgers: statements carry exactly the patient responsibility,
    // and aging carries exactly the open insurance balance.
    use practice_actors::billing::{aging, build_statements, patient_charges, payer_items};
    let charges = patient_charges(states.values(), practice_protocol::Currency::USD).unwrap();
    let truth_pr: Decimal = run.claims.iter().map(|claim| run.truth.patient_responsibility(&claim.id)).sum();
    let statements = build_statements(
        run.claims[0].org,
        &charges,
        &[],
        practice_protocol::Currency::USD,
        Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap(),
        practice_protocol::ids::UserId::derived(&[b"biller"]),
    )
    .unwrap();
    let billed: Decimal = statements.statements.iter().map(|s| s.statement.total_due.amount).sum();
    assert_eq!(billed, truth_pr);
    let open: Decimal = payer_items(states.values()).iter().map(|item| item.open.max(Decimal::ZERO)).sum();
    let report = aging(
        &payer_items(states.values()),
        NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
        practice_protocol::Currency::USD,
    );
    assert_eq!(report.insurance.total(), open);
    assert!(open > Decimal::ZERO, "denied claims stay open");

    // Every 835 again: nothing changes.
    let before: Vec<ClaimState> = states.values().cloned().collect();
    for remit in &remits {
        for posting in match_remittance(remit, &index).postings {
            let state = states.get_mut(&posting.claim_id).unwrap();
            let actor = Actor::System { org: state.claim.as_ref().unwrap().org, component: SystemComponent::Ingestion };
            let context = DecideContext::at(Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap());
            let command = ClaimCommand::PostRemittance { posting: Box::new(posting.posting.clone()) };
            assert_eq!(decide(state, posting.command_id, &command, &actor, &context), Ok(vec![]));
        }
    }
    assert_eq!(before, states.values().cloned().collect::<Vec<_>>());
}

#[test]
fn timing_follows_the_payer_types() {
    let run = run(5, 400);
    let mut first_835: BTreeMap<ClaimId, NaiveDate> = BTreeMap::new();
    let mut ack_277: BTreeMap<ClaimId, NaiveDate> = BTreeMap::new();
    let by_pcn: BTreeMap<&str, &Claim> = run.claims.iter().map(|c| (c.patient_control_number.as_str(), c)).collect();
    for output in &run.outputs {
        match output {
            SimOutput::Ack999 { on, .. } => assert!((*on - start()).num_days() <= 1),
            SimOutput::Ack277 { on, claim_id, .. } => {
                ack_277.insert(*claim_id, *on);
            }
            SimOutput::Remit { on, remittance, .. } => {
                for claim in &remittance.claims {
                    first_835.entry(by_pcn[claim.patient_control_number.as_str()].id).or_insert(*on);
                }
            }
        }
    }
    for claim in &run.claims {
        if let Some(paid_on) = first_835.get(&claim.id) {
            let days = (*paid_on - start()).num_days();
            assert!(days >= 7, "no payer pays within a week");
            assert!(ack_277[&claim.id] < *paid_on, "the 277CA comes before the 835");
            if claim.coverages[0].payer.filing_indicator == "MB" {
                assert!(days >= 14, "the Medicare payment floor");
            }
        }
    }
}

#[test]
fn denial_and_rejection_rates_land_near_realism() {
    let run = run(99, 4000);
    let (mut adjudicated, mut denied, mut rejected) = (0u32, 0u32, 0u32);
    for submissions in run.truth.claims.values() {
        match &submissions[0] {
            SubmissionTruth::Adjudicated { adjudication, .. } => {
                adjudicated += 1;
                denied += u32::from(adjudication.denial.is_some());
            }
            SubmissionTruth::FrontEndRejected { .. } => rejected += 1,
            SubmissionTruth::GroupRejected { .. } => {}
        }
    }
    // Claim-level denial target 7–10% on a typical mix; this mix weights Medicaid FFS (25%) as
    // one of five payers, so the blend is near 12%.
    let denial_per_mille = denied * 1000 / adjudicated;
    assert!((80..=170).contains(&denial_per_mille), "denials {denial_per_mille}‰");
    let reject_per_mille = rejected * 1000 / (adjudicated + rejected);
    assert!((20..=80).contains(&reject_per_mille), "277CA rejections {reject_per_mille}‰");
    assert!(run.truth.underpaid_total() > Decimal::ZERO, "silent underpayments are injected");
}

#[test]
fn generated_claims_are_valid_and_scrub_clean() {
    use practice_actors::sentry::scrub::{passes, scrub};
    let claims = generate_claims(3, 0, 200, &payers(), start() - chrono::Duration::days(20), 20).unwrap();
    let mut patients = std::collections::BTreeSet::new();
    for claim in &claims {
        assert_eq!(claim.validate(), Ok(()));
        let findings = scrub(claim, None, start());
        assert!(passes(&findings), "{findings:?}");
        patients.insert(claim.patient.id);
    }
    assert_eq!(patients.len(), 50, "four claims per patient");
}

#[test]
fn group_rejections_unknown_payers_and_clock_errors() {
    let mut profiles = payers();
    profiles[0].params.p_999_group_reject = Rate::from_ppm(1_000_000);
    let claims = generate_claims(8, 0, 40, &profiles, start() - chrono::Duration::days(5), 5).unwrap();
    let mut sim = Simulator::new(8, start(), profiles.clone());
    let to_first: Vec<Claim> =
        claims.iter().filter(|c| c.coverages[0].payer.payer_id == profiles[0].payer_id).cloned().collect();
    assert!(!to_first.is_empty());
    sim.receive("B1", &to_first).unwrap();
    let mut stranger = claims[0].clone();
    stranger.coverages[0].payer.payer_id = PayerId::parse("NOBODY").unwrap();
    sim.receive("B2", std::slice::from_ref(&stranger)).unwrap();
    assert!(matches!(sim.receive("B3", &[]), Err(SimError::EmptyBatch { .. })));
    let outputs = sim.drain(400).unwrap();
    let rejected_batch =
        outputs.iter().any(|o| matches!(o, SimOutput::Ack999 { batch_id, accepted: false, .. } if batch_id == "B1"));
    assert!(rejected_batch);
    assert!(outputs.iter().all(|o| !matches!(o, SimOutput::Remit { .. })), "nothing from a rejected group is paid");
    let a3 =
        outputs.iter().any(|o| matches!(o, SimOutput::Ack277 { accepted: false, category, .. } if category == "A3"));
    assert!(a3, "an unknown payer id is rejected at the front end");
    for claim in &to_first {
        assert!(matches!(sim.truth().claims[&claim.id][0], SubmissionTruth::GroupRejected { .. }));
    }
    assert!(matches!(sim.advance_to(start()), Err(SimError::ClockBackwards { .. })));
}

#[test]
fn recoupments_wait_for_a_payment_that_can_carry_them() {
    let mut profiles = vec![PayerProfile::new(PayerId::parse("P9").unwrap(), "Recouper", PayerKind::Commercial)];
    profiles[0].params.p_recoupment = Rate::from_ppm(1_000_000);
    profiles[0].params.p_reversal = Rate::ZERO;
    profiles[0].params.p_claim_denied = Rate::ZERO;
    profiles[0].params.p_277ca_reject = Rate::ZERO;
    let claims = generate_claims(4, 0, 30, &profiles, start() - chrono::Duration::days(5), 5).unwrap();
    let mut sim = Simulator::new(4, start(), profiles);
    // Two waves: the second's payments carry the first's recoupments.
    sim.receive("W1", &claims[..15]).unwrap();
    let mut outputs = sim.advance_to(start() + chrono::Duration::days(40)).unwrap();
    sim.receive("W2", &claims[15..]).unwrap();
    outputs.extend(sim.drain(400).unwrap());
    let mut recouped = Decimal::ZERO;
    for output in &outputs {
        if let SimOutput::Remit { remittance, .. } = output {
            assert!(remittance.total_paid.amount >= Decimal::ZERO);
            assert!(remittance.balances());
            recouped += remittance
                .provider_adjustments
                .iter()
                .filter(|p| p.reason_code == "WO")
                .map(|p| p.amount.amount)
                .sum::<Decimal>();
        }
    }
    assert!(recouped > Decimal::ZERO);
    let truth_wo: Decimal = sim.truth().plb.iter().filter(|p| p.reason_code == "WO").map(|p| p.amount).sum();
    assert_eq!(recouped, truth_wo, "the truth records only what was sent");
}

#[test]
fn what_the_scrubber_blocks_is_what_the_payer_would_deny() {
    use super::adjudicate::{adjudicate, Circumstances};
    use super::generate::{sample_claim, ClaimShape};
    use practice_actors::sentry::scrub::{passes, scrub, PayerRules};
    let rules_file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/payer-rules/87726-commercial.json");
    let rules = PayerRules::load(&rules_file).unwrap();
    let mut profile = PayerProfile::new(PayerId::parse("87726").unwrap(), "Example Commercial", PayerKind::Commercial);
    profile.params.p_claim_denied = Rate::ZERO;
    let shape = ClaimShape {
        codes: vec![("99214", Decimal::new(20000, 2)), ("70553", Decimal::new(150000, 2))],
        payer_id: "87726",
        ..ClaimShape::default()
    };
    let mut claim = sample_claim(&shape, 7).unwrap();
    let received = claim.lines[0].service_date + chrono::Duration::days(3);
    let findings = scrub(&claim, Some(&rules), received);
    assert!(findings.iter().any(|f| f.code == "ECHP-PA-IMAGING"), "{findings:?}");
    let circumstances = Circumstances { received_on: received, duplicate: false };
    let denied = adjudicate(&claim, &profile, &mut rng::SimRng::new(1), circumstances, "C".into());
    assert_eq!(denied.lines[1].adjustments[0].reason, "197");
    claim.prior_authorization = Some("AUTH-778".into());
    assert!(passes(&scrub(&claim, Some(&rules), received)));
    let paid = adjudicate(&claim, &profile, &mut rng::SimRng::new(1), circumstances, "C".into());
    assert!(paid.lines.iter().all(|line| line.denial.is_none()));
}
