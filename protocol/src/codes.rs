//! Code shapes checked at construction: NPI (with its Luhn check digit), tax id, CPT/HCPCS,
//! ICD-10-CM, modifiers, place of service. Shape only: whether a code exists in this year's
//! code set is the scrubber's question, not the type's.

use crate::{ValidationError, ValidationKind};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_code {
    ($(#[$doc:meta])* $name:ident, $field:literal, $validate:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        // Codes are a few characters: kept inline (`CompactString`), not in a heap allocation each.
        #[serde(try_from = "String")]
        pub struct $name(CompactString);

        impl $name {
            /// Parse and validate; the error names the field.
            pub fn parse(value: &str) -> Result<Self, ValidationError> {
                $validate(value).map(Self).map_err(|kind| ValidationError::new($field, kind))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0.into_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_code!(
    /// National Provider Identifier: ten digits whose last is a Luhn check digit computed over
    /// the prefix 80840 and the first nine digits (CMS NPI check-digit standard).
    Npi, "npi", validate_npi
);
string_code!(
    /// Federal tax id (EIN or SSN) as nine digits, dashes removed.
    TaxId, "tax_id", validate_tax_id
);
string_code!(
    /// A CPT (five digits, or four digits and F/T/U for categories II, III and PLA) or HCPCS
    /// Level II code (a letter A–V and four digits).
    ProcedureCode, "procedure", validate_procedure
);
string_code!(
    /// An ICD-10-CM diagnosis code, stored without its dot: a letter, a digit, then one to five
    /// letters or digits (3 to 7 characters).
    Icd10, "diagnosis", validate_icd10
);
string_code!(
    /// A procedure modifier: two letters or digits (25, 59, LT, XS...).
    Modifier, "modifier", validate_modifier
);
string_code!(
    /// The CMS place-of-service code: two digits (11 office, 21 inpatient, 22 outpatient...).
    PlaceOfService, "place_of_service", validate_place_of_service
);

fn validate_npi(value: &str) -> Result<CompactString, ValidationKind> {
    let digits = value.as_bytes();
    if digits.len() != 10 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ValidationKind::malformed("ten digits", value));
    }
    if !npi_check_digit_ok(digits) {
        return Err(ValidationKind::CheckDigit { found: value.to_string() });
    }
    Ok(value.into())
}

/// Luhn over "80840" + the ten NPI digits; the constant 24 stands for the prefix's contribution.
fn npi_check_digit_ok(digits: &[u8]) -> bool {
    let mut total: u32 = 24;
    for (index_from_right, digit) in digits[..9].iter().rev().enumerate() {
        let mut value = u32::from(digit - b'0');
        if index_from_right % 2 == 0 {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        total += value;
    }
    let check = (10 - (total % 10)) % 10;
    check == u32::from(digits[9] - b'0')
}

/// The check digit a nine-digit NPI stem needs; used by fixtures and the simulator.
pub fn npi_with_check_digit(stem: &str) -> Option<Npi> {
    if stem.len() != 9 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (0..=9).find_map(|digit| Npi::parse(&format!("{stem}{digit}")).ok())
}

fn validate_tax_id(value: &str) -> Result<CompactString, ValidationKind> {
    let digits: CompactString = value.chars().filter(|c| *c != '-').collect();
    if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValidationKind::malformed("nine digits (dashes allowed)", value));
    }
    Ok(digits)
}

fn validate_procedure(value: &str) -> Result<CompactString, ValidationKind> {
    let bytes = value.as_bytes();
    let ok = bytes.len() == 5
        && (bytes.iter().all(u8::is_ascii_digit)
            || (bytes[..4].iter().all(u8::is_ascii_digit) && matches!(bytes[4], b'F' | b'T' | b'U'))
            || ((b'A'..=b'V').contains(&bytes[0]) && bytes[1..].iter().all(u8::is_ascii_digit)));
    if !ok {
        return Err(ValidationKind::malformed("a CPT code (99213, 0001F, 0042T) or HCPCS code (J1100)", value));
    }
    Ok(value.into())
}

fn validate_icd10(value: &str) -> Result<CompactString, ValidationKind> {
    let compact: CompactString = value.chars().filter(|c| *c != '.').collect();
    let bytes = compact.as_bytes();
    let ok = (3..=7).contains(&bytes.len())
        && bytes[0].is_ascii_uppercase()
        && bytes[0] != b'U'
        && bytes[1].is_ascii_digit()
        && bytes[2..].iter().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    // A dot, if present, must follow the third character.
    let dot_ok = match value.find('.') {
        None => true,
        Some(position) => position == 3 && value.matches('.').count() == 1 && value.len() > 4,
    };
    if !ok || !dot_ok {
        return Err(ValidationKind::malformed("an ICD-10-CM code such as E11.9 or J0190", value));
    }
    Ok(compact)
}

fn validate_modifier(value: &str) -> Result<CompactString, ValidationKind> {
    let bytes = value.as_bytes();
    if bytes.len() != 2 || !bytes.iter().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
        return Err(ValidationKind::malformed("two capital letters or digits", value));
    }
    Ok(value.into())
}

fn validate_place_of_service(value: &str) -> Result<CompactString, ValidationKind> {
    let bytes = value.as_bytes();
    if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_digit) || value == "00" {
        return Err(ValidationKind::malformed("a two-digit place of service code", value));
    }
    Ok(value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npi_luhn() {
        // The CMS worked example: 123456789 has check digit 3.
        assert!(Npi::parse("1234567893").is_ok());
        let wrong = Npi::parse("1234567890").unwrap_err();
        assert_eq!(wrong.field, "npi");
        assert!(matches!(wrong.kind, ValidationKind::CheckDigit { .. }));
        assert!(matches!(Npi::parse("12345").unwrap_err().kind, ValidationKind::Malformed { .. }));
        assert!(matches!(Npi::parse("12345678a3").unwrap_err().kind, ValidationKind::Malformed { .. }));
        assert_eq!(npi_with_check_digit("123456789").unwrap().as_str(), "1234567893");
    }

    #[test]
    fn procedure_shapes() {
        for ok in ["99213", "0001F", "0042T", "0003U", "J1100", "G0439"] {
            assert!(ProcedureCode::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["9921", "992134", "W1234", "99a13", "j1100", ""] {
            assert_eq!(ProcedureCode::parse(bad).unwrap_err().field, "procedure", "{bad}");
        }
    }

    #[test]
    fn icd10_shapes() {
        assert_eq!(Icd10::parse("E11.9").unwrap().as_str(), "E119");
        assert_eq!(Icd10::parse("S72001A").unwrap().as_str(), "S72001A");
        assert!(Icd10::parse("J0190").is_ok());
        for bad in ["E1", "11.9", "E11.", "E1.19", "EE1", "U071X", "e119", "E1191234"] {
            assert_eq!(Icd10::parse(bad).unwrap_err().field, "diagnosis", "{bad}");
        }
    }

    #[test]
    fn small_codes() {
        assert!(Modifier::parse("25").is_ok());
        assert!(Modifier::parse("LT").is_ok());
        assert!(Modifier::parse("L").is_err());
        assert!(PlaceOfService::parse("11").is_ok());
        assert!(PlaceOfService::parse("00").is_err());
        assert_eq!(TaxId::parse("12-3456789").unwrap().as_str(), "123456789");
        assert!(TaxId::parse("12-345678").is_err());
    }
}
