//! The simulator's answers as X12 files, read back with the project's X12 readers: the 835s
//! post to the cent of the ground truth, the 277CAs and 999s say what the simulator decided.

use super::generate::generate_claims;
use super::x12::{render_277ca, render_835, render_999, Recipient};
use super::*;
use chrono::{NaiveDate, TimeZone, Utc};
use practice_actors::ingest::era::{match_remittance, ClaimIndex};
use practice_actors::ingest::x12_835::from_x12;
use practice_protocol::claim::{decide, ClaimCommand, ClaimEvent, ClaimState, DecideContext};
use practice_protocol::ids::{ClaimId, PayerId};
use practice_protocol::roles::{Actor, SystemComponent};
use practice_protocol::x12::read::{read_document, TransactionBody};
use practice_protocol::x12::write::{ReceivedGroup, SetAcknowledgment, SetStatus};
use practice_protocol::x12::Severity;
use practice_protocol::Currency;
use std::collections::BTreeMap;

fn recipient() -> Recipient {
    Recipient { name: "Simulated Family Practice".into(), id: "PRACTICEOS".into() }
}

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
}

fn read(bytes: &[u8]) -> practice_protocol::x12::read::Document {
    let (document, diagnostics) = read_document(bytes).unwrap();
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:?}\n{}", String::from_utf8_lossy(bytes));
    document
}

#[test]
fn x12_835s_post_to_the_ground_truth() {
    let profiles: Vec<PayerProfile> = PayerKind::ALL
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            PayerProfile::new(PayerId::parse(&format!("PAYER{i}")).unwrap(), &format!("{kind:?} plan"), *kind)
        })
        .collect();
    let claims = generate_claims(77, 0, 600, &profiles, start() - chrono::Duration::days(20), 20).unwrap();
    let mut sim = Simulator::new(77, start(), profiles);
    let mut by_payer: BTreeMap<PayerId, Vec<_>> = BTreeMap::new();
    for claim in &claims {
        by_payer.entry(claim.coverages[0].payer.payer_id.clone()).or_default().push(claim.clone());
    }
    for (payer, batch) in &by_payer {
        sim.receive(&format!("B-{payer}"), batch).unwrap();
    }
    let outputs = sim.drain(400).unwrap();
    let index = ClaimIndex::new(claims.iter());
    let mut states: BTreeMap<ClaimId, ClaimState> = BTreeMap::new();
    for claim in &claims {
        let mut state = ClaimState::default();
        for event in [
            ClaimEvent::Created { claim: Box::new(claim.clone()) },
            ClaimEvent::SignedOff,
            ClaimEvent::ScrubPassed { warnings: vec![] },
            ClaimEvent::Submitted { tracking_id: "batch".into(), frequency: claim.frequency },
        ] {
            state.apply(&event);
        }
        states.insert(claim.id, state);
    }
    let context = DecideContext::at(Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap());
    let (mut files, mut acks) = (0, Vec::new());
    for (control, output) in outputs.iter().enumerate() {
        match output {
            SimOutput::Remit { .. } => {
                let bytes = render_835(&sim, output, &recipient(), control as u32 + 1).unwrap();
                let document = read(&bytes);
                let TransactionBody::Remittance(read_back) = &document.transactions[0].body else {
                    panic!("not an 835")
                };
                assert!(read_back.balanced);
                let remit = from_x12(read_back, Currency::USD).unwrap();
                let outcome = match_remittance(&remit, &index);
                assert!(outcome.suspense.is_empty(), "{:?}", outcome.suspense);
                for posting in outcome.postings {
                    let state = states.get_mut(&posting.claim_id).unwrap();
                    let actor = Actor::System { org: claims[0].org, component: SystemComponent::Ingestion };
                    let command = ClaimCommand::PostRemittance { posting: Box::new(posting.posting) };
                    for event in decide(state, posting.command_id, &command, &actor, &context).unwrap() {
                        state.apply(&event);
                    }
                }
                files += 1;
            }
            SimOutput::Ack277 { .. } => acks.push(output.clone()),
            SimOutput::Ack999 { .. } => {}
        }
    }
    assert!(files > 10);
    for claim in &claims {
        let ledger = states[&claim.id].ledger.as_ref().unwrap();
        assert!(ledger.conservation_holds());
        assert_eq!(ledger.totals.paid, sim.truth().paid(&claim.id), "claim {}", claim.id);
    }
    // The 277CAs of the first acknowledgment day, read back.
    let first_day = acks[0].on();
    let day: Vec<SimOutput> = acks.iter().filter(|ack| ack.on() == first_day).cloned().collect();
    let bytes = render_277ca(&sim, &day, &recipient(), 9).unwrap();
    let document = read(&bytes);
    assert!(matches!(document.transactions[0].body, TransactionBody::ClaimAcknowledgment(_)));
}

#[test]
fn a_rejected_group_gets_a_rejecting_999() {
    let output = SimOutput::Ack999 { on: start(), batch_id: "B1".into(), accepted: false, claims: vec![] };
    let received = ReceivedGroup {
        functional_id: "HC".into(),
        control_number: 17,
        version: "005010X222A1".into(),
        sets: vec![SetAcknowledgment {
            set_id: "837".into(),
            control_number: "0001".into(),
            version: Some("005010X222A1".into()),
            status: SetStatus::Accepted,
            syntax_errors: vec![],
            segment_errors: vec![],
        }],
    };
    let bytes = render_999(&output, &received, &recipient(), 3).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("IK5*R"), "{text}");
    assert!(matches!(read(&bytes).transactions[0].body, TransactionBody::Acknowledgment(_)));
}
