//! What an 837P/837I carries of a claim, as read back: identifiers stay text (a reader reports a
//! bad NPI, it does not drop the claim), money is exact, dates are dates.
//!
//! [`Claim837::carried_by`] is the other side of the round trip: the part of a domain
//! [`Claim`] that our 837 writer puts in the file, in this same shape.

use crate::claim::Adjustment;
use crate::domain::{Address, Claim, ClaimFrequency, ClaimType, CoverageOrder, InstitutionalInfo, PersonName};
use crate::domain::{Relationship, Sex};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BillingProvider837 {
    pub name: String,
    pub npi: String,
    pub tax_id: Option<String>,
    pub address: Option<Address>,
    pub taxonomy: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Payer837 {
    pub name: String,
    pub payer_id: String,
    pub address: Option<Address>,
    /// SBR09 of the loop that names this payer.
    pub filing_indicator: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person837 {
    pub name: PersonName,
    /// NM109 (member id for a subscriber; empty for a patient).
    pub id: Option<String>,
    pub address: Option<Address>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provider837 {
    pub name: PersonName,
    pub npi: String,
    pub taxonomy: Option<String>,
}

/// Loops 2320/2330A/2330B: a payer that adjudicated the claim before this one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OtherPayer837 {
    pub order: Option<CoverageOrder>,
    pub relationship: Option<Relationship>,
    pub group_number: Option<String>,
    pub subscriber: Person837,
    pub payer: Payer837,
    /// AMT*D.
    pub paid: Option<Decimal>,
    /// DTP*573 of 2330B (absent when the lines carry the date).
    pub adjudicated_on: Option<NaiveDate>,
    pub claim_adjustments: Vec<Adjustment>,
}

/// Loop 2430: one prior payer's adjudication of one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineAdjudication837 {
    pub payer_id: String,
    pub paid: Decimal,
    pub procedure: String,
    pub modifiers: Vec<String>,
    pub units: Option<Decimal>,
    pub adjustments: Vec<Adjustment>,
    pub adjudicated_on: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line837 {
    pub line_number: u32,
    pub procedure: String,
    pub modifiers: Vec<String>,
    pub charge: Decimal,
    pub units: Decimal,
    pub service_date: Option<NaiveDate>,
    /// SV105 (837P), only when it differs from the claim's.
    pub place_of_service: Option<String>,
    /// SV107 (837P).
    pub diagnosis_pointers: Vec<u8>,
    /// SV201 (837I).
    pub revenue_code: Option<String>,
    /// REF*6R.
    pub line_control_number: Option<String>,
    pub adjudications: Vec<LineAdjudication837>,
}

/// One claim (CLM) with the loops above it that it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Claim837 {
    pub claim_type: ClaimType,
    pub billing: BillingProvider837,
    /// 1000A PER: the submitter's contact.
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    /// SBR01 of 2000B.
    pub responsibility: Option<CoverageOrder>,
    pub payer: Payer837,
    pub subscriber: Person837,
    pub group_number: Option<String>,
    pub relationship: Relationship,
    /// 2010CA, when the patient is not the subscriber.
    pub patient: Option<Person837>,
    pub patient_control_number: String,
    pub total_charge: Decimal,
    /// CLM05-1: place of service (837P) or facility type (837I).
    pub place_of_service: Option<String>,
    pub frequency: Option<ClaimFrequency>,
    pub original_reference: Option<String>,
    pub prior_authorization: Option<String>,
    pub account_number: Option<String>,
    pub diagnoses: Vec<String>,
    /// 837P 2310B rendering, or 837I 2310A attending.
    pub rendering: Option<Provider837>,
    pub referring: Option<Provider837>,
    pub institutional: Option<InstitutionalInfo>,
    pub other_payers: Vec<OtherPayer837>,
    pub lines: Vec<Line837>,
}

fn some_text(value: Option<&str>) -> Option<String> {
    value.filter(|text| !text.is_empty()).map(str::to_string)
}

impl Claim837 {
    /// What our 837 writer puts in the file for `claim` (the submitter contact is taken to be
    /// the billing provider's, as `practice x12 gen-837` does).
    pub fn carried_by(claim: &Claim) -> Option<Claim837> {
        let coverage = claim.coverage()?;
        let institutional = claim.claim_type == ClaimType::Institutional;
        let is_self = coverage.relationship == Relationship::SelfInsured;
        let subscriber = &coverage.subscriber;
        let mut priors: Vec<_> = claim.prior_adjudications.iter().collect();
        priors.sort_by_key(|prior| prior.order);
        let provider = |p: &crate::domain::Provider| Provider837 {
            name: p.name.clone(),
            npi: p.npi.as_str().to_string(),
            taxonomy: p.taxonomy.as_deref().map(Into::into),
        };
        Some(Claim837 {
            claim_type: claim.claim_type,
            billing: BillingProvider837 {
                name: claim.billing.name.to_string(),
                npi: claim.billing.npi.as_str().to_string(),
                tax_id: Some(claim.billing.tax_id.as_str().to_string()),
                address: Some(claim.billing.address.clone()),
                taxonomy: claim.billing.taxonomy.as_deref().map(Into::into),
            },
            contact_name: Some(claim.billing.contact_name.to_string()),
            contact_phone: Some(claim.billing.contact_phone.to_string()),
            responsibility: Some(claim.responsibility),
            payer: Payer837 {
                name: coverage.payer.name.to_string(),
                payer_id: coverage.payer.payer_id.as_str().to_string(),
                address: coverage.payer.address.as_deref().cloned(),
                filing_indicator: Some(coverage.payer.filing_indicator.to_string()),
            },
            subscriber: Person837 {
                name: subscriber.name.clone(),
                id: Some(subscriber.member_id.to_string()),
                address: is_self.then(|| subscriber.address.clone()),
                birth_date: is_self.then_some(subscriber.birth_date),
                sex: is_self.then_some(subscriber.sex),
            },
            group_number: subscriber.group_number.as_deref().map(Into::into),
            relationship: coverage.relationship,
            patient: (!is_self).then(|| Person837 {
                name: claim.patient.name.clone(),
                id: None,
                address: Some(claim.patient.address.clone()),
                birth_date: Some(claim.patient.birth_date),
                sex: Some(claim.patient.sex),
            }),
            patient_control_number: claim.patient_control_number.to_string(),
            total_charge: claim.total_charge().amount,
            place_of_service: Some(match (&claim.institutional, institutional) {
                (Some(facility), true) => facility.facility_type.to_string(),
                _ => claim.place_of_service.as_str().to_string(),
            }),
            frequency: Some(claim.frequency),
            original_reference: if claim.frequency == ClaimFrequency::Original {
                None
            } else {
                claim.original_reference.as_deref().map(Into::into)
            },
            prior_authorization: some_text(claim.prior_authorization.as_deref()),
            account_number: some_text(claim.patient.account_number.as_deref()),
            diagnoses: claim.diagnoses.iter().take(12).map(|code| code.as_str().to_string()).collect(),
            rendering: (institutional || claim.rendering.npi != claim.billing.npi).then(|| provider(&claim.rendering)),
            referring: claim.referring.as_deref().map(provider),
            institutional: if institutional { claim.institutional.as_deref().cloned() } else { None },
            other_payers: priors
                .iter()
                .map(|prior| OtherPayer837 {
                    order: Some(prior.order),
                    relationship: Some(prior.relationship),
                    group_number: prior.subscriber.group_number.as_deref().map(Into::into),
                    subscriber: Person837 {
                        name: prior.subscriber.name.clone(),
                        id: Some(prior.subscriber.member_id.to_string()),
                        address: Some(prior.subscriber.address.clone()),
                        birth_date: None,
                        sex: None,
                    },
                    payer: Payer837 {
                        name: prior.payer.name.to_string(),
                        payer_id: prior.payer.payer_id.as_str().to_string(),
                        address: None,
                        filing_indicator: Some(prior.payer.filing_indicator.to_string()),
                    },
                    paid: Some(prior.paid.amount),
                    adjudicated_on: prior.lines.is_empty().then_some(prior.adjudicated_on),
                    claim_adjustments: prior.claim_adjustments.clone(),
                })
                .collect(),
            lines: claim
                .lines
                .iter()
                .map(|line| Line837 {
                    line_number: line.line_number,
                    procedure: line.procedure.as_str().to_string(),
                    modifiers: line.modifiers.iter().take(4).map(|m| m.as_str().to_string()).collect(),
                    charge: line.charge.amount,
                    units: line.units,
                    service_date: Some(line.service_date),
                    place_of_service: if institutional {
                        None
                    } else {
                        line.place_of_service
                            .as_ref()
                            .filter(|place| **place != claim.place_of_service)
                            .map(|place| place.as_str().to_string())
                    },
                    diagnosis_pointers: if institutional { Vec::new() } else { line.diagnosis_pointers.clone() },
                    revenue_code: if institutional { line.revenue_code.as_deref().map(Into::into) } else { None },
                    line_control_number: Some(line.id.0.simple().to_string().to_ascii_uppercase()),
                    adjudications: priors
                        .iter()
                        .filter_map(|prior| {
                            let adjudicated = prior.lines.iter().find(|entry| entry.line_number == line.line_number)?;
                            let same_code = adjudicated.procedure == line.procedure;
                            Some(LineAdjudication837 {
                                payer_id: prior.payer.payer_id.as_str().to_string(),
                                paid: adjudicated.paid.amount,
                                procedure: adjudicated.procedure.as_str().to_string(),
                                modifiers: if same_code {
                                    line.modifiers.iter().take(4).map(|m| m.as_str().to_string()).collect()
                                } else {
                                    Vec::new()
                                },
                                units: Some(line.units),
                                adjustments: adjudicated.adjustments.clone(),
                                adjudicated_on: Some(prior.adjudicated_on),
                            })
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}
