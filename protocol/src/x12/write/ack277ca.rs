//! 277CA health care claim acknowledgment (005010X214), for the clearinghouse simulator: per
//! claim accepted or rejected, with the totals for the submitter computed from the claims.

use super::envelope::{enveloped, Envelope, TransactionKind};
use super::error::X12WriteError;
use super::parties;
use crate::codes::Npi;
use crate::domain::PersonName;
use crate::money::Money;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// STC01: category (A1..A8 in a 277CA; also P, F, R and E categories in a 277 answering a
/// 276), status code (Claim Status Code list), optional entity ("PR", "41"; X212's claim
/// level list has no "PR": "1P", "QC", "PRP"…).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCode {
    pub category: String,
    pub code: String,
    #[serde(default)]
    pub entity: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimStatusEntry {
    pub patient_name: PersonName,
    pub member_id: String,
    /// TRN02 of 2200D: our CLM01, which ties the status back to the claim.
    pub patient_control_number: String,
    pub accepted: bool,
    pub status: StatusCode,
    pub charge: Money,
    /// REF*1K: the payer's claim control number, when assigned.
    #[serde(default)]
    pub payer_claim_control_number: Option<String>,
    pub service_from: NaiveDate,
    pub service_to: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderClaims {
    pub name: String,
    pub npi: Npi,
    /// TRN*1 of 2200C.
    pub trace_number: String,
    pub claims: Vec<ClaimStatusEntry>,
}

/// One 277CA transaction: the source (clearinghouse or payer) acknowledges a submitter's batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimAcknowledgment {
    /// BHT03.
    pub reference: String,
    pub source_name: String,
    /// NM109 of 2100A (with qualifier 46, an ETIN).
    pub source_id: String,
    /// TRN02 of 2200A.
    pub source_trace: String,
    pub received_date: NaiveDate,
    pub processed_date: NaiveDate,
    pub receiver_name: String,
    pub receiver_id: String,
    /// TRN02 of 2200B: the submitter's batch reference (our BHT03).
    pub batch_reference: String,
    pub providers: Vec<ProviderClaims>,
}

/// Write the acknowledgments, one transaction set each, in one interchange.
pub fn write_277ca(envelope: &Envelope, acknowledgments: &[ClaimAcknowledgment]) -> Result<Vec<u8>, X12WriteError> {
    if acknowledgments.is_empty() || acknowledgments.iter().any(|ack| ack.providers.is_empty()) {
        return Err(X12WriteError::Empty { what: "a 277CA needs at least one provider with claims" });
    }
    let interchange = &envelope.interchange;
    enveloped(envelope, TransactionKind::ClaimAcknowledgment277, |writer| {
        for ack in acknowledgments {
            writer.begin_set();
            writer
                .begin("BHT")
                .el("0085")
                .el("08")
                .el(&ack.reference)
                .date(interchange.date)
                .time(interchange.time)
                .el("TH")
                .end();
            parties::hierarchy(writer, 1, None, "20", true);
            parties::organization(writer, "PR", &ack.source_name, "46", &ack.source_id);
            writer.begin("TRN").el("1").el(&ack.source_trace).end();
            writer.begin("DTP").el("050").el("D8").date(ack.received_date).end();
            writer.begin("DTP").el("009").el("D8").date(ack.processed_date).end();
            parties::hierarchy(writer, 2, Some(1), "21", true);
            parties::organization(writer, "41", &ack.receiver_name, "46", &ack.receiver_id);
            writer.begin("TRN").el("2").el(&ack.batch_reference).end();
            let all: Vec<&ClaimStatusEntry> = ack.providers.iter().flat_map(|provider| &provider.claims).collect();
            let total: Decimal = all.iter().map(|claim| claim.charge.amount).sum();
            writer.begin("STC").comp(&["A1", "19", "PR"]).date(ack.processed_date).el("WQ").amount(total).end();
            totals(writer, &all, ("90", "AA"));
            let mut next_hl = 3u32;
            for provider in &ack.providers {
                let provider_hl = next_hl;
                next_hl += 1;
                parties::hierarchy(writer, provider_hl, Some(2), "19", !provider.claims.is_empty());
                parties::organization(writer, "85", &provider.name, "XX", provider.npi.as_str());
                writer.begin("TRN").el("1").el(&provider.trace_number).end();
                let claims: Vec<&ClaimStatusEntry> = provider.claims.iter().collect();
                let total: Decimal = claims.iter().map(|claim| claim.charge.amount).sum();
                // pyx12's X214 map marks STC02 unused at the provider level.
                writer.begin("STC").comp(&["A1", "19", "PR"]).el("").el("WQ").amount(total).end();
                totals(writer, &claims, ("QA", "QC"));
                for claim in &provider.claims {
                    let patient_hl = next_hl.to_string();
                    next_hl += 1;
                    let parent = provider_hl.to_string();
                    writer.begin("HL").el(&patient_hl).el(&parent).el("PT").end();
                    parties::person(writer, "QC", &claim.patient_name, "MI", &claim.member_id);
                    writer.begin("TRN").el("2").el(&claim.patient_control_number).end();
                    let status = &claim.status;
                    writer
                        .begin("STC")
                        .comp(&[&status.category, &status.code, status.entity.as_deref().unwrap_or("")])
                        .date(ack.processed_date)
                        .el(if claim.accepted { "WQ" } else { "U" })
                        .amount(claim.charge.amount)
                        .end();
                    if let Some(number) = claim.payer_claim_control_number.as_deref() {
                        writer.begin("REF").el("1K").el(number).end();
                    }
                    let range = if claim.service_from == claim.service_to {
                        ("D8", claim.service_from.format("%Y%m%d").to_string())
                    } else {
                        (
                            "RD8",
                            format!("{}-{}", claim.service_from.format("%Y%m%d"), claim.service_to.format("%Y%m%d")),
                        )
                    };
                    writer.begin("DTP").el("472").el(range.0).el(&range.1).end();
                }
            }
            writer.end_set();
        }
        Ok(())
    })
}

/// QTY and AMT of loops 2200B and 2200C: accepted and rejected counts (with the loop's own
/// quantity qualifiers) and amounts.
fn totals(writer: &mut super::X12Writer, claims: &[&ClaimStatusEntry], qualifiers: (&str, &str)) {
    let accepted: Vec<&&ClaimStatusEntry> = claims.iter().filter(|claim| claim.accepted).collect();
    let rejected: Vec<&&ClaimStatusEntry> = claims.iter().filter(|claim| !claim.accepted).collect();
    if !accepted.is_empty() {
        let count = accepted.len().to_string();
        writer.begin("QTY").el(qualifiers.0).el(&count).end();
    }
    if !rejected.is_empty() {
        let count = rejected.len().to_string();
        writer.begin("QTY").el(qualifiers.1).el(&count).end();
    }
    if !accepted.is_empty() {
        let amount: Decimal = accepted.iter().map(|claim| claim.charge.amount).sum();
        writer.begin("AMT").el("YU").amount(amount).end();
    }
    if !rejected.is_empty() {
        let amount: Decimal = rejected.iter().map(|claim| claim.charge.amount).sum();
        writer.begin("AMT").el("YY").amount(amount).end();
    }
}
