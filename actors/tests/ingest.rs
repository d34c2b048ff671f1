//! The ingestion pipeline over an embedded node: real X12 files (written by the protocol's
//! writers, read by its readers) post to submitted claims once, 277CAs accept and reject,
//! bad files change nothing, and one organization's file never reaches another's claims.

use chrono::{NaiveDate, NaiveTime};
use practice_actors::ingest::inbound::{InboundError, InboundSuspense};
use practice_actors::ingest::pipeline::{IngestError, Ingestor, MemoryDirectory};
use practice_actors::journal::{Journal, SledJournal};
use practice_actors::metrics::BackboneMetrics;
use practice_actors::{Node, NodeConfig};
use practice_protocol::claim::{Adjustment, AdjustmentGroup, ClaimCommand, ClaimState, ClaimStatus};
use practice_protocol::codes::{npi_with_check_digit, TaxId};
use practice_protocol::domain::{Address, Claim};
use practice_protocol::fixtures::office_visit_claim;
use practice_protocol::ids::{CommandId, OrgId, UserId};
use practice_protocol::roles::{Actor, Role};
use practice_protocol::shard::claim_ref;
use practice_protocol::x12::write::{
    write_277ca, write_835, ClaimAcknowledgment, ClaimPayment, ClaimPaymentStatus, ClaimStatusEntry, Delimiters,
    Envelope, GroupHeader, InterchangeHeader, PaymentMethod835, ProviderAdjustment, ProviderClaims, RemitPayee,
    RemitPayer, Remittance, ServicePayment, StatusCode, Usage,
};
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

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn envelope(control_number: u32) -> Envelope {
    Envelope {
        interchange: InterchangeHeader {
            sender_qualifier: "ZZ".into(),
            sender_id: "CLEARHOUSE".into(),
            receiver_qualifier: "ZZ".into(),
            receiver_id: "PRACTICEOS".into(),
            date: date(2026, 11, 20),
            time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            control_number,
            usage: Usage::Test,
            acknowledgment_requested: false,
        },
        group: GroupHeader {
            application_sender: "CLEARHOUSE".into(),
            application_receiver: "PRACTICEOS".into(),
            control_number,
        },
        delimiters: Delimiters { newline: true, ..Delimiters::default() },
    }
}

fn address() -> Address {
    Address {
        line1: "1 INVENTED WAY".into(),
        line2: None,
        city: "SPRINGFIELD".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
    }
}

fn usd(cents: i64) -> Money {
    Money::usd(Decimal::new(cents, 2))
}

/// Each line paid at 80% of charge with a CO-45 for the rest, except $10 of coinsurance on
/// the first line. Line control numbers are our line ids (REF*6R).
fn payment(claim: &Claim, patient_control_number: &str) -> ClaimPayment {
    let mut services = Vec::new();
    let (mut paid, mut patient) = (Decimal::ZERO, Decimal::ZERO);
    for (index, line) in claim.lines.iter().enumerate() {
        let charge = line.charge.amount;
        let allowed = (charge * Decimal::new(8, 1)).round_dp(2);
        let coinsurance = if index == 0 { Decimal::new(1000, 2) } else { Decimal::ZERO };
        let mut adjustments = vec![Adjustment {
            group: AdjustmentGroup::CO,
            reason: "45".into(),
            amount: Money::usd(charge - allowed),
            quantity: None,
        }];
        if !coinsurance.is_zero() {
            adjustments.push(Adjustment {
                group: AdjustmentGroup::PR,
                reason: "2".into(),
                amount: Money::usd(coinsurance),
                quantity: None,
            });
        }
        paid += allowed - coinsurance;
        patient += coinsurance;
        services.push(ServicePayment {
            procedure: line.procedure.clone(),
            modifiers: line.modifiers.clone(),
            revenue_code: None,
            original_procedure: None,
            charge: line.charge,
            paid: Money::usd(allowed - coinsurance),
            units: Some(line.units),
            service_date: Some(line.service_date),
            adjustments,
            line_control_number: Some(line.id.0.simple().to_string().to_ascii_uppercase()),
            allowed: Some(Money::usd(allowed)),
            remark_codes: Vec::new(),
        });
    }
    ClaimPayment {
        patient_control_number: patient_control_number.to_string(),
        status: ClaimPaymentStatus::ProcessedAsPrimary,
        charge: claim.total_charge(),
        paid: Money::usd(paid),
        patient_responsibility: Money::usd(patient),
        filing_indicator: "CI".into(),
        payer_claim_control_number: format!("PCCN{}", claim.patient_control_number),
        facility_code: Some("11".into()),
        frequency: Some("1".into()),
        patient_name: claim.patient.name.clone(),
        member_id: claim.coverage().unwrap().subscriber.member_id.clone(),
        received_date: Some(date(2026, 11, 10)),
        adjustments: Vec::new(),
        services,
    }
}

fn remittance(claims: Vec<ClaimPayment>, plb: Vec<ProviderAdjustment>) -> Remittance {
    Remittance {
        method: PaymentMethod835::Check,
        payment_date: date(2026, 11, 20),
        trace_number: "CHK42".into(),
        payer: RemitPayer {
            name: "ACME HEALTH PLAN".into(),
            payer_id: "87726".into(),
            tax_id: TaxId::parse("41-1289245").unwrap(),
            address: address(),
            technical_contact: "EDI".into(),
            technical_phone: "8005550100".into(),
        },
        payee: RemitPayee {
            name: "INVENTED FAMILY PRACTICE".into(),
            npi: npi_with_check_digit("123456789").unwrap(),
            tax_id: TaxId::parse("37-1234567").unwrap(),
            address: Some(address()),
        },
        production_date: Some(date(2026, 11, 19)),
        claims,
        provider_adjustments: plb,
    }
}

fn era_835(claims: Vec<ClaimPayment>, plb: Vec<ProviderAdjustment>) -> Vec<u8> {
    write_835(&envelope(7), &[remittance(claims, plb)]).unwrap()
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
    );

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

fn acknowledgment(entries: Vec<ClaimStatusEntry>) -> Vec<u8> {
    let ack = ClaimAcknowledgment {
        reference: "ACK1".into(),
        source_name: "ACME CLEARINGHOUSE".into(),
        source_id: "ACMECH".into(),
        source_trace: "TRACE1".into(),
        received_date: date(2026, 11, 20),
        processed_date: date(2026, 11, 20),
        receiver_name: "INVENTED FAMILY PRACTICE".into(),
        receiver_id: "IFP1".into(),
        batch_reference: "B1".into(),
        providers: vec![ProviderClaims {
            name: "INVENTED FAMILY PRACTICE".into(),
            npi: npi_with_check_digit("123456789").unwrap(),
            trace_number: "PROV1".into(),
            claims: entries,
        }],
    };
    write_277ca(&envelope(8), &[ack]).unwrap()
}

fn status_entry(claim: &Claim, accepted: bool) -> ClaimStatusEntry {
    ClaimStatusEntry {
        patient_name: claim.patient.name.clone(),
        member_id: claim.coverage().unwrap().subscriber.member_id.clone(),
        patient_control_number: claim.patient_control_number.clone(),
        accepted,
        status: if accepted {
            StatusCode { category: "A2".into(), code: "20".into(), entity: None }
        } else {
            StatusCode { category: "A7".into(), code: "562".into(), entity: Some("85".into()) }
        },
        charge: claim.total_charge(),
        payer_claim_control_number: accepted.then(|| format!("PCCN{}", claim.patient_control_number)),
        service_from: date(2026, 11, 2),
        service_to: date(2026, 11, 2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_277ca_accepts_and_rejects_claims() {
    let setup = setup().await;
    let org = OrgId(Uuid::new_v4());
    let taken = submitted_claim(&setup, org, 1).await;
    let returned = submitted_claim(&setup, org, 2).await;
    let file = acknowledgment(vec![status_entry(&taken, true), status_entry(&returned, false)]);

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
    let file = era_835(vec![payment(&claim, &claim.patient_control_number)], Vec::new());
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
    let file = era_835(vec![payment(&their_claim, &their_claim.patient_control_number)], Vec::new());
    let report = setup.ingestor.ingest(ours, &file).await.unwrap();
    assert_eq!(report.commands, 0);
    assert_eq!(report.suspense.len(), 1, "{report:#?}");
    assert_eq!(state(&setup, &their_claim).await.status(), Some(ClaimStatus::Submitted));
}
