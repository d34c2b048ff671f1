//! What can stop a writer: bad delimiters, a value that cannot be written, a header field that
//! does not fit, or claims that are not fit for an 837. Messages name positions and fields,
//! never the PHI values themselves.

use crate::ValidationError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum X12WriteError {
    #[error("bad delimiters: {reason}")]
    BadDelimiters { reason: String },
    #[error("{segment}{element:02}: {character} cannot be written in a data element with these delimiters")]
    BadCharacter { segment: &'static str, element: usize, character: String },
    #[error("{segment}{element:02}: a required value is empty")]
    MissingValue { segment: &'static str, element: usize },
    #[error("claim {index} ({patient_control_number}): {source}")]
    InClaim { index: usize, patient_control_number: String, source: Box<X12WriteError> },
    #[error("{field}: {reason}")]
    BadHeader { field: &'static str, reason: String },
    #[error("claim {index} ({patient_control_number}): {}", join(errors))]
    InvalidClaim { index: usize, patient_control_number: String, errors: Vec<ValidationError> },
    #[error("claim {index} ({patient_control_number}) is {found}, this file is {expected}")]
    WrongClaimType { index: usize, patient_control_number: String, expected: &'static str, found: String },
    #[error("nothing to write: {what}")]
    Empty { what: &'static str },
    #[error("{what}: {reason}")]
    Inconsistent { what: String, reason: String },
}

/// The claim's validation errors, without the malformed values themselves (they may be PHI:
/// a patient's postal code, a member id).
fn join(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(|error| match &error.kind {
            crate::ValidationKind::Malformed { expected, .. } => format!("{}: expected {expected}", error.field),
            _ => error.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
