//! Sample parties and claims: well-formed, deterministic, used by tests, the demo and the
//! simulator. Names and numbers are invented; NPIs carry valid check digits.

use crate::codes::{npi_with_check_digit, Icd10, Modifier, PlaceOfService, ProcedureCode, TaxId};
use crate::domain::encounter::patient_control_number as encounter_patient_control_number;
use crate::domain::{
    Address, BillingProvider, Claim, ClaimFrequency, ClaimLine, ClaimType, Coverage, CoverageOrder, InstitutionalInfo,
    Patient, Payer, PersonName, Provider, Relationship, Sex, Subscriber,
};
use crate::ids::{ClaimId, ClaimLineId, EncounterId, OrgId, PatientId, PayerId, ProviderId};
use crate::money::{Currency, Money};
use chrono::NaiveDate;
use rust_decimal::Decimal;

fn parse<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    // Fixture literals are constants written to be valid; a failure is a bug in this file.
    result.unwrap_or_else(|error| panic!("invalid fixture literal: {error:?}"))
}

pub fn address(line1: &str, city: &str, state: &str, zip: &str) -> Address {
    Address { line1: line1.into(), line2: None, city: city.into(), state: state.into(), postal_code: zip.into() }
}

pub fn billing_provider() -> BillingProvider {
    BillingProvider {
        name: "Riverside Family Medicine".into(),
        npi: parse(npi_with_check_digit("123456789").ok_or("npi")),
        tax_id: parse(TaxId::parse("12-3456789")),
        address: address("100 Main St", "Springfield", "IL", "627010001"),
        taxonomy: Some("207Q00000X".into()),
        contact_name: "Billing Office".into(),
        contact_phone: "2175550100".into(),
    }
}

pub fn rendering_provider() -> Provider {
    Provider {
        id: ProviderId::derived(&[b"fixture-rendering"]),
        npi: parse(npi_with_check_digit("198765432").ok_or("npi")),
        name: PersonName { last: "Morales".into(), first: "Maria".into(), middle: None },
        taxonomy: Some("207Q00000X".into()),
    }
}

pub fn payer(payer_id: &str, name: &str, filing_indicator: &str) -> Payer {
    Payer {
        payer_id: parse(PayerId::parse(payer_id)),
        name: name.into(),
        address: Some(Box::new(address("PO Box 1000", "Hartford", "CT", "06101"))),
        filing_indicator: filing_indicator.into(),
    }
}

/// Patient number `n`: deterministic, distinct names and member ids.
pub fn patient(n: u32) -> Patient {
    Patient {
        id: PatientId::derived(&[b"fixture-patient", &n.to_be_bytes()]),
        name: PersonName { last: format!("Doe{n}").into(), first: "Jane".into(), middle: None },
        birth_date: parse(NaiveDate::from_ymd_opt(1970 + (n % 40) as i32, 1 + n % 12, 1 + n % 28).ok_or("date")),
        sex: if n % 2 == 0 { Sex::Female } else { Sex::Male },
        address: address("12 Elm St", "Springfield", "IL", "62704"),
        account_number: Some(format!("ACCT{n:06}").into()),
    }
}

pub fn coverage(order: CoverageOrder, payer: Payer, patient: &Patient, member_id: &str) -> Coverage {
    Coverage {
        order,
        payer,
        subscriber: Subscriber {
            member_id: member_id.into(),
            name: patient.name.clone(),
            birth_date: patient.birth_date,
            sex: patient.sex,
            address: patient.address.clone(),
            group_number: Some("GRP100".into()),
        },
        relationship: Relationship::SelfInsured,
    }
}

/// A line with code, charge and pointers; line numbers are assigned by `professional_claim`.
pub fn line(procedure: &str, modifiers: &[&str], pointers: &[u8], units: u32, charge: Decimal) -> ClaimLine {
    ClaimLine {
        id: ClaimLineId::new_v4(),
        line_number: 0,
        procedure: parse(ProcedureCode::parse(procedure)),
        modifiers: modifiers.iter().map(|m| parse(Modifier::parse(m))).collect(),
        diagnosis_pointers: pointers.to_vec(),
        units: Decimal::from(units),
        charge: Money::usd(charge),
        service_date: parse(NaiveDate::from_ymd_opt(2026, 10, 1).ok_or("date")),
        place_of_service: None,
        revenue_code: None,
    }
}

/// A valid professional claim for `org` and patient `n`, billed to a commercial primary.
pub fn professional_claim(org: OrgId, n: u32, lines: Vec<ClaimLine>) -> Claim {
    let patient = patient(n);
    let encounter_id = EncounterId::derived(&[org.0.as_bytes(), &n.to_be_bytes()]);
    let id = ClaimId::derived(&[org.0.as_bytes(), encounter_id.0.as_bytes(), b"primary"]);
    let lines = lines
        .into_iter()
        .enumerate()
        .map(|(index, mut line)| {
            line.line_number = index as u32 + 1;
            line.id = ClaimLineId::derived(&[id.0.as_bytes(), &line.line_number.to_be_bytes()]);
            line
        })
        .collect();
    let primary =
        coverage(CoverageOrder::Primary, payer("87726", "Acme Health Plan", "CI"), &patient, &format!("MBR{n:08}"));
    Claim {
        id,
        org,
        encounter_id,
        claim_type: ClaimType::Professional,
        currency: Currency::USD,
        billing: billing_provider(),
        rendering: rendering_provider(),
        referring: None,
        patient_control_number: encounter_patient_control_number(&id).into(),
        patient,
        coverages: vec![primary],
        responsibility: CoverageOrder::Primary,
        frequency: ClaimFrequency::Original,
        original_reference: None,
        place_of_service: parse(PlaceOfService::parse("11")),
        diagnoses: vec![parse(Icd10::parse("E11.9")), parse(Icd10::parse("I10"))],
        lines,
        prior_authorization: None,
        institutional: None,
        prior_adjudications: Vec::new(),
    }
}

/// An office visit plus a lab: the claim most tests start from.
pub fn office_visit_claim(org: OrgId, n: u32) -> Claim {
    professional_claim(
        org,
        n,
        vec![
            line("99213", &["25"], &[1, 2], 1, Decimal::new(15000, 2)),
            line("83036", &[], &[1], 1, Decimal::new(4500, 2)),
        ],
    )
}

/// A valid institutional (837I) outpatient claim.
pub fn institutional_claim(org: OrgId, n: u32) -> Claim {
    let mut claim = professional_claim(org, n, vec![line("80053", &[], &[1], 1, Decimal::new(21000, 2))]);
    claim.claim_type = ClaimType::Institutional;
    claim.place_of_service = parse(PlaceOfService::parse("22"));
    for line in &mut claim.lines {
        line.revenue_code = Some("0301".into());
    }
    let day = parse(NaiveDate::from_ymd_opt(2026, 10, 1).ok_or("date"));
    claim.institutional = Some(Box::new(InstitutionalInfo {
        facility_type: "13".into(),
        admission_type: "3".into(),
        admission_source: "1".into(),
        patient_status: "01".into(),
        statement_from: day,
        statement_to: day,
        admission_date: None,
    }));
    claim
}
