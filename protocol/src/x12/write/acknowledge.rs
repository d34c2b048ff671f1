//! From a received file to the input of its 999: the groups and sets it holds (read with the
//! streaming lexer) and, per set, the syntax problems the x12 readers found, as IK3/IK4/IK5
//! (for an 837, the 837 reader's: its loops' required elements, dates and amounts too).
//! A set with any error is rejected; warnings (a BOM, a composite written with another
//! separator) do not reject. Balance problems of an 835 are business, not syntax: not in a 999.

use super::ack999::{ElementError, ReceivedGroup, SegmentError, SetAcknowledgment, SetStatus};
use crate::x12::read837::read_837;
use crate::x12::{validate, DiagnosticKind, EnvelopeChecker, EnvelopeEvent, SegmentReader, X12Error};

/// One transaction set as found in the file, with the segment numbers of its ST and SE.
struct FoundSet {
    group: usize,
    set_id: String,
    control_number: String,
    version: Option<String>,
    start: u64,
    end: Option<u64>,
}

/// The 999 input for every functional group in `received`.
pub fn acknowledge(received: &[u8]) -> Result<Vec<ReceivedGroup>, X12Error> {
    let mut groups: Vec<ReceivedGroup> = Vec::new();
    let mut sets: Vec<FoundSet> = Vec::new();
    let mut reader = SegmentReader::new(received);
    let mut checker = EnvelopeChecker::new();
    let mut ignored = Vec::new();
    while let Some(segment) = reader.next_segment() {
        let segment = segment?;
        match checker.on_segment(&segment, &mut ignored) {
            EnvelopeEvent::GroupStart => {
                let context = checker.context();
                groups.push(ReceivedGroup {
                    functional_id: context.functional_id.clone().unwrap_or_default(),
                    control_number: context.group_control_number.as_deref().and_then(|n| n.parse().ok()).unwrap_or(0),
                    version: context.version.clone().unwrap_or_default(),
                    sets: Vec::new(),
                });
            }
            EnvelopeEvent::TransactionStart => {
                let context = checker.context();
                if groups.is_empty() {
                    // A bare ST…SE: acknowledge it under the group it would have had.
                    groups.push(ReceivedGroup {
                        functional_id: functional_id_for(&context.transaction_set).to_string(),
                        control_number: 0,
                        version: context.version.clone().unwrap_or_default(),
                        sets: Vec::new(),
                    });
                }
                sets.push(FoundSet {
                    group: groups.len() - 1,
                    set_id: context.transaction_set.clone(),
                    control_number: context.control_number.clone(),
                    version: segment.text(3).map(str::to_string),
                    start: segment.number(),
                    end: None,
                });
            }
            EnvelopeEvent::TransactionEnd => {
                if let Some(open) = sets.last_mut().filter(|set| set.end.is_none()) {
                    open.end = Some(segment.number());
                }
            }
            _ => {}
        }
        ignored.clear();
    }
    // An 837's content (dates, amounts, required elements of its loops) is checked by the 837
    // reader, which also reports what `validate` would (envelope and lexical); other sets by
    // `validate`. A practice's interchange holds 837s alone.
    let diagnostics =
        if sets.iter().any(|set| set.set_id == "837") { read_837(received)?.1 } else { validate(received)? };
    for (index, set) in sets.iter().enumerate() {
        let last = set.end.unwrap_or_else(|| sets.get(index + 1).map_or(u64::MAX, |next| next.start - 1));
        let mut syntax_errors = Vec::new();
        if set.end.is_none() {
            syntax_errors.push("2".to_string());
        }
        let mut segment_errors: Vec<SegmentError> = Vec::new();
        for diagnostic in diagnostics.iter().filter(|d| d.is_error()) {
            let number = diagnostic.position.segment;
            if number < set.start || number > last {
                continue;
            }
            let position = u32::try_from(number - set.start + 1).unwrap_or(u32::MAX);
            let segment_id = diagnostic.position.segment_id.clone();
            match (&diagnostic.kind, segment_id.as_str()) {
                (DiagnosticKind::CountMismatch { .. }, "SE") => syntax_errors.push("4".to_string()),
                (DiagnosticKind::ControlNumberMismatch { .. }, "SE") => syntax_errors.push("3".to_string()),
                (DiagnosticKind::Unbalanced { .. } | DiagnosticKind::ComponentSeparatorMismatch { .. }, _) => {}
                (kind, _) => {
                    let (code, element) =
                        segment_code(kind, diagnostic.position.element, diagnostic.position.component);
                    match segment_errors.iter_mut().find(|e| e.position == position && e.segment_id == segment_id) {
                        Some(existing) => existing.element_errors.extend(element),
                        None => segment_errors.push(SegmentError {
                            segment_id,
                            position,
                            loop_id: None,
                            code: code.to_string(),
                            element_errors: element.into_iter().collect(),
                        }),
                    }
                }
            }
        }
        if !segment_errors.is_empty() && syntax_errors.is_empty() {
            syntax_errors.push("5".to_string());
        }
        let status = if syntax_errors.is_empty() { SetStatus::Accepted } else { SetStatus::Rejected };
        if let Some(group) = groups.get_mut(set.group) {
            group.sets.push(SetAcknowledgment {
                set_id: set.set_id.clone(),
                control_number: set.control_number.clone(),
                version: set.version.clone(),
                status,
                syntax_errors,
                segment_errors,
            });
        }
    }
    groups.retain(|group| !group.sets.is_empty());
    Ok(groups)
}

/// IK304 for a segment-level problem, and the IK4 when it is about one element.
fn segment_code(
    kind: &DiagnosticKind,
    element: Option<u16>,
    component: Option<u16>,
) -> (&'static str, Option<ElementError>) {
    // IK404 copies the bad value, when there was one.
    let element_error = |code: &str, bad_value: Option<&String>| {
        element.map(|position| ElementError {
            position: u32::from(position),
            component: component.map(u32::from),
            reference_number: None,
            code: code.to_string(),
            bad_value: bad_value.filter(|value| !value.is_empty()).cloned(),
        })
    };
    match kind {
        DiagnosticKind::InvalidSegmentId { .. } | DiagnosticKind::UnknownSegment { .. } => ("1", None),
        DiagnosticKind::UnexpectedSegment { .. } => ("2", None),
        DiagnosticKind::MissingSegment { .. } => ("3", None),
        DiagnosticKind::MissingElement { .. } => ("8", element_error("1", None)),
        DiagnosticKind::InvalidElement { expected, found } if expected.contains("date") => {
            ("8", element_error("8", Some(found)))
        }
        DiagnosticKind::InvalidElement { found, .. } => ("8", element_error("7", Some(found))),
        _ => ("8", None),
    }
}

fn functional_id_for(set_id: &str) -> &'static str {
    match set_id {
        "837" => "HC",
        "835" => "HP",
        "276" => "HR",
        "277" => "HN",
        "999" => "FA",
        "270" => "HS",
        "271" => "HB",
        _ => "",
    }
}
