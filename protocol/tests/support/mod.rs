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
        patient_control_number: format!("PCN{}", tag.to_ascii_uppercase()).into(),
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
    claim.referring = Some(Box::new(Provider {
        id: ProviderId::derived(&[b"referrer"]),
        npi: npi_with_check_digit("145678901").unwrap(),
        name: name("NGUYEN", "LINH"),
        taxonomy: None,
    }));
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
    claim.institutional = Some(Box::new(InstitutionalInfo {
        facility_type: "13".into(),
        admission_type: "1".into(),
        admission_source: "7".into(),
        patient_status: "01".into(),
        statement_from: date("2026-11-02"),
        statement_to: date("2026-11-02"),
        admission_date: None,
    }));
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

/// An 835 paying `claims` (primary): CO-45 and PR-2 per line, one denied line on the last
/// claim, a reversal of an earlier payment, and PLB interest and recoupment.
pub fn remittance(claims: &[Claim]) -> practice_protocol::x12::write::Remittance {
    use practice_protocol::x12::write::{
        ClaimPayment, ClaimPaymentStatus, PaymentMethod835, ProviderAdjustment, RemitPayee, RemitPayer, Remittance,
        ServicePayment,
    };
    let mut payments = Vec::new();
    for claim in claims {
        let mut services = Vec::new();
        let (mut paid, mut patient) = (Decimal::ZERO, Decimal::ZERO);
        for line in &claim.lines {
            let charge = line.charge.amount;
            let contractual = (charge * Decimal::from_str("0.2").unwrap()).round_dp(2);
            let coinsurance = (charge * Decimal::from_str("0.1").unwrap()).round_dp(2);
            let line_paid = charge - contractual - coinsurance;
            paid += line_paid;
            patient += coinsurance;
            services.push(ServicePayment {
                procedure: line.procedure.clone(),
                modifiers: line.modifiers.clone(),
                revenue_code: line.revenue_code.as_deref().map(Into::into),
                original_procedure: None,
                charge: line.charge,
                paid: Money::usd(line_paid),
                units: Some(line.units),
                service_date: Some(line.service_date),
                adjustments: vec![
                    adjustment(AdjustmentGroup::CO, "45", &contractual.to_string()),
                    adjustment(AdjustmentGroup::PR, "2", &coinsurance.to_string()),
                ],
                line_control_number: Some(line.id.0.simple().to_string().to_ascii_uppercase()),
                allowed: Some(Money::usd(charge - contractual)),
                remark_codes: vec!["N130".into()],
            });
        }
        payments.push(ClaimPayment {
            patient_control_number: claim.patient_control_number.to_string(),
            status: ClaimPaymentStatus::ProcessedAsPrimary,
            charge: claim.total_charge(),
            paid: Money::usd(paid),
            patient_responsibility: Money::usd(patient),
            filing_indicator: "12".into(),
            payer_claim_control_number: format!("PAYER{}", claim.patient_control_number),
            facility_code: Some(claim.place_of_service.as_str().to_string()),
            frequency: Some("1".into()),
            patient_name: claim.patient.name.clone(),
            member_id: claim.coverage().unwrap().subscriber.member_id.to_string(),
            received_date: Some(date("2026-11-05")),
            adjustments: Vec::new(),
            services,
        });
    }
    payments.push(ClaimPayment {
        patient_control_number: "PCNREVERSED".into(),
        status: ClaimPaymentStatus::Reversal,
        charge: usd("-100.00"),
        paid: usd("-80.00"),
        patient_responsibility: usd("0"),
        filing_indicator: "12".into(),
        payer_claim_control_number: "PAYEROLD1".into(),
        facility_code: Some("11".into()),
        frequency: Some("1".into()),
        patient_name: name("RIVERA", "ANA"),
        member_id: "U1234567801".into(),
        received_date: None,
        adjustments: vec![adjustment(AdjustmentGroup::CO, "45", "-20.00")],
        services: Vec::new(),
    });
    Remittance {
        method: PaymentMethod835::Check,
        payment_date: date("2026-11-20"),
        trace_number: "CHK0001234".into(),
        payer: RemitPayer {
            name: "UNITED HEALTH PLAN".into(),
            payer_id: "87726".into(),
            tax_id: TaxId::parse("41-1289245").unwrap(),
            address: address("9900 PAYER PARKWAY", "62702"),
            technical_contact: "EDI SUPPORT".into(),
            technical_phone: "8005550199".into(),
        },
        payee: RemitPayee {
            name: "LAKESIDE FAMILY MEDICINE".into(),
            npi: npi_with_check_digit("123456789").unwrap(),
            tax_id: TaxId::parse("37-1234567").unwrap(),
            address: Some(address("400 LAKE SHORE DRIVE", "627011234")),
        },
        production_date: Some(date("2026-11-19")),
        claims: payments,
        provider_adjustments: vec![
            ProviderAdjustment { reason: "L6".into(), reference: None, amount: usd("-1.25") },
            ProviderAdjustment { reason: "WO".into(), reference: Some("PAYEROLD1".into()), amount: usd("10.00") },
        ],
    }
}

/// A 277CA accepting every claim but the last, which is rejected.
pub fn claim_acknowledgment(claims: &[Claim]) -> practice_protocol::x12::write::ClaimAcknowledgment {
    use practice_protocol::x12::write::{ClaimAcknowledgment, ClaimStatusEntry, ProviderClaims, StatusCode};
    let entries = claims
        .iter()
        .enumerate()
        .map(|(index, claim)| {
            let accepted = index + 1 < claims.len();
            ClaimStatusEntry {
                patient_name: claim.patient.name.clone(),
                member_id: claim.coverage().unwrap().subscriber.member_id.to_string(),
                patient_control_number: claim.patient_control_number.to_string(),
                accepted,
                status: if accepted {
                    StatusCode { category: "A2".into(), code: "20".into(), entity: None }
                } else {
                    StatusCode { category: "A3".into(), code: "21".into(), entity: Some("PR".into()) }
                },
                charge: claim.total_charge(),
                payer_claim_control_number: accepted.then(|| format!("PAYER{}", claim.patient_control_number)),
                service_from: date("2026-11-02"),
                service_to: date("2026-11-03"),
            }
        })
        .collect();
    ClaimAcknowledgment {
        reference: "ACK0001".into(),
        source_name: "ACME CLEARINGHOUSE".into(),
        source_id: "ACMECH".into(),
        source_trace: "TRACE0001".into(),
        received_date: date("2026-11-23"),
        processed_date: date("2026-11-23"),
        receiver_name: "LAKESIDE FAMILY MEDICINE".into(),
        receiver_id: "LFM0001".into(),
        batch_reference: "BATCH1".into(),
        providers: vec![ProviderClaims {
            name: "LAKESIDE FAMILY MEDICINE".into(),
            npi: npi_with_check_digit("123456789").unwrap(),
            trace_number: "PROV0001".into(),
            claims: entries,
        }],
    }
}

/// A 277 answer for `claim` under trace `trace`: with `paid`, finalized (F1:65) with the
/// adjudication date, the payer's claim number and the check that paid it; without, pending
/// (`pending`, e.g. P1:20). A dependent patient gets the HL 23 level.
pub fn status_answer(
    claim: &Claim,
    trace: &str,
    pending: (&str, &str, Option<&str>),
    paid: Option<&str>,
) -> practice_protocol::x12::write::ClaimStatusAnswer {
    use practice_protocol::x12::write::{ClaimStatusAnswer, PaymentReference, StatusCode};
    let coverage = claim.coverage().unwrap();
    let status = match paid {
        Some(_) => StatusCode { category: "F1".into(), code: "65".into(), entity: None },
        None => StatusCode { category: pending.0.into(), code: pending.1.into(), entity: pending.2.map(Into::into) },
    };
    ClaimStatusAnswer {
        subscriber_name: coverage.subscriber.name.clone(),
        member_id: coverage.subscriber.member_id.to_string(),
        patient_name: (coverage.relationship != Relationship::SelfInsured).then(|| claim.patient.name.clone()),
        trace_number: trace.into(),
        status,
        effective_date: date("2026-11-20"),
        charge: claim.total_charge(),
        paid: paid.map(usd),
        adjudicated_on: paid.map(|_| date("2026-11-18")),
        payment: paid.map(|_| PaymentReference {
            method: "CHK".into(),
            issued_on: date("2026-11-20"),
            number: "CHK0001234".into(),
        }),
        payer_claim_control_number: paid.map(|_| format!("PAYER{}", claim.patient_control_number)),
        patient_control_number: claim.patient_control_number.to_string(),
        service_from: claim.lines.iter().map(|line| line.service_date).min().unwrap(),
        service_to: claim.lines.iter().map(|line| line.service_date).max().unwrap(),
    }
}

/// One 277 set from the primary payer to the practice, for its billing provider.
pub fn status_response(
    answers: Vec<practice_protocol::x12::write::ClaimStatusAnswer>,
) -> practice_protocol::x12::write::StatusResponse {
    practice_protocol::x12::write::StatusResponse {
        reference: "STATUS0001".into(),
        payer_name: "UNITED HEALTH PLAN".into(),
        payer_id: "87726".into(),
        receiver_name: "LAKESIDE FAMILY MEDICINE".into(),
        receiver_id: "LFM0001".into(),
        provider_name: "LAKESIDE FAMILY MEDICINE".into(),
        provider_npi: npi_with_check_digit("123456789").unwrap(),
        claims: answers,
    }
}
