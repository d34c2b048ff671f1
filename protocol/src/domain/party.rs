//! The parties a real 837 names: billing provider (loop 2010AA), rendering and referring
//! providers (2310x), patient and subscriber (2010BA/2010CA), payer (2010BB).

use super::Text;
use crate::codes::{Npi, TaxId};
use crate::ids::{PatientId, ProviderId};
use crate::{ids::PayerId, ValidationError, ValidationKind};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonName {
    pub last: Text,
    pub first: Text,
    #[serde(default)]
    pub middle: Option<Text>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: Text,
    #[serde(default)]
    pub line2: Option<Text>,
    pub city: Text,
    /// Two-letter state or province code.
    pub state: Text,
    /// Five or nine digits.
    pub postal_code: Text,
}

impl Address {
    pub fn validate(&self) -> Result<(), ValidationError> {
        required("line1", &self.line1)?;
        required("city", &self.city)?;
        if self.state.len() != 2 || !self.state.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ValidationError::new(
                "state",
                ValidationKind::malformed("a two-letter state code", self.state.as_str()),
            ));
        }
        let zip_ok = matches!(self.postal_code.len(), 5 | 9) && self.postal_code.bytes().all(|b| b.is_ascii_digit());
        if !zip_ok {
            return Err(ValidationError::new(
                "postal_code",
                ValidationKind::malformed("five or nine digits", self.postal_code.as_str()),
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
    #[serde(rename = "U")]
    Unknown,
}

impl Sex {
    pub fn x12_code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
            Sex::Unknown => "U",
        }
    }
}

/// Patient's relationship to the subscriber (X12 individual relationship code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    #[serde(alias = "self")]
    SelfInsured,
    Spouse,
    Child,
    Other,
}

impl Relationship {
    /// SBR02 / PAT01 code.
    pub fn x12_code(self) -> &'static str {
        match self {
            Relationship::SelfInsured => "18",
            Relationship::Spouse => "01",
            Relationship::Child => "19",
            Relationship::Other => "G8",
        }
    }
}

/// The organization that bills: name, NPI, tax id and a street address (no PO box in 2010AA).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingProvider {
    pub name: Text,
    pub npi: Npi,
    pub tax_id: TaxId,
    pub address: Address,
    /// Provider taxonomy code (PRV03), e.g. 207Q00000X.
    #[serde(default)]
    pub taxonomy: Option<Text>,
    /// Contact name and phone for PER in loop 1000A.
    pub contact_name: Text,
    pub contact_phone: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub id: ProviderId,
    pub npi: Npi,
    pub name: PersonName,
    #[serde(default)]
    pub taxonomy: Option<Text>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    pub id: PatientId,
    pub name: PersonName,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub address: Address,
    /// The practice's account number for the patient, when it has one.
    #[serde(default)]
    pub account_number: Option<Text>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriber {
    pub member_id: Text,
    pub name: PersonName,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub address: Address,
    #[serde(default)]
    pub group_number: Option<Text>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payer {
    pub payer_id: PayerId,
    pub name: Text,
    #[serde(default)]
    pub address: Option<Box<Address>>,
    /// Claim filing indicator (SBR09): CI commercial, MB Medicare B, MC Medicaid, BL BCBS, HM HMO...
    pub filing_indicator: Text,
}

/// One insurance coverage of the patient, in the order the payers are billed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub order: super::CoverageOrder,
    pub payer: Payer,
    pub subscriber: Subscriber,
    pub relationship: Relationship,
}

pub(crate) fn required(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, ValidationKind::Missing));
    }
    Ok(())
}
