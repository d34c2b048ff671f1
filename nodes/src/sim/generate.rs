//! Synthetic claims for the simulator's tests and the demo: valid professional claims with a
//! realistic spread of office codes, deterministic in (shape, number). Names and ids are
//! made up; nothing here is PHI.

use super::profile::PayerProfile;
use super::rng::SimRng;
use chrono::NaiveDate;
use practice_protocol::codes::{npi_with_check_digit, Icd10, Modifier, PlaceOfService, ProcedureCode, TaxId};
use practice_protocol::domain::{
    Address, BillingProvider, Claim, ClaimFrequency, ClaimLine, ClaimType, Coverage, CoverageOrder, Patient, Payer,
    PersonName, Provider, Relationship, Sex, Subscriber,
};
use practice_protocol::ids::{ClaimId, ClaimLineId, EncounterId, OrgId, PatientId, PayerId, ProviderId};
use practice_protocol::{Currency, Money, ValidationError};
use rust_decimal::Decimal;

/// What a generated claim bills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimShape {
    /// (procedure, charge) per line; "CODE-MM" adds modifier MM.
    pub codes: Vec<(&'static str, Decimal)>,
    pub diagnoses: Vec<&'static str>,
    pub service_date: NaiveDate,
    pub payer_id: &'static str,
    pub filing_indicator: &'static str,
}

impl Default for ClaimShape {
    fn default() -> Self {
        ClaimShape {
            codes: vec![("99213", Decimal::new(15000, 2))],
            diagnoses: vec!["E11.9", "I10"],
            service_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or(NaiveDate::MIN),
            payer_id: "P1",
            filing_indicator: "CI",
        }
    }
}

impl ClaimShape {
    pub fn office_visit(code: &'static str, charge: Decimal) -> ClaimShape {
        ClaimShape { codes: vec![(code, charge)], ..ClaimShape::default() }
    }

    /// A handful of typical encounters: a visit, a visit with labs, a procedure with
    /// laterality and an injection, a preventive visit.
    pub fn catalogue() -> Vec<ClaimShape> {
        let money = |cents| Decimal::new(cents, 2);
        vec![
            ClaimShape { codes: vec![("99214", money(21000))], ..ClaimShape::default() },
            ClaimShape {
                codes: vec![
                    ("99213", money(15000)),
                    ("36415", money(2500)),
                    ("80053", money(4800)),
                    ("85025", money(3500)),
                ],
                ..ClaimShape::default()
            },
            ClaimShape {
                codes: vec![("99213-25", money(15000)), ("20610-RT", money(31000)), ("96372", money(4000))],
                diagnoses: vec!["M17.11", "M25.561"],
                ..ClaimShape::default()
            },
            ClaimShape {
                codes: vec![("99396", money(26000)), ("93000", money(7500))],
                diagnoses: vec!["Z00.00"],
                ..ClaimShape::default()
            },
        ]
    }
}

fn address() -> Address {
    Address {
        line1: "100 Clinic Way".into(),
        line2: None,
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
    }
}

fn person(n: u64) -> PersonName {
    PersonName { last: format!("Testpatient{n}").into(), first: "Sam".into(), middle: None }
}

/// How many claims `sample_claim` gives each synthetic patient.
pub const CLAIMS_PER_PATIENT: u64 = 4;

/// Claim number `n` of `shape`: ids and the patient control number derive from `n`.
pub fn sample_claim(shape: &ClaimShape, n: u64) -> Result<Claim, ValidationError> {
    let org = OrgId::derived(&[b"sim-org"]);
    let id = ClaimId::derived(&[b"sim-claim", &n.to_be_bytes()]);
    // Every patient has up to CLAIMS_PER_PATIENT claims: statements consolidate them.
    let patient = n / CLAIMS_PER_PATIENT;
    let patient_id = PatientId::derived(&[b"sim-patient", &patient.to_be_bytes()]);
    let birth =
        NaiveDate::from_ymd_opt(1950 + (patient % 50) as i32, 1 + (patient % 12) as u32, 1 + (patient % 28) as u32)
            .unwrap_or(NaiveDate::MIN);
    let lines = shape
        .codes
        .iter()
        .enumerate()
        .map(|(index, (code, charge))| {
            let mut parts = code.split('-');
            let procedure = ProcedureCode::parse(parts.next().unwrap_or_default())?;
            let modifiers: Vec<Modifier> = parts.map(Modifier::parse).collect::<Result<_, _>>()?;
            let line_number = index as u32 + 1;
            Ok(ClaimLine {
                id: ClaimLineId::derived(&[id.0.as_bytes(), &line_number.to_be_bytes()]),
                line_number,
                procedure,
                modifiers,
                diagnosis_pointers: (1..=shape.diagnoses.len().min(4) as u8).collect(),
                units: Decimal::ONE,
                charge: Money::usd(*charge),
                service_date: shape.service_date,
                place_of_service: None,
                revenue_code: None,
            })
        })
        .collect::<Result<Vec<_>, ValidationError>>()?;
    let subscriber = Subscriber {
        member_id: format!("M{:09}", patient % 1_000_000_000).into(),
        name: person(patient),
        birth_date: birth,
        sex: Sex::Unknown,
        address: address(),
        group_number: None,
    };
    Ok(Claim {
        id,
        org,
        encounter_id: EncounterId::derived(&[b"sim-encounter", &n.to_be_bytes()]),
        claim_type: ClaimType::Professional,
        currency: Currency::USD,
        billing: BillingProvider {
            name: "Simulated Family Practice".into(),
            npi: npi("123456789")?,
            tax_id: TaxId::parse("361234567")?,
            address: address(),
            taxonomy: Some("207Q00000X".into()),
            contact_name: "Billing Office".into(),
            contact_phone: "2175550100".into(),
        },
        rendering: Provider {
            id: ProviderId::derived(&[b"sim-rendering"]),
            npi: npi("198765432")?,
            name: PersonName { last: "Careful".into(), first: "Dana".into(), middle: None },
            taxonomy: None,
        },
        referring: None,
        patient: Patient {
            id: patient_id,
            name: person(patient),
            birth_date: birth,
            sex: Sex::Unknown,
            address: address(),
            account_number: None,
        },
        coverages: vec![Coverage {
            order: CoverageOrder::Primary,
            payer: Payer {
                payer_id: PayerId::parse(shape.payer_id)?,
                name: format!("Payer {}", shape.payer_id).into(),
                address: None,
                filing_indicator: shape.filing_indicator.into(),
            },
            subscriber,
            relationship: Relationship::SelfInsured,
        }],
        responsibility: CoverageOrder::Primary,
        patient_control_number: format!("SIM{n:012}").into(),
        frequency: ClaimFrequency::Original,
        original_reference: None,
        place_of_service: PlaceOfService::parse("11")?,
        diagnoses: shape.diagnoses.iter().map(|dx| Icd10::parse(dx)).collect::<Result<_, _>>()?,
        lines,
        prior_authorization: None,
        institutional: None,
        prior_adjudications: Vec::new(),
    })
}

fn npi(stem: &str) -> Result<practice_protocol::codes::Npi, ValidationError> {
    npi_with_check_digit(stem)
        .ok_or_else(|| ValidationError::new("npi", practice_protocol::ValidationKind::malformed("nine digits", stem)))
}

/// `count` claims spread over `payers` and `days` service days from `start`, deterministic in
/// `seed`: shapes from the catalogue, charges jittered ±10%, claim numbers `first..`. A
/// patient keeps one payer, and their claims fall in separate windows of the period, so the
/// payer's duplicate check only fires on real resubmissions.
pub fn generate_claims(
    seed: u64,
    first: u64,
    count: u64,
    payers: &[PayerProfile],
    start: NaiveDate,
    days: i64,
) -> Result<Vec<Claim>, ValidationError> {
    let catalogue = ClaimShape::catalogue();
    if payers.is_empty() {
        return Err(ValidationError::new("payers", practice_protocol::ValidationKind::Missing));
    }
    (first..first + count)
        .map(|n| {
            let patient = n / CLAIMS_PER_PATIENT;
            let mut patient_rng = SimRng::stream(seed, &[b"patient", &patient.to_be_bytes()]);
            let payer = &payers[patient_rng.below(payers.len() as u64) as usize];
            let mut rng = SimRng::stream(seed, &[b"generate", &n.to_be_bytes()]);
            let mut shape = catalogue[rng.below(catalogue.len() as u64) as usize].clone();
            let window = (days / CLAIMS_PER_PATIENT as i64).max(1);
            let offset = (n % CLAIMS_PER_PATIENT) as i64 * window + rng.between(0, window - 1);
            shape.service_date = start + chrono::Duration::days(offset);
            let mut claim = sample_claim(&shape, n)?;
            for line in &mut claim.lines {
                let jitter = rng.fraction_between(900, 1100);
                line.charge.amount = super::profile::cents(line.charge.amount * jitter);
            }
            claim.coverages[0].payer.payer_id = payer.payer_id.clone();
            claim.coverages[0].payer.name = payer.name.as_str().into();
            claim.coverages[0].payer.filing_indicator = payer.kind.filing_indicator().into();
            Ok(claim)
        })
        .collect()
}
