//! Test fixtures: a small, valid professional claim the engines' unit tests start from.

use chrono::NaiveDate;
use practice_protocol::codes::{npi_with_check_digit, Icd10, Modifier, PlaceOfService, ProcedureCode, TaxId};
use practice_protocol::domain::{
    Address, BillingProvider, Claim, ClaimFrequency, ClaimLine, ClaimType, Coverage, CoverageOrder, Patient, Payer,
    PersonName, Provider, Relationship, Sex, Subscriber,
};
use practice_protocol::ids::{ClaimId, ClaimLineId, EncounterId, OrgId, PatientId, PayerId, ProviderId};
use practice_protocol::{Currency, Money};
use rust_decimal::Decimal;

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid fixture date")
}

fn address() -> Address {
    Address {
        line1: "1 Main St".into(),
        line2: None,
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
    }
}

fn name(last: &str, first: &str) -> PersonName {
    PersonName { last: last.into(), first: first.into(), middle: None }
}

pub fn line(number: u32, code: &str, charge: Decimal, service_date: NaiveDate) -> ClaimLine {
    ClaimLine {
        id: ClaimLineId::derived(&[b"fixture-line", code.as_bytes(), &number.to_be_bytes()]),
        line_number: number,
        procedure: ProcedureCode::parse(code).expect("fixture code"),
        modifiers: Vec::new(),
        diagnosis_pointers: vec![1],
        units: Decimal::ONE,
        charge: Money::usd(charge),
        service_date,
        place_of_service: None,
        revenue_code: None,
    }
}

pub fn modifier(code: &str) -> Modifier {
    Modifier::parse(code).expect("fixture modifier")
}

pub fn payer(id: &str, filing_indicator: &str) -> Payer {
    Payer {
        payer_id: PayerId::parse(id).expect("fixture payer id"),
        name: format!("Payer {id}").into(),
        address: None,
        filing_indicator: filing_indicator.into(),
    }
}

/// A clean two-line office claim for payer 87726, serviced on 2026-03-02.
pub fn claim() -> Claim {
    let service = date(2026, 3, 2);
    let org = OrgId::derived(&[b"fixture-org"]);
    Claim {
        id: ClaimId::derived(&[b"fixture-claim"]),
        org,
        encounter_id: EncounterId::derived(&[b"fixture-encounter"]),
        claim_type: ClaimType::Professional,
        currency: Currency::USD,
        billing: BillingProvider {
            name: "Springfield Family Medicine".into(),
            npi: npi_with_check_digit("123456789").expect("npi"),
            tax_id: TaxId::parse("36-1234567").expect("tax id"),
            address: address(),
            taxonomy: None,
            contact_name: "Billing Office".into(),
            contact_phone: "2175550100".into(),
        },
        rendering: Provider {
            id: ProviderId::derived(&[b"fixture-rendering"]),
            npi: npi_with_check_digit("198765432").expect("npi"),
            name: name("Careful", "Dana"),
            taxonomy: None,
        },
        referring: None,
        patient: Patient {
            id: PatientId::derived(&[b"fixture-patient"]),
            name: name("Doe", "Pat"),
            birth_date: date(1970, 5, 17),
            sex: Sex::Female,
            address: address(),
            account_number: None,
        },
        coverages: vec![Coverage {
            order: CoverageOrder::Primary,
            payer: payer("87726", "CI"),
            subscriber: Subscriber {
                member_id: "W123456789".into(),
                name: name("Doe", "Pat"),
                birth_date: date(1970, 5, 17),
                sex: Sex::Female,
                address: address(),
                group_number: None,
            },
            relationship: Relationship::SelfInsured,
        }],
        responsibility: CoverageOrder::Primary,
        patient_control_number: "PCN0001".into(),
        frequency: ClaimFrequency::Original,
        original_reference: None,
        place_of_service: PlaceOfService::parse("11").expect("pos"),
        diagnoses: vec![Icd10::parse("E11.9").expect("icd"), Icd10::parse("I10").expect("icd")],
        lines: vec![
            ClaimLine { diagnosis_pointers: vec![1, 2], ..line(1, "99213", Decimal::new(15000, 2), service) },
            line(2, "36415", Decimal::new(2500, 2), service),
        ],
        prior_authorization: None,
        institutional: None,
        prior_adjudications: Vec::new(),
    }
}
