//! Synthetic claims and their journeys, for `practice load`, tests and benchmarks. Every name
//! and number here is made up (no PHI); ids are derived from the claim id, so a journey sent
//! twice has one effect (G3).

use crate::entity::EntityCommand;
use chrono::{NaiveDate, Utc};
use practice_protocol::claim::{
    Adjustment, AdjustmentGroup, ClaimCommand, LinePosting, PostingKind, RemittancePosting,
};
use practice_protocol::codes::{npi_with_check_digit, Icd10, PlaceOfService, ProcedureCode, TaxId};
use practice_protocol::domain::{
    Address, BillingProvider, Claim, ClaimFrequency, ClaimLine, ClaimType, Coverage, CoverageOrder, Patient, Payer,
    PaymentMethod, PersonName, Provider, Relationship, Sex, Subscriber,
};
use practice_protocol::envelope::{CommandEnvelope, EntityRef};
use practice_protocol::ids::{
    ClaimId, ClaimLineId, CommandId, EncounterId, OrgId, PatientId, PayerId, PaymentId, ProviderId, UserId,
};
use practice_protocol::money::Money;
use practice_protocol::roles::{Actor, Role, SystemComponent};
use practice_protocol::shard::claim_ref;
use rust_decimal::Decimal;
use uuid::Uuid;

/// How a synthetic claim's adjudication ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JourneyEnd {
    /// Paid in full (paid + CO-45 + PR-2 = charge).
    Paid,
    /// Paid in part; an open balance stays.
    PartiallyPaid,
    /// Denied (CO-197), then written off by the practice admin.
    DeniedThenWrittenOff,
}

impl JourneyEnd {
    pub fn for_index(index: u64) -> JourneyEnd {
        match index % 5 {
            0 => JourneyEnd::DeniedThenWrittenOff,
            1 | 3 => JourneyEnd::PartiallyPaid,
            _ => JourneyEnd::Paid,
        }
    }
}

fn address() -> Address {
    Address {
        line1: "1 Synthetic Way".into(),
        line2: None,
        city: "Testville".into(),
        state: "CA".into(),
        postal_code: "90001".into(),
    }
}

fn parse<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    // The literals below are valid by construction; a failure is a bug in this file.
    match result {
        Ok(value) => value,
        Err(error) => panic!("synthetic literal rejected: {error:?}"),
    }
}

/// A valid professional claim with one line of `100 + index % 50` dollars.
pub fn sample_claim(org: OrgId, claim: ClaimId, index: u64) -> Claim {
    let charge = Money::usd(Decimal::from(100 + index % 50));
    let npi = parse(npi_with_check_digit("123456789").ok_or("npi"));
    let person = PersonName { last: "Patient".into(), first: format!("Synthetic{index}").into(), middle: None };
    let birth_date = parse(NaiveDate::from_ymd_opt(1980, 1, 1).ok_or("date"));
    Claim {
        id: claim,
        org,
        encounter_id: EncounterId::derived(&[claim.0.as_bytes(), b"encounter"]),
        claim_type: ClaimType::Professional,
        currency: charge.currency,
        billing: BillingProvider {
            name: "Synthetic Clinic".into(),
            npi: npi.clone(),
            tax_id: parse(TaxId::parse("123456789")),
            address: address(),
            taxonomy: None,
            contact_name: "Billing Office".into(),
            contact_phone: "5555550100".into(),
        },
        rendering: Provider {
            id: ProviderId::derived(&[org.0.as_bytes(), b"rendering"]),
            npi,
            name: PersonName { last: "Doctor".into(), first: "Synthetic".into(), middle: None },
            taxonomy: None,
        },
        referring: None,
        patient: Patient {
            id: PatientId::derived(&[claim.0.as_bytes(), b"patient"]),
            name: person.clone(),
            birth_date,
            sex: Sex::Unknown,
            address: address(),
            account_number: None,
        },
        coverages: vec![Coverage {
            order: CoverageOrder::Primary,
            payer: Payer {
                payer_id: parse(PayerId::parse("SYNTH1")),
                name: "Synthetic Health Plan".into(),
                address: None,
                filing_indicator: "CI".into(),
            },
            subscriber: Subscriber {
                member_id: format!("M{index:09}").into(),
                name: person,
                birth_date,
                sex: Sex::Unknown,
                address: address(),
                group_number: None,
            },
            relationship: Relationship::SelfInsured,
        }],
        responsibility: CoverageOrder::Primary,
        patient_control_number: format!("PCN{index}").into(),
        frequency: ClaimFrequency::Original,
        original_reference: None,
        place_of_service: parse(PlaceOfService::parse("11")),
        diagnoses: vec![parse(Icd10::parse("E119"))],
        lines: vec![ClaimLine {
            id: ClaimLineId::derived(&[claim.0.as_bytes(), b"line-1"]),
            line_number: 1,
            procedure: parse(ProcedureCode::parse("99213")),
            modifiers: Vec::new(),
            diagnosis_pointers: vec![1],
            units: Decimal::ONE,
            charge,
            service_date: parse(NaiveDate::from_ymd_opt(2026, 1, 15).ok_or("date")),
            place_of_service: None,
            revenue_code: None,
        }],
        prior_authorization: None,
        institutional: None,
        prior_adjudications: Vec::new(),
    }
}

fn user(org: OrgId, role: Role) -> Actor {
    Actor::User { org, user: UserId::derived(&[org.0.as_bytes(), format!("{role:?}").as_bytes()]), role }
}

fn adjustment(group: AdjustmentGroup, reason: &str, amount: Decimal) -> Adjustment {
    Adjustment { group, reason: reason.into(), amount: Money::usd(amount), quantity: None }
}

fn posting(claim: ClaimId, charge: Decimal, end: JourneyEnd) -> RemittancePosting {
    let (paid, adjustments, status) = match end {
        JourneyEnd::Paid => {
            let contractual = Decimal::new(1500, 2);
            let coinsurance = Decimal::new(500, 2);
            let adjustments = vec![
                adjustment(AdjustmentGroup::CO, "45", contractual),
                adjustment(AdjustmentGroup::PR, "2", coinsurance),
            ];
            (charge - contractual - coinsurance, adjustments, "1")
        }
        JourneyEnd::PartiallyPaid => {
            let contractual = Decimal::new(1000, 2);
            (Decimal::new(5000, 2), vec![adjustment(AdjustmentGroup::CO, "45", contractual)], "1")
        }
        JourneyEnd::DeniedThenWrittenOff => (Decimal::ZERO, vec![adjustment(AdjustmentGroup::CO, "197", charge)], "4"),
    };
    RemittancePosting {
        payment_id: PaymentId::derived(&[claim.0.as_bytes(), b"era-1"]),
        kind: PostingKind::Original,
        payer_name: "Synthetic Health Plan".into(),
        method: if paid.is_zero() { PaymentMethod::NonPayment } else { PaymentMethod::Eft },
        era_trace_number: Some(format!("TRN{}", claim.0.simple())),
        payer_claim_control_number: Some(format!("PCCN{}", &claim.0.simple().to_string()[..12])),
        claim_status_code: status.into(),
        paid: Money::usd(paid),
        claim_adjustments: Vec::new(),
        lines: vec![LinePosting {
            line_number: 1,
            paid: Money::usd(paid),
            charge: Money::usd(charge),
            allowed: Some(Money::usd(
                charge - adjustments.iter().filter(|a| a.reason == "45").map(|a| a.amount.amount).sum::<Decimal>(),
            )),
            adjustments,
            remark_codes: Vec::new(),
        }],
        remark_codes: Vec::new(),
        paid_on: Utc::now().date_naive(),
    }
}

/// The id of synthetic claim `index` of `org`.
pub fn claim_id(org: OrgId, index: u64) -> ClaimId {
    ClaimId::derived(&[org.0.as_bytes(), &index.to_be_bytes()])
}

/// The commands that take claim `index` of `org` from creation to its adjudicated end.
pub fn claim_journey(org: OrgId, index: u64) -> Vec<CommandEnvelope<EntityCommand>> {
    let claim_id = claim_id(org, index);
    let entity: EntityRef = claim_ref(org, claim_id);
    let claim = sample_claim(org, claim_id, index);
    let charge = claim.total_charge().amount;
    let end = JourneyEnd::for_index(index);
    let ingestion = Actor::System { org, component: SystemComponent::Ingestion };
    let mut steps: Vec<(&str, Actor, ClaimCommand)> = vec![
        ("create", user(org, Role::CoderBiller), ClaimCommand::Create { claim: Box::new(claim) }),
        ("sign_off", user(org, Role::Clinician), ClaimCommand::SignOff),
        ("scrub", user(org, Role::CoderBiller), ClaimCommand::Scrub { findings: Vec::new() }),
        ("submit", user(org, Role::BillingManager), ClaimCommand::Submit { tracking_id: format!("ISA{index:09}") }),
        ("accept", ingestion.clone(), ClaimCommand::Accept { payer_claim_control_number: None }),
        ("post", ingestion, ClaimCommand::PostRemittance { posting: Box::new(posting(claim_id, charge, end)) }),
    ];
    if end == JourneyEnd::DeniedThenWrittenOff {
        steps.push((
            "write_off",
            user(org, Role::PracticeAdmin),
            ClaimCommand::WriteOff { reason: "denied, not worth appealing".into() },
        ));
    }
    steps
        .into_iter()
        .map(|(step, actor, command)| CommandEnvelope {
            command_id: CommandId::derived(&[claim_id.0.as_bytes(), step.as_bytes()]),
            entity,
            issued_at: Utc::now(),
            actor,
            command: EntityCommand::Claim(command),
        })
        .collect()
}

/// A fixed synthetic organization for load runs, so repeated runs address the same claims.
pub fn load_org(seed: u64) -> OrgId {
    OrgId(Uuid::from_u64_pair(0x5eed_0000_0000_0000, seed))
}
