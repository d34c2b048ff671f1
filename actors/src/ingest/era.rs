//! ERA auto-posting: each 835 claim payment matched to our claim, ready to post.
//!
//! Matching: the patient control number (CLP01) finds the claim; each service line finds our
//! line by its line item control number (REF*6R, our line id or line number), else by the
//! procedure we submitted (SVC06, which survives a payer's code rewrite) with modifiers equal,
//! then a subset of ours (payers drop modifiers), then any, preferring equal charge and date.
//! A claim with a line that matches nothing is not posted half-way: it goes to suspense with
//! the reason, as does an unknown CLP01 or a currency we do not bill in.
//!
//! Idempotency: a posting's id is derived from (trace number, payer claim control number,
//! CLP02, CLP04), so the same 835 twice yields the same ids and the claim posts it once; PLB
//! entries are derived likewise from (trace number, reason, reference, amount, position).

use super::remit::{RemitClaim, RemitLine, Remittance};
use practice_protocol::claim::{LinePosting, PostingKind, RemittancePosting};
use practice_protocol::domain::{Claim, ClaimLine, CoverageOrder};
use practice_protocol::ids::{ClaimId, CommandId, PaymentId};
use practice_protocol::Money;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Our claims by patient control number (one organization's). Practices often reuse one
/// control number for the primary, secondary and tertiary claims of an encounter, so a number
/// may name several claims; `find` tells them apart by payer and CLP02.
#[derive(Debug, Default)]
pub struct ClaimIndex<'a> {
    by_pcn: HashMap<&'a str, Vec<&'a Claim>>,
}

impl<'a> ClaimIndex<'a> {
    pub fn new(claims: impl IntoIterator<Item = &'a Claim>) -> Self {
        let mut by_pcn: HashMap<&'a str, Vec<&'a Claim>> = HashMap::new();
        for claim in claims {
            by_pcn.entry(claim.patient_control_number.as_str()).or_default().push(claim);
        }
        ClaimIndex { by_pcn }
    }

    /// Every claim with this control number.
    pub fn get(&self, patient_control_number: &str) -> &[&'a Claim] {
        self.by_pcn.get(patient_control_number.trim()).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The claim a CLP loop pays: the only one with its control number, else the one billed
    /// to this payer, else the one whose responsibility CLP02 names (1/2/3).
    fn find(
        &self,
        patient_control_number: &str,
        payer_id: Option<&str>,
        status_code: &str,
    ) -> Result<&'a Claim, SuspenseReason> {
        let candidates = self.get(patient_control_number);
        match candidates {
            [] => return Err(SuspenseReason::UnknownPatientControlNumber),
            [only] => return Ok(only),
            _ => {}
        }
        let billed_payer = |claim: &&&Claim| {
            payer_id
                .is_none_or(|id| claim.coverage().is_some_and(|coverage| coverage.payer.payer_id.as_str() == id.trim()))
        };
        let by_payer: Vec<&&Claim> = candidates.iter().filter(billed_payer).collect();
        if let [only] = by_payer.as_slice() {
            return Ok(only);
        }
        let order = match status_code {
            "1" | "19" => Some(CoverageOrder::Primary),
            "2" | "20" => Some(CoverageOrder::Secondary),
            "3" | "21" => Some(CoverageOrder::Tertiary),
            _ => None,
        };
        let by_order: Vec<&&Claim> = by_payer.into_iter().filter(|claim| Some(claim.responsibility) == order).collect();
        match by_order.as_slice() {
            [only] => Ok(only),
            _ => Err(SuspenseReason::AmbiguousClaim { candidates: candidates.len() }),
        }
    }
}

/// One claim payment matched to our claim: the `PostRemittance` command to send it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraPosting {
    pub claim_id: ClaimId,
    /// Derived from the payment id, so a redelivered 835 is the same command.
    pub command_id: CommandId,
    pub posting: RemittancePosting,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderEntryKind {
    /// PLB L6: interest the payer adds for paying late.
    Interest,
    /// Positive amounts (WO, 72, FB, J1, ...): money taken back or held.
    Recoupment,
    /// Negative amounts other than interest: money added (a forwarded credit balance).
    Other,
}

/// A PLB adjustment as its own provider-level ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLedgerEntry {
    pub id: PaymentId,
    pub trace_number: String,
    /// The payer's id when the 835 carries one (TRN03 / REF*2U).
    #[serde(default)]
    pub payer_id: Option<String>,
    pub payer_name: String,
    pub provider_id: String,
    pub kind: ProviderEntryKind,
    pub reason_code: String,
    pub reference: Option<String>,
    /// The 835's sign: positive reduces the payment, negative adds to it.
    pub amount: Money,
    pub posted_on: chrono::NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum SuspenseReason {
    /// CLP01 names no claim of ours.
    UnknownPatientControlNumber,
    /// CLP01 names several claims and neither the payer nor CLP02 tells which.
    AmbiguousClaim { candidates: usize },
    /// A service line matched none of the claim's lines.
    LineNotMatched { line_index: usize, procedure: String, line_control_number: Option<String> },
    /// The remittance is in a currency the claim is not billed in.
    CurrencyMismatch { claim_currency: String },
}

/// A claim payment we could not post automatically; a biller resolves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspenseItem {
    pub trace_number: String,
    pub patient_control_number: String,
    pub payer_claim_control_number: Option<String>,
    pub status_code: String,
    pub paid: Money,
    pub claim_id: Option<ClaimId>,
    #[serde(flatten)]
    pub reason: SuspenseReason,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraOutcome {
    /// In file order, so a reversal posts before its correction.
    pub postings: Vec<EraPosting>,
    pub provider_entries: Vec<ProviderLedgerEntry>,
    pub suspense: Vec<SuspenseItem>,
    /// BPR02 ≠ ΣCLP04 − ΣPLB: the file is posted but flagged for review.
    pub out_of_balance: bool,
}

/// Match every claim payment and PLB entry of `remit` against `index`.
pub fn match_remittance(remit: &Remittance, index: &ClaimIndex<'_>) -> EraOutcome {
    let mut outcome = EraOutcome { out_of_balance: !remit.balances(), ..EraOutcome::default() };
    // A claim payment after a reversal of the same claim in the same file is its correction.
    let mut reversed: BTreeSet<&str> = BTreeSet::new();
    for remit_claim in &remit.claims {
        let pcn = remit_claim.patient_control_number.trim();
        let kind = if remit_claim.is_reversal() {
            reversed.insert(pcn);
            PostingKind::Reversal
        } else if reversed.contains(pcn) {
            PostingKind::Correction
        } else {
            PostingKind::Original
        };
        match match_claim(remit, remit_claim, kind, index) {
            Ok(posting) => outcome.postings.push(posting),
            Err((claim_id, reason)) => outcome.suspense.push(SuspenseItem {
                trace_number: remit.trace_number.clone(),
                patient_control_number: remit_claim.patient_control_number.clone(),
                payer_claim_control_number: remit_claim.payer_claim_control_number.clone(),
                status_code: remit_claim.status_code.clone(),
                paid: remit_claim.paid,
                claim_id,
                reason,
            }),
        }
    }
    for (position, adjustment) in remit.provider_adjustments.iter().enumerate() {
        // L6 is interest; otherwise a negative amount adds to the check (a forwarded credit)
        // and a positive one withholds (WO overpayment recovery, FB balance taken back, ...).
        let kind = match adjustment.reason_code.as_str() {
            "L6" => ProviderEntryKind::Interest,
            _ if adjustment.amount.is_negative() => ProviderEntryKind::Other,
            _ => ProviderEntryKind::Recoupment,
        };
        let id = PaymentId::derived(&[
            b"plb",
            remit.trace_number.as_bytes(),
            adjustment.reason_code.as_bytes(),
            adjustment.reference.as_deref().unwrap_or("").as_bytes(),
            adjustment.amount.amount.normalize().to_string().as_bytes(),
            &(position as u64).to_be_bytes(),
        ]);
        outcome.provider_entries.push(ProviderLedgerEntry {
            id,
            trace_number: remit.trace_number.clone(),
            payer_id: remit.payer_id.clone(),
            payer_name: remit.payer_name.clone(),
            provider_id: adjustment.provider_id.clone(),
            kind,
            reason_code: adjustment.reason_code.clone(),
            reference: adjustment.reference.clone(),
            amount: adjustment.amount,
            posted_on: remit.paid_on,
        });
    }
    outcome
}

/// The content-derived key of a whole remittance: payer, trace number and total paid. The
/// ingestion layer keeps these (next to the file hash) to skip a file it has already matched;
/// the per-claim payment ids make posting idempotent even without it.
pub fn remittance_key(remit: &Remittance) -> PaymentId {
    PaymentId::derived(&[
        b"remittance",
        remit.payer_id.as_deref().unwrap_or(remit.payer_name.as_str()).as_bytes(),
        remit.trace_number.trim().as_bytes(),
        remit.total_paid.amount.normalize().to_string().as_bytes(),
    ])
}

/// The content-derived id of one claim payment.
pub fn payment_id(trace_number: &str, remit_claim: &RemitClaim) -> PaymentId {
    PaymentId::derived(&[
        trace_number.as_bytes(),
        remit_claim
            .payer_claim_control_number
            .as_deref()
            .unwrap_or(remit_claim.patient_control_number.as_str())
            .as_bytes(),
        remit_claim.status_code.as_bytes(),
        remit_claim.paid.amount.normalize().to_string().as_bytes(),
    ])
}

type Unmatched = (Option<ClaimId>, SuspenseReason);

fn match_claim(
    remit: &Remittance,
    remit_claim: &RemitClaim,
    kind: PostingKind,
    index: &ClaimIndex<'_>,
) -> Result<EraPosting, Unmatched> {
    let claim = index
        .find(&remit_claim.patient_control_number, remit.payer_id.as_deref(), &remit_claim.status_code)
        .map_err(|reason| (None, reason))?;
    let money_in_claim_currency = std::iter::once(&remit_claim.paid)
        .chain(remit_claim.adjustments.iter().map(|adjustment| &adjustment.amount))
        .chain(remit_claim.lines.iter().flat_map(|line| {
            std::iter::once(&line.paid).chain(line.adjustments.iter().map(|adjustment| &adjustment.amount))
        }))
        .all(|money| money.currency == claim.currency);
    if !money_in_claim_currency {
        return Err((Some(claim.id), SuspenseReason::CurrencyMismatch { claim_currency: claim.currency.to_string() }));
    }
    let mut taken: BTreeSet<u32> = BTreeSet::new();
    let mut lines = Vec::with_capacity(remit_claim.lines.len());
    for (line_index, remit_line) in remit_claim.lines.iter().enumerate() {
        let Some(ours) = match_line(remit_line, &claim.lines, &taken) else {
            return Err((
                Some(claim.id),
                SuspenseReason::LineNotMatched {
                    line_index,
                    procedure: remit_line.procedure.clone(),
                    line_control_number: remit_line.line_control_number.clone(),
                },
            ));
        };
        taken.insert(ours.line_number);
        lines.push(LinePosting {
            line_number: ours.line_number,
            paid: remit_line.paid,
            charge: remit_line.charge,
            allowed: remit_line.allowed,
            adjustments: remit_line.adjustments.clone(),
            remark_codes: remit_line.remark_codes.clone(),
        });
    }
    let payment_id = payment_id(&remit.trace_number, remit_claim);
    let posting = RemittancePosting {
        payment_id,
        kind,
        payer_name: remit.payer_name.clone(),
        method: remit.method,
        era_trace_number: Some(remit.trace_number.clone()),
        payer_claim_control_number: remit_claim.payer_claim_control_number.clone(),
        claim_status_code: remit_claim.status_code.clone(),
        paid: remit_claim.paid,
        claim_adjustments: remit_claim.adjustments.clone(),
        lines,
        remark_codes: remit_claim.remark_codes.clone(),
        paid_on: remit.paid_on,
    };
    Ok(EraPosting {
        claim_id: claim.id,
        command_id: CommandId::derived(&[b"era-posting", payment_id.0.as_bytes()]),
        posting,
    })
}

/// Our line for one service line, or None. See the module docs for the order of preference.
fn match_line<'c>(remit_line: &RemitLine, ours: &'c [ClaimLine], taken: &BTreeSet<u32>) -> Option<&'c ClaimLine> {
    let free = || ours.iter().filter(|line| !taken.contains(&line.line_number));
    if let Some(control) = remit_line.line_control_number.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        let by_control = free()
            .find(|line| line.id.to_string().eq_ignore_ascii_case(control) || line.line_number.to_string() == control);
        if by_control.is_some() {
            return by_control;
        }
    }
    let submitted = remit_line.submitted_procedure.as_deref().unwrap_or(&remit_line.procedure);
    let their_modifiers: Vec<&str> =
        if remit_line.submitted_procedure.is_some() && !remit_line.submitted_modifiers.is_empty() {
            remit_line.submitted_modifiers.iter().map(String::as_str).collect()
        } else {
            remit_line.modifiers.iter().map(String::as_str).collect()
        };
    let same_code: Vec<&ClaimLine> = free()
        .filter(|line| line.procedure.as_str() == submitted || line.procedure.as_str() == remit_line.procedure)
        .collect();
    let score = |line: &&ClaimLine| {
        let ours: Vec<&str> = line.modifiers.iter().map(|m| m.as_str()).collect();
        let modifier_rank = if ours == their_modifiers {
            0
        } else if their_modifiers.iter().all(|m| ours.contains(m)) {
            1
        } else {
            2
        };
        let charge_rank = u8::from(line.charge.amount != remit_line.charge.amount);
        let date_rank = u8::from(remit_line.service_date.is_some_and(|date| date != line.service_date));
        (modifier_rank, charge_rank, date_rank, line.line_number)
    };
    same_code.into_iter().min_by_key(score)
}

#[cfg(test)]
mod tests;
