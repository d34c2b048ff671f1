//! The simulator's answers as real X12 files, written with the project's writers: 999 for a
//! batch, 277CA for the claims acknowledged on a day, 835 for a payer's payment day, 277 for a
//! status request. The
//! payer's own details (tax id, address, contact) are synthetic and derived from its id.

use super::engine::{SimOutput, Simulator};
use chrono::{NaiveDate, NaiveTime};
use practice_actors::ingest::remit::Remittance;
use practice_protocol::codes::{Modifier, ProcedureCode, TaxId};
use practice_protocol::domain::{Address, PaymentMethod};
use practice_protocol::ids::PayerId;
use practice_protocol::x12::read::request::StatusRequest276;
use practice_protocol::x12::write::Delimiters;
use practice_protocol::x12::write::{write_277, StatusResponse};
use practice_protocol::x12::write::{
    write_277ca, write_835, write_999, ClaimAcknowledgment, ClaimPayment, ClaimPaymentStatus, ClaimStatusEntry,
    Envelope, GroupHeader, InterchangeHeader, PaymentMethod835, ProviderAdjustment, ProviderClaims, ReceivedGroup,
    RemitPayee, RemitPayer, Remittance as Remittance835, ServicePayment, SetStatus, StatusCode, Usage, X12WriteError,
};
use practice_protocol::Currency;
use practice_protocol::ValidationError;

/// Why an output could not be written as X12.
#[derive(Debug, thiserror::Error)]
pub enum SimX12Error {
    #[error("claim {patient_control_number}: the simulator never received it")]
    UnknownClaim { patient_control_number: String },
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    Write(#[from] X12WriteError),
    #[error("{what}: nothing to write")]
    Empty { what: String },
}

/// The receiving side of every file the simulator writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub name: String,
    /// ISA08 / GS03, up to 15 characters.
    pub id: String,
}

fn envelope(sender: &str, recipient: &Recipient, on: NaiveDate, control_number: u32) -> Envelope {
    let sender_id: String = sender.chars().take(15).collect();
    let receiver_id: String = recipient.id.chars().take(15).collect();
    Envelope {
        interchange: InterchangeHeader {
            sender_qualifier: "ZZ".into(),
            sender_id: sender_id.clone(),
            receiver_qualifier: "ZZ".into(),
            receiver_id: receiver_id.clone(),
            date: on,
            time: NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default(),
            control_number: control_number.clamp(1, 999_999_999),
            usage: Usage::Test,
            acknowledgment_requested: false,
        },
        group: GroupHeader {
            application_sender: sender_id,
            application_receiver: receiver_id,
            control_number: control_number.clamp(1, 999_999_999),
        },
        delimiters: Delimiters::default(),
    }
}

/// A synthetic, stable nine-digit tax id for a payer (FNV-1a of its id).
fn payer_tax_id(payer_id: &PayerId) -> Result<TaxId, ValidationError> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in payer_id.as_str().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    TaxId::parse(&format!("{:09}", 100_000_000 + hash % 800_000_000))
}

fn payer_address() -> Address {
    Address {
        line1: "PO Box 1000".into(),
        line2: None,
        city: "Claims City".into(),
        state: "TX".into(),
        postal_code: "75001".into(),
    }
}

/// The 999 for one batch. `received` is what `acknowledge` found in the 837 file; when the
/// simulator rejected the group, every set is rejected ("5": segments in error) — the
/// syntax faults a real clearinghouse would name are not modelled.
pub fn render_999(
    output: &SimOutput,
    received: &ReceivedGroup,
    recipient: &Recipient,
    control_number: u32,
) -> Result<Vec<u8>, SimX12Error> {
    let SimOutput::Ack999 { on, accepted, batch_id, .. } = output else {
        return Err(SimX12Error::Empty { what: "a 999 needs an Ack999 output".into() });
    };
    if received.sets.is_empty() {
        return Err(SimX12Error::Empty { what: format!("batch {batch_id}: no transaction sets") });
    }
    let mut group = received.clone();
    if !*accepted {
        for set in &mut group.sets {
            set.status = SetStatus::Rejected;
            if set.syntax_errors.is_empty() {
                set.syntax_errors.push("5".into());
            }
        }
    }
    Ok(write_999(&envelope("SIMCLEARINGHSE", recipient, *on, control_number), &group)?)
}

/// One 277CA for the given Ack277 outputs of one day (others are ignored).
pub fn render_277ca(
    sim: &Simulator,
    acks: &[SimOutput],
    recipient: &Recipient,
    control_number: u32,
) -> Result<Vec<u8>, SimX12Error> {
    let mut claims = Vec::new();
    let mut day = None;
    let mut provider = None;
    for ack in acks {
        let SimOutput::Ack277 {
            on,
            patient_control_number,
            accepted,
            payer_claim_control_number,
            category,
            status_code,
            entity,
            ..
        } = ack
        else {
            continue;
        };
        day = Some(*on);
        let meta = sim
            .claim_meta(patient_control_number)
            .ok_or_else(|| SimX12Error::UnknownClaim { patient_control_number: patient_control_number.clone() })?;
        provider.get_or_insert_with(|| (meta.billing_name.clone(), meta.billing_npi.clone(), meta.received_on));
        claims.push(ClaimStatusEntry {
            patient_name: meta.patient_name.clone(),
            member_id: meta.member_id.clone(),
            patient_control_number: patient_control_number.clone(),
            accepted: *accepted,
            status: StatusCode { category: category.clone(), code: status_code.clone(), entity: entity.clone() },
            charge: meta.charge,
            payer_claim_control_number: payer_claim_control_number.clone(),
            service_from: meta.service_from,
            service_to: meta.service_to,
        });
    }
    let (Some(on), Some((name, npi, received_on))) = (day, provider) else {
        return Err(SimX12Error::Empty { what: "a 277CA needs at least one claim acknowledgment".into() });
    };
    let reference = format!("SIM277{control_number:09}");
    let ack = ClaimAcknowledgment {
        reference: reference.clone(),
        source_name: "Simulated Clearinghouse".into(),
        source_id: "SIMCLEARINGHSE".into(),
        source_trace: reference.clone(),
        received_date: received_on,
        processed_date: on,
        receiver_name: recipient.name.clone(),
        receiver_id: recipient.id.clone(),
        batch_reference: reference,
        providers: vec![ProviderClaims { name, npi, trace_number: format!("P{control_number:09}"), claims }],
    };
    Ok(write_277ca(&envelope("SIMCLEARINGHSE", recipient, on, control_number), &[ack])?)
}

/// One 277 answering every 276 transaction set of a received request, as of the simulator's
/// today; BHT03 echoes each request's BHT03, so the practice sees which request it answers.
pub fn render_277(
    sim: &Simulator,
    requests: &[StatusRequest276],
    recipient: &Recipient,
    control_number: u32,
) -> Result<Vec<u8>, SimX12Error> {
    let responses: Vec<StatusResponse> = requests
        .iter()
        .enumerate()
        .filter_map(|(index, request)| {
            let reference = request
                .reference
                .as_ref()
                .map(|text| text.as_str().trim().to_string())
                .filter(|text| !text.is_empty())
                .unwrap_or_else(|| format!("SIM276{control_number:09}{index}"));
            sim.answer_276(request, reference, Currency::USD)
        })
        .filter(|response| !response.claims.is_empty())
        .collect();
    if responses.is_empty() {
        return Err(SimX12Error::Empty { what: "a 276 asking about no claim of a known provider".into() });
    }
    Ok(write_277(&envelope("SIMCLEARINGHSE", recipient, sim.today(), control_number), &responses)?)
}

/// CLP06 uses a narrower code list than SBR09: commercial (CI) and BCBS (BL) claims are
/// reported as PPO (12); the rest carry over.
fn clp06(sbr09: &str) -> String {
    match sbr09.trim() {
        "CI" | "BL" | "" => "12".to_string(),
        other => other.to_string(),
    }
}

fn status(code: &str) -> ClaimPaymentStatus {
    match code {
        "2" => ClaimPaymentStatus::ProcessedAsSecondary,
        "3" => ClaimPaymentStatus::ProcessedAsTertiary,
        "4" => ClaimPaymentStatus::Denied,
        "19" => ClaimPaymentStatus::ProcessedAsPrimaryForwarded,
        "22" => ClaimPaymentStatus::Reversal,
        _ => ClaimPaymentStatus::ProcessedAsPrimary,
    }
}

/// The 835 for one `Remit` output, written with the project's 835 writer.
pub fn render_835(
    sim: &Simulator,
    output: &SimOutput,
    recipient: &Recipient,
    control_number: u32,
) -> Result<Vec<u8>, SimX12Error> {
    let SimOutput::Remit { on, payer_id, remittance } = output else {
        return Err(SimX12Error::Empty { what: "an 835 needs a Remit output".into() });
    };
    let remit: &Remittance = remittance;
    let payer_name = sim.profile(payer_id).map(|profile| profile.name.clone()).unwrap_or_else(|| payer_id.to_string());
    let mut payee = None;
    let mut claims = Vec::with_capacity(remit.claims.len());
    for claim in &remit.claims {
        let meta = sim.claim_meta(&claim.patient_control_number).ok_or_else(|| SimX12Error::UnknownClaim {
            patient_control_number: claim.patient_control_number.clone(),
        })?;
        payee.get_or_insert_with(|| RemitPayee {
            name: meta.billing_name.clone(),
            npi: meta.billing_npi.clone(),
            tax_id: meta.billing_tax_id.clone(),
            address: None,
        });
        let services = claim
            .lines
            .iter()
            .map(|line| {
                Ok(ServicePayment {
                    procedure: ProcedureCode::parse(&line.procedure)?,
                    modifiers: line.modifiers.iter().map(|m| Modifier::parse(m)).collect::<Result<_, _>>()?,
                    revenue_code: None,
                    original_procedure: line.submitted_procedure.as_deref().map(ProcedureCode::parse).transpose()?,
                    charge: line.charge,
                    paid: line.paid,
                    units: line.units,
                    service_date: line.service_date,
                    adjustments: line.adjustments.clone(),
                    line_control_number: line.line_control_number.clone(),
                    allowed: line.allowed,
                    remark_codes: line.remark_codes.clone(),
                })
            })
            .collect::<Result<Vec<_>, ValidationError>>()?;
        claims.push(ClaimPayment {
            patient_control_number: claim.patient_control_number.clone(),
            status: status(&claim.status_code),
            charge: claim.charge,
            paid: claim.paid,
            patient_responsibility: claim
                .patient_responsibility
                .unwrap_or(practice_protocol::Money::zero(claim.paid.currency)),
            filing_indicator: clp06(&meta.filing_indicator),
            payer_claim_control_number: claim.payer_claim_control_number.clone().unwrap_or_default(),
            facility_code: Some("11".into()),
            frequency: Some("1".into()),
            patient_name: meta.patient_name.clone(),
            member_id: meta.member_id.clone(),
            received_date: Some(meta.received_on),
            adjustments: claim.adjustments.clone(),
            services,
        });
    }
    let payee = match payee {
        Some(payee) => payee,
        // A PLB-only 835 (a recoupment carried forward) still names the payee.
        None => {
            return Err(SimX12Error::Empty {
                what: format!("835 {} names no claim of a known payee", remit.trace_number),
            })
        }
    };
    let file = Remittance835 {
        method: match remit.method {
            PaymentMethod::NonPayment => PaymentMethod835::NonPayment,
            PaymentMethod::Check => PaymentMethod835::Check,
            _ => PaymentMethod835::Ach,
        },
        payment_date: *on,
        trace_number: remit.trace_number.clone(),
        payer: RemitPayer {
            name: payer_name,
            payer_id: payer_id.to_string(),
            tax_id: payer_tax_id(payer_id)?,
            address: payer_address(),
            technical_contact: "EDI Support".into(),
            technical_phone: "8005550199".into(),
        },
        payee,
        production_date: Some(*on),
        claims,
        provider_adjustments: remit
            .provider_adjustments
            .iter()
            .map(|plb| ProviderAdjustment {
                reason: plb.reason_code.clone(),
                reference: plb.reference.clone(),
                amount: plb.amount,
            })
            .collect(),
    };
    Ok(write_835(&envelope(payer_id.as_str(), recipient, *on, control_number), &[file])?)
}
