//! Typed readers: one pass over the segments, envelope checks, and a reader per transaction
//! set (835 [`remit`], 277/277CA [`status`], 276 [`request`], 999 [`ack`]; other sets are
//! counted and kept as `other`).
//!
//! [`read_document`] collects everything into a [`Document`]. [`read_with`] streams instead:
//! each 835 claim goes to the [`Sink`] as soon as its loop closes, so memory stays bounded
//! however large the remittance.

pub mod ack;
pub(crate) mod elements;
pub mod remit;
pub mod request;
pub mod status;
mod text;

pub use elements::Procedure;
pub use text::Text;

use super::diagnostic::{Diagnostic, Position, X12Error};
use super::envelope::{EnvelopeChecker, EnvelopeContext, EnvelopeEvent};
use super::lexer::SegmentReader;
use super::segment::Segment;
use ack::{Acknowledgment, AcknowledgmentReader};
use remit::{ClaimPayment, Remittance, RemittanceReader};
use request::{StatusRequest276, StatusRequestReader};
use serde::Serialize;
use status::{StatusReader, StatusReport};
use std::io::Read;

/// Everything read from one input: its transaction sets in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Document {
    pub transactions: Vec<Transaction>,
}

/// One transaction set with the envelopes around it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transaction {
    pub envelope: EnvelopeContext,
    #[serde(flatten)]
    pub body: TransactionBody,
}

/// The typed content of a transaction set, tagged by `type` in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum TransactionBody {
    #[serde(rename = "835")]
    Remittance(Box<Remittance>),
    #[serde(rename = "277")]
    ClaimStatus(StatusReport),
    #[serde(rename = "277CA")]
    ClaimAcknowledgment(StatusReport),
    #[serde(rename = "999")]
    Acknowledgment(Acknowledgment),
    /// A claim status request, boxed like the 835: its names would otherwise size every variant.
    #[serde(rename = "276")]
    StatusRequest(Box<StatusRequest276>),
    /// A set these readers do not type (837, …): only counted.
    #[serde(rename = "other")]
    Other { segments: u64 },
}

/// The JSON document `practice x12 parse` prints: transaction sets in input order, then the
/// diagnostics. Field order follows the types (serialize this, not a `serde_json::Value`).
#[derive(Serialize)]
pub struct ParseOutput<'a> {
    pub transactions: &'a [Transaction],
    pub diagnostics: &'a [Diagnostic],
}

impl ParseOutput<'_> {
    /// Writes pretty-printed JSON with a trailing newline straight to `writer` (no copy of
    /// the whole text in memory).
    pub fn write_json_pretty<W: std::io::Write>(&self, mut writer: W) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut writer, self)?;
        writer.write_all(b"\n")
    }

    /// Pretty-printed JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain data with string keys cannot fail; keep a message rather than panic.
        serde_json::to_string_pretty(self).unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}")) + "\n"
    }
}

/// Receives what [`read_with`] reads, in input order.
pub trait Sink {
    /// An 835 claim whose loop just closed; its remittance follows via `transaction`.
    fn claim(&mut self, envelope: &EnvelopeContext, claim: ClaimPayment);
    /// A complete transaction set (an 835's `claims` is empty: they went to `claim`).
    fn transaction(&mut self, transaction: Transaction);
}

/// Collects everything into a [`Document`], putting each 835's claims back in place.
#[derive(Default)]
struct Collector {
    document: Document,
    claims: Vec<ClaimPayment>,
}

impl Sink for Collector {
    fn claim(&mut self, _: &EnvelopeContext, claim: ClaimPayment) {
        self.claims.push(claim);
    }

    fn transaction(&mut self, mut transaction: Transaction) {
        if let TransactionBody::Remittance(remittance) = &mut transaction.body {
            remittance.claims = std::mem::take(&mut self.claims);
        }
        self.document.transactions.push(transaction);
    }
}

/// Drops everything: for validation only.
struct Discard;

impl Sink for Discard {
    fn claim(&mut self, _: &EnvelopeContext, _: ClaimPayment) {}
    fn transaction(&mut self, _: Transaction) {}
}

/// Reads a whole input into a [`Document`] with its diagnostics. Fatal problems (empty input,
/// not X12, an unreadable ISA, I/O) are an [`X12Error`].
pub fn read_document<R: Read>(source: R) -> Result<(Document, Vec<Diagnostic>), X12Error> {
    let mut collector = Collector::default();
    let diagnostics = read_with(source, &mut collector)?;
    Ok((collector.document, diagnostics))
}

/// Reads and checks a whole input, keeping only the diagnostics.
pub fn validate<R: Read>(source: R) -> Result<Vec<Diagnostic>, X12Error> {
    read_with(source, &mut Discard)
}

/// Reads a whole input, streaming claims and transaction sets to `sink`; returns the
/// diagnostics in input order.
pub fn read_with<R: Read, S: Sink>(source: R, sink: &mut S) -> Result<Vec<Diagnostic>, X12Error> {
    let mut reader = SegmentReader::new(source);
    let mut checker = EnvelopeChecker::new();
    let mut diagnostics = Vec::new();
    let mut active: Option<Active> = None;
    while let Some(segment) = reader.next_segment() {
        let segment = segment?;
        let event = checker.on_segment(&segment, &mut diagnostics);
        match event {
            // The lexer reported the bad id; a reader has nothing to add.
            EnvelopeEvent::Body if !segment.has_valid_id() => {}
            EnvelopeEvent::Body => {
                if let Some(active) = &mut active {
                    active.segment(&segment, sink, &mut diagnostics);
                }
            }
            EnvelopeEvent::TransactionStart => {
                if let Some(open) = active.take() {
                    open.finish(&segment.position(), sink, &mut diagnostics);
                }
                active = Some(Active::start(checker.context().clone(), &segment));
            }
            _ => {
                // SE, or an envelope segment that closed an unterminated set (already reported).
                if let Some(open) = active.take() {
                    open.finish(&segment.position(), sink, &mut diagnostics);
                }
            }
        }
        if reader.has_diagnostics() {
            diagnostics.extend(reader.take_diagnostics());
        }
    }
    let end = Position::at_offset(reader.segments_read() + 1, reader.offset());
    if let Some(open) = active.take() {
        open.finish(&end, sink, &mut diagnostics);
    }
    checker.finish(end, &mut diagnostics);
    diagnostics.extend(reader.take_diagnostics());
    // Lexical, envelope and reader diagnostics interleave: order by position in the input.
    // Lexical problems of a segment come before what the readers made of it.
    diagnostics.sort_by_key(|diagnostic| (diagnostic.position.segment, !diagnostic.kind.is_lexical()));
    Ok(diagnostics)
}

/// The reader of the transaction set being read.
struct Active {
    envelope: EnvelopeContext,
    reader: ActiveReader,
}

enum ActiveReader {
    Remittance(Box<RemittanceReader>),
    ClaimStatus(StatusReader),
    ClaimAcknowledgment(StatusReader),
    Acknowledgment(AcknowledgmentReader),
    StatusRequest(Box<StatusRequestReader>),
    Other(u64),
}

impl Active {
    fn start(envelope: EnvelopeContext, st: &Segment<'_>) -> Self {
        let implementation =
            [envelope.version.as_deref().unwrap_or(""), std::str::from_utf8(st.element(3)).unwrap_or("")];
        let is_x214 = implementation.iter().any(|version| version.contains("X214"));
        let reader = match envelope.transaction_set.as_str() {
            "835" => ActiveReader::Remittance(Box::default()),
            "277" if is_x214 => ActiveReader::ClaimAcknowledgment(StatusReader::new("277CA")),
            "277" => ActiveReader::ClaimStatus(StatusReader::new("277")),
            "999" => ActiveReader::Acknowledgment(AcknowledgmentReader::new()),
            "276" => ActiveReader::StatusRequest(Box::default()),
            _ => ActiveReader::Other(1),
        };
        Self { envelope, reader }
    }

    fn segment<S: Sink>(&mut self, segment: &Segment<'_>, sink: &mut S, diagnostics: &mut Vec<Diagnostic>) {
        match &mut self.reader {
            ActiveReader::Remittance(reader) => {
                if let Some(claim) = reader.segment(segment, diagnostics) {
                    sink.claim(&self.envelope, claim);
                }
            }
            ActiveReader::ClaimStatus(reader) | ActiveReader::ClaimAcknowledgment(reader) => {
                reader.segment(segment, diagnostics)
            }
            ActiveReader::Acknowledgment(reader) => reader.segment(segment, diagnostics),
            ActiveReader::StatusRequest(reader) => reader.segment(segment, diagnostics),
            ActiveReader::Other(count) => *count += 1,
        }
    }

    fn finish<S: Sink>(self, end: &Position, sink: &mut S, diagnostics: &mut Vec<Diagnostic>) {
        let body = match self.reader {
            ActiveReader::Remittance(reader) => {
                let (remittance, last) = reader.finish(end, diagnostics);
                if let Some(claim) = last {
                    sink.claim(&self.envelope, claim);
                }
                TransactionBody::Remittance(Box::new(remittance))
            }
            ActiveReader::ClaimStatus(reader) => TransactionBody::ClaimStatus(reader.finish()),
            ActiveReader::ClaimAcknowledgment(reader) => TransactionBody::ClaimAcknowledgment(reader.finish()),
            ActiveReader::Acknowledgment(reader) => TransactionBody::Acknowledgment(reader.finish(end, diagnostics)),
            ActiveReader::StatusRequest(reader) => TransactionBody::StatusRequest(Box::new(reader.finish())),
            ActiveReader::Other(count) => TransactionBody::Other { segments: count + 1 },
        };
        sink.transaction(Transaction { envelope: self.envelope, body });
    }
}
