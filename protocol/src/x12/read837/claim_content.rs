//! The claim-content half of the 837 reader: dates, diagnoses, CAS, service lines (LX,
//! SV1/SV2) and prior payers' line adjudications (SVD), plus the code and date parsers.

use super::elements::{components, text};
use super::model::{Line837, LineAdjudication837};
use super::reader::{Entity, SetReader};
use crate::claim::{Adjustment, AdjustmentGroup};
use crate::domain::{CoverageOrder, Relationship};
use crate::money::Money;
use crate::x12::diagnostic::{Diagnostic, DiagnosticKind};
use crate::x12::read::elements::{amount, invalid, required_amount};
use crate::x12::segment::Segment;
use chrono::NaiveDate;
use rust_decimal::Decimal;

impl SetReader {
    pub(super) fn date(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let qualifier = segment.element(1);
        let entity = self.entity;
        let Some((claim, facility)) = &mut self.current else { return };
        match qualifier {
            b"434" => facility.statement = date_range(segment, 3, diagnostics),
            b"435" => facility.admission = date(segment, 3, diagnostics),
            b"472" => {
                if let Some(line) = claim.lines.last_mut() {
                    line.service_date = date(segment, 3, diagnostics);
                }
            }
            b"573" if entity == Entity::LineAdjudication => {
                let adjudicated = date(segment, 3, diagnostics);
                if let Some(last) = claim.lines.last_mut().and_then(|line| line.adjudications.last_mut()) {
                    last.adjudicated_on = adjudicated;
                }
            }
            b"573" => {
                let adjudicated = date(segment, 3, diagnostics);
                if let Some(other) = claim.other_payers.last_mut() {
                    other.adjudicated_on = adjudicated;
                }
            }
            _ => {}
        }
    }

    pub(super) fn diagnoses(&mut self, segment: &Segment<'_>) {
        let Some(claim) = self.claim_mut() else { return };
        for n in 1..=segment.element_count() {
            let parts = components(segment, n);
            if let [qualifier, code, ..] = parts.as_slice() {
                if matches!(qualifier.as_str(), "ABK" | "ABF" | "BK" | "BF") && !code.is_empty() {
                    claim.diagnoses.push(code.clone());
                }
            }
        }
    }

    pub(super) fn adjustments(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let Some(group) = text(segment, 1).as_deref().and_then(AdjustmentGroup::parse) else {
            diagnostics.push(invalid(segment, 1, "an adjustment group code (CO, PR, OA, PI, CR)"));
            return;
        };
        let mut read = Vec::new();
        for triplet in 0..6 {
            let reason_at = 2 + triplet * 3;
            let Some(reason) = text(segment, reason_at) else { continue };
            let value = required_amount(segment, reason_at + 1, "adjustment amount", diagnostics);
            let quantity = amount(segment, reason_at + 2, "adjustment quantity", diagnostics);
            read.push(Adjustment { group, reason, amount: Money::usd(value), quantity });
        }
        let entity = self.entity;
        let Some(claim) = self.claim_mut() else { return };
        if entity == Entity::LineAdjudication {
            if let Some(last) = claim.lines.last_mut().and_then(|line| line.adjudications.last_mut()) {
                last.adjustments.extend(read);
            }
        } else if let Some(other) = claim.other_payers.last_mut() {
            other.claim_adjustments.extend(read);
        }
    }

    pub(super) fn line(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let number = match text(segment, 1).map(|value| value.parse::<u32>()) {
            Some(Ok(number)) => number,
            _ => {
                diagnostics.push(invalid(segment, 1, "a line number"));
                0
            }
        };
        let Some(claim) = self.claim_mut() else { return };
        claim.lines.push(Line837 {
            line_number: number,
            procedure: String::new(),
            modifiers: Vec::new(),
            charge: Decimal::ZERO,
            units: Decimal::ZERO,
            service_date: None,
            place_of_service: None,
            diagnosis_pointers: Vec::new(),
            revenue_code: None,
            line_control_number: None,
            adjudications: Vec::new(),
        });
        self.entity = Entity::Line;
    }

    pub(super) fn service(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let institutional = segment.is(b"SV2");
        let (procedure_at, charge_at, units_at) = if institutional { (2, 3, 5) } else { (1, 2, 4) };
        let procedure = components(segment, procedure_at);
        let charge = required_amount(segment, charge_at, "line charge", diagnostics);
        let units = required_amount(segment, units_at, "service units", diagnostics);
        let pointers: Vec<u8> = if institutional {
            Vec::new()
        } else {
            components(segment, 7).iter().filter_map(|pointer| pointer.parse().ok()).collect()
        };
        let Some(line) = self.claim_mut().and_then(|claim| claim.lines.last_mut()) else { return };
        line.procedure = procedure.get(1).cloned().unwrap_or_default();
        line.modifiers = procedure.iter().skip(2).take(4).filter(|m| !m.is_empty()).cloned().collect();
        line.charge = charge;
        line.units = units;
        if institutional {
            line.revenue_code = text(segment, 1);
        } else {
            line.place_of_service = text(segment, 5);
            line.diagnosis_pointers = pointers;
        }
    }

    pub(super) fn line_adjudication(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let procedure = components(segment, 3);
        let adjudication = LineAdjudication837 {
            payer_id: text(segment, 1).unwrap_or_default(),
            paid: required_amount(segment, 2, "line paid amount (SVD02)", diagnostics),
            procedure: procedure.get(1).cloned().unwrap_or_default(),
            modifiers: procedure.iter().skip(2).take(4).filter(|m| !m.is_empty()).cloned().collect(),
            units: amount(segment, 5, "paid units (SVD05)", diagnostics),
            adjustments: Vec::new(),
            adjudicated_on: None,
        };
        if let Some(line) = self.claim_mut().and_then(|claim| claim.lines.last_mut()) {
            line.adjudications.push(adjudication);
        }
        self.entity = Entity::LineAdjudication;
    }
}

pub(super) fn coverage_order(code: &str) -> Option<CoverageOrder> {
    match code {
        "P" => Some(CoverageOrder::Primary),
        "S" => Some(CoverageOrder::Secondary),
        "T" => Some(CoverageOrder::Tertiary),
        _ => None,
    }
}

pub(super) fn relationship(code: &str) -> Option<Relationship> {
    match code {
        "18" => Some(Relationship::SelfInsured),
        "01" => Some(Relationship::Spouse),
        "19" => Some(Relationship::Child),
        "G8" => Some(Relationship::Other),
        _ => None,
    }
}

/// A CCYYMMDD date in element `n`.
pub(super) fn date(segment: &Segment<'_>, n: usize, diagnostics: &mut Vec<Diagnostic>) -> Option<NaiveDate> {
    let value = segment.element(n);
    if value.is_empty() {
        return None;
    }
    let parsed = ccyymmdd(value);
    if parsed.is_none() {
        diagnostics.push(invalid(segment, n, "a date as CCYYMMDD"));
    }
    parsed
}

/// Eight digits as a calendar date, without chrono's pattern parser (a profile of the reader
/// showed it).
fn ccyymmdd(bytes: &[u8]) -> Option<NaiveDate> {
    if bytes.len() != 8 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range].iter().fold(0u32, |total, digit| total * 10 + u32::from(digit - b'0'))
    };
    NaiveDate::from_ymd_opt(i32::try_from(number(0..4)).ok()?, number(4..6), number(6..8))
}

/// A CCYYMMDD-CCYYMMDD range (RD8) or a single date (D8) in element `n`.
fn date_range(segment: &Segment<'_>, n: usize, diagnostics: &mut Vec<Diagnostic>) -> Option<(NaiveDate, NaiveDate)> {
    let value = text(segment, n)?;
    let parse = |part: &str| ccyymmdd(part.as_bytes());
    let parsed = match value.split_once('-') {
        Some((from, to)) => parse(from).zip(parse(to)),
        None => parse(&value).map(|day| (day, day)),
    };
    if parsed.is_none() {
        diagnostics.push(Diagnostic::error(
            segment.position_of(n),
            DiagnosticKind::InvalidElement { expected: "a date range as CCYYMMDD-CCYYMMDD".to_string(), found: value },
        ));
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::ccyymmdd;
    use chrono::NaiveDate;

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(ccyymmdd(b"20261102"), NaiveDate::from_ymd_opt(2026, 11, 2));
        for bad in [&b"20261340"[..], b"2026110", b"202611022", b"2026-1-2", b"", b"20260229"] {
            assert_eq!(ccyymmdd(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
