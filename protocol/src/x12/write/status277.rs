//! 277 claim status response (005010X212), for the payer/clearinghouse simulator: the answer
//! to a 276. Same HL tree as the request (payer 20, information receiver 21, service provider
//! 19, subscriber 22, dependent 23); per claim the 276's trace echoed in TRN*2, one STC, the
//! payer's and our claim numbers and the service dates.

use super::ack277ca::StatusCode;
use super::envelope::{enveloped, Envelope, TransactionKind};
use super::error::X12WriteError;
use super::parties;
use super::X12Writer;
use crate::codes::Npi;
use crate::domain::PersonName;
use crate::money::Money;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One 277 transaction set: who answers (payer), to whom, for which provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// BHT03.
    pub reference: String,
    /// 2100A NM1*PR, with qualifier PI.
    pub payer_name: String,
    pub payer_id: String,
    /// 2100B NM1*41, with qualifier 46 (an ETIN).
    pub receiver_name: String,
    pub receiver_id: String,
    /// 2100C NM1*1P, with qualifier XX.
    pub provider_name: String,
    pub provider_npi: Npi,
    pub claims: Vec<ClaimStatusAnswer>,
}

/// The status of one claim (loop 2200D, or 2200E for a dependent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimStatusAnswer {
    pub subscriber_name: PersonName,
    pub member_id: String,
    /// Some: the patient is a dependent (HL 23 and NM1*QC under the subscriber).
    #[serde(default)]
    pub patient_name: Option<PersonName>,
    /// TRN02 with TRN01 2: the 276's TRN02, echoed.
    pub trace_number: String,
    /// STC01.
    pub status: StatusCode,
    /// STC02.
    pub effective_date: NaiveDate,
    /// STC04.
    pub charge: Money,
    /// STC05, for finalized claims.
    #[serde(default)]
    pub paid: Option<Money>,
    /// STC06 adjudication finalized date.
    #[serde(default)]
    pub adjudicated_on: Option<NaiveDate>,
    /// STC08 and STC09.
    #[serde(default)]
    pub payment: Option<PaymentReference>,
    /// REF*1K.
    #[serde(default)]
    pub payer_claim_control_number: Option<String>,
    /// REF*EJ.
    pub patient_control_number: String,
    /// DTP*472: D8 for one day, RD8 for a range.
    pub service_from: NaiveDate,
    pub service_to: NaiveDate,
}

/// The remittance that paid (or closed) a finalized claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReference {
    /// "ACH", "CHK", "NON", … X212 marks STC07 (payment method) not used, so this is not
    /// written; it is kept for the caller, whose 835 carries it in BPR04.
    pub method: String,
    /// STC08 remittance date: the check issue or EFT effective date.
    pub issued_on: NaiveDate,
    /// STC09 remittance trace number: the check or EFT number (the 835's TRN02).
    pub number: String,
}

/// Write the responses, one transaction set each, in one interchange.
pub fn write_277(envelope: &Envelope, responses: &[StatusResponse]) -> Result<Vec<u8>, X12WriteError> {
    if responses.is_empty() || responses.iter().any(|response| response.claims.is_empty()) {
        return Err(X12WriteError::Empty { what: "a 277 needs at least one response with claims" });
    }
    for (index, claim) in responses.iter().flat_map(|response| &response.claims).enumerate() {
        if claim.service_from > claim.service_to {
            return Err(X12WriteError::Inconsistent {
                what: format!("claim {index} ({})", claim.patient_control_number),
                reason: "service_from is after service_to".to_string(),
            });
        }
    }
    let interchange = &envelope.interchange;
    enveloped(envelope, TransactionKind::StatusResponse277, |writer| {
        let mut index = 0usize;
        for response in responses {
            writer.begin_set();
            writer
                .begin("BHT")
                .el("0010")
                .el("08")
                .el(&response.reference)
                .date(interchange.date)
                .time(interchange.time)
                .el("DG")
                .end();
            parties::hierarchy(writer, 1, None, "20", true);
            parties::organization(writer, "PR", &response.payer_name, "PI", &response.payer_id);
            parties::hierarchy(writer, 2, Some(1), "21", true);
            parties::organization(writer, "41", &response.receiver_name, "46", &response.receiver_id);
            parties::hierarchy(writer, 3, Some(2), "19", true);
            parties::organization(writer, "1P", &response.provider_name, "XX", response.provider_npi.as_str());
            let mut next_hl = 4u32;
            for claim in &response.claims {
                let clean = !writer.has_error();
                write_claim(writer, claim, &mut next_hl);
                if clean && writer.has_error() {
                    writer.wrap_error(|source| X12WriteError::InClaim {
                        index,
                        patient_control_number: claim.patient_control_number.clone(),
                        source: Box::new(source),
                    });
                }
                index += 1;
            }
            writer.end_set();
        }
        Ok(())
    })
}

/// 2000D/2100D, then 2000E/2100E for a dependent, then the claim's 2200D/2200E.
fn write_claim(writer: &mut X12Writer, claim: &ClaimStatusAnswer, next_hl: &mut u32) {
    let subscriber_hl = *next_hl;
    *next_hl += 1;
    parties::hierarchy(writer, subscriber_hl, Some(3), "22", claim.patient_name.is_some());
    parties::person(writer, "IL", &claim.subscriber_name, "MI", &claim.member_id);
    if let Some(patient) = &claim.patient_name {
        let patient_hl = next_hl.to_string();
        *next_hl += 1;
        let parent = subscriber_hl.to_string();
        // HL04 is not used at the dependent level, nor NM108/NM109 in 2100E.
        writer.begin("HL").el(&patient_hl).el(&parent).el("23").end();
        parties::person(writer, "QC", patient, "", "");
    }
    writer.begin("TRN").el("2").req(&claim.trace_number).end();
    write_status(writer, claim);
    if let Some(number) = claim.payer_claim_control_number.as_deref() {
        writer.begin("REF").el("1K").req(number).end();
    }
    writer.begin("REF").el("EJ").req(&claim.patient_control_number).end();
    if claim.service_from == claim.service_to {
        writer.begin("DTP").el("472").el("D8").date(claim.service_from).end();
    } else {
        let range = format!("{}-{}", claim.service_from.format("%Y%m%d"), claim.service_to.format("%Y%m%d"));
        writer.begin("DTP").el("472").el("RD8").el(&range).end();
    }
}

/// STC: X212 leaves STC03 (action code), STC07 (payment method) and STC12 unused, and wants
/// STC08 and STC09 together (syntax P0809).
fn write_status(writer: &mut X12Writer, claim: &ClaimStatusAnswer) {
    let status = &claim.status;
    if status.category.trim().is_empty() || status.code.trim().is_empty() {
        writer.fail(X12WriteError::MissingValue { segment: "STC", element: 1 });
    }
    writer
        .begin("STC")
        .comp(&[&status.category, &status.code, status.entity.as_deref().unwrap_or("")])
        .date(claim.effective_date)
        .skip(1)
        .amount(claim.charge.amount);
    match &claim.paid {
        Some(paid) => writer.amount(paid.amount),
        None => writer.skip(1),
    };
    match claim.adjudicated_on {
        Some(date) => writer.date(date),
        None => writer.skip(1),
    };
    writer.skip(1);
    if let Some(payment) = &claim.payment {
        writer.date(payment.issued_on).req(&payment.number);
    }
    writer.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x12::write::envelope::tests::test_envelope;
    use rust_decimal::Decimal;

    fn answer() -> ClaimStatusAnswer {
        let date = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        ClaimStatusAnswer {
            subscriber_name: PersonName { last: "RIVERA".into(), first: "ANA".into(), middle: None },
            member_id: "U1".into(),
            patient_name: None,
            trace_number: "T1".into(),
            status: StatusCode { category: "F1".into(), code: "65".into(), entity: None },
            effective_date: date(20),
            charge: Money::usd(Decimal::new(20950, 2)),
            paid: Some(Money::usd(Decimal::new(12040, 2))),
            adjudicated_on: Some(date(18)),
            payment: Some(PaymentReference { method: "CHK".into(), issued_on: date(20), number: "CHK1".into() }),
            payer_claim_control_number: None,
            patient_control_number: "PCN1".into(),
            service_from: date(2),
            service_to: date(2),
        }
    }

    #[test]
    fn stc_leaves_the_unused_elements_empty() {
        let response = StatusResponse {
            reference: "R1".into(),
            payer_name: "PAYER".into(),
            payer_id: "87726".into(),
            receiver_name: "RECEIVER".into(),
            receiver_id: "R1".into(),
            provider_name: "PROVIDER".into(),
            provider_npi: crate::codes::npi_with_check_digit("123456789").unwrap(),
            claims: vec![answer()],
        };
        let bytes = write_277(&test_envelope(), &[response]).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("\nSTC*F1:65*20261120**209.5*120.4*20261118**20261120*CHK1~\n"), "{text}");
        assert!(text.contains("\nBHT*0010*08*R1*20261123*0905*DG~\n"), "{text}");
    }
}
