//! An encounter as the EHR sends it when a note is saved, and the claim it becomes.

use super::claim::{Claim, ClaimFrequency, ClaimLine, ClaimType, CoverageOrder, InstitutionalInfo};
use super::party::{BillingProvider, Coverage, Patient, Provider};
use crate::codes::{Icd10, Modifier, PlaceOfService, ProcedureCode};
use crate::ids::{ClaimId, ClaimLineId, EncounterId, OrgId};
use crate::money::{Currency, Money};
use crate::ValidationError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncounterLine {
    pub procedure: ProcedureCode,
    #[serde(default)]
    pub modifiers: Vec<Modifier>,
    pub diagnosis_pointers: Vec<u8>,
    pub units: Decimal,
    pub charge: Money,
    #[serde(default)]
    pub service_date: Option<NaiveDate>,
    #[serde(default)]
    pub revenue_code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encounter {
    pub id: EncounterId,
    pub org: OrgId,
    pub claim_type: ClaimType,
    pub patient: Patient,
    pub coverages: Vec<Coverage>,
    pub billing: BillingProvider,
    pub rendering: Provider,
    #[serde(default)]
    pub referring: Option<Provider>,
    pub place_of_service: PlaceOfService,
    pub service_date: NaiveDate,
    pub diagnoses: Vec<Icd10>,
    pub lines: Vec<EncounterLine>,
    #[serde(default)]
    pub prior_authorization: Option<String>,
    #[serde(default)]
    pub institutional: Option<InstitutionalInfo>,
}

impl Encounter {
    /// The Draft claim this encounter becomes, billed to the primary coverage. The claim id
    /// is derived from the encounter id, so a webhook delivered twice names one claim.
    pub fn to_primary_claim(&self, currency: Currency) -> Result<Claim, Vec<ValidationError>> {
        let claim_id = ClaimId::derived(&[self.org.0.as_bytes(), self.id.0.as_bytes(), b"primary"]);
        let lines = self
            .lines
            .iter()
            .enumerate()
            .map(|(index, line)| {
                let line_number = index as u32 + 1;
                ClaimLine {
                    id: ClaimLineId::derived(&[claim_id.0.as_bytes(), &line_number.to_be_bytes()]),
                    line_number,
                    procedure: line.procedure.clone(),
                    modifiers: line.modifiers.clone(),
                    diagnosis_pointers: line.diagnosis_pointers.clone(),
                    units: line.units,
                    charge: line.charge,
                    service_date: line.service_date.unwrap_or(self.service_date),
                    place_of_service: None,
                    revenue_code: line.revenue_code.as_deref().map(Into::into),
                }
            })
            .collect();
        let claim = Claim {
            id: claim_id,
            org: self.org,
            encounter_id: self.id,
            claim_type: self.claim_type,
            currency,
            billing: self.billing.clone(),
            rendering: self.rendering.clone(),
            referring: self.referring.clone().map(Box::new),
            patient: self.patient.clone(),
            coverages: self.coverages.clone(),
            responsibility: CoverageOrder::Primary,
            patient_control_number: patient_control_number(&claim_id).into(),
            frequency: ClaimFrequency::Original,
            original_reference: None,
            place_of_service: self.place_of_service.clone(),
            diagnoses: self.diagnoses.clone(),
            lines,
            prior_authorization: self.prior_authorization.as_deref().map(Into::into),
            institutional: self.institutional.clone().map(Box::new),
            prior_adjudications: Vec::new(),
        };
        claim.validate()?;
        Ok(claim)
    }
}

/// CLM01: 20 characters that a payer echoes back in CLP01 and that map to one claim (the
/// first 80 bits of its uuid in hex; uppercase because some payers upcase it).
pub fn patient_control_number(claim_id: &ClaimId) -> String {
    claim_id.0.simple().to_string()[..20].to_ascii_uppercase()
}
