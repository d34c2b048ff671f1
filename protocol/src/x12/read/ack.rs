//! 999 implementation acknowledgment (005010X231A1): for the functional group we sent (AK1),
//! each transaction set's verdict (AK2/IK5) with the segment (IK3) and element (IK4) errors,
//! and the group's verdict (AK9).

use super::elements::{required_text, text};
use crate::x12::diagnostic::{Diagnostic, DiagnosticKind, Position};
use crate::x12::read::text::Text;
use crate::x12::segment::Segment;
use serde::Serialize;

/// What the receiver decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// `A`.
    Accepted,
    /// `E`: accepted, but errors were noted.
    AcceptedWithErrors,
    /// `P` (AK9 only): some transaction sets accepted, some rejected.
    PartiallyAccepted,
    /// `R`, `M`, `W`, `X`: rejected.
    Rejected,
    /// Missing or unknown code (reported as a diagnostic).
    #[default]
    Unknown,
}

impl AckStatus {
    fn from_code(code: &str) -> Self {
        match code {
            "A" => Self::Accepted,
            "E" => Self::AcceptedWithErrors,
            "P" => Self::PartiallyAccepted,
            "R" | "M" | "W" | "X" => Self::Rejected,
            _ => Self::Unknown,
        }
    }
}

/// One 999 transaction set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Acknowledgment {
    /// AK101 functional identifier of the acknowledged group (e.g. `HC` for 837).
    pub functional_id: Text,
    /// AK102: the GS06 we sent.
    pub group_control_number: Text,
    /// AK103 version of the acknowledged group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Text>,
    pub sets: Vec<SetAcknowledgment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupAcknowledgment>,
}

/// AK2…IK5: the verdict on one transaction set we sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SetAcknowledgment {
    /// AK201, e.g. `837`.
    pub transaction_set: Text,
    /// AK202: the ST02 we sent.
    pub control_number: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementation: Option<Text>,
    pub status: AckStatus,
    /// IK501 as written.
    pub status_code: Text,
    /// IK502-IK506 syntax error codes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Text>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segment_errors: Vec<SegmentError>,
}

/// IK3: an error in one segment of the set we sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SegmentError {
    /// IK301 segment id.
    pub segment_id: Text,
    /// IK302 position of the segment in the set (ST = 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Text>,
    /// IK303 loop identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_id: Option<Text>,
    /// IK304 implementation segment syntax error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Text>,
    /// CTX segments: business unit or segment context, as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<Vec<Text>>,
    pub elements: Vec<ElementError>,
}

/// IK4: an error in one element.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ElementError {
    /// IK401-1 element position in the segment.
    pub position: Text,
    /// IK401-2 component position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Text>,
    /// IK401-3 repeating data element position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition: Option<Text>,
    /// IK402 data element reference number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Text>,
    /// IK403 implementation data element syntax error code.
    pub code: Text,
    /// IK404 copy of the bad data element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_value: Option<Text>,
}

/// AK9: the verdict on the whole functional group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GroupAcknowledgment {
    pub status: AckStatus,
    pub status_code: Text,
    pub included: Text,
    pub received: Text,
    pub accepted: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Text>,
}

/// Reads one 999 transaction set segment by segment.
#[derive(Default)]
pub struct AcknowledgmentReader {
    ack: Acknowledgment,
    set: Option<SetAcknowledgment>,
}

impl AcknowledgmentReader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn segment(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        match segment.id() {
            b"AK1" => {
                self.ack.functional_id = required_text(segment, 1, "AK101 functional identifier code", diagnostics);
                self.ack.group_control_number = required_text(segment, 2, "AK102 group control number", diagnostics);
                self.ack.version = text(segment, 3);
            }
            b"AK2" => {
                self.close_set();
                self.set = Some(SetAcknowledgment {
                    transaction_set: required_text(segment, 1, "AK201 transaction set identifier", diagnostics),
                    control_number: required_text(segment, 2, "AK202 transaction set control number", diagnostics),
                    implementation: text(segment, 3),
                    ..SetAcknowledgment::default()
                });
            }
            b"IK3" => {
                let Some(set) = self.set_or_report(segment, diagnostics) else { return };
                set.segment_errors.push(SegmentError {
                    segment_id: required_text(segment, 1, "IK301 segment id code", diagnostics),
                    position: text(segment, 2),
                    loop_id: text(segment, 3),
                    code: text(segment, 4),
                    ..SegmentError::default()
                });
            }
            b"CTX" => {
                let context: Vec<Text> =
                    (1..=segment.element_count()).map(|n| text(segment, n).unwrap_or_default()).collect();
                match self.set.as_mut().and_then(|set| set.segment_errors.last_mut()) {
                    Some(error) => error.contexts.push(context),
                    None => diagnostics.push(unexpected(segment, "IK3 before CTX")),
                }
            }
            b"IK4" => {
                let parts = super::elements::components(segment, 1);
                let part = |index: usize| parts.get(index).filter(|value| !value.is_empty()).cloned();
                let error = ElementError {
                    position: part(0).unwrap_or_default(),
                    component: part(1),
                    repetition: part(2),
                    reference: text(segment, 2),
                    code: required_text(segment, 3, "IK403 data element syntax error code", diagnostics),
                    bad_value: text(segment, 4),
                };
                if error.position.is_empty() {
                    diagnostics.push(super::elements::missing(segment, 1, "IK401 element position"));
                }
                match self.set.as_mut().and_then(|set| set.segment_errors.last_mut()) {
                    Some(segment_error) => segment_error.elements.push(error),
                    None => diagnostics.push(unexpected(segment, "IK3 before IK4")),
                }
            }
            b"IK5" => {
                let Some(set) = self.set_or_report(segment, diagnostics) else { return };
                set.status_code = required_text(segment, 1, "IK501 acknowledgment code", diagnostics);
                set.status = AckStatus::from_code(&set.status_code);
                set.errors = (2..=6).filter_map(|n| text(segment, n)).collect();
                if set.status == AckStatus::Unknown || set.status == AckStatus::PartiallyAccepted {
                    diagnostics.push(super::elements::invalid(segment, 1, "IK501 A, E, M, R, W or X"));
                }
                self.close_set();
            }
            b"AK9" => {
                self.close_set();
                let status_code = required_text(segment, 1, "AK901 acknowledgment code", diagnostics);
                let status = AckStatus::from_code(&status_code);
                if status == AckStatus::Unknown {
                    diagnostics.push(super::elements::invalid(segment, 1, "AK901 A, E, P, M, R, W or X"));
                }
                self.ack.group = Some(GroupAcknowledgment {
                    status,
                    status_code,
                    included: required_text(segment, 2, "AK902 number of transaction sets included", diagnostics),
                    received: required_text(segment, 3, "AK903 number of received transaction sets", diagnostics),
                    accepted: required_text(segment, 4, "AK904 number of accepted transaction sets", diagnostics),
                    errors: (5..=9).filter_map(|n| text(segment, n)).collect(),
                });
            }
            _ => diagnostics.push(Diagnostic::error(
                segment.position(),
                DiagnosticKind::UnknownSegment { id: segment.id_text(), set: "999".to_string() },
            )),
        }
    }

    pub fn finish(mut self, end: &Position, diagnostics: &mut Vec<Diagnostic>) -> Acknowledgment {
        self.close_set();
        if self.ack.group.is_none() {
            diagnostics.push(Diagnostic::error(
                end.clone(),
                DiagnosticKind::MissingSegment { expected: "AK9 functional group response".to_string() },
            ));
        }
        self.ack
    }

    fn set_or_report(
        &mut self,
        segment: &Segment<'_>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<&mut SetAcknowledgment> {
        if self.set.is_none() {
            diagnostics.push(unexpected(segment, "AK2 first"));
        }
        self.set.as_mut()
    }

    fn close_set(&mut self) {
        if let Some(set) = self.set.take() {
            self.ack.sets.push(set);
        }
    }
}

fn unexpected(segment: &Segment<'_>, expected: &str) -> Diagnostic {
    Diagnostic::error(
        segment.position(),
        DiagnosticKind::UnexpectedSegment { expected: expected.to_string(), found: segment.id_text() },
    )
}
