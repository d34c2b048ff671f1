//! 999 implementation acknowledgment (005010X231A1) for a functional group we received:
//! AK1, then per transaction set AK2 / IK3 / IK4 / IK5, then AK9 with the counts.
//!
//! The input needs only the received envelope's numbers and what we found in each set.

use super::envelope::{enveloped, Envelope, TransactionKind};
use super::error::X12WriteError;
use serde::{Deserialize, Serialize};

/// The functional group being acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedGroup {
    /// GS01, e.g. "HC".
    pub functional_id: String,
    /// GS06.
    pub control_number: u32,
    /// GS08, e.g. "005010X222A1".
    pub version: String,
    pub sets: Vec<SetAcknowledgment>,
}

/// IK501.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetStatus {
    Accepted,
    AcceptedWithErrors,
    Rejected,
}

impl SetStatus {
    fn code(self) -> &'static str {
        match self {
            SetStatus::Accepted => "A",
            SetStatus::AcceptedWithErrors => "E",
            SetStatus::Rejected => "R",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAcknowledgment {
    /// ST01, e.g. "837".
    pub set_id: String,
    /// ST02.
    pub control_number: String,
    /// ST03, when the set carried one.
    #[serde(default)]
    pub version: Option<String>,
    pub status: SetStatus,
    /// IK502..IK506 implementation syntax error codes (e.g. "5": one or more segments in error).
    #[serde(default)]
    pub syntax_errors: Vec<String>,
    #[serde(default)]
    pub segment_errors: Vec<SegmentError>,
}

/// IK3 with its IK4s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentError {
    pub segment_id: String,
    /// Position of the segment in the set, ST being 1.
    pub position: u32,
    /// The loop id, e.g. "2300".
    #[serde(default)]
    pub loop_id: Option<String>,
    /// IK304, e.g. "8" (segment has data element errors), "3" (required segment missing).
    pub code: String,
    #[serde(default)]
    pub element_errors: Vec<ElementError>,
}

/// IK4.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElementError {
    /// Position of the element in its segment.
    pub position: u32,
    /// Component position inside a composite.
    #[serde(default)]
    pub component: Option<u32>,
    /// Data element reference number, e.g. "1028".
    #[serde(default)]
    pub reference_number: Option<String>,
    /// IK403, e.g. "1" (required element missing), "7" (invalid code value).
    pub code: String,
    /// A copy of the bad value, when there was one.
    #[serde(default)]
    pub bad_value: Option<String>,
}

/// Write the 999 for `group` inside `envelope`.
pub fn write_999(envelope: &Envelope, group: &ReceivedGroup) -> Result<Vec<u8>, X12WriteError> {
    if group.sets.is_empty() {
        return Err(X12WriteError::Empty { what: "a 999 acknowledges at least one transaction set" });
    }
    let delimiters = envelope.delimiters;
    enveloped(envelope, TransactionKind::Acknowledgment999, |writer| {
        writer.begin_set();
        let group_control = group.control_number.to_string();
        writer.begin("AK1").el(&group.functional_id).el(&group_control).el(&group.version).end();
        for set in &group.sets {
            writer.begin("AK2").el(&set.set_id).el(&set.control_number).opt(set.version.as_deref()).end();
            for segment in &set.segment_errors {
                let position = segment.position.to_string();
                writer
                    .begin("IK3")
                    .el(&segment.segment_id)
                    .el(&position)
                    .opt(segment.loop_id.as_deref())
                    .el(&segment.code)
                    .end();
                for element in &segment.element_errors {
                    let position = element.position.to_string();
                    let component = element.component.map(|component| component.to_string()).unwrap_or_default();
                    // A copied bad value may hold anything, delimiters included: make it writable.
                    let bad_value = element.bad_value.as_deref().map(|value| writable(value, delimiters));
                    writer
                        .begin("IK4")
                        .comp(&[&position, &component])
                        .opt(element.reference_number.as_deref())
                        .el(&element.code)
                        .opt(bad_value.as_deref())
                        .end();
                }
            }
            writer.begin("IK5").el(set.status.code());
            let mut codes: Vec<&str> = set.syntax_errors.iter().map(String::as_str).take(5).collect();
            if codes.is_empty() && set.status != SetStatus::Accepted {
                // A set with errors needs a reason; 5 is "one or more segments in error".
                codes.push("5");
            }
            for code in codes {
                writer.el(code);
            }
            writer.end();
        }
        let received = group.sets.len();
        let accepted = group.sets.iter().filter(|set| set.status != SetStatus::Rejected).count();
        let all_clean = group.sets.iter().all(|set| set.status == SetStatus::Accepted);
        let code = if accepted == received && all_clean {
            "A"
        } else if accepted == received {
            "E"
        } else if accepted == 0 {
            "R"
        } else {
            "P"
        };
        let (received, accepted) = (received.to_string(), accepted.to_string());
        writer.begin("AK9").el(code).el(&received).el(&received).el(&accepted).end();
        writer.end_set();
        Ok(())
    })
}

fn writable(value: &str, delimiters: super::Delimiters) -> String {
    value
        .chars()
        .map(|c| {
            let reserved = [delimiters.element, delimiters.repetition, delimiters.component, delimiters.segment];
            if !c.is_ascii() || !(c.is_ascii_graphic() || c == ' ') || reserved.contains(&(c as u8)) {
                '?'
            } else {
                c
            }
        })
        .take(99)
        .collect()
}
