//! X12 5010 for health care: a streaming lexer, envelope checks and typed readers.
//!
//! Architecture invariant: pure. The only input is a caller-supplied `Read`; nothing here
//! opens files, logs or panics on any bytes. Readers return `(value, Vec<Diagnostic>)` for
//! problems they can read past and an [`X12Error`] for the ones they cannot.
//!
//! [`write`] holds the writers (837P/837I, 276, 277, 999, 835, 277CA): pure, bytes out.

mod delimiters;
mod diagnostic;
pub mod envelope;
mod lexer;
mod segment;

pub use delimiters::Delimiters;
pub use diagnostic::{Diagnostic, DiagnosticKind, Position, Severity, X12Error};
pub use envelope::{EnvelopeChecker, EnvelopeContext, EnvelopeEvent};
pub use lexer::{SegmentReader, DEFAULT_MAX_SEGMENT};
pub use segment::{Components, Segment};
pub mod read;
pub mod read837;
pub mod write;

pub use read::{read_document, read_with, validate, Document, ParseOutput, Sink, Transaction, TransactionBody};
