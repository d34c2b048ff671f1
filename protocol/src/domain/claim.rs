//! A claim's content: what is billed, to whom, by whom. Its status and money live in the
//! claim state machine (`crate::claim`), derived from events.

use super::party::{required, BillingProvider, Coverage, Patient, Provider};
use super::Text;
use crate::codes::{Icd10, Modifier, PlaceOfService, ProcedureCode};
use crate::ids::{ClaimId, ClaimLineId, EncounterId, OrgId};
use crate::money::{Currency, Money};
use crate::{ValidationError, ValidationKind};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClaimType {
    /// 837P (005010X222A1).
    Professional,
    /// 837I (005010X223A2).
    Institutional,
    Dental,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageOrder {
    Primary,
    Secondary,
    Tertiary,
}

impl CoverageOrder {
    /// SBR01 payer responsibility sequence code.
    pub fn x12_code(self) -> &'static str {
        match self {
            CoverageOrder::Primary => "P",
            CoverageOrder::Secondary => "S",
            CoverageOrder::Tertiary => "T",
        }
    }

    pub fn next(self) -> Option<CoverageOrder> {
        match self {
            CoverageOrder::Primary => Some(CoverageOrder::Secondary),
            CoverageOrder::Secondary => Some(CoverageOrder::Tertiary),
            CoverageOrder::Tertiary => None,
        }
    }
}

/// CLM05-3 claim frequency type code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimFrequency {
    /// 1: original.
    Original,
    /// 7: replacement of a prior claim.
    Replacement,
    /// 8: void of a prior claim.
    VoidPrior,
}

impl ClaimFrequency {
    pub fn x12_code(self) -> &'static str {
        match self {
            ClaimFrequency::Original => "1",
            ClaimFrequency::Replacement => "7",
            ClaimFrequency::VoidPrior => "8",
        }
    }
}

/// Facility data an 837I needs (CLM05-1 facility type, CL1, admission dates).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionalInfo {
    /// Two digits: facility type code + bill classification (e.g. "13" hospital outpatient).
    pub facility_type: Text,
    /// CL101 admission type, CL102 admission source, CL103 patient status.
    pub admission_type: Text,
    pub admission_source: Text,
    pub patient_status: Text,
    pub statement_from: NaiveDate,
    pub statement_to: NaiveDate,
    #[serde(default)]
    pub admission_date: Option<NaiveDate>,
}

/// What a prior payer did with this claim, for the 2320/2330 loops of a secondary or tertiary
/// claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorAdjudication {
    pub order: CoverageOrder,
    pub payer: super::Payer,
    pub subscriber: super::Subscriber,
    pub relationship: super::Relationship,
    pub paid: Money,
    pub adjudicated_on: NaiveDate,
    /// Claim-level adjustments (CAS in loop 2320).
    #[serde(default)]
    pub claim_adjustments: Vec<crate::claim::Adjustment>,
    /// Per-line adjudication (SVD/CAS in loop 2430), by our line number.
    #[serde(default)]
    pub lines: Vec<PriorLineAdjudication>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorLineAdjudication {
    pub line_number: u32,
    pub procedure: ProcedureCode,
    pub paid: Money,
    #[serde(default)]
    pub adjustments: Vec<crate::claim::Adjustment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimLine {
    pub id: ClaimLineId,
    /// 1-based sequence within the claim (LX01).
    pub line_number: u32,
    pub procedure: ProcedureCode,
    #[serde(default)]
    pub modifiers: Vec<Modifier>,
    /// 1-based pointers into the claim's diagnoses; one to four.
    pub diagnosis_pointers: Vec<u8>,
    pub units: Decimal,
    pub charge: Money,
    pub service_date: NaiveDate,
    #[serde(default)]
    pub place_of_service: Option<PlaceOfService>,
    /// Four-digit revenue code, required on 837I lines (SV201).
    #[serde(default)]
    pub revenue_code: Option<Text>,
}

impl ClaimLine {
    /// Structural checks of one line against its claim's diagnoses and currency: every
    /// problem, each naming its field as `lines[N].field`.
    pub fn validate(&self, diagnosis_count: usize, currency: Currency, claim_type: ClaimType) -> Vec<ValidationError> {
        let at = format!("lines[{}]", self.line_number);
        let mut errors = Vec::new();
        let mut fail = |field: &str, kind: ValidationKind| errors.push(ValidationError::new(field, kind).within(&at));
        if self.line_number == 0 {
            fail("line_number", ValidationKind::NotPositive { found: "0".into() });
        }
        if self.modifiers.len() > 4 {
            fail("modifiers", ValidationKind::TooMany { found: self.modifiers.len(), max: 4 });
        }
        if self.diagnosis_pointers.is_empty() {
            fail("diagnosis_pointers", ValidationKind::Missing);
        } else if self.diagnosis_pointers.len() > 4 {
            fail("diagnosis_pointers", ValidationKind::TooMany { found: self.diagnosis_pointers.len(), max: 4 });
        } else if let Some(pointer) =
            self.diagnosis_pointers.iter().find(|pointer| **pointer == 0 || usize::from(**pointer) > diagnosis_count)
        {
            fail(
                "diagnosis_pointers",
                ValidationKind::PointerOutOfRange { pointer: *pointer, available: diagnosis_count },
            );
        }
        if self.units.is_zero() {
            fail("units", ValidationKind::NotPositive { found: self.units.to_string() });
        } else if self.units.is_sign_negative() {
            fail("units", ValidationKind::Negative { found: self.units.to_string() });
        }
        if let Err(error) = self.charge.in_currency(currency, "charge").and_then(|charge| charge.non_negative("charge"))
        {
            fail(&error.field, error.kind);
        }
        if claim_type == ClaimType::Institutional {
            let code_ok = self
                .revenue_code
                .as_deref()
                .is_some_and(|code| code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()));
            if !code_ok {
                fail(
                    "revenue_code",
                    ValidationKind::malformed(
                        "a four-digit revenue code on an institutional line",
                        self.revenue_code.clone().unwrap_or_default(),
                    ),
                );
            }
        }
        errors
    }
}

/// A claim's billable content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: ClaimId,
    pub org: OrgId,
    pub encounter_id: EncounterId,
    pub claim_type: ClaimType,
    pub currency: Currency,
    pub billing: BillingProvider,
    pub rendering: Provider,
    /// Boxed, like the other parts most claims lack: a `None` costs a pointer, not the part.
    #[serde(default)]
    pub referring: Option<Box<Provider>>,
    pub patient: Patient,
    /// Every coverage of the patient; `responsibility` says which one this claim bills.
    pub coverages: Vec<Coverage>,
    pub responsibility: CoverageOrder,
    /// The patient control number sent in CLM01 and echoed in the 835's CLP01.
    pub patient_control_number: Text,
    pub frequency: ClaimFrequency,
    /// The payer's claim control number of the claim being replaced or voided (REF*F8).
    #[serde(default)]
    pub original_reference: Option<Text>,
    pub place_of_service: PlaceOfService,
    pub diagnoses: Vec<Icd10>,
    pub lines: Vec<ClaimLine>,
    #[serde(default)]
    pub prior_authorization: Option<Text>,
    #[serde(default)]
    pub institutional: Option<Box<InstitutionalInfo>>,
    /// Adjudications by the payers billed before this one (secondary and tertiary claims).
    #[serde(default)]
    pub prior_adjudications: Vec<PriorAdjudication>,
}

impl Claim {
    /// Every structural check; returns all problems, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        let mut check = |result: Result<(), ValidationError>| {
            if let Err(error) = result {
                errors.push(error);
            }
        };
        check(required("patient_control_number", &self.patient_control_number));
        if self.patient_control_number.len() > 38 {
            check(Err(ValidationError::new(
                "patient_control_number",
                ValidationKind::malformed("at most 38 characters (CLM01)", self.patient_control_number.as_str()),
            )));
        }
        check(required("billing.name", &self.billing.name));
        check(self.billing.address.validate().map_err(|e| e.within("billing.address")));
        check(self.patient.address.validate().map_err(|e| e.within("patient.address")));
        if self.diagnoses.is_empty() {
            check(Err(ValidationError::new("diagnoses", ValidationKind::Missing)));
        }
        if self.diagnoses.len() > 12 {
            check(Err(ValidationError::new(
                "diagnoses",
                ValidationKind::TooMany { found: self.diagnoses.len(), max: 12 },
            )));
        }
        if self.lines.is_empty() {
            check(Err(ValidationError::new("lines", ValidationKind::Missing)));
        }
        let line_limit = if self.claim_type == ClaimType::Institutional { 999 } else { 50 };
        if self.lines.len() > line_limit {
            check(Err(ValidationError::new(
                "lines",
                ValidationKind::TooMany { found: self.lines.len(), max: line_limit },
            )));
        }
        for (index, line) in self.lines.iter().enumerate() {
            if line.line_number as usize != index + 1 {
                check(Err(ValidationError::new(
                    format!("lines[{}].line_number", index + 1),
                    ValidationKind::Invalid(format!("expected {}, found {}", index + 1, line.line_number)),
                )));
            }
            for error in line.validate(self.diagnoses.len(), self.currency, self.claim_type) {
                check(Err(error));
            }
        }
        if self.coverage().is_none() {
            check(Err(ValidationError::new(
                "coverages",
                ValidationKind::Invalid(format!(
                    "no {:?} coverage for this claim's responsibility",
                    self.responsibility
                )),
            )));
        }
        if self.claim_type == ClaimType::Institutional && self.institutional.is_none() {
            check(Err(ValidationError::new("institutional", ValidationKind::Missing)));
        }
        if self.frequency != ClaimFrequency::Original && self.original_reference.is_none() {
            check(Err(ValidationError::new("original_reference", ValidationKind::Missing)));
        }
        for (index, prior) in self.prior_adjudications.iter().enumerate() {
            check(
                prior
                    .paid
                    .in_currency(self.currency, "paid")
                    .map(|_| ())
                    .map_err(|e| e.within(format!("prior_adjudications[{index}]"))),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The coverage this claim bills.
    pub fn coverage(&self) -> Option<&Coverage> {
        self.coverages.iter().find(|coverage| coverage.order == self.responsibility)
    }

    /// Total charge: the sum of the lines.
    pub fn total_charge(&self) -> Money {
        self.lines
            .iter()
            .fold(Money::zero(self.currency), |acc, line| Money::new(acc.amount + line.charge.amount, self.currency))
    }

    pub fn line(&self, line_number: u32) -> Option<&ClaimLine> {
        self.lines.iter().find(|line| line.line_number == line_number)
    }
}
