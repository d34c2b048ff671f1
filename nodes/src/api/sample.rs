//! Synthetic sample data for the API's tests, its benchmark and demos: a valid encounter for
//! an organization and patient. Made-up names and numbers only; no real person.

use chrono::NaiveDate;
use practice_protocol::codes::{npi_with_check_digit, Icd10, PlaceOfService, ProcedureCode, TaxId};
use practice_protocol::domain::{
    Address, BillingProvider, ClaimType, Coverage, CoverageOrder, Encounter, EncounterLine, Patient, Payer, PersonName,
    Provider, Relationship, Sex, Subscriber,
};
use practice_protocol::ids::{EncounterId, OrgId, PatientId, PayerId, ProviderId};
use practice_protocol::money::Money;
use rust_decimal::Decimal;

fn address() -> Address {
    Address {
        line1: "100 Sample Street".into(),
        line2: None,
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
    }
}

fn name(last: &str, first: &str) -> PersonName {
    PersonName { last: last.into(), first: first.into(), middle: None }
}

/// An office visit (99213, $150.00) and a venipuncture (36415, $25.00) for `patient`.
pub fn encounter(org: OrgId, patient: PatientId) -> Encounter {
    let service_date = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap_or_default();
    let birth_date = NaiveDate::from_ymd_opt(1980, 5, 17).unwrap_or_default();
    let npi = |stem: &str| npi_with_check_digit(stem).unwrap_or_else(|| unreachable_fixture("npi"));
    let code = |text: &str| ProcedureCode::parse(text).unwrap_or_else(|_| unreachable_fixture("procedure"));
    let line = |procedure: &str, cents: i64| EncounterLine {
        procedure: code(procedure),
        modifiers: Vec::new(),
        diagnosis_pointers: vec![1],
        units: Decimal::ONE,
        charge: Money::usd(Decimal::new(cents, 2)),
        service_date: None,
        revenue_code: None,
    };
    Encounter {
        id: EncounterId::new_v4(),
        org,
        claim_type: ClaimType::Professional,
        patient: Patient {
            id: patient,
            name: name("Sample", "Pat"),
            birth_date,
            sex: Sex::Female,
            address: address(),
            account_number: None,
        },
        coverages: vec![Coverage {
            order: CoverageOrder::Primary,
            payer: Payer {
                payer_id: PayerId::parse("87726").unwrap_or_else(|_| unreachable_fixture("payer")),
                name: "Sample Health Plan".into(),
                address: None,
                filing_indicator: "CI".into(),
            },
            subscriber: Subscriber {
                member_id: "SAMPLE0001".into(),
                name: name("Sample", "Pat"),
                birth_date,
                sex: Sex::Female,
                address: address(),
                group_number: None,
            },
            relationship: Relationship::SelfInsured,
        }],
        billing: BillingProvider {
            name: "Sample Family Practice".into(),
            npi: npi("123456789"),
            tax_id: TaxId::parse("123456789").unwrap_or_else(|_| unreachable_fixture("tax id")),
            address: address(),
            taxonomy: None,
            contact_name: "Billing Office".into(),
            contact_phone: "5555550100".into(),
        },
        rendering: Provider {
            id: ProviderId::new_v4(),
            npi: npi("987654321"),
            name: name("Doctor", "Sam"),
            taxonomy: None,
        },
        referring: None,
        place_of_service: PlaceOfService::parse("11").unwrap_or_else(|_| unreachable_fixture("pos")),
        service_date,
        diagnoses: vec![Icd10::parse("J20.9").unwrap_or_else(|_| unreachable_fixture("icd10"))],
        lines: vec![line("99213", 15000), line("36415", 2500)],
        prior_authorization: None,
        institutional: None,
    }
}

/// The constants above are valid by construction; reaching this is a bug in this file.
fn unreachable_fixture<T>(what: &str) -> T {
    panic!("sample {what} constant is invalid")
}
