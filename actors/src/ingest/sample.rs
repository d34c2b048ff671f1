//! Deterministic inbound X12 for given claims, written with the protocol's X12 writers: an
//! 835 paying each claim (80% allowed, CO-45 for the rest, $10 coinsurance on the first line,
//! REF*6R = our line ids), a 277CA accepting (A2:20) or rejecting (A7:562) claims, and a 277
//! status reply (P3:317 then P1:20, REF*1K PCCN0042). For
//! tests, benchmarks and demos of the ingestion pipeline; every name and id is invented.

use chrono::{NaiveDate, NaiveTime};
use practice_protocol::claim::{Adjustment, AdjustmentGroup};
use practice_protocol::codes::{npi_with_check_digit, TaxId};
use practice_protocol::domain::{Address, Claim};
use practice_protocol::x12::write::{
    write_277ca, write_835, ClaimAcknowledgment, ClaimPayment, ClaimPaymentStatus, ClaimStatusEntry, Delimiters,
    Envelope, GroupHeader, InterchangeHeader, PaymentMethod835, ProviderAdjustment, ProviderClaims, RemitPayee,
    RemitPayer, Remittance, ServicePayment, StatusCode, Usage, X12WriteError,
};
use practice_protocol::Money;
use rust_decimal::Decimal;

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid sample date")
}

pub fn envelope(control_number: u32) -> Envelope {
    Envelope {
        interchange: InterchangeHeader {
            sender_qualifier: "ZZ".into(),
            sender_id: "CLEARHOUSE".into(),
            receiver_qualifier: "ZZ".into(),
            receiver_id: "PRACTICEOS".into(),
            date: date(2026, 11, 20),
            time: NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
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

pub fn address() -> Address {
    Address {
        line1: "1 INVENTED WAY".into(),
        line2: None,
        city: "SPRINGFIELD".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
    }
}

pub fn usd(cents: i64) -> Money {
    Money::usd(Decimal::new(cents, 2))
}

/// Each line paid at 80% of charge with a CO-45 for the rest, except $10 of coinsurance on
/// the first line. Line control numbers are our line ids (REF*6R).
pub fn payment(claim: &Claim, patient_control_number: &str) -> ClaimPayment {
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
        member_id: claim.coverage().map(|coverage| coverage.subscriber.member_id.clone()).unwrap_or_default().into(),
        received_date: Some(date(2026, 11, 10)),
        adjustments: Vec::new(),
        services,
    }
}

pub fn remittance(claims: Vec<ClaimPayment>, plb: Vec<ProviderAdjustment>) -> Remittance {
    Remittance {
        method: PaymentMethod835::Check,
        payment_date: date(2026, 11, 20),
        trace_number: "CHK42".into(),
        payer: RemitPayer {
            name: "ACME HEALTH PLAN".into(),
            payer_id: "87726".into(),
            tax_id: TaxId::parse("41-1289245").expect("tax id"),
            address: address(),
            technical_contact: "EDI".into(),
            technical_phone: "8005550100".into(),
        },
        payee: RemitPayee {
            name: "INVENTED FAMILY PRACTICE".into(),
            npi: npi_with_check_digit("123456789").expect("npi"),
            tax_id: TaxId::parse("37-1234567").expect("tax id"),
            address: Some(address()),
        },
        production_date: Some(date(2026, 11, 19)),
        claims,
        provider_adjustments: plb,
    }
}

pub fn era_835(claims: Vec<ClaimPayment>, plb: Vec<ProviderAdjustment>) -> Result<Vec<u8>, X12WriteError> {
    write_835(&envelope(7), &[remittance(claims, plb)])
}

pub fn acknowledgment(entries: Vec<ClaimStatusEntry>) -> Result<Vec<u8>, X12WriteError> {
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
            npi: npi_with_check_digit("123456789").expect("npi"),
            trace_number: "PROV1".into(),
            claims: entries,
        }],
    };
    write_277ca(&envelope(8), &[ack])
}

pub fn status_entry(claim: &Claim, accepted: bool) -> ClaimStatusEntry {
    ClaimStatusEntry {
        patient_name: claim.patient.name.clone(),
        member_id: claim.coverage().map(|coverage| coverage.subscriber.member_id.clone()).unwrap_or_default().into(),
        patient_control_number: claim.patient_control_number.to_string(),
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

/// What an outbound 837 needs besides its claims, from us (PRACTICEOS) to the clearinghouse,
/// with ISA13 = GS06 = `control_number`.
pub fn submission(control_number: u32) -> practice_protocol::x12::write::claim837::Submission837 {
    use practice_protocol::x12::write::claim837::{Receiver, Submission837, Submitter};
    let mut envelope = envelope(control_number);
    std::mem::swap(&mut envelope.interchange.sender_id, &mut envelope.interchange.receiver_id);
    std::mem::swap(&mut envelope.group.application_sender, &mut envelope.group.application_receiver);
    Submission837 {
        envelope,
        submitter: Submitter {
            name: "SAMPLE PRACTICE".into(),
            id: "PRACTICEOS".into(),
            contact_name: "BILLING OFFICE".into(),
            contact_phone: "5555550100".into(),
        },
        receiver: Receiver { name: "SAMPLE CLEARINGHOUSE".into(), id: "CLEARHOUSE".into() },
        batch_reference: control_number.to_string(),
    }
}

/// A claim-level 277 (005010X212) answering about `pcns`, each pending (P3:317, then P1:20)
/// with a payer claim number.
pub fn status_reply_277(pcns: &[&str]) -> Vec<u8> {
    let mut segments = vec![
        "ISA*00*          *00*          *ZZ*PAYER          *ZZ*PRACTICEOS     *261201*1200*^*00501*000000071*0*T*:"
            .to_string(),
        "GS*HN*PAYER*PRACTICEOS*20261201*1200*71*X*005010X212".into(),
        "ST*277*0001*005010X212".into(),
        "BHT*0010*08*REPLY7*20261201*1200*DG".into(),
        "HL*1**20*1".into(),
        "NM1*PR*2*ACME HEALTH*****PI*87726".into(),
        "HL*2*1*21*1".into(),
        "NM1*41*2*PRACTICE*****46*PRACTICEOS".into(),
        "HL*3*2*19*1".into(),
        "NM1*1P*2*SAMPLE FAMILY PRACTICE*****XX*1234567893".into(),
    ];
    for (level, pcn) in (4..).zip(pcns) {
        segments.push(format!("HL*{level}*3*22*0"));
        segments.push("NM1*IL*1*SAMPLE*PAT****MI*SAMPLE0001".into());
        segments.push(format!("TRN*2*{pcn}"));
        segments.push("STC*P3:317*20261130**150.00".into());
        segments.push("STC*P1:20*20261130".into());
        segments.push("REF*1K*PCCN0042".into());
    }
    let set_segments = segments.len() - 2 + 1;
    segments.push(format!("SE*{set_segments}*0001"));
    segments.push("GE*1*71".into());
    segments.push("IEA*1*000000071".into());
    segments.iter().map(|segment| format!("{segment}~\n")).collect::<String>().into_bytes()
}
