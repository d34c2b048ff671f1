//! 276 claim status request (005010X212): payer (2000A), information receiver (2000B),
//! service provider (2000C), then per claim the subscriber (2000D) and, for a dependent, the
//! patient (2000E) with the claim's trace, identifiers, charge and service dates.

use super::envelope::{enveloped, Envelope, TransactionKind};
use super::error::X12WriteError;
use super::parties;
use crate::domain::{Claim, ClaimType, Relationship};
use serde::{Deserialize, Serialize};

/// Who is asked, who asks, for which provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest {
    /// BHT03.
    pub reference: String,
    /// The receiver of the answers: NM1*41 with its ETIN.
    pub receiver_name: String,
    pub receiver_id: String,
}

/// One claim to ask about, with the trace number the 277 will echo.
#[derive(Clone, Debug)]
pub struct StatusInquiry<'a> {
    pub claim: &'a Claim,
    /// TRN02.
    pub trace_number: String,
    /// REF*1K, when the payer has numbered the claim.
    pub payer_claim_control_number: Option<String>,
}

/// Write one 276 per payer and billing provider, each inquiry under its own subscriber loop.
pub fn write_276(
    envelope: &Envelope,
    request: &StatusRequest,
    inquiries: &[StatusInquiry<'_>],
) -> Result<Vec<u8>, X12WriteError> {
    if inquiries.is_empty() {
        return Err(X12WriteError::Empty { what: "no claim to ask about" });
    }
    for (index, inquiry) in inquiries.iter().enumerate() {
        if inquiry.claim.coverage().is_none() || inquiry.claim.lines.is_empty() {
            return Err(X12WriteError::Inconsistent {
                what: format!("inquiry {index} ({})", inquiry.claim.patient_control_number),
                reason: "a status request needs the claim's coverage and at least one line".to_string(),
            });
        }
    }
    // Group by (payer, billing NPI), keeping first-seen order.
    let mut groups: Vec<(String, String, Vec<&StatusInquiry<'_>>)> = Vec::new();
    for inquiry in inquiries {
        let payer = inquiry.claim.coverage().map_or("", |c| c.payer.payer_id.as_str()).to_string();
        let npi = inquiry.claim.billing.npi.as_str().to_string();
        match groups.iter_mut().find(|(p, n, _)| *p == payer && *n == npi) {
            Some((_, _, list)) => list.push(inquiry),
            None => groups.push((payer, npi, vec![inquiry])),
        }
    }
    let interchange = &envelope.interchange;
    enveloped(envelope, TransactionKind::StatusRequest276, |writer| {
        for (_, _, group) in &groups {
            let first = group[0].claim;
            let Some(coverage) = first.coverage() else { continue };
            writer.begin_set();
            writer
                .begin("BHT")
                .el("0010")
                .el("13")
                .el(&request.reference)
                .date(interchange.date)
                .time(interchange.time)
                .end();
            parties::hierarchy(writer, 1, None, "20", true);
            parties::organization(writer, "PR", &coverage.payer.name, "PI", coverage.payer.payer_id.as_str());
            parties::hierarchy(writer, 2, Some(1), "21", true);
            parties::organization(writer, "41", &request.receiver_name, "46", &request.receiver_id);
            parties::hierarchy(writer, 3, Some(2), "19", true);
            parties::organization(writer, "1P", &first.billing.name, "XX", first.billing.npi.as_str());
            let mut next_hl = 4u32;
            for inquiry in group {
                write_inquiry(writer, inquiry, &mut next_hl);
            }
            writer.end_set();
        }
        Ok(())
    })
}

fn write_inquiry(writer: &mut super::X12Writer, inquiry: &StatusInquiry<'_>, next_hl: &mut u32) {
    let claim = inquiry.claim;
    let Some(coverage) = claim.coverage() else { return };
    let dependent = coverage.relationship != Relationship::SelfInsured;
    let subscriber_hl = *next_hl;
    *next_hl += 1;
    parties::hierarchy(writer, subscriber_hl, Some(3), "22", dependent);
    let subscriber = &coverage.subscriber;
    if !dependent {
        parties::demographics(writer, subscriber.birth_date, subscriber.sex);
    }
    parties::person(writer, "IL", &subscriber.name, "MI", &subscriber.member_id);
    if dependent {
        let patient_hl = next_hl.to_string();
        *next_hl += 1;
        let parent = subscriber_hl.to_string();
        writer.begin("HL").el(&patient_hl).el(&parent).el("23").end();
        parties::demographics(writer, claim.patient.birth_date, claim.patient.sex);
        parties::person(writer, "QC", &claim.patient.name, "", "");
    }
    writer.begin("TRN").el("1").el(&inquiry.trace_number).end();
    if let Some(number) = inquiry.payer_claim_control_number.as_deref() {
        writer.begin("REF").el("1K").el(number).end();
    }
    if claim.claim_type == ClaimType::Institutional {
        if let Some(facility) = &claim.institutional {
            let bill_type = format!("{}{}", facility.facility_type, claim.frequency.x12_code());
            writer.begin("REF").el("BLT").el(&bill_type).end();
        }
    }
    writer.begin("REF").el("EJ").el(&claim.patient_control_number).end();
    writer.begin("AMT").el("T3").amount(claim.total_charge().amount).end();
    let from = claim.lines.iter().map(|line| line.service_date).min();
    let to = claim.lines.iter().map(|line| line.service_date).max();
    if let (Some(from), Some(to)) = (from, to) {
        if from == to {
            writer.begin("DTP").el("472").el("D8").date(from).end();
        } else {
            let range = format!("{}-{}", from.format("%Y%m%d"), to.format("%Y%m%d"));
            writer.begin("DTP").el("472").el("RD8").el(&range).end();
        }
    }
}
