//! 835 health care claim payment/advice (005010X221A1), for the payer simulator: a typed
//! [`Remittance`] in, a balanced file out. BPR02 is computed as ΣCLP04 − ΣPLB, so the file
//! balances by construction.

use super::claim837::cob::adjustments;
use super::envelope::{enveloped, Envelope, TransactionKind, X12Writer};
use super::error::X12WriteError;
use super::parties;
use crate::claim::Adjustment;
use crate::codes::{Modifier, Npi, ProcedureCode, TaxId};
use crate::domain::{Address, PersonName};
use crate::money::Money;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// BPR04.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod835 {
    Check,
    Ach,
    /// No money moves (all denied, or offsets cancel): BPR01 H, BPR04 NON.
    NonPayment,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemitPayer {
    pub name: String,
    /// REF*2U: the payer's identifier.
    pub payer_id: String,
    /// TRN03 is "1" followed by this nine-digit tax id.
    pub tax_id: TaxId,
    pub address: Address,
    /// PER*BL: the payer's technical contact (required by the guide).
    pub technical_contact: String,
    pub technical_phone: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemitPayee {
    pub name: String,
    pub npi: Npi,
    pub tax_id: TaxId,
    #[serde(default)]
    pub address: Option<Address>,
}

/// CLP02.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimPaymentStatus {
    ProcessedAsPrimary,
    ProcessedAsSecondary,
    ProcessedAsTertiary,
    Denied,
    ProcessedAsPrimaryForwarded,
    /// 22: reversal of a previous payment (amounts negated).
    Reversal,
}

impl ClaimPaymentStatus {
    pub fn code(self) -> &'static str {
        match self {
            ClaimPaymentStatus::ProcessedAsPrimary => "1",
            ClaimPaymentStatus::ProcessedAsSecondary => "2",
            ClaimPaymentStatus::ProcessedAsTertiary => "3",
            ClaimPaymentStatus::Denied => "4",
            ClaimPaymentStatus::ProcessedAsPrimaryForwarded => "19",
            ClaimPaymentStatus::Reversal => "22",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePayment {
    pub procedure: ProcedureCode,
    #[serde(default)]
    pub modifiers: Vec<Modifier>,
    /// SVC04, on institutional lines.
    #[serde(default)]
    pub revenue_code: Option<String>,
    /// SVC06: the procedure as billed, when the payer adjudicated a different one.
    #[serde(default)]
    pub original_procedure: Option<ProcedureCode>,
    pub charge: Money,
    pub paid: Money,
    #[serde(default)]
    pub units: Option<Decimal>,
    #[serde(default)]
    pub service_date: Option<NaiveDate>,
    #[serde(default)]
    pub adjustments: Vec<Adjustment>,
    /// REF*6R: our line item control number from the 837.
    #[serde(default)]
    pub line_control_number: Option<String>,
    /// AMT*B6.
    #[serde(default)]
    pub allowed: Option<Money>,
    /// LQ*HE remark codes (RARCs).
    #[serde(default)]
    pub remark_codes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimPayment {
    pub patient_control_number: String,
    pub status: ClaimPaymentStatus,
    pub charge: Money,
    pub paid: Money,
    pub patient_responsibility: Money,
    /// CLP06, e.g. "12" PPO, "MB" Medicare B.
    pub filing_indicator: String,
    /// CLP07.
    pub payer_claim_control_number: String,
    /// CLP08 facility or place of service code.
    #[serde(default)]
    pub facility_code: Option<String>,
    /// CLP09 frequency code.
    #[serde(default)]
    pub frequency: Option<String>,
    pub patient_name: PersonName,
    pub member_id: String,
    #[serde(default)]
    pub received_date: Option<NaiveDate>,
    #[serde(default)]
    pub adjustments: Vec<Adjustment>,
    #[serde(default)]
    pub services: Vec<ServicePayment>,
}

/// PLB: provider-level adjustment. A positive amount reduces the payment (a recoupment), a
/// negative one increases it (interest, for example).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAdjustment {
    /// PLB03-1, e.g. "WO" overpayment recovery, "L6" interest, "FB" forward balance.
    pub reason: String,
    #[serde(default)]
    pub reference: Option<String>,
    pub amount: Money,
}

/// One 835 transaction: one payment to one payee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remittance {
    pub method: PaymentMethod835,
    pub payment_date: NaiveDate,
    /// TRN02: the check or EFT trace number.
    pub trace_number: String,
    pub payer: RemitPayer,
    pub payee: RemitPayee,
    #[serde(default)]
    pub production_date: Option<NaiveDate>,
    pub claims: Vec<ClaimPayment>,
    #[serde(default)]
    pub provider_adjustments: Vec<ProviderAdjustment>,
}

impl Remittance {
    /// BPR02: ΣCLP04 − ΣPLB.
    pub fn total_payment(&self) -> Decimal {
        let claims: Decimal = self.claims.iter().map(|claim| claim.paid.amount).sum();
        let plb: Decimal = self.provider_adjustments.iter().map(|adjustment| adjustment.amount.amount).sum();
        claims - plb
    }
}

/// Write one or more remittances, one transaction set each, in one interchange.
pub fn write_835(envelope: &Envelope, remittances: &[Remittance]) -> Result<Vec<u8>, X12WriteError> {
    if remittances.is_empty() {
        return Err(X12WriteError::Empty { what: "no remittance to write" });
    }
    for (index, remittance) in remittances.iter().enumerate() {
        let total = remittance.total_payment();
        if remittance.method == PaymentMethod835::NonPayment && !total.is_zero() {
            return Err(X12WriteError::Inconsistent {
                what: format!("remittance {index} ({})", remittance.trace_number),
                reason: format!("a non-payment (BPR04 NON) must total zero, the claims and PLB total {total}"),
            });
        }
        if total.is_sign_negative() && !total.is_zero() {
            return Err(X12WriteError::Inconsistent {
                what: format!("remittance {index} ({})", remittance.trace_number),
                reason: format!("provider adjustments exceed the claim payments: BPR02 would be {total}"),
            });
        }
    }
    enveloped(envelope, TransactionKind::Remittance835, |writer| {
        for remittance in remittances {
            write_remittance(writer, remittance);
        }
        Ok(())
    })
}

fn write_remittance(writer: &mut X12Writer, remittance: &Remittance) {
    writer.begin_set();
    let total = remittance.total_payment();
    let (handling, method) = match remittance.method {
        _ if total.is_zero() => ("H", "NON"),
        PaymentMethod835::NonPayment => ("H", "NON"),
        PaymentMethod835::Check => ("I", "CHK"),
        PaymentMethod835::Ach => ("I", "ACH"),
    };
    writer.begin("BPR").el(handling).amount(total).el("C").el(method).skip(11).date(remittance.payment_date).end();
    let originator = format!("1{}", remittance.payer.tax_id.as_str());
    writer.begin("TRN").el("1").req(&remittance.trace_number).el(&originator).end();
    if let Some(production) = remittance.production_date {
        writer.begin("DTM").el("405").date(production).end();
    }
    let payer = &remittance.payer;
    writer.begin("N1").el("PR").req_text(&payer.name, 60).end();
    parties::address(writer, &payer.address);
    writer.begin("REF").el("2U").el(&payer.payer_id).end();
    writer.begin("PER").el("BL").req_text(&payer.technical_contact, 60).el("TE").req(&payer.technical_phone).end();
    let payee = &remittance.payee;
    writer.begin("N1").el("PE").req_text(&payee.name, 60).el("XX").el(payee.npi.as_str()).end();
    if let Some(address) = &payee.address {
        parties::address(writer, address);
    }
    writer.begin("REF").el("TJ").el(payee.tax_id.as_str()).end();
    if !remittance.claims.is_empty() {
        writer.begin("LX").el("1").end();
        for claim in &remittance.claims {
            write_claim(writer, claim);
        }
    }
    write_provider_adjustments(writer, remittance);
    writer.end_set();
}

fn write_claim(writer: &mut X12Writer, claim: &ClaimPayment) {
    writer
        .begin("CLP")
        .req(&claim.patient_control_number)
        .el(claim.status.code())
        .amount(claim.charge.amount)
        .amount(claim.paid.amount);
    if claim.patient_responsibility.is_zero() {
        writer.el("");
    } else {
        writer.amount(claim.patient_responsibility.amount);
    }
    writer
        .req(&claim.filing_indicator)
        .req(&claim.payer_claim_control_number)
        .opt(claim.facility_code.as_deref())
        .opt(claim.frequency.as_deref())
        .end();
    adjustments(writer, &claim.adjustments);
    writer
        .begin("NM1")
        .el("QC")
        .el("1")
        .req_text(&claim.patient_name.last, 60)
        .text(&claim.patient_name.first, 35)
        .text(claim.patient_name.middle.as_deref().unwrap_or(""), 25)
        .skip(2)
        .el("MI")
        .req(&claim.member_id)
        .end();
    if let Some(received) = claim.received_date {
        writer.begin("DTM").el("050").date(received).end();
    }
    for service in &claim.services {
        write_service(writer, service);
    }
}

fn write_service(writer: &mut X12Writer, service: &ServicePayment) {
    let mut procedure = vec!["HC", service.procedure.as_str()];
    procedure.extend(service.modifiers.iter().take(4).map(|modifier| modifier.as_str()));
    let original = service.original_procedure.as_ref().map(|code| ["HC", code.as_str()]);
    writer
        .begin("SVC")
        .comp(&procedure)
        .amount(service.charge.amount)
        .amount(service.paid.amount)
        .opt(service.revenue_code.as_deref());
    match service.units {
        Some(units) => writer.amount(units),
        None => writer.el(""),
    };
    writer.comp(original.as_ref().map_or(&[][..], |parts| &parts[..])).end();
    if let Some(date) = service.service_date {
        writer.begin("DTM").el("472").date(date).end();
    }
    adjustments(writer, &service.adjustments);
    if let Some(control) = service.line_control_number.as_deref() {
        writer.begin("REF").el("6R").el(control).end();
    }
    if let Some(allowed) = service.allowed {
        writer.begin("AMT").el("B6").amount(allowed.amount).end();
    }
    for remark in &service.remark_codes {
        writer.begin("LQ").el("HE").el(remark).end();
    }
}

/// PLB, six adjustments per segment; the fiscal period is the end of the payment's year.
fn write_provider_adjustments(writer: &mut X12Writer, remittance: &Remittance) {
    let fiscal_period_end = NaiveDate::from_ymd_opt(remittance.payment_date.year(), 12, 31);
    for chunk in remittance.provider_adjustments.chunks(6) {
        writer.begin("PLB").el(remittance.payee.npi.as_str());
        match fiscal_period_end {
            Some(date) => writer.date(date),
            None => writer.el(""),
        };
        for adjustment in chunk {
            writer.comp(&[&adjustment.reason, adjustment.reference.as_deref().unwrap_or("")]);
            writer.amount(adjustment.amount.amount);
        }
        writer.end();
    }
}
