//! Validation errors: every one names the field it is about and what was expected.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A value that failed validation at construction. `field` is a path such as
/// `lines[2].procedure` so a biller knows exactly what to fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {kind}")]
pub struct ValidationError {
    pub field: String,
    pub kind: ValidationKind,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, kind: ValidationKind) -> Self {
        Self { field: field.into(), kind }
    }

    /// Prefix the field path, e.g. `procedure` inside line 2 becomes `lines[2].procedure`.
    pub fn within(mut self, parent: impl fmt::Display) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum ValidationKind {
    #[error("is required")]
    Missing,
    #[error("expected {expected}, found {found:?}")]
    Malformed { expected: String, found: String },
    #[error("check digit does not match (Luhn) in {found:?}")]
    CheckDigit { found: String },
    #[error("must not be negative, found {found}")]
    Negative { found: String },
    #[error("must be greater than zero, found {found}")]
    NotPositive { found: String },
    #[error("currency {found} does not match {expected}")]
    CurrencyMismatch { expected: String, found: String },
    #[error("points at diagnosis {pointer} but the claim has {available}")]
    PointerOutOfRange { pointer: u8, available: usize },
    #[error("has {found} entries, at most {max} allowed")]
    TooMany { found: usize, max: usize },
    #[error("{0}")]
    Invalid(String),
}

impl ValidationKind {
    pub fn malformed(expected: &str, found: impl Into<String>) -> Self {
        Self::Malformed { expected: expected.to_string(), found: found.into() }
    }
}
