//! Acknowledgments and the practice's inbound ledger through the ingestion pipeline over an
//! embedded node, with real files: claims submitted and written into 837s (recorded in a sled
//! batch registry from the bytes), then 999s built from those 837s. A rejecting 999 returns
//! exactly the claims of its set to Draft with the 999's errors (an audit event with who, when
//! and why); an accepting one changes no claim; the same verdict twice has one effect; a 999 for
//! a batch never sent is journaled suspense. An 835 with an unmatched claim and a PLB lands in
//! the journal once, however often it is ingested, and `verify` replays it all (G4).

use practice_actors::ingest::inbound::InboundSuspense;
use practice_actors::ingest::pipeline::{Ingestor, MemoryDirectory};
use practice_actors::ingest::registry::{BatchRegistry, SledBatchRegistry};
use practice_actors::ingest::sample::{envelope, era_835, payment, submission, usd};
use practice_actors::ingest::sent::sent_batches;
use practice_actors::journal::{Journal, SledJournal};
use practice_actors::metrics::BackboneMetrics;
use practice_actors::runtime::PolicyBook;
use practice_actors::verify::verify;
use practice_actors::{Node, NodeConfig};
use practice_protocol::claim::{ClaimCommand, ClaimEvent, ClaimState, ClaimStatus, RejectionSource};
use practice_protocol::domain::{Claim, ClaimType};
use practice_protocol::envelope::EventEnvelope;
use practice_protocol::fixtures::office_visit_claim;
use practice_protocol::ids::{CommandId, OrgId, UserId};
use practice_protocol::practice::PracticeState;
use practice_protocol::remit_ledger::SuspenseSource;
use practice_protocol::roles::{Actor, Role, SystemComponent};
use practice_protocol::shard::claim_ref;
use practice_protocol::x12::write::{
    acknowledge, write_837, write_999, ElementError, ProviderAdjustment, ReceivedGroup, SegmentError, SetStatus,
};
use practice_protocol::Currency;
use rust_decimal::Decimal;
use std::sync::Arc;
use uuid::Uuid;

struct Setup {
    node: Node,
    journal: Arc<dyn Journal>,
    directory: Arc<MemoryDirectory>,
    registry: Arc<SledBatchRegistry>,
    ingestor: Ingestor,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let journal: Arc<dyn Journal> = Arc::new(SledJournal::open(&dir.path().join("journal"), 4).unwrap());
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    let node = Node::start_embedded(journal.clone(), metrics, NodeConfig::default()).await.unwrap();
    let directory = Arc::new(MemoryDirectory::default());
    let registry = Arc::new(SledBatchRegistry::open(&dir.path().join("batches")).unwrap());
    let ingestor =
        Ingestor::new(node.clone(), directory.clone(), Currency::USD).with_registry(registry.clone() as Arc<_>);
    Setup { node, journal, directory, registry, ingestor, _dir: dir }
}

fn user(org: OrgId, role: Role) -> Actor {
    Actor::User { org, user: UserId(Uuid::from_u128(role as u128 + 1)), role }
}

async fn submitted_claim(setup: &Setup, org: OrgId, n: u32) -> Claim {
    let claim = office_visit_claim(org, n);
    let handle = setup.node.claim(org, claim.id);
    let steps = [
        (Role::CoderBiller, ClaimCommand::Create { claim: Box::new(claim.clone()) }),
        (Role::Clinician, ClaimCommand::SignOff),
        (Role::CoderBiller, ClaimCommand::Scrub { findings: Vec::new() }),
        (Role::BillingManager, ClaimCommand::Submit { tracking_id: format!("B{n}") }),
    ];
    for (role, command) in steps {
        let outcome = handle.send(user(org, role), CommandId::new_v4(), command).await.unwrap();
        assert!(outcome.is_accepted(), "{outcome:?}");
    }
    setup.directory.insert(claim.clone());
    claim
}

/// Write `claims` as one 837 with ISA13 = GS06 = `control`, record it in the registry, and
/// return what a clearinghouse finds in it (the 999's starting point).
async fn send_837(setup: &Setup, org: OrgId, control: u32, claims: &[Claim]) -> ReceivedGroup {
    let bytes = write_837(&submission(control), ClaimType::Professional, claims).unwrap();
    for batch in sent_batches(&bytes, claims).unwrap() {
        setup.registry.record_sent(org, batch).await.unwrap();
    }
    let mut groups = acknowledge(&bytes).unwrap();
    assert_eq!(groups.len(), 1);
    groups.remove(0)
}

fn rejected(mut group: ReceivedGroup) -> ReceivedGroup {
    for set in &mut group.sets {
        set.status = SetStatus::Rejected;
        set.syntax_errors = vec!["5".into()];
        set.segment_errors = vec![SegmentError {
            segment_id: "NM1".into(),
            position: 17,
            loop_id: Some("2010BA".into()),
            code: "8".into(),
            element_errors: vec![ElementError {
                position: 9,
                component: None,
                reference_number: Some("67".into()),
                code: "1".into(),
                bad_value: None,
            }],
        }];
    }
    group
}

fn accepted(mut group: ReceivedGroup) -> ReceivedGroup {
    for set in &mut group.sets {
        set.status = SetStatus::Accepted;
        set.syntax_errors.clear();
        set.segment_errors.clear();
    }
    group
}

async fn state(setup: &Setup, claim: &Claim) -> ClaimState {
    let inspection = setup.node.inspect(claim_ref(claim.org, claim.id)).await.unwrap();
    practice_protocol::codec::decode(&inspection.state).unwrap()
}

async fn practice(setup: &Setup, org: OrgId) -> PracticeState {
    let inspection = setup.node.inspect(PolicyBook::practice_ref(org)).await.unwrap();
    practice_protocol::codec::decode(&inspection.state).unwrap()
}

async fn claim_events(setup: &Setup, claim: &Claim) -> Vec<EventEnvelope<ClaimEvent>> {
    let stored = setup.journal.read_entity(claim_ref(claim.org, claim.id), 0).await.unwrap();
    stored.iter().map(|event| practice_protocol::codec::decode(&event.payload).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejecting_999_returns_exactly_the_claims_of_its_set_once() {
    let setup = setup().await;
    let org = OrgId(Uuid::new_v4());
    let mut claims = Vec::new();
    for n in 1..=3 {
        claims.push(submitted_claim(&setup, org, n).await);
    }
    let bystander = submitted_claim(&setup, org, 4).await;
    let first = send_837(&setup, org, 41, &claims[..2]).await;
    let second = send_837(&setup, org, 42, &claims[2..]).await;
    let _third = send_837(&setup, org, 43, std::slice::from_ref(&bystander)).await;

    // Group 41 rejected: its two claims go back to Draft with the 999's errors.
    let reject_file = write_999(&envelope(900), &rejected(first.clone())).unwrap();
    let report = setup.ingestor.ingest(org, &reject_file).await.unwrap();
    assert!(report.suspense.is_empty(), "{:?}", report.suspense);
    let mut expected: Vec<_> = claims[..2].iter().map(|claim| (claim.id, RejectionSource::Syntax999)).collect();
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(report.returned_to_draft, expected);
    for claim in &claims[..2] {
        assert_eq!(state(&setup, claim).await.status(), Some(ClaimStatus::Draft), "claim {}", claim.id);
        let events = claim_events(&setup, claim).await;
        let audit = events.last().unwrap();
        let ClaimEvent::Rejected { source, reason } = &audit.event else { panic!("{:?}", audit.event) };
        assert_eq!(*source, RejectionSource::Syntax999);
        for part in ["IK5 R", "IK3 NM1", "loop 2010BA", "IK4 element 9", "IK403 1"] {
            assert!(reason.contains(part), "{part} missing from the reason {reason:?}");
        }
        assert_eq!(audit.actor, Actor::System { org, component: SystemComponent::Ingestion }, "who");
        assert!(audit.recorded_at <= chrono::Utc::now(), "when");
        assert!(audit.command_id.is_some());
    }
    for claim in [&claims[2], &bystander] {
        assert_eq!(state(&setup, claim).await.status(), Some(ClaimStatus::Submitted), "claim {}", claim.id);
    }
    let batch = setup.registry.find(org, "41").await.unwrap().unwrap();
    assert!(batch.verdicts.values().all(|verdict| !verdict.accepted) && !batch.verdicts.is_empty());

    // The same file again, and the same verdict in another 999 file: no second effect.
    let again = setup.ingestor.ingest(org, &reject_file).await.unwrap();
    assert!(again.duplicate);
    let resent = setup.ingestor.ingest(org, &write_999(&envelope(901), &rejected(first)).unwrap()).await.unwrap();
    for report in [&again, &resent] {
        assert_eq!((report.applied, report.events_appended), (0, 0), "{report:#?}");
        assert!(report.returned_to_draft.is_empty());
    }
    for claim in &claims[..2] {
        let rejections = claim_events(&setup, claim)
            .await
            .iter()
            .filter(|event| matches!(event.event, ClaimEvent::Rejected { .. }))
            .count();
        assert_eq!(rejections, 1);
    }

    // An accepting 999 for group 42 changes no claim; the verdict is recorded.
    let accept_file = write_999(&envelope(902), &accepted(second)).unwrap();
    let report = setup.ingestor.ingest(org, &accept_file).await.unwrap();
    assert_eq!((report.commands, report.applied, report.events_appended), (0, 0, 0), "{report:#?}");
    assert_eq!(state(&setup, &claims[2]).await.status(), Some(ClaimStatus::Submitted));
    let batch = setup.registry.find(org, "000000042").await.unwrap().unwrap();
    assert!(!batch.verdicts.is_empty() && batch.verdicts.values().all(|verdict| verdict.accepted));
    assert!(practice(&setup, org).await.suspense.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_999_for_a_batch_never_sent_is_journaled_suspense() {
    let setup = setup().await;
    let org = OrgId(Uuid::new_v4());
    let claim = submitted_claim(&setup, org, 1).await;
    // A real group, but registered under another organization: for `org` it was never sent.
    let group = send_837(&setup, OrgId(Uuid::new_v4()), 77, std::slice::from_ref(&claim)).await;
    let file = write_999(&envelope(903), &rejected(group)).unwrap();
    for _ in 0..2 {
        let report = setup.ingestor.ingest(org, &file).await.unwrap();
        assert_eq!(report.commands, 0);
        let [InboundSuspense::Acknowledgment999 { group_control_number, .. }] = report.suspense.as_slice() else {
            panic!("{:?}", report.suspense)
        };
        assert_eq!(group_control_number.trim_start_matches('0'), "77");
    }
    assert_eq!(state(&setup, &claim).await.status(), Some(ClaimStatus::Submitted));
    let practice = practice(&setup, org).await;
    let [item] = practice.suspense.as_slice() else { panic!("{:?}", practice.suspense) };
    assert_eq!(item.source, SuspenseSource::Acknowledgment999);
    assert!(item.reason.contains("no batch was sent"), "{}", item.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_payment_and_a_plb_land_in_the_journal_once() {
    let setup = setup().await;
    let org = OrgId(Uuid::new_v4());
    let paid = submitted_claim(&setup, org, 1).await;
    let mut stranger = payment(&paid, "NOSUCHPCN");
    stranger.payer_claim_control_number = "PCCNSTRANGER".into();
    let plb = vec![
        ProviderAdjustment { reason: "WO".into(), reference: Some("OVERPAY1".into()), amount: usd(2500) },
        ProviderAdjustment { reason: "L6".into(), reference: None, amount: usd(-125) },
    ];
    let file = era_835(vec![payment(&paid, &paid.patient_control_number), stranger], plb).unwrap();

    let first = setup.ingestor.ingest(org, &file).await.unwrap();
    assert_eq!(first.ledger_recorded, 3, "two PLB entries and one suspense item: {first:#?}");
    let again = setup.ingestor.ingest(org, &file).await.unwrap();
    assert_eq!(again.ledger_recorded, 0, "{again:#?}");

    let practice = practice(&setup, org).await;
    assert_eq!(practice.provider_ledger.entries, 2);
    assert_eq!(practice.provider_ledger.by_reason.get("WO"), Some(&Decimal::new(2500, 2)));
    assert_eq!(practice.provider_ledger.by_reason.get("L6"), Some(&Decimal::new(-125, 2)));
    let [item] = practice.suspense.as_slice() else { panic!("{:?}", practice.suspense) };
    assert_eq!(
        (item.source, item.patient_control_number.as_deref()),
        (SuspenseSource::Remittance835, Some("NOSUCHPCN"))
    );
    assert!(item.reason.contains("CLP01 names no claim"), "{}", item.reason);
    assert_eq!(state(&setup, &paid).await.status(), Some(ClaimStatus::Paid));

    // Replay equals the live state for every entity, the practice's new events included (G4).
    let report = verify(setup.journal.as_ref(), Some(&setup.node)).await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(report.entities.get("practice").is_some_and(|count| *count >= 1), "{:?}", report.entities);
}
