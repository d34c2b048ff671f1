//! Envelope checks over a stream of segments: ISA/IEA, GS/GE and ST/SE pairing, control
//! numbers (IEA02 = ISA13, GE02 = GS06, SE02 = ST02) and counts (IEA01 groups, GE01
//! transaction sets, SE01 segments). Fed one segment at a time, so it streams too.

use super::diagnostic::{Diagnostic, DiagnosticKind, Position};
use super::segment::Segment;
use serde::Serialize;

/// What a segment did to the envelope structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeEvent {
    InterchangeStart,
    InterchangeEnd,
    GroupStart,
    GroupEnd,
    /// `ST`: a transaction set begins; [`EnvelopeChecker::context`] describes it.
    TransactionStart,
    /// `SE`: the transaction set ends.
    TransactionEnd,
    /// A segment inside ST…SE.
    Body,
    /// A segment outside any ST…SE (already reported).
    Outside,
}

/// Identifiers of the envelopes around the current transaction set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EnvelopeContext {
    /// ISA13; `None` for a bare transaction set.
    pub interchange_control_number: Option<String>,
    /// ISA06 (trimmed).
    pub sender_id: Option<String>,
    /// ISA08 (trimmed).
    pub receiver_id: Option<String>,
    /// GS01, e.g. `HP` for an 835.
    pub functional_id: Option<String>,
    /// GS06.
    pub group_control_number: Option<String>,
    /// GS08, e.g. `005010X221A1`; ST03 when there is no GS.
    pub version: Option<String>,
    /// ST01, e.g. `835`.
    pub transaction_set: String,
    /// ST02.
    pub control_number: String,
}

struct Open {
    control: String,
    count: u64,
    position: Position,
}

/// Checks envelopes segment by segment and keeps the current [`EnvelopeContext`].
#[derive(Default)]
pub struct EnvelopeChecker {
    interchange: Option<Open>,
    group: Option<Open>,
    transaction: Option<Open>,
    context: EnvelopeContext,
    seen_interchange: bool,
}

impl EnvelopeChecker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The envelopes around the current (or last) transaction set.
    pub fn context(&self) -> &EnvelopeContext {
        &self.context
    }

    /// Whether a transaction set is open (ST read, SE not yet).
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// Checks one segment, pushing problems to `diagnostics`.
    pub fn on_segment(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> EnvelopeEvent {
        if let Some(transaction) = &mut self.transaction {
            transaction.count += 1;
        }
        match segment.id() {
            b"ISA" => self.on_isa(segment, diagnostics),
            b"GS" => self.on_gs(segment, diagnostics),
            b"ST" => self.on_st(segment, diagnostics),
            b"SE" => self.on_se(segment, diagnostics),
            b"GE" => self.on_ge(segment, diagnostics),
            b"IEA" => self.on_iea(segment, diagnostics),
            _ if self.transaction.is_some() => EnvelopeEvent::Body,
            _ => {
                diagnostics.push(unexpected(segment, "a segment inside ST…SE"));
                EnvelopeEvent::Outside
            }
        }
    }

    /// Reports envelopes still open at the end of input (a truncated file).
    pub fn finish(&mut self, end: Position, diagnostics: &mut Vec<Diagnostic>) {
        if let Some(open) = self.transaction.take() {
            diagnostics.push(missing(&end, format!("SE closing ST {} ({})", open.control, open.position)));
        }
        if let Some(open) = self.group.take() {
            diagnostics.push(missing(&end, format!("GE closing GS {} ({})", open.control, open.position)));
        }
        if let Some(open) = self.interchange.take() {
            diagnostics.push(missing(&end, format!("IEA closing ISA {} ({})", open.control, open.position)));
        }
    }

    fn on_isa(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> EnvelopeEvent {
        self.close_all(segment, diagnostics);
        let control = trimmed(segment, 13);
        if control.len() != 9 || !control.bytes().all(|b| b.is_ascii_digit()) {
            diagnostics.push(invalid(segment, 13, "a 9-digit interchange control number"));
        }
        self.seen_interchange = true;
        self.context = EnvelopeContext {
            interchange_control_number: Some(control.clone()),
            sender_id: Some(trimmed(segment, 6)),
            receiver_id: Some(trimmed(segment, 8)),
            ..EnvelopeContext::default()
        };
        self.interchange = Some(Open { control, count: 0, position: segment.position() });
        EnvelopeEvent::InterchangeStart
    }

    fn on_gs(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> EnvelopeEvent {
        if let Some(open) = self.transaction.take() {
            diagnostics
                .push(missing(&segment.position(), format!("SE closing ST {} ({})", open.control, open.position)));
        }
        if let Some(open) = self.group.take() {
            diagnostics
                .push(missing(&segment.position(), format!("GE closing GS {} ({})", open.control, open.position)));
        }
        match &mut self.interchange {
            Some(interchange) => interchange.count += 1,
            None => diagnostics.push(unexpected(segment, "ISA before GS")),
        }
        let control = trimmed(segment, 6);
        if control.is_empty() {
            diagnostics.push(missing_element(segment, 6, "GS06 group control number"));
        }
        self.context.functional_id = Some(trimmed(segment, 1));
        self.context.group_control_number = Some(control.clone());
        self.context.version = Some(trimmed(segment, 8));
        self.group = Some(Open { control, count: 0, position: segment.position() });
        EnvelopeEvent::GroupStart
    }

    fn on_st(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> EnvelopeEvent {
        if let Some(open) = self.transaction.take() {
            diagnostics
                .push(missing(&segment.position(), format!("SE closing ST {} ({})", open.control, open.position)));
        }
        match &mut self.group {
            Some(group) => group.count += 1,
            None if self.seen_interchange => diagnostics.push(unexpected(segment, "GS before ST")),
            None => {}
        }
        let set = trimmed(segment, 1);
        let control = trimmed(segment, 2);
        if set.is_empty() {
            diagnostics.push(missing_element(segment, 1, "ST01 transaction set identifier"));
        }
        if control.is_empty() {
            diagnostics.push(missing_element(segment, 2, "ST02 transaction set control number"));
        }
        if self.group.is_none() {
            let implementation = trimmed(segment, 3);
            self.context.version = (!implementation.is_empty()).then_some(implementation);
        }
        self.context.transaction_set = set;
        self.context.control_number = control.clone();
        self.transaction = Some(Open { control, count: 1, position: segment.position() });
        EnvelopeEvent::TransactionStart
    }

    fn on_se(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> EnvelopeEvent {
        let Some(open) = self.transaction.take() else {
            diagnostics.push(unexpected(segment, "ST before SE"));
            return EnvelopeEvent::Outside;
        };
        check_count(segment, 1, "SE01 segment count", open.count, diagnostics);
        check_control(segment, 2, "SE02 must equal ST02", &open.control, diagnostics);
        EnvelopeEvent::TransactionEnd
    }

    fn on_ge(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> EnvelopeEvent {
        if let Some(open) = self.transaction.take() {
            diagnostics
                .push(missing(&segment.position(), format!("SE closing ST {} ({})", open.control, open.position)));
        }
        let Some(open) = self.group.take() else {
            diagnostics.push(unexpected(segment, "GS before GE"));
            return EnvelopeEvent::Outside;
        };
        check_count(segment, 1, "GE01 transaction set count", open.count, diagnostics);
        check_control(segment, 2, "GE02 must equal GS06", &open.control, diagnostics);
        EnvelopeEvent::GroupEnd
    }

    fn on_iea(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> EnvelopeEvent {
        if let Some(open) = self.transaction.take() {
            diagnostics
                .push(missing(&segment.position(), format!("SE closing ST {} ({})", open.control, open.position)));
        }
        if let Some(open) = self.group.take() {
            diagnostics
                .push(missing(&segment.position(), format!("GE closing GS {} ({})", open.control, open.position)));
        }
        let Some(open) = self.interchange.take() else {
            diagnostics.push(unexpected(segment, "ISA before IEA"));
            return EnvelopeEvent::Outside;
        };
        check_count(segment, 1, "IEA01 functional group count", open.count, diagnostics);
        check_control(segment, 2, "IEA02 must equal ISA13", &open.control, diagnostics);
        EnvelopeEvent::InterchangeEnd
    }

    fn close_all(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let at = segment.position();
        if let Some(open) = self.transaction.take() {
            diagnostics.push(missing(&at, format!("SE closing ST {} ({})", open.control, open.position)));
        }
        if let Some(open) = self.group.take() {
            diagnostics.push(missing(&at, format!("GE closing GS {} ({})", open.control, open.position)));
        }
        if let Some(open) = self.interchange.take() {
            diagnostics.push(missing(&at, format!("IEA closing ISA {} ({})", open.control, open.position)));
        }
    }
}

fn trimmed(segment: &Segment<'_>, element: usize) -> String {
    String::from_utf8_lossy(segment.element(element)).trim().to_string()
}

fn check_count(segment: &Segment<'_>, element: usize, what: &str, counted: u64, diagnostics: &mut Vec<Diagnostic>) {
    let written = trimmed(segment, element);
    if written.parse::<u64>().ok() != Some(counted) {
        diagnostics.push(Diagnostic::error(
            segment.position_of(element),
            DiagnosticKind::CountMismatch { what: what.to_string(), expected: counted, found: written },
        ));
    }
}

fn check_control(segment: &Segment<'_>, element: usize, what: &str, header: &str, diagnostics: &mut Vec<Diagnostic>) {
    let trailer = trimmed(segment, element);
    if trailer != header {
        diagnostics.push(Diagnostic::error(
            segment.position_of(element),
            DiagnosticKind::ControlNumberMismatch {
                what: what.to_string(),
                expected: header.to_string(),
                found: trailer,
            },
        ));
    }
}

fn unexpected(segment: &Segment<'_>, expected: &str) -> Diagnostic {
    Diagnostic::error(
        segment.position(),
        DiagnosticKind::UnexpectedSegment { expected: expected.to_string(), found: segment.id_text() },
    )
}

fn missing(at: &Position, expected: String) -> Diagnostic {
    Diagnostic::error(at.clone(), DiagnosticKind::MissingSegment { expected })
}

fn missing_element(segment: &Segment<'_>, element: usize, expected: &str) -> Diagnostic {
    Diagnostic::error(segment.position_of(element), DiagnosticKind::MissingElement { expected: expected.to_string() })
}

fn invalid(segment: &Segment<'_>, element: usize, expected: &str) -> Diagnostic {
    Diagnostic::error(
        segment.position_of(element),
        DiagnosticKind::InvalidElement { expected: expected.to_string(), found: trimmed(segment, element) },
    )
}
