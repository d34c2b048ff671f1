//! Synthetic claims for load and tests: structurally valid, entirely made up (no real person's
//! data), and derived from a seed and an index so a run can be repeated and checked.

use super::wire::ClaimCommandEnvelope;
use chrono::{NaiveDate, Utc};
use practice_protocol::claim::ClaimCommand;
use practice_protocol::codes::{Icd10, Npi, PlaceOfService, ProcedureCode, TaxId};
use practice_protocol::domain::{
    Address, BillingProvider, Claim, ClaimFrequency, ClaimLine, ClaimType, Coverage, CoverageOrder, Patient, Payer,
    PersonName, Provider, Relationship, Sex, Subscriber,
};
use practice_protocol::envelope::{CommandEnvelope, EntityKind, EntityRef};
use practice_protocol::ids::{
    ClaimId, ClaimLineId, CommandId, EncounterId, OrgId, PatientId, PayerId, ProviderId, UserId,
};
use practice_protocol::money::Money;
use practice_protocol::roles::{Actor, Role, SystemComponent};
use practice_protocol::ValidationError;
use rust_decimal::Decimal;

/// The steps every synthetic claim goes through, in order.
pub const LIFECYCLE: [&str; 5] = ["create", "sign_off", "scrub", "submit", "accept"];

/// The tenant of a load run.
pub fn org_of(seed: u64) -> OrgId {
    OrgId::derived(&[b"load-org", &seed.to_be_bytes()])
}

pub fn claim_id(seed: u64, index: u64) -> ClaimId {
    ClaimId::derived(&[b"load-claim", &seed.to_be_bytes(), &index.to_be_bytes()])
}

fn address() -> Address {
    Address {
        line1: "1 Test Way".into(),
        line2: None,
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
    }
}

fn name(last: &str, first: &str) -> PersonName {
    PersonName { last: last.into(), first: first.into(), middle: None }
}

/// A valid one-line professional claim.
pub fn claim(org: OrgId, id: ClaimId, index: u64) -> Result<Claim, ValidationError> {
    let npi = Npi::parse("1234567893")?;
    let service_date = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default();
    let subscriber = Subscriber {
        member_id: format!("SYN{index:09}"),
        name: name("Synthetic", "Member"),
        birth_date: NaiveDate::from_ymd_opt(1980, 1, 1).unwrap_or_default(),
        sex: Sex::Unknown,
        address: address(),
        group_number: None,
    };
    let charge = Money::usd(Decimal::new(12_500 + (index % 100) as i64 * 100, 2));
    Ok(Claim {
        id,
        org,
        encounter_id: EncounterId::derived(&[id.0.as_bytes()]),
        claim_type: ClaimType::Professional,
        currency: charge.currency,
        billing: BillingProvider {
            name: "Synthetic Practice".into(),
            npi: npi.clone(),
            tax_id: TaxId::parse("123456789")?,
            address: address(),
            taxonomy: None,
            contact_name: "Billing Office".into(),
            contact_phone: "5555550100".into(),
        },
        rendering: Provider {
            id: ProviderId::derived(&[b"rendering"]),
            npi,
            name: name("Doe", "Dana"),
            taxonomy: None,
        },
        referring: None,
        patient: Patient {
            id: PatientId::derived(&[id.0.as_bytes()]),
            name: name("Synthetic", "Member"),
            birth_date: subscriber.birth_date,
            sex: Sex::Unknown,
            address: address(),
            account_number: None,
        },
        coverages: vec![Coverage {
            order: CoverageOrder::Primary,
            payer: Payer {
                payer_id: PayerId::parse("60054")?,
                name: "Synthetic Health".into(),
                address: None,
                filing_indicator: "CI".into(),
            },
            subscriber,
            relationship: Relationship::SelfInsured,
        }],
        responsibility: CoverageOrder::Primary,
        patient_control_number: format!("PCN{index}"),
        frequency: ClaimFrequency::Original,
        original_reference: None,
        place_of_service: PlaceOfService::parse("11")?,
        diagnoses: vec![Icd10::parse("E11.9")?],
        lines: vec![ClaimLine {
            id: ClaimLineId::derived(&[id.0.as_bytes(), b"1"]),
            line_number: 1,
            procedure: ProcedureCode::parse("99213")?,
            modifiers: Vec::new(),
            diagnosis_pointers: vec![1],
            units: Decimal::ONE,
            charge,
            service_date,
            place_of_service: None,
            revenue_code: None,
        }],
        prior_authorization: None,
        institutional: None,
        prior_adjudications: Vec::new(),
    })
}

/// The command of lifecycle `step` for claim `index`, with a command id derived from both, so
/// sending it again is the same command (G3).
pub fn command(seed: u64, index: u64, step: usize) -> Result<ClaimCommandEnvelope, ValidationError> {
    let org = org_of(seed);
    let id = claim_id(seed, index);
    let user = |role: Role| Actor::User { org, user: UserId::derived(&[b"load-user", &[role.level()]]), role };
    let (actor, command) = match LIFECYCLE.get(step).copied().unwrap_or("accept") {
        "create" => (user(Role::CoderBiller), ClaimCommand::Create { claim: Box::new(claim(org, id, index)?) }),
        "sign_off" => (user(Role::Clinician), ClaimCommand::SignOff),
        "scrub" => (user(Role::CoderBiller), ClaimCommand::Scrub { findings: Vec::new() }),
        "submit" => (user(Role::BillingManager), ClaimCommand::Submit { tracking_id: format!("ISA{index:09}") }),
        _ => (
            Actor::System { org, component: SystemComponent::Ingestion },
            ClaimCommand::Accept { payer_claim_control_number: Some(format!("PCCN{index}")) },
        ),
    };
    Ok(CommandEnvelope {
        command_id: CommandId::derived(&[id.0.as_bytes(), &(step as u64).to_be_bytes()]),
        entity: EntityRef { org, kind: EntityKind::Claim, id: id.0 },
        issued_at: Utc::now(),
        actor,
        command,
    })
}

/// The journal address of claim `index`.
pub fn entity_of(seed: u64, index: u64) -> EntityRef {
    EntityRef { org: org_of(seed), kind: EntityKind::Claim, id: claim_id(seed, index).0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::claim::{decide, ClaimState, ClaimStatus, DecideContext};

    #[test]
    fn the_lifecycle_is_accepted_by_the_state_machine() {
        let mut state = ClaimState::default();
        let context = DecideContext::at(Utc::now());
        for step in 0..LIFECYCLE.len() {
            let envelope = command(7, 3, step).unwrap();
            let events = decide(&state, envelope.command_id, &envelope.command, &envelope.actor, &context).unwrap();
            assert!(!events.is_empty(), "step {step} produced nothing");
            for event in &events {
                state.apply(event);
            }
            state.applied_commands.insert(envelope.command_id);
        }
        assert_eq!(state.status, Some(ClaimStatus::Accepted));
        assert_eq!(command(7, 3, 0).unwrap().command_id, command(7, 3, 0).unwrap().command_id);
        assert_ne!(claim_id(7, 3), claim_id(7, 4));
    }
}
