//! Validation at construction: each malformed field is a typed error that names it.

mod claims;

use claims::*;
use practice_protocol::domain::Claim;
use practice_protocol::{Currency, Money, ValidationKind};
use rust_decimal::Decimal;

fn errors_of(claim: &Claim) -> Vec<(String, ValidationKind)> {
    claim.validate().err().unwrap_or_default().into_iter().map(|error| (error.field, error.kind)).collect()
}

#[test]
fn a_valid_claim_validates() {
    assert!(claim().validate().is_ok());
    assert!(practice_protocol::fixtures::institutional_claim(org(), 3).validate().is_ok());
}

#[test]
fn negative_and_zero_units() {
    let mut bad = claim();
    bad.lines[1].units = Decimal::new(-1, 0);
    assert!(
        matches!(errors_of(&bad).as_slice(), [(field, ValidationKind::Negative { .. })] if field == "lines[2].units")
    );
    bad.lines[1].units = Decimal::ZERO;
    assert!(
        matches!(errors_of(&bad).as_slice(), [(field, ValidationKind::NotPositive { .. })] if field == "lines[2].units")
    );
}

#[test]
fn a_line_without_a_diagnosis_pointer() {
    let mut bad = claim();
    bad.lines[0].diagnosis_pointers.clear();
    assert_eq!(errors_of(&bad), [("lines[1].diagnosis_pointers".to_string(), ValidationKind::Missing)]);
    bad.lines[0].diagnosis_pointers = vec![3];
    assert_eq!(
        errors_of(&bad),
        [("lines[1].diagnosis_pointers".to_string(), ValidationKind::PointerOutOfRange { pointer: 3, available: 2 })]
    );
}

#[test]
fn mismatched_currencies() {
    let mut bad = claim();
    bad.lines[1].charge = Money::new(Decimal::ONE, Currency::parse("EUR").unwrap());
    assert_eq!(
        errors_of(&bad),
        [(
            "lines[2].charge".to_string(),
            ValidationKind::CurrencyMismatch { expected: "USD".into(), found: "EUR".into() }
        )]
    );
}

#[test]
fn several_problems_are_all_reported() {
    let mut bad = claim();
    bad.diagnoses.clear();
    bad.patient_control_number = Default::default();
    bad.lines[0].charge = Money::usd(Decimal::new(-100, 2));
    let fields: Vec<String> = errors_of(&bad).into_iter().map(|(field, _)| field).collect();
    assert!(fields.contains(&"diagnoses".to_string()), "{fields:?}");
    assert!(fields.contains(&"patient_control_number".to_string()), "{fields:?}");
    assert!(fields.contains(&"lines[1].charge".to_string()), "{fields:?}");
    // Pointers into an empty diagnosis list are out of range too.
    assert!(fields.iter().any(|field| field.ends_with("diagnosis_pointers")), "{fields:?}");
}

/// The JSON form validates every coded field on the way in, and the error names it.
#[test]
fn json_with_a_malformed_code_names_the_field() {
    let json = serde_json::to_value(claim()).unwrap();
    let cases = [
        ("/rendering/npi", "1234567890", "npi"),
        ("/billing/npi", "12345", "npi"),
        ("/diagnoses/0", "11.9", "diagnosis"),
        ("/lines/0/procedure", "9921", "procedure"),
        ("/lines/0/modifiers/0", "2", "modifier"),
        ("/place_of_service", "00", "place_of_service"),
        ("/currency", "usd", "currency"),
        ("/billing/tax_id", "12-34", "tax_id"),
    ];
    for (pointer, value, field) in cases {
        let mut bad = json.clone();
        *bad.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = serde_json::Value::String(value.into());
        let error = serde_json::from_value::<Claim>(bad).unwrap_err().to_string();
        assert!(error.starts_with(&format!("{field}:")), "{pointer}: {error}");
    }
    let mut unknown = json.clone();
    unknown.as_object_mut().unwrap().insert("surprise".into(), serde_json::Value::Bool(true));
    assert!(serde_json::from_value::<Claim>(unknown).unwrap_err().to_string().contains("unknown field `surprise`"));
}
