//! The ingestion pipeline over an embedded node: real X12 files (written by the protocol's
//! writers, read by its readers) post to submitted claims once, 277CAs accept and reject,
//! bad files change nothing, and one organization's file never reaches another's claims.

use practice_actors::ingest::inbound::{InboundError, InboundSuspense};
use practice_actors::ingest::pipeline::{IngestError, Ingestor, MemoryDirectory};
use practice_actors::ingest::sample::{acknowledgment, envelope, era_835, payment, remittance, status_entry, usd};
use practice_actors::journal::{Journal, SledJournal};
use practice_actors::metrics::BackboneMetrics;
use practice_actors::{Node, NodeConfig};
use practice_protocol::claim::{ClaimCommand, ClaimState, ClaimStatus};
use practice_protocol::domain::Claim;
use practice_protocol::fixtures::office_visit_claim;
use practice_protocol::ids::{CommandId, OrgId, UserId};
use practice_protocol::roles::{Actor, Role};
use practice_protocol::shard::claim_ref;
use practice_protocol::x12::write::{write_835, ClaimPayment, ClaimPaymentStatus, ProviderAdjustment};
use practice_protocol::{Currency, Money};
use rust_decimal::Decimal;
use std::sync::Arc;
use uuid::Uuid;

struct Setup {
    node: Node,
    journal: Arc<dyn Journal>,
    directory: Arc<MemoryDirectory>,
    ingestor: Ingestor,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let journal: Arc<dyn Journal> = Arc::new(SledJournal::open(&dir.path().join("journal"), 4).unwrap());
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    let node = Node::start_embedded(journal.clone(), metrics, NodeConfig::default()).await.unwrap();
    let directory = Arc::new(MemoryDirectory::default());
    let ingestor = Ingestor::new(node.clone(), directory.clone(), Currency::USD);
    Setup { node, journal, directory, ingestor, _dir: dir }
}

fn user(org: OrgId, role: Role) -> Actor {
    Actor::User { org, user: UserId(Uuid::from_u128(role as u128 + 1)), role }
}

/// Create, sign off, scrub and submit fixture claim `n` of `org`; the directory learns it.
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

async fn state(setup: &Setup, claim: &Claim) -> ClaimState {
    let inspection = setup.node.inspect(claim_ref(claim.org, claim.id)).await.unwrap();
    practice_protocol::codec::decode(&inspection.state).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_835_posts_each_claim_once_and_a_redelivery_changes_nothing() {
    let setup = setup().await;
    let org = OrgId(Uuid::new_v4());
    let first = submitted_claim(&setup, org, 1).await;
    let second = submitted_claim(&setup, org, 2).await;
    let unpaid = submitted_claim(&setup, org, 3).await;
    let mut stranger = payment(&first, "NOSUCHPCN");
    stranger.payer_claim_control_number = "PCCNSTRANGER".into();
    let plb = ProviderAdjustment { reason: "L6".into(), reference: None, amount: usd(-125) };
    let file = era_835(
        vec![
            payment(&first, &first.patient_control_number),
            payment(&second, &second.patient_control_number),
            stranger,
        ],
        vec![plb],
    )
    .unwrap();

    let report = setup.ingestor.ingest(org, &file).await.unwrap();
    assert!(!report.duplicate);
    assert_eq!((report.commands, report.applied), (2, 2), "{report:#?}");
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.provider_entries.len(), 1);
    assert!(report.out_of_balance.is_empty());
    let [InboundSuspense::Era(item)] = report.suspense.as_slice() else { panic!("{:?}", report.suspense) };
    assert_eq!(item.patient_control_number, "NOSUCHPCN");

    for claim in [&first, &second] {
        let state = state(&setup, claim).await;
        assert_eq!(state.status(), Some(ClaimStatus::Paid), "claim {}", claim.id);
        let ledger = state.ledger.as_ref().unwrap();
        let expected = payment(claim, "").paid;
        assert_eq!(ledger.totals.paid, expected.amount);
        assert!(ledger.conservation_holds());
    }
    assert_eq!(state(&setup, &unpaid).await.status(), Some(ClaimStatus::Submitted));

    // The same bytes again: remembered, and no claim gets a second event.
    let again = setup.ingestor.ingest(org, &file).await.unwrap();
    assert!(again.duplicate);
    assert_eq!((again.commands, again.applied, again.events_appended), (2, 0, 0), "{again:#?}");
    assert_eq!(again.file_id, report.file_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_277ca_accepts_and_rejects_claims() {
    let setup = setup().await;
    let org = OrgId(Uuid::new_v4());
    let taken = submitted_claim(&setup, org, 1).await;
    let returned = submitted_claim(&setup, org, 2).await;
    let file = acknowledgment(vec![status_entry(&taken, true), status_entry(&returned, false)]).unwrap();

    let report = setup.ingestor.ingest(org, &file).await.unwrap();
    assert_eq!((report.commands, report.applied), (2, 2), "{report:#?}");
    assert!(report.suspense.is_empty() && report.refused.is_empty(), "{report:#?}");
    let accepted = state(&setup, &taken).await;
    assert_eq!(accepted.status(), Some(ClaimStatus::Accepted));
    let rejected = state(&setup, &returned).await;
    assert_eq!(rejected.status(), Some(ClaimStatus::Draft), "a front-end rejection returns the claim to be fixed");

    let again = setup.ingestor.ingest(org, &file).await.unwrap();
    assert_eq!((again.applied, again.events_appended), (0, 0), "{again:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_refused_whole_and_forgotten() {
    let setup = setup().await;
    let org = OrgId(Uuid::new_v4());
    let claim = submitted_claim(&setup, org, 1).await;
    let file = era_835(vec![payment(&claim, &claim.patient_control_number)], Vec::new()).unwrap();
    // Cut inside the last claim's services: the SE count and trailers are missing.
    let cut = &file[..file.len() - 60];
    let error = setup.ingestor.ingest(org, cut).await.unwrap_err();
    assert!(matches!(error, IngestError::Invalid(InboundError::Invalid(_))), "{error}");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("segment"), "the error says where: {error}");
    assert_eq!(state(&setup, &claim).await.status(), Some(ClaimStatus::Submitted));

    for garbage in [&b""[..], b"hello, this is not X12", b"ISA*00*"] {
        let error = setup.ingestor.ingest(org, garbage).await.unwrap_err();
        assert!(matches!(error, IngestError::Invalid(_)), "{error}");
    }
    // A refused file is not remembered: once fixed and resent, it is new.
    let id = practice_actors::ingest::inbound::file_id(cut);
    assert!(setup.journal.remember_inbound(org, &id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_organizations_file_never_reaches_anothers_claims() {
    let setup = setup().await;
    let ours = OrgId(Uuid::new_v4());
    let theirs = OrgId(Uuid::new_v4());
    let their_claim = submitted_claim(&setup, theirs, 1).await;
    // Our file names their claim's control number: it must land in our suspense, not on theirs.
    let file = era_835(vec![payment(&their_claim, &their_claim.patient_control_number)], Vec::new()).unwrap();
    let report = setup.ingestor.ingest(ours, &file).await.unwrap();
    assert_eq!(report.commands, 0);
    assert_eq!(report.suspense.len(), 1, "{report:#?}");
    assert_eq!(state(&setup, &their_claim).await.status(), Some(ClaimStatus::Submitted));
}

/// The payer's reversal of `original`: every amount negated (CLP02 = 22).
fn reversal_of(original: &ClaimPayment) -> ClaimPayment {
    let negate = |money: Money| Money::new(-money.amount, money.currency);
    let mut reversal = original.clone();
    reversal.status = ClaimPaymentStatus::Reversal;
    reversal.charge = negate(reversal.charge);
    reversal.paid = negate(reversal.paid);
    reversal.patient_responsibility = negate(reversal.patient_responsibility);
    for service in &mut reversal.services {
        service.charge = negate(service.charge);
        service.paid = negate(service.paid);
        service.allowed = service.allowed.map(negate);
        for adjustment in &mut service.adjustments {
            adjustment.amount = negate(adjustment.amount);
        }
    }
    reversal
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversal_and_its_correction_in_one_file_post_in_order() {
    let setup = setup().await;
    let org = OrgId(Uuid::new_v4());
    let claim = submitted_claim(&setup, org, 1).await;
    let original = payment(&claim, &claim.patient_control_number);
    setup.ingestor.ingest(org, &era_835(vec![original.clone()], Vec::new()).unwrap()).await.unwrap();
    assert_eq!(state(&setup, &claim).await.status(), Some(ClaimStatus::Paid));

    // The payer takes back $5.00 of the first line's payment as contractual.
    let mut corrected = original.clone();
    corrected.paid = Money::usd(corrected.paid.amount - Decimal::new(500, 2));
    corrected.payer_claim_control_number.push('C');
    let first_line = &mut corrected.services[0];
    first_line.paid = Money::usd(first_line.paid.amount - Decimal::new(500, 2));
    first_line.adjustments[0].amount = Money::usd(first_line.adjustments[0].amount.amount + Decimal::new(500, 2));
    // Another claim paid in the same check keeps it positive (BPR02 = ΣCLP04 − ΣPLB).
    let other = submitted_claim(&setup, org, 2).await;
    let claims = vec![reversal_of(&original), payment(&other, &other.patient_control_number), corrected.clone()];
    let mut second = remittance(claims, Vec::new());
    second.trace_number = "CHK43".into();
    let file = write_835(&envelope(9), &[second]).unwrap();

    let report = setup.ingestor.ingest(org, &file).await.unwrap();
    assert!(report.refused.is_empty() && report.suspense.is_empty(), "{report:#?}");
    assert_eq!(report.applied, 3, "{report:#?}");
    assert_eq!(state(&setup, &other).await.status(), Some(ClaimStatus::Paid));
    let after = state(&setup, &claim).await;
    let ledger = after.ledger.as_ref().unwrap();
    assert_eq!(ledger.totals.paid, corrected.paid.amount, "the corrected amount stands");
    assert!(ledger.conservation_holds());
    assert_eq!(setup.ingestor.ingest(org, &file).await.unwrap().events_appended, 0);
}

/// A file with more claims than may be in flight at once still posts every one of them, each
/// exactly once, and its refusals are reported like any other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_larger_than_the_claims_in_flight_posts_every_claim() {
    let mut setup = setup().await;
    setup.ingestor = Ingestor::new(setup.node.clone(), setup.directory.clone(), Currency::USD).with_claims_in_flight(2);
    let org = OrgId(Uuid::new_v4());
    let mut claims = Vec::new();
    for n in 1..=7 {
        claims.push(submitted_claim(&setup, org, n).await);
    }
    let first = era_835(claims.iter().map(|claim| payment(claim, &claim.patient_control_number)).collect(), Vec::new());
    let report = setup.ingestor.ingest(org, &first.unwrap()).await.unwrap();
    assert_eq!((report.commands, report.applied), (7, 7), "{report:#?}");
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    for claim in &claims {
        assert_eq!(state(&setup, claim).await.status(), Some(ClaimStatus::Paid), "claim {}", claim.id);
    }

    // A second original payment for each, under another check: every claim refuses it, and
    // every refusal is in the report, though at most two claims were in flight at once.
    let again: Vec<ClaimPayment> = claims
        .iter()
        .map(|claim| {
            let mut paid = payment(claim, &claim.patient_control_number);
            paid.payer_claim_control_number.push('X');
            paid
        })
        .collect();
    let mut second = remittance(again, Vec::new());
    second.trace_number = "CHK77".into();
    let report = setup.ingestor.ingest(org, &write_835(&envelope(11), &[second]).unwrap()).await.unwrap();
    assert_eq!((report.commands, report.applied), (7, 0), "{report:#?}");
    assert_eq!(report.refused.len(), 7, "{:?}", report.refused);
}
