//! Typed problems found while reading X12: recoverable [`Diagnostic`]s that travel beside the
//! value read, and fatal [`X12Error`]s that stop reading.
//!
//! Every diagnostic carries a [`Position`]: segment number (1-based, counted over the whole
//! file), byte offset of the segment's first byte, the segment id, and when known the element
//! (and component) position, so a biller can find the exact spot in the file.

use serde::Serialize;
use std::fmt;

/// Where in the input a problem was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Position {
    /// 1-based segment number counted over the whole input (0 before the first segment).
    pub segment: u64,
    /// Byte offset of the segment's first byte from the start of the input.
    pub offset: u64,
    /// The segment id, e.g. `CLP` (empty when no segment could be read).
    pub segment_id: String,
    /// 1-based element position (`CLP04` is element 4), when the problem is in one element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<u16>,
    /// 1-based component position inside a composite element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<u16>,
}

impl Position {
    /// A position at byte `offset`, before any segment id is known.
    pub fn at_offset(segment: u64, offset: u64) -> Self {
        Self { segment, offset, segment_id: String::new(), element: None, component: None }
    }

    /// The same position narrowed to one element.
    pub fn element(mut self, element: u16) -> Self {
        self.element = Some(element);
        self
    }

    /// The same position narrowed to one component of the element.
    pub fn component(mut self, component: u16) -> Self {
        self.component = Some(component);
        self
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {} at byte {}", self.segment, self.offset)?;
        if !self.segment_id.is_empty() {
            write!(f, " ({}", self.segment_id)?;
            if let Some(element) = self.element {
                write!(f, "{element:02}")?;
                if let Some(component) = self.component {
                    write!(f, "-{component}")?;
                }
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// How bad a diagnostic is. `Error` makes a file invalid; `Warning` is a tolerated deviation
/// (a BOM, a composite written with the wrong separator) that was read anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

/// What went wrong. The messages say what was expected and what was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DiagnosticKind {
    #[error("input starts with a UTF-8 byte order mark (skipped)")]
    ByteOrderMark,
    #[error("no ISA interchange header: read a bare transaction set with guessed delimiters")]
    NoEnvelope,
    #[error("input ends inside a segment: expected segment terminator {expected:?}")]
    MissingTerminator { expected: char },
    #[error("expected a segment id of 2-3 capital letters or digits, found `{found}`")]
    InvalidSegmentId { found: String },
    #[error("unexpected segment {found}: expected {expected}")]
    UnexpectedSegment { expected: String, found: String },
    #[error("segment {id} is not part of transaction set {set}")]
    UnknownSegment { id: String, set: String },
    #[error("missing {expected}")]
    MissingSegment { expected: String },
    #[error("{what}: trailer says {found:?}, header says {expected:?}")]
    ControlNumberMismatch { what: String, expected: String, found: String },
    #[error("{what}: trailer says {found}, counted {expected}")]
    CountMismatch { what: String, expected: u64, found: String },
    #[error("missing required element: expected {expected}")]
    MissingElement { expected: String },
    #[error("invalid element: expected {expected}, found {found:?}")]
    InvalidElement { expected: String, found: String },
    #[error("composite written with {found:?} but ISA16 declares {declared:?}")]
    ComponentSeparatorMismatch { declared: char, found: char },
    #[error("does not balance: {what}: expected {expected}, found {found}")]
    Unbalanced { what: String, expected: String, found: String },
}

impl DiagnosticKind {
    /// Found by the lexer, before any envelope or transaction reading.
    pub fn is_lexical(&self) -> bool {
        matches!(
            self,
            Self::ByteOrderMark | Self::NoEnvelope | Self::MissingTerminator { .. } | Self::InvalidSegmentId { .. }
        )
    }
}

/// One recoverable problem, with where it is and how bad it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{severity}: {position}: {kind}")]
pub struct Diagnostic {
    pub severity: Severity,
    pub position: Position,
    #[serde(flatten)]
    pub kind: DiagnosticKind,
}

impl Diagnostic {
    pub fn error(position: Position, kind: DiagnosticKind) -> Self {
        Self { severity: Severity::Error, position, kind }
    }

    pub fn warning(position: Position, kind: DiagnosticKind) -> Self {
        Self { severity: Severity::Warning, position, kind }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A problem that stops reading: nothing after it can be trusted.
#[derive(Debug, thiserror::Error)]
pub enum X12Error {
    #[error("cannot read input: {0}")]
    Io(#[from] std::io::Error),
    #[error("input is empty (0 bytes of X12)")]
    Empty,
    #[error("input holds no segments: {bytes} bytes of whitespace")]
    Blank { bytes: u64 },
    #[error("not X12 at byte {offset}: expected an ISA header or an ST segment, found `{found}`")]
    NotX12 { offset: u64, found: String },
    #[error("input is UTF-16 encoded at byte {offset}: X12 must be ASCII or UTF-8")]
    Utf16 { offset: u64 },
    #[error("malformed ISA header at byte {offset}: {reason}")]
    BadIsa { offset: u64, reason: String },
    #[error("segment {segment} at byte {offset} exceeds {limit} bytes without a terminator {terminator:?}")]
    SegmentTooLong { segment: u64, offset: u64, limit: usize, terminator: char },
}

/// Printable form of a few bytes for messages: ASCII kept, everything else escaped.
pub(crate) fn show_bytes(bytes: &[u8], limit: usize) -> String {
    let mut shown: String =
        bytes.iter().take(limit).flat_map(|b| std::ascii::escape_default(*b)).map(char::from).collect();
    if bytes.len() > limit {
        shown.push('…');
    }
    shown
}
