//! What the simulated payer answers to a 276 claim status request: for each claim asked about,
//! its status today as the payer sees it — not found, rejected at the front end, pending in
//! adjudication, or finalized (paid or denied, with the amount and the payment date) — as the
//! 277 (005010X212) the practice reads.
//!
//! Pure: the answer follows from the ground truth and the simulated day, so a replay after a
//! restart answers the same request the same way.

use super::engine::Simulator;
use super::truth::SubmissionTruth;
use chrono::NaiveDate;
use practice_protocol::codes::Npi;
use practice_protocol::domain::PersonName;
use practice_protocol::x12::read::remit::Name;
use practice_protocol::x12::read::request::{ClaimInquiry, StatusRequest276};
use practice_protocol::x12::read::{read_document, Text, TransactionBody};
use practice_protocol::x12::write::{ClaimStatusAnswer, StatusCode, StatusResponse};
use practice_protocol::x12::Severity;
use practice_protocol::{Currency, Money};
use rust_decimal::Decimal;

/// The payer's view of one claim on one day (STC01, STC02, STC05, STC06 and REF*1K).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayerStatus {
    /// Claim status category (code list 507): A4 not found, A3/A6/A7/A8 rejected, P1 pending,
    /// F1 finalized with payment, F2 finalized denial.
    pub category: &'static str,
    /// Claim status code (code list 508).
    pub code: String,
    pub entity: Option<String>,
    pub effective: NaiveDate,
    pub paid: Option<Decimal>,
    pub adjudicated_on: Option<NaiveDate>,
    pub payer_claim_control_number: Option<String>,
}

impl PayerStatus {
    fn not_found(today: NaiveDate) -> PayerStatus {
        // 35: claim/encounter not found.
        PayerStatus {
            category: "A4",
            code: "35".into(),
            entity: None,
            effective: today,
            paid: None,
            adjudicated_on: None,
            payer_claim_control_number: None,
        }
    }
}

/// The 276 transaction sets of a received file; why not, when it has errors or none.
pub fn read_requests(bytes: &[u8]) -> Result<Vec<StatusRequest276>, String> {
    let (document, diagnostics) = read_document(bytes).map_err(|error| format!("276 unreadable: {error}"))?;
    if let Some(diagnostic) = diagnostics.iter().find(|diagnostic| diagnostic.severity == Severity::Error) {
        return Err(format!("276 error at segment {}", diagnostic.position.segment));
    }
    let requests: Vec<StatusRequest276> = document
        .transactions
        .into_iter()
        .filter_map(|transaction| match transaction.body {
            TransactionBody::StatusRequest(request) => Some(*request),
            _ => None,
        })
        .collect();
    if requests.is_empty() {
        return Err("no 276 transaction set".into());
    }
    Ok(requests)
}

impl Simulator {
    /// The status today of the claim last received with this patient control number.
    pub fn status_of(&self, patient_control_number: &str) -> PayerStatus {
        let today = self.today();
        let Some(meta) = self.claim_meta(patient_control_number) else { return PayerStatus::not_found(today) };
        let last = self.truth().claims.get(&meta.claim_id).and_then(|submissions| submissions.last());
        match last {
            // The clearinghouse turned the whole batch back: the payer never saw the claim.
            None | Some(SubmissionTruth::GroupRejected { .. }) => PayerStatus::not_found(today),
            Some(SubmissionTruth::FrontEndRejected { category, status_code, .. }) => PayerStatus {
                category: rejected_category(category),
                // 21: missing or invalid information, when an older truth kept no code.
                code: if status_code.is_empty() { "21".into() } else { status_code.clone() },
                entity: None,
                effective: meta.received_on,
                paid: None,
                adjudicated_on: None,
                payer_claim_control_number: None,
            },
            Some(SubmissionTruth::Adjudicated { adjudication, paid_on, original, reversed_on, .. }) => {
                let payer_ccn = Some(adjudication.payer_claim_control_number.clone());
                if today < *paid_on {
                    // 20: accepted for processing.
                    return PayerStatus {
                        category: "P1",
                        code: "20".into(),
                        entity: None,
                        effective: meta.received_on,
                        paid: None,
                        adjudicated_on: None,
                        payer_claim_control_number: payer_ccn,
                    };
                }
                // Until the reversal, the payer stands by its first decision.
                let (decision, decided_on) = match (original, reversed_on) {
                    (Some(original), Some(reversed_on)) if today < *reversed_on => (original.as_ref(), *paid_on),
                    (_, Some(reversed_on)) => (adjudication.as_ref(), *reversed_on),
                    _ => (adjudication.as_ref(), *paid_on),
                };
                let paid = decision.paid();
                // 65: claim has been paid; 1: see the remittance advice (the 835 has the CARCs).
                let (category, code) = if paid > Decimal::ZERO { ("F1", "65") } else { ("F2", "1") };
                PayerStatus {
                    category,
                    code: code.into(),
                    entity: None,
                    effective: decided_on,
                    paid: Some(paid),
                    adjudicated_on: Some(decided_on),
                    payer_claim_control_number: payer_ccn,
                }
            }
        }
    }

    /// The 277 answering one 276 transaction set; `None` when the request names no provider
    /// NPI and no claim the payer knows (a 277 must name the provider).
    pub fn answer_276(
        &self,
        request: &StatusRequest276,
        reference: String,
        currency: Currency,
    ) -> Option<StatusResponse> {
        let payer = request.payer.as_ref();
        let receiver = request.receiver.as_ref();
        let provider = request.provider.as_ref();
        let first_meta =
            request.inquiries.iter().find_map(|inquiry| control_number(inquiry).and_then(|pcn| self.claim_meta(&pcn)));
        let provider_npi = Npi::parse(&text(provider.and_then(|name| name.id.as_ref())))
            .ok()
            .or_else(|| first_meta.map(|meta| meta.billing_npi.clone()));
        let claims = request.inquiries.iter().map(|inquiry| self.answer_inquiry(inquiry, currency)).collect();
        Some(StatusResponse {
            reference,
            payer_name: text(payer.and_then(|name| name.last_or_organization.as_ref())),
            payer_id: text(payer.and_then(|name| name.id.as_ref())),
            receiver_name: text(receiver.and_then(|name| name.last_or_organization.as_ref())),
            receiver_id: text(receiver.and_then(|name| name.id.as_ref())),
            provider_name: text(provider.and_then(|name| name.last_or_organization.as_ref())),
            provider_npi: provider_npi?,
            claims,
        })
    }

    fn answer_inquiry(&self, inquiry: &ClaimInquiry, currency: Currency) -> ClaimStatusAnswer {
        let pcn = control_number(inquiry).unwrap_or_default();
        let status = self.status_of(&pcn);
        let meta = self.claim_meta(&pcn);
        let (from, to) = inquiry
            .service_dates
            .as_ref()
            .and_then(|dated| service_range(dated.date.as_str()))
            .or_else(|| meta.map(|meta| (meta.service_from, meta.service_to)))
            .unwrap_or((self.today(), self.today()));
        let charge = meta.map(|meta| meta.charge.amount).or(inquiry.charge).unwrap_or_default();
        // NM1*IL is required in a 276; without it the payer answers in the patient's name.
        let subscriber = inquiry
            .subscriber
            .as_ref()
            .map(person)
            .or_else(|| meta.map(|meta| meta.patient_name.clone()))
            .unwrap_or_else(|| PersonName { last: "UNKNOWN".into(), first: Default::default(), middle: None });
        ClaimStatusAnswer {
            member_id: text(inquiry.subscriber.as_ref().and_then(|name| name.id.as_ref())),
            subscriber_name: subscriber,
            patient_name: inquiry.patient.as_ref().map(person),
            trace_number: inquiry.trace_number.as_ref().map(trimmed).unwrap_or(pcn.clone()),
            status: StatusCode { category: status.category.into(), code: status.code, entity: status.entity },
            effective_date: status.effective,
            charge: Money::new(charge, currency),
            paid: status.paid.map(|paid| Money::new(paid, currency)),
            adjudicated_on: status.adjudicated_on,
            payment: None,
            payer_claim_control_number: status.payer_claim_control_number,
            patient_control_number: pcn,
            service_from: from,
            service_to: to,
        }
    }
}

/// Our CLM01, as the 276 gives it: TRN02 (what we write), else REF*EJ.
fn control_number(inquiry: &ClaimInquiry) -> Option<String> {
    inquiry
        .trace_number
        .as_ref()
        .or(inquiry.patient_account_number.as_ref())
        .map(trimmed)
        .filter(|text| !text.is_empty())
}

fn rejected_category(category: &str) -> &'static str {
    match category {
        "A6" => "A6",
        "A7" => "A7",
        "A8" => "A8",
        _ => "A3",
    }
}

fn trimmed(text: &Text) -> String {
    text.as_str().trim().to_string()
}

/// An element's trimmed text, empty when absent.
fn text(value: Option<&Text>) -> String {
    value.map(trimmed).unwrap_or_default()
}

fn person(name: &Name) -> PersonName {
    PersonName {
        last: text(name.last_or_organization.as_ref()).into(),
        first: text(name.first.as_ref()).into(),
        middle: name.middle.as_ref().map(trimmed).filter(|middle| !middle.is_empty()).map(Into::into),
    }
}

/// DTP03 of a 472: `CCYYMMDD` or `CCYYMMDD-CCYYMMDD`.
fn service_range(value: &str) -> Option<(NaiveDate, NaiveDate)> {
    let parse = |text: &str| NaiveDate::parse_from_str(text.trim(), "%Y%m%d").ok();
    match value.split_once('-') {
        Some((from, to)) => Some((parse(from)?, parse(to)?)),
        None => parse(value).map(|day| (day, day)),
    }
}
