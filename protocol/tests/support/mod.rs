//! Fixture claims for the X12 writer tests: professional and institutional, primary and
//! secondary (with the primary's adjudication), a dependent patient, and a replacement claim.
//! All names, ids and addresses are invented.

#![allow(dead_code)]

use chrono::{NaiveDate, NaiveTime};
use practice_protocol::claim::{Adjustment, AdjustmentGroup};
use practice_protocol::codes::{npi_with_check_digit, Icd10, Modifier, PlaceOfService, ProcedureCode, TaxId};
use practice_protocol::domain::claim::PriorLineAdjudication;
use practice_protocol::domain::{
    Address, BillingProvider, Claim, ClaimFrequency, ClaimLine, ClaimType, Coverage, CoverageOrder, InstitutionalInfo,
    Patient, Payer, PersonName, PriorAdjudication, Provider, Relationship, Sex, Subscriber,
};
use practice_protocol::ids::{ClaimId, ClaimLineId, EncounterId, OrgId, PatientId, PayerId, ProviderId};
use practice_protocol::x12::write::{
    Delimiters, Envelope, GroupHeader, InterchangeHeader, Receiver, Submission837, Submitter, Usage,
};
use practice_protocol::Money;
use rust_decimal::Decimal;
use std::str::FromStr;

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

pub fn usd(text: &str) -> Money {
    Money::usd(Decimal::from_str(text).unwrap())
}

fn name(last: &str, first: &str) -> PersonName {
    PersonName { last: last.into(), first: first.into(), middle: None }
}

fn address(line1: &str, zip: &str) -> Address {
    Address {
        line1: line1.into(),
        line2: None,
        city: "SPRINGFIELD".into(),
        state: "IL".into(),
        postal_code: zip.into(),
    }
}

pub fn envelope(control_number: u32) -> Envelope {
    Envelope {
        interchange: InterchangeHeader {
            sender_qualifier: "ZZ".into(),
            sender_id: "PRACTICEOS".into(),
            receiver_qualifier: "ZZ".into(),
            receiver_id: "CLEARHOUSE".into(),
            date: date("2026-11-23"),
            time: NaiveTime::from_hms_opt(10, 30, 0).unwrap(),
            control_number,
            usage: Usage::Test,
            acknowledgment_requested: false,
        },
        group: GroupHeader {
            application_sender: "PRACTICEOS".into(),
            application_receiver: "CLEARHOUSE".into(),
            control_number,
        },
        delimiters: Delimiters { newline: true, ..Delimiters::default() },
    }
}

pub fn submission(control_number: u32) -> Submission837 {
    Submission837 {
        envelope: envelope(control_number),
        submitter: Submitter {
            name: "LAKESIDE FAMILY MEDICINE".into(),
            id: "LFM0001".into(),
            contact_name: "BILLING OFFICE".into(),
            contact_phone: "2175550100".into(),
        },
        receiver: Receiver { name: "ACME CLEARINGHOUSE".into(), id: "ACMECH".into() },
        batch_reference: format!("BATCH{control_number}"),
    }
}

fn payer(id: &str, payer_name: &str, filing: &str) -> Payer {
    Payer {
        payer_id: PayerId::parse(id).unwrap(),
        name: payer_name.into(),
        address: None,
        filing_indicator: filing.into(),
    }
}

fn self_subscriber(member: &str, group: Option<&str>) -> Subscriber {
    Subscriber {
        member_id: member.into(),
        name: name("RIVERA", "ANA"),
        birth_date: date("1980-04-12"),
        sex: Sex::Female,
        address: address("12 ELM STREET", "62701"),
        group_number: group.map(Into::into),
    }
}

fn billing() -> BillingProvider {
    BillingProvider {
        name: "LAKESIDE FAMILY MEDICINE".into(),
        npi: npi_with_check_digit("123456789").unwrap(),
        tax_id: TaxId::parse("37-1234567").unwrap(),
        address: address("400 LAKE SHORE DRIVE", "627011234"),
        taxonomy: Some("207Q00000X".into()),
        contact_name: "BILLING OFFICE".into(),
        contact_phone: "2175550100".into(),
    }
}

fn clinician() -> Provider {
    Provider {
        id: ProviderId::derived(&[b"clinician"]),
        npi: npi_with_check_digit("198765432").unwrap(),
        name: PersonName { last: "OKAFOR".into(), first: "JAMES".into(), middle: Some("T".into()) },
        taxonomy: Some("207Q00000X".into()),
    }
}

fn line(claim: &str, number: u32, code: &str, modifiers: &[&str], charge: &str, revenue: Option<&str>) -> ClaimLine {
    ClaimLine {
        id: ClaimLineId::derived(&[claim.as_bytes(), &number.to_be_bytes()]),
        line_number: number,
        procedure: ProcedureCode::parse(code).unwrap(),
        modifiers: modifiers.iter().map(|m| Modifier::parse(m).unwrap()).collect(),
        diagnosis_pointers: if number == 1 { vec![1, 2] } else { vec![1] },
        units: Decimal::ONE,
        charge: usd(charge),
        service_date: date("2026-11-02"),
        place_of_service: None,
        revenue_code: revenue.map(Into::into),
    }
}

/// A primary professional claim: office visit and a lab, patient is the subscriber.
pub fn professional_primary(tag: &str) -> Claim {
    Claim {
        id: ClaimId::derived(&[tag.as_bytes()]),
        org: OrgId::derived(&[b"lakeside"]),
        encounter_id: EncounterId::derived(&[tag.as_bytes()]),
        claim_type: ClaimType::Professional,
        currency: practice_protocol::Currency::USD,
        billing: billing(),
        rendering: clinician(),
        referring: None,
        patient: Patient {
            id: PatientId::derived(&[b"ana"]),
            name: name("RIVERA", "ANA"),
            birth_date: date("1980-04-12"),
            sex: Sex::Female,
            address: address("12 ELM STREET", "62701"),
            account_number: Some("ACCT1001".into()),
        },
        coverages: vec![
            Coverage {
                order: CoverageOrder::Primary,
                payer: payer("87726", "UNITED HEALTH PLAN", "CI"),
                subscriber: self_subscriber("U1234567801", Some("GRP100")),
                relationship: Relationship::SelfInsured,
            },
            Coverage {
                order: CoverageOrder::Secondary,
                payer: payer("60054", "AETNA HEALTH", "CI"),
                subscriber: self_subscriber("W987654321", None),
                relationship: Relationship::SelfInsured,
            },
        ],
        responsibility: CoverageOrder::Primary,
        patient_control_number: format!("PCN{}", tag.to_ascii_uppercase()),
        frequency: ClaimFrequency::Original,
        original_reference: None,
        place_of_service: PlaceOfService::parse("11").unwrap(),
        diagnoses: vec![Icd10::parse("E11.9").unwrap(), Icd10::parse("I10").unwrap()],
        lines: vec![line(tag, 1, "99214", &["25"], "185.00", None), line(tag, 2, "82947", &[], "24.50", None)],
        prior_authorization: Some("AUTH778".into()),
        institutional: None,
        prior_adjudications: Vec::new(),
    }
}

/// The same visit billed to the secondary payer, carrying the primary's adjudication.
pub fn professional_secondary(tag: &str) -> Claim {
    let mut claim = professional_primary(tag);
    let primary = claim.coverages[0].clone();
    claim.responsibility = CoverageOrder::Secondary;
    claim.prior_adjudications = vec![PriorAdjudication {
        order: CoverageOrder::Primary,
        payer: primary.payer,
        subscriber: primary.subscriber,
        relationship: primary.relationship,
        paid: usd("120.40"),
        adjudicated_on: date("2026-11-16"),
        claim_adjustments: Vec::new(),
        lines: vec![
            PriorLineAdjudication {
                line_number: 1,
                procedure: ProcedureCode::parse("99214").unwrap(),
                paid: usd("104.00"),
                adjustments: vec![
                    adjustment(AdjustmentGroup::CO, "45", "55.00"),
                    adjustment(AdjustmentGroup::PR, "2", "26.00"),
                ],
            },
            PriorLineAdjudication {
                line_number: 2,
                procedure: ProcedureCode::parse("82947").unwrap(),
                paid: usd("16.40"),
                adjustments: vec![
                    adjustment(AdjustmentGroup::CO, "45", "4.00"),
                    adjustment(AdjustmentGroup::PR, "3", "4.10"),
                ],
            },
        ],
    }];
    claim
}

fn adjustment(group: AdjustmentGroup, reason: &str, amount: &str) -> Adjustment {
    Adjustment { group, reason: reason.into(), amount: usd(amount), quantity: None }
}

/// A child covered by a parent's plan, with a referring provider.
pub fn professional_dependent(tag: &str) -> Claim {
    let mut claim = professional_primary(tag);
    claim.patient.name = name("RIVERA", "LUCAS");
    claim.patient.birth_date = date("2015-09-30");
    claim.patient.sex = Sex::Male;
    claim.patient.account_number = None;
    claim.coverages.truncate(1);
    claim.coverages[0].relationship = Relationship::Child;
    claim.referring = Some(Provider {
        id: ProviderId::derived(&[b"referrer"]),
        npi: npi_with_check_digit("145678901").unwrap(),
        name: name("NGUYEN", "LINH"),
        taxonomy: None,
    });
    claim.lines.truncate(1);
    claim.prior_authorization = None;
    claim
}

/// A replacement (frequency 7) of a claim the payer numbered.
pub fn professional_replacement(tag: &str) -> Claim {
    let mut claim = professional_primary(tag);
    claim.frequency = ClaimFrequency::Replacement;
    claim.original_reference = Some("PAYERCLM20261101".into());
    claim
}

/// An outpatient hospital claim: emergency visit and an x-ray.
pub fn institutional_primary(tag: &str) -> Claim {
    let mut claim = professional_primary(tag);
    claim.claim_type = ClaimType::Institutional;
    claim.place_of_service = PlaceOfService::parse("22").unwrap();
    claim.institutional = Some(InstitutionalInfo {
        facility_type: "13".into(),
        admission_type: "1".into(),
        admission_source: "7".into(),
        patient_status: "01".into(),
        statement_from: date("2026-11-02"),
        statement_to: date("2026-11-02"),
        admission_date: None,
    });
    claim.lines = vec![
        line(tag, 1, "99284", &[], "640.00", Some("0450")),
        line(tag, 2, "71046", &["26"], "210.00", Some("0320")),
    ];
    claim
}

pub fn institutional_secondary(tag: &str) -> Claim {
    let mut claim = institutional_primary(tag);
    let primary = claim.coverages[0].clone();
    claim.responsibility = CoverageOrder::Secondary;
    claim.prior_adjudications = vec![PriorAdjudication {
        order: CoverageOrder::Primary,
        payer: primary.payer,
        subscriber: primary.subscriber,
        relationship: primary.relationship,
        paid: usd("512.00"),
        adjudicated_on: date("2026-11-18"),
        claim_adjustments: vec![adjustment(AdjustmentGroup::PR, "1", "150.00")],
        lines: vec![
            PriorLineAdjudication {
                line_number: 1,
                procedure: ProcedureCode::parse("99284").unwrap(),
                paid: usd("380.00"),
                adjustments: vec![adjustment(AdjustmentGroup::CO, "45", "110.00")],
            },
            PriorLineAdjudication {
                line_number: 2,
                procedure: ProcedureCode::parse("71046").unwrap(),
                paid: usd("132.00"),
                adjustments: vec![adjustment(AdjustmentGroup::CO, "45", "78.00")],
            },
        ],
    }];
    claim
}
