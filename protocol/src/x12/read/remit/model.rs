//! The typed 835 health care claim payment/advice (005010X221A1), as read. Serialized to the
//! JSON `practice x12 parse` prints (money as decimal strings; see `docs/x12-json.md`).

use crate::x12::read::elements::Procedure;
use crate::x12::read::text::Text;
use rust_decimal::Decimal;
use serde::Serialize;

/// One 835 transaction set: the payment, the parties, every claim, provider adjustments, and
/// whether it all balances.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Remittance {
    pub payment: Payment,
    /// DTM*405 production date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production_date: Option<Text>,
    pub payer: Party,
    pub payee: Party,
    /// Header references (REF*EV receiver id, REF*F2 version) before the N1 loops.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    pub claims: Vec<ClaimPayment>,
    pub provider_adjustments: Vec<ProviderAdjustment>,
    pub totals: Totals,
    /// BPR02 = ΣCLP04 − ΣPLB, and every claim balances.
    pub balanced: bool,
}

/// BPR financial information and TRN reassociation trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Payment {
    /// BPR02 total actual provider payment.
    pub amount: Decimal,
    /// BPR01: `I` remittance with payment, `H` notification only, `C` payment with advice, …
    pub handling: Text,
    /// BPR03: `C` credit, `D` debit.
    pub credit_debit: Text,
    /// BPR04: `ACH`, `CHK`, `NON`, `BOP`, `FWT`.
    pub method: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Text>,
    /// BPR16 check issue or EFT effective date (CCYYMMDD as written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<Text>,
    /// TRN02 check or EFT trace number: ties the remittance to the deposit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_number: Option<Text>,
    /// TRN03 payer identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub originator: Option<Text>,
}

/// An N1 loop (payer 1000A or payee 1000B).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Party {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_qualifier: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

/// A REF segment: qualifier and value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reference {
    pub qualifier: Text,
    pub value: Text,
}

/// A DTM segment: qualifier and date as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Dated {
    pub qualifier: Text,
    pub date: Text,
}

/// An AMT (amount) or QTY (quantity) segment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Quantified {
    pub qualifier: Text,
    pub value: Decimal,
}

/// One reason/amount/quantity triplet of a CAS segment, with the CAS group code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Adjustment {
    /// CO, PR, OA, PI, CR.
    pub group: Text,
    /// CARC.
    pub reason: Text,
    pub amount: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
}

/// An NM1 name in the claim loop (patient QC, insured IL, corrected patient/insured 74, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Name {
    /// NM101 entity code.
    pub entity: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_or_organization: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_qualifier: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
}

/// MIA (inpatient) or MOA (outpatient) adjudication: amounts and remark codes by position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Adjudication {
    /// Non-empty elements other than remark codes, by 1-based position (MIA04 → 4).
    pub elements: Vec<PositionedValue>,
    /// Remark codes (MIA05/20-24, MOA03-07).
    pub remarks: Vec<Text>,
}

/// One element of a segment kept by position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PositionedValue {
    pub position: u16,
    pub value: Text,
}

/// One CLP loop (2100): a claim's payment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClaimPayment {
    /// CLP01: our claim id as we sent it (CLM01).
    pub patient_control_number: Text,
    /// CLP02: 1/2/3 processed as primary/secondary/tertiary, 4 denied, 19-23, 22 reversal, 25.
    pub status: Text,
    /// CLP02 = 22: reversal of a previous payment (amounts are negated by the payer).
    pub reversal: bool,
    pub charge: Decimal,
    pub paid: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_responsibility: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filing_indicator: Option<Text>,
    /// CLP07: the payer's claim control number (ICN/DCN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_claim_control_number: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facility_type: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency: Option<Text>,
    pub adjustments: Vec<Adjustment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insured: Option<Name>,
    /// NM1*74 corrected patient/insured name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected: Option<Name>,
    /// Other NM1 in the claim loop: service provider 82, crossover carrier TT, priority payer PR.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_names: Vec<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inpatient: Option<Adjudication>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outpatient: Option<Adjudication>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<Dated>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amounts: Vec<Quantified>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<Quantified>,
    pub services: Vec<ServicePayment>,
    /// CLP03 − CLP04 = all CAS amounts (claim and lines), and with lines ΣSVC03 − claim CAS = CLP04.
    pub balanced: bool,
}

/// One SVC loop (2110): a service line's payment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServicePayment {
    /// SVC01-2 procedure code as adjudicated.
    pub procedure: Text,
    /// SVC01-3 … SVC01-6.
    pub modifiers: Vec<Text>,
    /// SVC01-1: `HC` (CPT/HCPCS), `NU` (revenue code), `AD`, `N4`, …
    pub procedure_qualifier: Text,
    /// SVC01-7.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procedure_description: Option<Text>,
    pub charge: Decimal,
    pub paid: Decimal,
    /// SVC04 NUBC revenue code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue_code: Option<Text>,
    /// SVC05 units of service paid (1 when absent).
    pub units: Decimal,
    /// SVC06: the procedure as billed, when the payer adjudicated a different one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_procedure: Option<Procedure>,
    /// SVC07 original units of service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_units: Option<Decimal>,
    /// REF*6R: our line item control number (REF*6G on the 837).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_item_control_number: Option<Text>,
    pub adjustments: Vec<Adjustment>,
    /// LQ*HE remittance advice remark codes (RARCs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remarks: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<Dated>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amounts: Vec<Quantified>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<Quantified>,
    /// SVC02 − SVC03 = Σ line CAS.
    pub balanced: bool,
}

/// One PLB reason/reference/amount pair: money the payer adds or withholds outside claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProviderAdjustment {
    /// PLB01 provider identifier.
    pub provider_id: Text,
    /// PLB02 fiscal period date.
    pub fiscal_period_date: Text,
    /// Adjustment reason code (PLB03-1: WO overpayment recovery, L6 interest, FB forwarding, …).
    pub reason: Text,
    /// PLB03-2 reference (e.g. the original claim's ICN for a WO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Text>,
    /// Positive reduces the payment, negative increases it.
    pub amount: Decimal,
}

/// Sums the balance check is made of.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub claims: u64,
    pub charge: Decimal,
    /// ΣCLP04.
    pub paid: Decimal,
    /// ΣPLB amounts.
    pub provider_adjustments: Decimal,
    /// ΣCLP04 − ΣPLB: what BPR02 should say.
    pub expected_payment: Decimal,
}
