//! 837P (005010X222A1) and 837I (005010X223A2) from domain claims.
//!
//! Batching: one transaction set per payer (split every [`MAX_CLAIMS_PER_SET`] claims, the
//! guides' limit), one billing provider loop (2000A) per billing provider in it, and one
//! subscriber loop (2000B, with 2000C when the patient is not the subscriber) per claim.
//! Claims keep their input order within a set.

pub(crate) mod cob;
mod institutional;
mod professional;

use super::envelope::{enveloped, Envelope, TransactionKind, X12Writer};
use super::error::X12WriteError;
use super::parties;
use crate::domain::{Claim, ClaimType, Relationship};
use serde::{Deserialize, Serialize};

/// The guides' recommended maximum of claims (CLM) in one transaction set.
pub const MAX_CLAIMS_PER_SET: usize = 5000;

/// Loop 1000A: who submits the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitter {
    pub name: String,
    /// NM109: the submitter's id at the receiver (ETIN).
    pub id: String,
    pub contact_name: String,
    /// Ten digits.
    pub contact_phone: String,
}

/// Loop 1000B: the clearinghouse or payer receiving the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receiver {
    pub name: String,
    pub id: String,
}

/// What an 837 file needs besides its claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission837 {
    pub envelope: Envelope,
    pub submitter: Submitter,
    pub receiver: Receiver,
    /// BHT03: the originator's batch reference (1 to 30 characters).
    pub batch_reference: String,
}

/// Write `claims` (all of `claim_type`, Professional or Institutional) as one interchange.
pub fn write_837(
    submission: &Submission837,
    claim_type: ClaimType,
    claims: &[Claim],
) -> Result<Vec<u8>, X12WriteError> {
    let kind = match claim_type {
        ClaimType::Professional => TransactionKind::Professional837,
        ClaimType::Institutional => TransactionKind::Institutional837,
        ClaimType::Dental => {
            return Err(X12WriteError::Inconsistent {
                what: "claim_type".to_string(),
                reason: "dental claims (837D) are not written".to_string(),
            })
        }
    };
    if claims.is_empty() {
        return Err(X12WriteError::Empty { what: "no claims to write" });
    }
    for (index, claim) in claims.iter().enumerate() {
        check_claim(index, claim, claim_type)?;
    }
    let sets = batch(claims);
    enveloped(&submission.envelope, kind, |writer| {
        for set in &sets {
            write_set(writer, submission, claim_type, set, claims);
        }
        Ok(())
    })
}

fn check_claim(index: usize, claim: &Claim, claim_type: ClaimType) -> Result<(), X12WriteError> {
    if claim.claim_type != claim_type {
        return Err(X12WriteError::WrongClaimType {
            index,
            patient_control_number: claim.patient_control_number.to_string(),
            expected: if claim_type == ClaimType::Professional { "Professional" } else { "Institutional" },
            found: format!("{:?}", claim.claim_type),
        });
    }
    claim.validate().map_err(|errors| X12WriteError::InvalidClaim {
        index,
        patient_control_number: claim.patient_control_number.to_string(),
        errors,
    })?;
    for (prior_index, prior) in claim.prior_adjudications.iter().enumerate() {
        if prior.order >= claim.responsibility {
            return Err(X12WriteError::Inconsistent {
                what: format!("claim {index} prior_adjudications[{prior_index}]"),
                reason: format!("a {:?} payer cannot precede a {:?} claim", prior.order, claim.responsibility),
            });
        }
    }
    Ok(())
}

/// A transaction set's claims, grouped by billing provider in first-seen order.
type Set<'a> = Vec<(&'a crate::domain::BillingProvider, Vec<&'a Claim>)>;

fn batch(claims: &[Claim]) -> Vec<Set<'_>> {
    // Payers in first-seen order; each payer's claims in input order.
    let mut by_payer: Vec<(&str, Vec<&Claim>)> = Vec::new();
    for claim in claims {
        let payer = claim.coverage().map_or("", |coverage| coverage.payer.payer_id.as_str());
        match by_payer.iter_mut().find(|(id, _)| *id == payer) {
            Some((_, list)) => list.push(claim),
            None => by_payer.push((payer, vec![claim])),
        }
    }
    let mut sets = Vec::new();
    for (_, payer_claims) in by_payer {
        for chunk in payer_claims.chunks(MAX_CLAIMS_PER_SET) {
            let mut set: Set<'_> = Vec::new();
            for claim in chunk {
                let key = (&claim.billing.npi, &claim.billing.tax_id);
                match set.iter_mut().find(|(billing, _)| (&billing.npi, &billing.tax_id) == key) {
                    Some((_, list)) => list.push(claim),
                    None => set.push((&claim.billing, vec![claim])),
                }
            }
            sets.push(set);
        }
    }
    sets
}

fn write_set(
    writer: &mut X12Writer,
    submission: &Submission837,
    claim_type: ClaimType,
    set: &Set<'_>,
    all_claims: &[Claim],
) {
    writer.begin_set();
    let interchange = &submission.envelope.interchange;
    writer
        .begin("BHT")
        .el("0019")
        .el("00")
        .req(&submission.batch_reference)
        .date(interchange.date)
        .time(interchange.time)
        .el("CH")
        .end();
    let submitter = &submission.submitter;
    parties::organization(writer, "41", &submitter.name, "46", &submitter.id);
    writer.begin("PER").el("IC").req_text(&submitter.contact_name, 60).el("TE").req(&submitter.contact_phone).end();
    parties::organization(writer, "40", &submission.receiver.name, "46", &submission.receiver.id);

    let mut next_hl = 1u32;
    for (billing, claims) in set {
        let billing_hl = next_hl;
        next_hl += 1;
        parties::hierarchy(writer, billing_hl, None, "20", true);
        parties::taxonomy(writer, "BI", billing.taxonomy.as_deref());
        parties::organization(writer, "85", &billing.name, "XX", billing.npi.as_str());
        parties::address(writer, &billing.address);
        writer.begin("REF").el("EI").el(billing.tax_id.as_str()).end();
        for claim in claims {
            let clean = !writer.has_error();
            write_subscriber_and_claim(writer, claim_type, claim, billing_hl, &mut next_hl);
            if clean && writer.has_error() {
                // Name the claim the first error belongs to (its position in the caller's list).
                let index = all_claims.iter().position(|candidate| std::ptr::eq(candidate, *claim)).unwrap_or(0);
                writer.wrap_error(|source| X12WriteError::InClaim {
                    index,
                    patient_control_number: claim.patient_control_number.to_string(),
                    source: Box::new(source),
                });
            }
        }
    }
    writer.end_set();
}

fn write_subscriber_and_claim(
    writer: &mut X12Writer,
    claim_type: ClaimType,
    claim: &Claim,
    billing_hl: u32,
    next_hl: &mut u32,
) {
    // `check_claim` ran `validate`, which guarantees the coverage exists.
    let Some(coverage) = claim.coverage() else { return };
    let patient_is_subscriber = coverage.relationship == Relationship::SelfInsured;
    let subscriber_hl = *next_hl;
    *next_hl += 1;
    parties::hierarchy(writer, subscriber_hl, Some(billing_hl), "22", !patient_is_subscriber);
    parties::subscriber_information(writer, claim.responsibility.x12_code(), coverage);
    // 2010BA; address and demographics only when the subscriber is the patient (the guides
    // say not to send them otherwise).
    let subscriber = &coverage.subscriber;
    parties::person(writer, "IL", &subscriber.name, "MI", &subscriber.member_id);
    if patient_is_subscriber {
        parties::address(writer, &subscriber.address);
        parties::demographics(writer, subscriber.birth_date, subscriber.sex);
    }
    // 2010BB.
    parties::organization(writer, "PR", &coverage.payer.name, "PI", coverage.payer.payer_id.as_str());
    if let Some(address) = &coverage.payer.address {
        parties::address(writer, address);
    }
    if !patient_is_subscriber {
        let patient_hl = *next_hl;
        *next_hl += 1;
        parties::hierarchy(writer, patient_hl, Some(subscriber_hl), "23", false);
        writer.begin("PAT").el(coverage.relationship.x12_code()).end();
        let patient = &claim.patient;
        parties::person(writer, "QC", &patient.name, "", "");
        parties::address(writer, &patient.address);
        parties::demographics(writer, patient.birth_date, patient.sex);
    }
    match claim_type {
        ClaimType::Institutional => institutional::write_claim(writer, claim),
        _ => professional::write_claim(writer, claim),
    }
}

/// REF segments of loop 2300 shared by both guides, in guide order: prior authorization (G1),
/// payer claim control number of the claim replaced or voided (F8), medical record (EA).
fn claim_references(writer: &mut X12Writer, claim: &Claim) {
    if let Some(authorization) = claim.prior_authorization.as_deref().filter(|value| !value.is_empty()) {
        writer.begin("REF").el("G1").el(authorization).end();
    }
    if claim.frequency != crate::domain::ClaimFrequency::Original {
        if let Some(original) = claim.original_reference.as_deref() {
            writer.begin("REF").el("F8").el(original).end();
        }
    }
    if let Some(account) = claim.patient.account_number.as_deref().filter(|value| !value.is_empty()) {
        writer.begin("REF").el("EA").el(account).end();
    }
}

/// Composite procedure: HC, code, up to four modifiers.
fn procedure_composite(line: &crate::domain::ClaimLine) -> Vec<&str> {
    let mut parts = vec!["HC", line.procedure.as_str()];
    parts.extend(line.modifiers.iter().take(4).map(|modifier| modifier.as_str()));
    parts
}

/// LX's companion: the line item control number we will find again in the 835's REF*6R.
fn line_control_number(line: &crate::domain::ClaimLine) -> String {
    line.id.0.simple().to_string().to_ascii_uppercase()
}
