//! The payer's view of a received 837: each [`Claim837`] our reader produced becomes the
//! domain [`Claim`] that `Simulator::receive` adjudicates, with the prior payers' loops
//! (2320/2330/2430) as `prior_adjudications` so a secondary is paid by COB.
//!
//! The simulator only knows what the file says. Ids are derived from it: the claim's from its
//! patient control number (a resubmission names the same claim), a line's from its REF*6R,
//! the patient's from the subscriber's member id, name and birth date. Anything the payer would
//! refuse to read (a bad NPI, procedure or date, a missing member id) is an error naming the
//! claim by its position and the field; values are never quoted (they may be PHI).

use chrono::NaiveDate;
use practice_protocol::codes::{Icd10, Modifier, Npi, PlaceOfService, ProcedureCode, TaxId};
use practice_protocol::domain::{
    Address, BillingProvider, Claim, ClaimFrequency, ClaimLine, Coverage, CoverageOrder, Patient, Payer, PersonName,
    PriorAdjudication, PriorLineAdjudication, Provider, Relationship, Sex, Subscriber,
};
use practice_protocol::ids::{ClaimId, ClaimLineId, EncounterId, OrgId, PatientId, PayerId, ProviderId};
use practice_protocol::x12::read837::{Claim837, Line837, OtherPayer837, Payer837, Person837};
use practice_protocol::{Currency, Money, ValidationError};
use rust_decimal::Decimal;

/// Why a claim of a received 837 cannot be adjudicated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("claim {claim} of the file: {field} {problem}")]
pub struct From837Error {
    /// 1-based position of the CLM in the file.
    pub claim: usize,
    pub field: String,
    pub problem: &'static str,
}

struct At {
    claim: usize,
}

impl At {
    fn missing(&self, field: &str) -> From837Error {
        From837Error { claim: self.claim, field: field.to_string(), problem: "is missing" }
    }

    /// A parse failure, named by field only (its value may be PHI).
    fn invalid(&self, field: &str) -> impl FnOnce(ValidationError) -> From837Error + '_ {
        let field = field.to_string();
        move |_| From837Error { claim: self.claim, field, problem: "is not valid" }
    }
}

/// The claims of one 837 file, in file order.
pub fn claims_from_837(org: OrgId, claims: &[Claim837]) -> Result<Vec<Claim>, From837Error> {
    claims.iter().enumerate().map(|(index, claim)| claim_from_837(org, claim, &At { claim: index + 1 })).collect()
}

fn claim_from_837(org: OrgId, source: &Claim837, at: &At) -> Result<Claim, From837Error> {
    let pcn = source.patient_control_number.trim();
    if pcn.is_empty() {
        return Err(at.missing("patient control number (CLM01)"));
    }
    let currency = Currency::USD;
    let billing_address = source.billing.address.clone().ok_or_else(|| at.missing("billing provider address"))?;
    let billing = BillingProvider {
        name: source.billing.name.as_str().into(),
        npi: Npi::parse(&source.billing.npi).map_err(at.invalid("billing provider NPI"))?,
        tax_id: TaxId::parse(source.billing.tax_id.as_deref().ok_or_else(|| at.missing("billing provider tax id"))?)
            .map_err(at.invalid("billing provider tax id"))?,
        address: billing_address,
        taxonomy: source.billing.taxonomy.as_deref().map(Into::into),
        contact_name: source.contact_name.clone().unwrap_or_default().into(),
        contact_phone: source.contact_phone.clone().unwrap_or_default().into(),
    };
    let patient_person = source.patient.as_ref().unwrap_or(&source.subscriber);
    let birth_date = patient_person.birth_date.ok_or_else(|| at.missing("patient birth date"))?;
    let patient_address = patient_person.address.clone().ok_or_else(|| at.missing("patient address"))?;
    let member_id = source.subscriber.id.clone().filter(|id| !id.trim().is_empty());
    let member_id = member_id.ok_or_else(|| at.missing("subscriber member id"))?;
    let patient = Patient {
        id: PatientId::derived(&[
            b"sim-patient",
            member_id.as_bytes(),
            patient_person.name.last.as_bytes(),
            patient_person.name.first.as_bytes(),
            birth_date.to_string().as_bytes(),
        ]),
        name: patient_person.name.clone(),
        birth_date,
        sex: patient_person.sex.unwrap_or(Sex::Unknown),
        address: patient_address.clone(),
        account_number: source.account_number.as_deref().map(Into::into),
    };
    let responsibility = source.responsibility.unwrap_or(CoverageOrder::Primary);
    let fallback = Fallback { birth_date, address: &patient_address };
    let mut coverages = vec![Coverage {
        order: responsibility,
        payer: payer(&source.payer, at)?,
        subscriber: subscriber(&source.subscriber, member_id, source.group_number.clone(), &fallback),
        relationship: source.relationship,
    }];
    let first_service = source.lines.iter().filter_map(|line| line.service_date).min();
    let mut prior_adjudications = Vec::new();
    for (index, other) in source.other_payers.iter().enumerate() {
        let prior = prior(other, index, source, at, &fallback, first_service, currency)?;
        coverages.push(Coverage {
            order: prior.order,
            payer: prior.payer.clone(),
            subscriber: prior.subscriber.clone(),
            relationship: prior.relationship,
        });
        prior_adjudications.push(prior);
    }
    let lines = source.lines.iter().map(|line| claim_line(line, pcn, at, currency)).collect::<Result<Vec<_>, _>>()?;
    if lines.is_empty() {
        return Err(at.missing("service lines"));
    }
    let rendering = match &source.rendering {
        Some(provider) => Provider {
            id: ProviderId::derived(&[b"sim-provider", provider.npi.as_bytes()]),
            npi: Npi::parse(&provider.npi).map_err(at.invalid("rendering provider NPI"))?,
            name: provider.name.clone(),
            taxonomy: provider.taxonomy.as_deref().map(Into::into),
        },
        None => Provider {
            id: ProviderId::derived(&[b"sim-provider", billing.npi.as_str().as_bytes()]),
            npi: billing.npi.clone(),
            name: PersonName { last: billing.name.clone(), first: Default::default(), middle: None },
            taxonomy: billing.taxonomy.clone(),
        },
    };
    let referring = match &source.referring {
        Some(provider) => Some(Provider {
            id: ProviderId::derived(&[b"sim-provider", provider.npi.as_bytes()]),
            npi: Npi::parse(&provider.npi).map_err(at.invalid("referring provider NPI"))?,
            name: provider.name.clone(),
            taxonomy: provider.taxonomy.as_deref().map(Into::into),
        }),
        None => None,
    };
    let place = source.place_of_service.as_deref().ok_or_else(|| at.missing("place of service (CLM05)"))?;
    let claim = Claim {
        id: ClaimId::derived(&[b"sim-pcn", pcn.as_bytes()]),
        org,
        encounter_id: EncounterId::derived(&[b"sim-encounter", pcn.as_bytes()]),
        claim_type: source.claim_type,
        currency,
        billing,
        rendering,
        referring: referring.map(Box::new),
        patient,
        coverages,
        responsibility,
        patient_control_number: pcn.into(),
        frequency: source.frequency.unwrap_or(ClaimFrequency::Original),
        original_reference: source.original_reference.as_deref().map(Into::into),
        place_of_service: PlaceOfService::parse(place).map_err(at.invalid("place of service (CLM05)"))?,
        diagnoses: source
            .diagnoses
            .iter()
            .map(|code| Icd10::parse(code).map_err(at.invalid("diagnosis")))
            .collect::<Result<_, _>>()?,
        lines,
        prior_authorization: source.prior_authorization.as_deref().map(Into::into),
        institutional: source.institutional.clone().map(Box::new),
        prior_adjudications,
    };
    // What the domain refuses (a pointer out of range, a control number too long for CLP01...)
    // the payer refuses too: its answers could not carry it.
    if let Err(errors) = claim.validate() {
        let field = errors.first().map(|error| error.field.clone()).unwrap_or_default();
        return Err(From837Error { claim: at.claim, field, problem: "is not valid" });
    }
    Ok(claim)
}

/// What a non-self subscriber's loop may leave out: the payer here never uses it, so the
/// patient's own birth date and address stand in.
struct Fallback<'a> {
    birth_date: NaiveDate,
    address: &'a Address,
}

fn payer(source: &Payer837, at: &At) -> Result<Payer, From837Error> {
    Ok(Payer {
        payer_id: PayerId::parse(&source.payer_id).map_err(at.invalid("payer id"))?,
        name: source.name.as_str().into(),
        address: source.address.clone().map(Box::new),
        filing_indicator: source.filing_indicator.clone().unwrap_or_default().into(),
    })
}

fn subscriber(source: &Person837, member_id: String, group: Option<String>, fallback: &Fallback) -> Subscriber {
    Subscriber {
        member_id: member_id.into(),
        name: source.name.clone(),
        birth_date: source.birth_date.unwrap_or(fallback.birth_date),
        sex: source.sex.unwrap_or(Sex::Unknown),
        address: source.address.clone().unwrap_or_else(|| fallback.address.clone()),
        group_number: group.map(Into::into),
    }
}

fn prior(
    other: &OtherPayer837,
    index: usize,
    claim: &Claim837,
    at: &At,
    fallback: &Fallback,
    first_service: Option<NaiveDate>,
    currency: Currency,
) -> Result<PriorAdjudication, From837Error> {
    let payer = payer(&other.payer, at)?;
    let member_id = other.subscriber.id.clone().unwrap_or_default();
    let mut lines = Vec::new();
    let mut adjudicated_on = other.adjudicated_on;
    for line in &claim.lines {
        for entry in line.adjudications.iter().filter(|entry| entry.payer_id.trim() == payer.payer_id.as_str()) {
            adjudicated_on = adjudicated_on.or(entry.adjudicated_on);
            lines.push(PriorLineAdjudication {
                line_number: line.line_number,
                procedure: ProcedureCode::parse(&entry.procedure)
                    .map_err(at.invalid("prior payer's procedure (SVD03)"))?,
                paid: Money::new(entry.paid, currency),
                adjustments: entry.adjustments.clone(),
            });
        }
    }
    let paid = other.paid.unwrap_or_else(|| lines.iter().map(|line| line.paid.amount).sum::<Decimal>());
    // A prior payer's order is SBR01 of its 2320 loop; without it, payers are in file order.
    let order = other.order.unwrap_or(if index == 0 { CoverageOrder::Primary } else { CoverageOrder::Secondary });
    Ok(PriorAdjudication {
        order,
        payer,
        subscriber: subscriber(&other.subscriber, member_id, other.group_number.clone(), fallback),
        relationship: other.relationship.unwrap_or(Relationship::SelfInsured),
        paid: Money::new(paid, currency),
        adjudicated_on: adjudicated_on
            .or(first_service)
            .ok_or_else(|| at.missing("prior payer's adjudication date"))?,
        claim_adjustments: other.claim_adjustments.clone(),
        lines,
    })
}

fn claim_line(line: &Line837, pcn: &str, at: &At, currency: Currency) -> Result<ClaimLine, From837Error> {
    let id = line
        .line_control_number
        .as_deref()
        .and_then(|text| uuid::Uuid::parse_str(text).ok())
        .map(ClaimLineId)
        .unwrap_or_else(|| ClaimLineId::derived(&[b"sim-line", pcn.as_bytes(), &line.line_number.to_be_bytes()]));
    Ok(ClaimLine {
        id,
        line_number: line.line_number,
        procedure: ProcedureCode::parse(&line.procedure).map_err(at.invalid("procedure"))?,
        modifiers: line
            .modifiers
            .iter()
            .map(|modifier| Modifier::parse(modifier).map_err(at.invalid("modifier")))
            .collect::<Result<_, _>>()?,
        diagnosis_pointers: line.diagnosis_pointers.clone(),
        units: line.units,
        charge: Money::new(line.charge, currency),
        service_date: line.service_date.ok_or_else(|| at.missing("service date (DTP*472)"))?,
        place_of_service: match &line.place_of_service {
            Some(place) => Some(PlaceOfService::parse(place).map_err(at.invalid("line place of service"))?),
            None => None,
        },
        revenue_code: line.revenue_code.as_deref().map(Into::into),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::generate::{sample_claim, ClaimShape};
    use practice_protocol::claim::{Adjustment, AdjustmentGroup};
    use practice_protocol::domain::ClaimType;
    use practice_protocol::x12::read837::read_837;
    use practice_protocol::x12::write::{
        write_837, Delimiters, Envelope, GroupHeader, InterchangeHeader, Receiver, Submission837, Submitter, Usage,
    };

    fn file(claims: &[Claim]) -> Vec<u8> {
        let date = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let submission = Submission837 {
            envelope: Envelope {
                interchange: InterchangeHeader {
                    sender_qualifier: "ZZ".into(),
                    sender_id: "PRACTICEOS".into(),
                    receiver_qualifier: "ZZ".into(),
                    receiver_id: "SIM".into(),
                    date,
                    time: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                    control_number: 7,
                    usage: Usage::Test,
                    acknowledgment_requested: false,
                },
                group: GroupHeader {
                    application_sender: "PRACTICEOS".into(),
                    application_receiver: "SIM".into(),
                    control_number: 7,
                },
                delimiters: Delimiters::default(),
            },
            submitter: Submitter {
                name: "Practice".into(),
                id: "PRACTICEOS".into(),
                contact_name: "Billing".into(),
                contact_phone: "5555550100".into(),
            },
            receiver: Receiver { name: "SIM".into(), id: "SIM".into() },
            batch_reference: "7".into(),
        };
        write_837(&submission, ClaimType::Professional, claims).unwrap()
    }

    #[test]
    fn a_written_secondary_reads_back_as_the_claim_the_payer_adjudicates() {
        let shape = ClaimShape {
            codes: vec![("99214", Decimal::new(20000, 2)), ("36415", Decimal::new(2500, 2))],
            ..ClaimShape::default()
        };
        let mut claim = sample_claim(&shape, 9).unwrap();
        let primary = claim.coverages[0].clone();
        let mut secondary = primary.clone();
        secondary.order = CoverageOrder::Secondary;
        secondary.payer.payer_id = PayerId::parse("MCD01").unwrap();
        secondary.subscriber.member_id = "MCD999".into();
        let usd = |cents: i64| Money::new(Decimal::new(cents, 2), Currency::USD);
        let pr = |cents: i64| Adjustment {
            group: AdjustmentGroup::PR,
            reason: "2".into(),
            amount: usd(cents),
            quantity: None,
        };
        claim.prior_adjudications = vec![PriorAdjudication {
            order: CoverageOrder::Primary,
            payer: primary.payer.clone(),
            subscriber: primary.subscriber.clone(),
            relationship: primary.relationship,
            paid: usd(9000),
            adjudicated_on: claim.lines[0].service_date,
            claim_adjustments: Vec::new(),
            lines: vec![
                PriorLineAdjudication {
                    line_number: 1,
                    procedure: claim.lines[0].procedure.clone(),
                    paid: usd(8000),
                    adjustments: vec![
                        Adjustment {
                            group: AdjustmentGroup::CO,
                            reason: "45".into(),
                            amount: usd(10000),
                            quantity: None,
                        },
                        pr(2000),
                    ],
                },
                PriorLineAdjudication {
                    line_number: 2,
                    procedure: claim.lines[1].procedure.clone(),
                    paid: usd(1000),
                    adjustments: vec![pr(1500)],
                },
            ],
        }];
        claim.coverages.push(secondary);
        claim.responsibility = CoverageOrder::Secondary;
        let (read, diagnostics) = read_837(&file(std::slice::from_ref(&claim))[..]).unwrap();
        assert!(diagnostics.iter().all(|d| d.severity != practice_protocol::x12::Severity::Error), "{diagnostics:?}");
        let org = OrgId::derived(&[b"payer"]);
        let back = claims_from_837(org, &read).unwrap();
        let got = &back[0];
        assert_eq!(got.patient_control_number, claim.patient_control_number);
        assert_eq!(got.responsibility, CoverageOrder::Secondary);
        assert_eq!(got.coverage().unwrap().payer.payer_id.as_str(), "MCD01");
        assert_eq!(got.total_charge(), claim.total_charge());
        let lines: Vec<_> = got.lines.iter().map(|l| (l.id, l.procedure.clone(), l.charge, l.service_date)).collect();
        let sent: Vec<_> = claim.lines.iter().map(|l| (l.id, l.procedure.clone(), l.charge, l.service_date)).collect();
        assert_eq!(lines, sent, "REF*6R carries the line ids back");
        let prior = &got.prior_adjudications[0];
        assert_eq!(prior.paid, usd(9000));
        let by_line: Vec<_> = prior.lines.iter().map(|l| (l.line_number, l.paid, l.adjustments.clone())).collect();
        let expected: Vec<_> =
            claim.prior_adjudications[0].lines.iter().map(|l| (l.line_number, l.paid, l.adjustments.clone())).collect();
        assert_eq!(by_line, expected);
        assert_eq!(got.id, ClaimId::derived(&[b"sim-pcn", claim.patient_control_number.as_bytes()]));
    }

    #[test]
    fn an_unreadable_claim_names_its_position_and_field_but_not_the_value() {
        let claim = sample_claim(&ClaimShape::default(), 3).unwrap();
        let (mut read, _) = read_837(&file(&[claim.clone(), claim])[..]).unwrap();
        read[1].billing.npi = "1234567890".into();
        let error = claims_from_837(OrgId::derived(&[b"payer"]), &read).unwrap_err();
        assert_eq!(error.to_string(), "claim 2 of the file: billing provider NPI is not valid");
        read[1].lines[0].service_date = None;
        read[0].subscriber.id = None;
        let error = claims_from_837(OrgId::derived(&[b"payer"]), &read).unwrap_err();
        assert_eq!(error.to_string(), "claim 1 of the file: subscriber member id is missing");
    }
}
