//! 276 claim status request (005010X212), for the payer/clearinghouse simulator: who asks
//! (payer 2100A, information receiver 2100B, service provider 2100C) and, per claim, the
//! subscriber, the dependent patient and the 2200D/2200E identifiers a 277 answers by (TRN02,
//! REF*1K, REF*EJ, REF*BLT, AMT*T3, DTP*472).

use super::elements::{amount, required_text, text, Text};
use super::remit::{Dated, Name};
use super::status::{name, unexpected};
use crate::x12::diagnostic::{Diagnostic, DiagnosticKind};
use crate::x12::segment::Segment;
use rust_decimal::Decimal;
use serde::Serialize;

/// One 276 transaction set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatusRequest276 {
    /// BHT03 originator's reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Text>,
    /// NM1*PR (2100A).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer: Option<Name>,
    /// NM1*41 (2100B).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<Name>,
    /// NM1*1P (2100C). A set may name several providers; this is the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Name>,
    pub inquiries: Vec<ClaimInquiry>,
}

/// One claim asked about (loop 2200D, or 2200E for a dependent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClaimInquiry {
    /// The HL the claim sits under: the subscriber (22) or the dependent (23).
    pub hl_id: Text,
    /// NM1*IL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriber: Option<Name>,
    /// NM1*QC, when the patient is a dependent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<Name>,
    /// TRN02: the trace the 277 echoes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_number: Option<Text>,
    /// REF*1K payer claim control number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_claim_control_number: Option<Text>,
    /// REF*EJ patient account number (our CLM01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_account_number: Option<Text>,
    /// REF*BLT institutional bill type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill_type: Option<Text>,
    /// AMT*T3 total claim charge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<Decimal>,
    /// DTP*472: DTP03 as written (`20261102` or `20261102-20261103`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_dates: Option<Dated>,
}

/// The HL being read: its id and level code.
#[derive(Default)]
struct Level {
    hl_id: Text,
    code: Text,
}

/// Reads one 276 transaction set segment by segment.
#[derive(Default)]
pub struct StatusRequestReader {
    request: StatusRequest276,
    level: Option<Level>,
    /// NM1*IL of the current subscriber (2100D) and NM1*QC of the current dependent (2100E).
    subscriber: Option<Name>,
    patient: Option<Name>,
    inquiry: Option<ClaimInquiry>,
    /// Inside a 2210D/2210E service line: its REF and DTP are the line's, not the claim's.
    in_line: bool,
}

impl StatusRequestReader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn segment(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        match segment.id() {
            b"BHT" => self.request.reference = text(segment, 3),
            b"HL" => self.hierarchy(segment, diagnostics),
            b"NM1" => self.named(segment, diagnostics),
            b"TRN" => self.trace(segment, diagnostics),
            b"REF" => {
                let qualifier = required_text(segment, 1, "REF01 reference qualifier", diagnostics);
                let value = required_text(segment, 2, "REF02 reference value", diagnostics);
                let Some(inquiry) = self.claim_field(segment, diagnostics) else { return };
                match qualifier.as_str() {
                    "1K" => inquiry.payer_claim_control_number = Some(value),
                    "EJ" => inquiry.patient_account_number = Some(value),
                    "BLT" => inquiry.bill_type = Some(value),
                    // XZ prescription, VV voucher, D9 clearinghouse trace: not kept.
                    _ => {}
                }
            }
            b"AMT" => {
                let charge = amount(segment, 2, "AMT02 total claim charge amount", diagnostics);
                let is_total = segment.element(1) == b"T3";
                if let Some(inquiry) = self.claim_field(segment, diagnostics) {
                    if is_total {
                        inquiry.charge = charge;
                    }
                }
            }
            b"DTP" => {
                let dated = Dated {
                    qualifier: required_text(segment, 1, "DTP01 date qualifier", diagnostics),
                    date: required_text(segment, 3, "DTP03 date", diagnostics),
                };
                if let Some(inquiry) = self.claim_field(segment, diagnostics) {
                    if dated.qualifier == "472" {
                        inquiry.service_dates = Some(dated);
                    }
                }
            }
            b"SVC" => {
                // Service lines are read for their amounts' sake only.
                amount(segment, 2, "SVC02 line item charge amount", diagnostics);
                amount(segment, 7, "SVC07 units of service", diagnostics);
                if self.inquiry.is_none() {
                    diagnostics.push(unexpected(segment, "TRN (claim) before SVC"));
                }
                self.in_line = true;
            }
            b"DMG" | b"PER" => {}
            _ => diagnostics.push(Diagnostic::error(
                segment.position(),
                DiagnosticKind::UnknownSegment { id: segment.id_text(), set: "276".to_string() },
            )),
        }
    }

    pub fn finish(mut self) -> StatusRequest276 {
        self.close_inquiry();
        self.request
    }

    fn hierarchy(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        self.close_inquiry();
        let level = Level {
            hl_id: required_text(segment, 1, "HL01 hierarchical id", diagnostics),
            code: required_text(segment, 3, "HL03 hierarchical level code", diagnostics),
        };
        // A new subscriber (or anything above one) ends the previous subscriber's names.
        match level.code.as_str() {
            "23" => self.patient = None,
            _ => {
                self.subscriber = None;
                self.patient = None;
            }
        }
        self.level = Some(level);
    }

    fn named(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let Some(level) = &self.level else {
            diagnostics.push(unexpected(segment, "HL before NM1"));
            return;
        };
        let name = name(segment);
        let slot = match level.code.as_str() {
            "20" => &mut self.request.payer,
            "21" => &mut self.request.receiver,
            "19" => &mut self.request.provider,
            "22" => &mut self.subscriber,
            "23" => &mut self.patient,
            _ => return,
        };
        // Keep the first provider of a set that names several.
        if slot.is_none() || level.code != "19" {
            *slot = Some(name);
        }
    }

    /// TRN opens a claim (2200D/2200E) under the subscriber or dependent level.
    fn trace(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let trace = required_text(segment, 2, "TRN02 trace number", diagnostics);
        let hl_id = match &self.level {
            Some(level) if matches!(level.code.as_str(), "22" | "23") => level.hl_id.clone(),
            _ => {
                diagnostics.push(unexpected(segment, "HL 22 or 23 before TRN"));
                return;
            }
        };
        self.close_inquiry();
        self.inquiry = Some(ClaimInquiry {
            hl_id,
            subscriber: self.subscriber.clone(),
            patient: self.patient.clone(),
            trace_number: Some(trace),
            ..ClaimInquiry::default()
        });
    }

    /// The open claim, when the segment belongs to it (not to a service line); a segment
    /// outside any claim is reported.
    fn claim_field(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<&mut ClaimInquiry> {
        if self.inquiry.is_none() {
            diagnostics.push(unexpected(segment, "TRN (claim) before REF/AMT/DTP"));
            return None;
        }
        if self.in_line {
            return None;
        }
        self.inquiry.as_mut()
    }

    fn close_inquiry(&mut self) {
        self.in_line = false;
        if let Some(inquiry) = self.inquiry.take() {
            self.request.inquiries.push(inquiry);
        }
    }
}
