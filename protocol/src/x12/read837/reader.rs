//! The 837P/837I reader (loops, parties and the claim header; the claim's content is in
//! `claim_content`): one pass over the lexer's segments, keeping the current billing
//! provider, subscriber and patient loops and the entity the last NM1 named (so N3/N4/DMG/PRV
//! land on the right party), and emitting a [`Claim837`] per CLM.

use super::claim_content::{coverage_order, date, relationship};
use super::elements::{components, text};
use super::model::{BillingProvider837, Claim837, OtherPayer837, Payer837, Person837, Provider837};
use crate::domain::{
    Address, ClaimFrequency, ClaimType, CoverageOrder, InstitutionalInfo, PersonName, Relationship, Sex,
};
use crate::x12::diagnostic::{Diagnostic, Position, X12Error};
use crate::x12::envelope::{EnvelopeChecker, EnvelopeEvent};
use crate::x12::lexer::SegmentReader;
use crate::x12::read::elements::{amount, required_amount};
use crate::x12::segment::Segment;
use chrono::NaiveDate;
use std::io::Read;

/// Read every claim of every 837 transaction set in `source`; other sets are skipped.
/// Returns the claims and the diagnostics (envelope, lexical and content), ordered by position.
pub fn read_837<R: Read>(source: R) -> Result<(Vec<Claim837>, Vec<Diagnostic>), X12Error> {
    let mut reader = SegmentReader::new(source);
    let mut checker = EnvelopeChecker::new();
    let mut diagnostics = Vec::new();
    let mut claims = Vec::new();
    let mut active: Option<SetReader> = None;
    while let Some(segment) = reader.next_segment() {
        let segment = segment?;
        match checker.on_segment(&segment, &mut diagnostics) {
            EnvelopeEvent::Body if segment.has_valid_id() => {
                if let Some(set) = &mut active {
                    set.segment(&segment, &mut claims, &mut diagnostics);
                }
            }
            EnvelopeEvent::Body => {}
            EnvelopeEvent::TransactionStart => {
                if let Some(set) = active.take() {
                    set.finish(&mut claims);
                }
                let context = checker.context();
                if context.transaction_set == "837" {
                    let version = context.version.clone().unwrap_or_default();
                    let version = if version.is_empty() { segment.text(3).unwrap_or("").to_string() } else { version };
                    let claim_type =
                        if version.contains("X223") { ClaimType::Institutional } else { ClaimType::Professional };
                    active = Some(SetReader::new(claim_type));
                }
            }
            _ => {
                if let Some(set) = active.take() {
                    set.finish(&mut claims);
                }
            }
        }
        if reader.has_diagnostics() {
            diagnostics.extend(reader.take_diagnostics());
        }
    }
    if let Some(set) = active.take() {
        set.finish(&mut claims);
    }
    let end = Position::at_offset(reader.segments_read() + 1, reader.offset());
    checker.finish(end, &mut diagnostics);
    diagnostics.extend(reader.take_diagnostics());
    diagnostics.sort_by_key(|diagnostic| (diagnostic.position.segment, !diagnostic.kind.is_lexical()));
    Ok((claims, diagnostics))
}

/// Which party the last NM1 (or HL) opened: where N3/N4/DMG/PRV/REF go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entity {
    None,
    Submitter,
    Billing,
    Subscriber,
    Payer,
    Patient,
    Referring,
    Rendering,
    OtherSubscriber,
    OtherPayer,
    Line,
    LineAdjudication,
}

/// Facility data of the claim being read, assembled at its end.
#[derive(Default)]
pub(super) struct Facility {
    pub(super) statement: Option<(NaiveDate, NaiveDate)>,
    pub(super) admission: Option<NaiveDate>,
    pub(super) codes: Option<(String, String, String)>,
}

pub(super) struct SetReader {
    pub(super) claim_type: ClaimType,
    pub(super) contact: (Option<String>, Option<String>),
    pub(super) billing: BillingProvider837,
    pub(super) responsibility: Option<CoverageOrder>,
    pub(super) subscriber_is_patient: bool,
    pub(super) group_number: Option<String>,
    pub(super) filing_indicator: Option<String>,
    pub(super) subscriber: Person837,
    pub(super) payer: Payer837,
    pub(super) patient: Option<Person837>,
    pub(super) patient_relationship: Option<Relationship>,
    pub(super) current: Option<(Claim837, Facility)>,
    pub(super) entity: Entity,
}

fn empty_person() -> Person837 {
    Person837 {
        name: PersonName { last: Default::default(), first: Default::default(), middle: None },
        id: None,
        address: None,
        birth_date: None,
        sex: None,
    }
}

impl SetReader {
    fn new(claim_type: ClaimType) -> Self {
        Self {
            claim_type,
            contact: (None, None),
            billing: BillingProvider837::default(),
            responsibility: None,
            subscriber_is_patient: true,
            group_number: None,
            filing_indicator: None,
            subscriber: empty_person(),
            payer: Payer837::default(),
            patient: None,
            patient_relationship: None,
            current: None,
            entity: Entity::None,
        }
    }

    fn finish(mut self, claims: &mut Vec<Claim837>) {
        self.close_claim(claims);
    }

    fn close_claim(&mut self, claims: &mut Vec<Claim837>) {
        if let Some((mut claim, facility)) = self.current.take() {
            if claim.claim_type == ClaimType::Institutional {
                claim.institutional = facility.statement.map(|(from, to)| {
                    let (admission_type, admission_source, patient_status) = facility.codes.unwrap_or_default();
                    InstitutionalInfo {
                        facility_type: claim.place_of_service.clone().unwrap_or_default().into(),
                        admission_type: admission_type.into(),
                        admission_source: admission_source.into(),
                        patient_status: patient_status.into(),
                        statement_from: from,
                        statement_to: to,
                        admission_date: facility.admission,
                    }
                });
            }
            claims.push(claim);
        }
    }

    fn segment(&mut self, segment: &Segment<'_>, claims: &mut Vec<Claim837>, diagnostics: &mut Vec<Diagnostic>) {
        match segment.id() {
            b"HL" => self.hierarchy(segment, claims),
            b"NM1" => self.name(segment),
            b"PER" if self.entity == Entity::Submitter => {
                self.contact = (text(segment, 2), text(segment, 4));
            }
            b"PRV" => {
                let taxonomy = text(segment, 3);
                match self.entity {
                    Entity::Billing => self.billing.taxonomy = taxonomy,
                    Entity::Rendering => {
                        if let Some(rendering) = self.claim_mut().and_then(|claim| claim.rendering.as_mut()) {
                            rendering.taxonomy = taxonomy;
                        }
                    }
                    _ => {}
                }
            }
            b"N3" | b"N4" => self.address(segment),
            b"DMG" => self.demographics(segment, diagnostics),
            b"SBR" => self.subscriber_information(segment),
            b"PAT" => self.patient_relationship = text(segment, 1).as_deref().and_then(relationship),
            b"REF" => self.reference(segment),
            b"CLM" => self.claim(segment, claims, diagnostics),
            b"DTP" => self.date(segment, diagnostics),
            b"CL1" => {
                if let Some((_, facility)) = &mut self.current {
                    let code = |n| text(segment, n).unwrap_or_default();
                    facility.codes = Some((code(1), code(2), code(3)));
                }
            }
            b"HI" => self.diagnoses(segment),
            b"AMT" if text(segment, 1).as_deref() == Some("D") => {
                let paid = amount(segment, 2, "payer paid amount (AMT02)", diagnostics);
                if let Some(other) = self.claim_mut().and_then(|claim| claim.other_payers.last_mut()) {
                    other.paid = paid;
                }
            }
            b"CAS" => self.adjustments(segment, diagnostics),
            b"LX" => self.line(segment, diagnostics),
            b"SV1" | b"SV2" => self.service(segment, diagnostics),
            b"SVD" => self.line_adjudication(segment, diagnostics),
            _ => {}
        }
    }

    pub(super) fn claim_mut(&mut self) -> Option<&mut Claim837> {
        self.current.as_mut().map(|(claim, _)| claim)
    }

    fn hierarchy(&mut self, segment: &Segment<'_>, claims: &mut Vec<Claim837>) {
        self.close_claim(claims);
        match segment.element(3) {
            b"20" => {
                self.billing = BillingProvider837::default();
                self.entity = Entity::Billing;
            }
            b"22" => {
                self.subscriber = empty_person();
                self.payer = Payer837::default();
                self.patient = None;
                self.patient_relationship = None;
                self.entity = Entity::Subscriber;
            }
            b"23" => {
                self.patient = Some(empty_person());
                self.entity = Entity::Patient;
            }
            _ => self.entity = Entity::None,
        }
    }

    fn name(&mut self, segment: &Segment<'_>) {
        let person = || PersonName {
            last: text(segment, 3).unwrap_or_default().into(),
            first: text(segment, 4).unwrap_or_default().into(),
            middle: text(segment, 5).map(Into::into),
        };
        let id = text(segment, 9);
        let in_claim = self.current.is_some();
        self.entity = match segment.element(1) {
            b"41" => Entity::Submitter,
            b"85" => {
                self.billing.name = text(segment, 3).unwrap_or_default();
                self.billing.npi = id.unwrap_or_default();
                Entity::Billing
            }
            b"IL" if in_claim => {
                if let Some(other) = self.claim_mut().and_then(|claim| claim.other_payers.last_mut()) {
                    other.subscriber.name = person();
                    other.subscriber.id = id;
                }
                Entity::OtherSubscriber
            }
            b"IL" => {
                self.subscriber.name = person();
                self.subscriber.id = id;
                Entity::Subscriber
            }
            b"PR" if in_claim => {
                if let Some(other) = self.claim_mut().and_then(|claim| claim.other_payers.last_mut()) {
                    other.payer.name = text(segment, 3).unwrap_or_default();
                    other.payer.payer_id = id.unwrap_or_default();
                }
                Entity::OtherPayer
            }
            b"PR" => {
                self.payer.name = text(segment, 3).unwrap_or_default();
                self.payer.payer_id = id.unwrap_or_default();
                Entity::Payer
            }
            b"QC" => {
                let patient = self.patient.get_or_insert_with(empty_person);
                patient.name = person();
                patient.id = id;
                Entity::Patient
            }
            b"DN" => {
                let provider = Provider837 { name: person(), npi: id.unwrap_or_default(), taxonomy: None };
                if let Some(claim) = self.claim_mut() {
                    claim.referring = Some(provider);
                }
                Entity::Referring
            }
            b"82" | b"71" => {
                let provider = Provider837 { name: person(), npi: id.unwrap_or_default(), taxonomy: None };
                if let Some(claim) = self.claim_mut() {
                    claim.rendering = Some(provider);
                }
                Entity::Rendering
            }
            _ => Entity::None,
        };
    }

    /// The address of the entity the last NM1 named.
    fn address_slot(&mut self) -> Option<&mut Option<Address>> {
        let entity = self.entity;
        match entity {
            Entity::Billing => Some(&mut self.billing.address),
            Entity::Subscriber => Some(&mut self.subscriber.address),
            Entity::Payer => Some(&mut self.payer.address),
            Entity::Patient => self.patient.as_mut().map(|patient| &mut patient.address),
            Entity::OtherSubscriber | Entity::OtherPayer => {
                let other = self.claim_mut()?.other_payers.last_mut()?;
                Some(if entity == Entity::OtherSubscriber {
                    &mut other.subscriber.address
                } else {
                    &mut other.payer.address
                })
            }
            _ => None,
        }
    }

    fn address(&mut self, segment: &Segment<'_>) {
        let Some(slot) = self.address_slot() else { return };
        let address = slot.get_or_insert_with(|| Address {
            line1: Default::default(),
            line2: None,
            city: Default::default(),
            state: Default::default(),
            postal_code: Default::default(),
        });
        if segment.is(b"N3") {
            address.line1 = text(segment, 1).unwrap_or_default().into();
            address.line2 = text(segment, 2).map(Into::into);
        } else {
            address.city = text(segment, 1).unwrap_or_default().into();
            address.state = text(segment, 2).unwrap_or_default().into();
            address.postal_code = text(segment, 3).unwrap_or_default().into();
        }
    }

    fn demographics(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let birth_date = date(segment, 2, diagnostics);
        let sex = match segment.element(3) {
            b"M" => Some(Sex::Male),
            b"F" => Some(Sex::Female),
            b"U" => Some(Sex::Unknown),
            _ => None,
        };
        let person = match self.entity {
            Entity::Subscriber => Some(&mut self.subscriber),
            Entity::Patient => self.patient.as_mut(),
            _ => None,
        };
        if let Some(person) = person {
            person.birth_date = birth_date;
            person.sex = sex;
        }
    }

    fn subscriber_information(&mut self, segment: &Segment<'_>) {
        let order = text(segment, 1).as_deref().and_then(coverage_order);
        let group_number = text(segment, 3);
        let filing_indicator = text(segment, 9);
        match &mut self.current {
            None => {
                self.responsibility = order;
                self.subscriber_is_patient = segment.element(2) == b"18";
                self.group_number = group_number;
                self.filing_indicator = filing_indicator;
            }
            Some((claim, _)) => {
                claim.other_payers.push(OtherPayer837 {
                    order,
                    relationship: text(segment, 2).as_deref().and_then(relationship),
                    group_number,
                    subscriber: empty_person(),
                    payer: Payer837 { filing_indicator, ..Payer837::default() },
                    paid: None,
                    adjudicated_on: None,
                    claim_adjustments: Vec::new(),
                });
                self.entity = Entity::None;
            }
        }
    }

    fn reference(&mut self, segment: &Segment<'_>) {
        let value = text(segment, 2);
        match (segment.element(1), self.entity) {
            (b"EI", Entity::Billing) => self.billing.tax_id = value,
            (b"6R", _) => {
                if let Some(line) = self.claim_mut().and_then(|claim| claim.lines.last_mut()) {
                    line.line_control_number = value;
                }
            }
            (qualifier, _) => {
                let Some(claim) = self.claim_mut() else { return };
                match qualifier {
                    b"G1" => claim.prior_authorization = value,
                    b"F8" => claim.original_reference = value,
                    b"EA" => claim.account_number = value,
                    _ => {}
                }
            }
        }
    }

    fn claim(&mut self, segment: &Segment<'_>, claims: &mut Vec<Claim837>, diagnostics: &mut Vec<Diagnostic>) {
        self.close_claim(claims);
        let facility = components(segment, 5);
        let frequency = match facility.get(2).map(String::as_str) {
            Some("1") => Some(ClaimFrequency::Original),
            Some("7") => Some(ClaimFrequency::Replacement),
            Some("8") => Some(ClaimFrequency::VoidPrior),
            _ => None,
        };
        let mut payer = self.payer.clone();
        payer.filing_indicator = self.filing_indicator.clone();
        let claim = Claim837 {
            claim_type: self.claim_type,
            billing: self.billing.clone(),
            contact_name: self.contact.0.clone(),
            contact_phone: self.contact.1.clone(),
            responsibility: self.responsibility,
            payer,
            subscriber: self.subscriber.clone(),
            group_number: self.group_number.clone(),
            relationship: if self.subscriber_is_patient {
                Relationship::SelfInsured
            } else {
                self.patient_relationship.unwrap_or(Relationship::Other)
            },
            patient: if self.subscriber_is_patient { None } else { self.patient.clone() },
            patient_control_number: text(segment, 1).unwrap_or_default(),
            total_charge: required_amount(segment, 2, "total claim charge (CLM02)", diagnostics),
            place_of_service: facility.first().filter(|code| !code.is_empty()).cloned(),
            frequency,
            original_reference: None,
            prior_authorization: None,
            account_number: None,
            diagnoses: Vec::new(),
            rendering: None,
            referring: None,
            institutional: None,
            other_payers: Vec::new(),
            lines: Vec::new(),
        };
        self.current = Some((claim, Facility::default()));
        self.entity = Entity::None;
    }
}
