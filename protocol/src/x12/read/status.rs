//! 277 claim status response (005010X212) and 277CA claim acknowledgment (005010X214): per
//! HL level, per claim and per service line, the STC statuses with category, code, entity and
//! amounts, and the trace numbers that tie each back to our claim (TRN02 = our claim id,
//! REF*1K payer claim number, REF*D9 clearinghouse trace, REF*EJ patient account, REF*FJ line).

use super::elements::{amount, procedure, required_text, text, Procedure};
use super::remit::{Dated, Name, Quantified, Reference};
use crate::x12::diagnostic::{Diagnostic, DiagnosticKind};
use crate::x12::read::text::Text;
use crate::x12::segment::Segment;
use rust_decimal::Decimal;
use serde::Serialize;

/// One 277 or 277CA transaction set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// BHT03 originator's reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Text>,
    /// BHT04 creation date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<Text>,
    /// HL levels above the claims: information source (20), receiver (21), provider (19),
    /// subscriber (22), dependent (23), patient (PT).
    pub levels: Vec<StatusLevel>,
    pub claims: Vec<ClaimStatus>,
}

/// One HL level with what it says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatusLevel {
    pub hl_id: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Text>,
    /// HL03 level code.
    pub level_code: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace_numbers: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<Status>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<Dated>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<Quantified>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amounts: Vec<Quantified>,
}

/// The status of one claim (loop 2200D/2200E).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClaimStatus {
    /// The HL the claim sits under (subscriber, dependent or patient level).
    pub hl_id: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<Name>,
    /// TRN02: the claim id we sent (CLM01), echoed back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_number: Option<Text>,
    pub statuses: Vec<Status>,
    /// REF*1K payer claim control number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_claim_control_number: Option<Text>,
    /// REF*D9 clearinghouse trace number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clearinghouse_trace_number: Option<Text>,
    /// REF*EJ patient account number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_account_number: Option<Text>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<Dated>,
    pub lines: Vec<LineStatus>,
}

/// The status of one service line (loop 2220D/2220E).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LineStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procedure: Option<Procedure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue_code: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<Decimal>,
    pub statuses: Vec<Status>,
    /// REF*FJ: our line item control number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_item_control_number: Option<Text>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<Dated>,
}

/// One STC segment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// STC01-1 claim status category (A1 received, A2 accepted, A3/A7 rejected, F1 finalized…).
    pub category: Text,
    /// STC01-2 claim status code.
    pub code: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<Text>,
    /// STC10 and STC11: further category/code/entity triples.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional: Vec<StatusCode>,
    /// STC02 status effective date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<Text>,
    /// STC03 action code (WQ accepted, U rejected, 15 correct and resubmit…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Text>,
    /// STC04 total charge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<Decimal>,
    /// STC05 payment amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid: Option<Decimal>,
    /// STC06 adjudication or payment date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_date: Option<Text>,
    /// STC08 check issue or EFT date, STC09 check or EFT number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_date: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_number: Option<Text>,
    /// STC12 free-form message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Text>,
}

/// A category/code/entity triple (STC01, STC10, STC11).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatusCode {
    pub category: Text,
    pub code: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<Text>,
}

/// Reads one 277/277CA transaction set segment by segment.
#[derive(Default)]
pub struct StatusReader {
    report: StatusReport,
    claim: Option<ClaimStatus>,
    line: Option<LineStatus>,
    set: &'static str,
}

impl StatusReader {
    /// `set` names the transaction for diagnostics: `277` or `277CA`.
    pub fn new(set: &'static str) -> Self {
        Self { set, ..Self::default() }
    }

    pub fn segment(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        match segment.id() {
            b"BHT" => {
                self.report.reference = text(segment, 3);
                self.report.date = text(segment, 4);
            }
            b"HL" => {
                self.close_claim();
                self.report.levels.push(StatusLevel {
                    hl_id: required_text(segment, 1, "HL01 hierarchical id", diagnostics),
                    parent_id: text(segment, 2),
                    level_code: required_text(segment, 3, "HL03 hierarchical level code", diagnostics),
                    ..StatusLevel::default()
                });
            }
            b"NM1" => {
                let name = name(segment);
                match self.report.levels.last_mut() {
                    Some(level) => level.name = Some(name),
                    None => diagnostics.push(unexpected(segment, "HL before NM1")),
                }
            }
            b"TRN" => self.trn(segment, diagnostics),
            b"STC" => {
                let status = status(segment, diagnostics);
                if let Some(line) = &mut self.line {
                    line.statuses.push(status);
                } else if let Some(claim) = &mut self.claim {
                    claim.statuses.push(status);
                } else if let Some(level) = self.report.levels.last_mut() {
                    level.statuses.push(status);
                } else {
                    diagnostics.push(unexpected(segment, "HL before STC"));
                }
            }
            b"REF" => self.reference(segment, diagnostics),
            b"DTP" => {
                let dated = Dated {
                    qualifier: required_text(segment, 1, "DTP01 date qualifier", diagnostics),
                    date: required_text(segment, 3, "DTP03 date", diagnostics),
                };
                if let Some(line) = &mut self.line {
                    line.dates.push(dated);
                } else if let Some(claim) = &mut self.claim {
                    claim.dates.push(dated);
                } else if let Some(level) = self.report.levels.last_mut() {
                    level.dates.push(dated);
                }
            }
            b"QTY" | b"AMT" => {
                let is_amount = segment.is(b"AMT");
                let value = Quantified {
                    qualifier: required_text(segment, 1, "qualifier", diagnostics),
                    value: amount(segment, 2, "a decimal", diagnostics).unwrap_or_default(),
                };
                match self.report.levels.last_mut() {
                    Some(level) if is_amount => level.amounts.push(value),
                    Some(level) => level.quantities.push(value),
                    None => diagnostics.push(unexpected(segment, "HL before QTY/AMT")),
                }
            }
            b"SVC" => {
                if self.claim.is_none() {
                    diagnostics.push(unexpected(segment, "TRN (claim) before SVC"));
                    return;
                }
                self.close_line();
                self.line = Some(LineStatus {
                    procedure: procedure(segment, 1, diagnostics),
                    charge: amount(segment, 2, "SVC02 line item charge", diagnostics),
                    paid: amount(segment, 3, "SVC03 line item payment", diagnostics),
                    revenue_code: text(segment, 4),
                    units: amount(segment, 7, "SVC07 units of service", diagnostics),
                    ..LineStatus::default()
                });
            }
            b"DMG" | b"PER" | b"N3" | b"N4" => {}
            _ => diagnostics.push(Diagnostic::error(
                segment.position(),
                DiagnosticKind::UnknownSegment { id: segment.id_text(), set: self.set.to_string() },
            )),
        }
    }

    pub fn finish(mut self) -> StatusReport {
        self.close_claim();
        self.report
    }

    fn trn(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let Some(level) = self.report.levels.last_mut() else {
            diagnostics.push(unexpected(segment, "HL before TRN"));
            return;
        };
        let trace = required_text(segment, 2, "TRN02 trace number", diagnostics);
        if matches!(level.level_code.as_str(), "22" | "23" | "PT") {
            let hl_id = level.hl_id.clone();
            let patient = level.name.clone();
            self.close_claim();
            self.claim = Some(ClaimStatus { hl_id, patient, trace_number: Some(trace), ..ClaimStatus::default() });
        } else {
            level.trace_numbers.push(Reference { qualifier: text(segment, 1).unwrap_or_default(), value: trace });
        }
    }

    fn reference(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let reference = Reference {
            qualifier: required_text(segment, 1, "REF01 reference qualifier", diagnostics),
            value: required_text(segment, 2, "REF02 reference value", diagnostics),
        };
        if let Some(line) = &mut self.line {
            if reference.qualifier == "FJ" {
                line.line_item_control_number = Some(reference.value);
            }
        } else if let Some(claim) = &mut self.claim {
            match reference.qualifier.as_str() {
                "1K" => claim.payer_claim_control_number = Some(reference.value.clone()),
                "D9" => claim.clearinghouse_trace_number = Some(reference.value.clone()),
                "EJ" => claim.patient_account_number = Some(reference.value.clone()),
                _ => {}
            }
            claim.references.push(reference);
        } else if let Some(level) = self.report.levels.last_mut() {
            level.references.push(reference);
        } else {
            diagnostics.push(unexpected(segment, "HL before REF"));
        }
    }

    fn close_line(&mut self) {
        if let (Some(line), Some(claim)) = (self.line.take(), &mut self.claim) {
            claim.lines.push(line);
        }
    }

    fn close_claim(&mut self) {
        self.close_line();
        if let Some(claim) = self.claim.take() {
            self.report.claims.push(claim);
        }
    }
}

pub(super) fn name(segment: &Segment<'_>) -> Name {
    Name {
        entity: text(segment, 1).unwrap_or_default(),
        last_or_organization: text(segment, 3),
        first: text(segment, 4),
        middle: text(segment, 5),
        suffix: text(segment, 7),
        id_qualifier: text(segment, 8),
        id: text(segment, 9),
    }
}

fn status_code(segment: &Segment<'_>, n: usize) -> Option<StatusCode> {
    if segment.element(n).is_empty() {
        return None;
    }
    let parts = super::elements::components(segment, n);
    let part = |index: usize| parts.get(index).filter(|value| !value.is_empty()).cloned();
    Some(StatusCode { category: part(0).unwrap_or_default(), code: part(1).unwrap_or_default(), entity: part(2) })
}

fn status(segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> Status {
    let first = status_code(segment, 1).unwrap_or_else(|| {
        diagnostics.push(super::elements::missing(segment, 1, "STC01 health care claim status"));
        StatusCode::default()
    });
    if first.category.is_empty() || first.code.is_empty() {
        diagnostics.push(super::elements::missing(segment, 1, "STC01 category and status code"));
    }
    Status {
        category: first.category,
        code: first.code,
        entity: first.entity,
        additional: [10, 11].into_iter().filter_map(|n| status_code(segment, n)).collect(),
        effective_date: text(segment, 2),
        action: text(segment, 3),
        charge: amount(segment, 4, "STC04 total claim charge", diagnostics),
        paid: amount(segment, 5, "STC05 claim payment amount", diagnostics),
        payment_date: text(segment, 6),
        check_date: text(segment, 8),
        check_number: text(segment, 9),
        message: text(segment, 12),
    }
}

pub(super) fn unexpected(segment: &Segment<'_>, expected: &str) -> Diagnostic {
    Diagnostic::error(
        segment.position(),
        DiagnosticKind::UnexpectedSegment { expected: expected.to_string(), found: segment.id_text() },
    )
}
