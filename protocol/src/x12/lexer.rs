//! The streaming lexer: segments out of any `Read` (a `BufRead`, a file, a byte slice) with
//! bounded memory. One buffer is reused for the whole input; a segment is a borrowed slice of
//! it, so lexing allocates nothing per segment.
//!
//! Delimiters come from each ISA header as it is met (an input may hold several interchanges
//! with different delimiters). Whitespace between segments (CR/LF after terminators, indenting)
//! is skipped; a UTF-8 BOM is skipped with a warning; a bare ST…SE without an envelope is read
//! with guessed delimiters and a warning.

use super::delimiters::{guess_bare_st, scan_isa, Delimiters, IsaScan};
use super::diagnostic::{show_bytes, Diagnostic, DiagnosticKind, Position, X12Error};
use super::segment::{is_valid_id, Segment};
use std::io::Read;

/// The longest segment accepted by default (1 MiB): memory stays bounded on hostile input.
pub const DEFAULT_MAX_SEGMENT: usize = 1 << 20;
const CHUNK: usize = 64 * 1024;

/// Reads segments one at a time. A lending iterator: each segment borrows the reader's buffer
/// until the next call.
///
/// ```
/// use practice_protocol::x12::SegmentReader;
/// let input = b"ST*999*0001*005010X231A1~AK1*HC*17*005010X222A1~SE*3*0001~";
/// let mut reader = SegmentReader::new(&input[..]);
/// let mut ids = Vec::new();
/// while let Some(segment) = reader.next_segment() {
///     ids.push(segment.unwrap().id_text());
/// }
/// assert_eq!(ids, ["ST", "AK1", "SE"]);
/// ```
pub struct SegmentReader<R> {
    source: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    failed: bool,
    started: bool,
    /// Input offset of `buf[0]`.
    base: u64,
    delimiters: Option<Delimiters>,
    separators: Vec<u32>,
    number: u64,
    max_segment: usize,
    diagnostics: Vec<Diagnostic>,
}

impl<R: Read> SegmentReader<R> {
    pub fn new(source: R) -> Self {
        Self::with_max_segment(source, DEFAULT_MAX_SEGMENT)
    }

    /// A reader that fails with [`X12Error::SegmentTooLong`] past `max_segment` bytes.
    pub fn with_max_segment(source: R, max_segment: usize) -> Self {
        Self {
            source,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            eof: false,
            failed: false,
            started: false,
            base: 0,
            delimiters: None,
            separators: Vec::with_capacity(64),
            number: 0,
            max_segment: max_segment.max(ISA_MIN),
            diagnostics: Vec::new(),
        }
    }

    /// The delimiters in force (from the last ISA read), if any yet.
    pub fn delimiters(&self) -> Option<Delimiters> {
        self.delimiters
    }

    /// Bytes the reader's buffer holds now: never more than the segment limit plus 64 KiB,
    /// whatever the input's size (the bounded-memory guarantee, exposed for tests).
    pub fn buffer_len(&self) -> usize {
        self.buf.len()
    }

    /// The most [`buffer_len`](Self::buffer_len) can ever be for this reader.
    pub fn buffer_limit(&self) -> usize {
        self.max_segment + CHUNK
    }

    /// Segments read so far.
    pub fn segments_read(&self) -> u64 {
        self.number
    }

    /// Bytes of input consumed so far.
    pub fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Lexical warnings and errors found so far (BOM, missing terminator, bad segment ids),
    /// drained: each is returned once.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Whether lexical diagnostics are waiting in [`take_diagnostics`](Self::take_diagnostics).
    pub fn has_diagnostics(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// The next segment, `None` at the end of input, or a fatal error (after which the reader
    /// returns `None`).
    #[allow(clippy::should_implement_trait)]
    pub fn next_segment(&mut self) -> Option<Result<Segment<'_>, X12Error>> {
        if self.failed {
            return None;
        }
        match self.advance() {
            Ok(Some((start, end, offset, valid_id))) => {
                let delimiters = self.delimiters.unwrap_or_default();
                let bytes = &self.buf[start..end];
                Some(Ok(Segment::new(bytes, &self.separators, delimiters, self.number, offset, valid_id)))
            }
            Ok(None) => None,
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }

    /// The next segment's bounds in `buf`, its input offset and whether its id is valid.
    fn advance(&mut self) -> Result<Option<(usize, usize, u64, bool)>, X12Error> {
        if !self.started {
            self.start_input()?;
        }
        if !self.skip_whitespace()? {
            if self.number == 0 {
                return Err(X12Error::Blank { bytes: self.offset() });
            }
            return Ok(None);
        }
        let isa_length = self.detect_delimiters()?;
        let delimiters = self.delimiters.unwrap_or_default();
        let segment_start = self.start;
        let (segment_end, next_start, terminated) = match isa_length {
            Some(length) => {
                let end = segment_start + length - 1;
                self.separators.clear();
                for index in memchr::memchr_iter(delimiters.element, &self.buf[segment_start..end]) {
                    self.separators.push(index as u32);
                }
                (end, segment_start + length, true)
            }
            None => self.scan_segment(delimiters)?,
        };
        // `scan_segment` may have moved the window: re-read the start.
        let segment_start = if isa_length.is_some() { segment_start } else { self.start };
        let segment_end = trim_line_end(&self.buf[segment_start..segment_end]) + segment_start;
        self.number += 1;
        let offset = self.base + segment_start as u64;
        self.start = next_start;
        let id_end = self.separators.first().map_or(segment_end, |&end| segment_start + end as usize);
        let id = &self.buf[segment_start..id_end];
        let id_ok = is_valid_id(id);
        if !id_ok || !terminated {
            let position = Position {
                segment: self.number,
                offset,
                segment_id: show_bytes(id, 8),
                element: None,
                component: None,
            };
            if !id_ok {
                let found = show_bytes(&self.buf[segment_start..segment_end], 24);
                self.diagnostics.push(Diagnostic::error(position.clone(), DiagnosticKind::InvalidSegmentId { found }));
            }
            if !terminated {
                let expected = char::from(delimiters.segment);
                self.diagnostics.push(Diagnostic::error(position, DiagnosticKind::MissingTerminator { expected }));
            }
        }
        Ok(Some((segment_start, segment_end, offset, id_ok)))
    }

    /// First read: refuse empty and UTF-16 input, skip a UTF-8 BOM.
    fn start_input(&mut self) -> Result<(), X12Error> {
        self.started = true;
        while self.end < 3 && self.fill()? {}
        if self.end == 0 {
            return Err(X12Error::Empty);
        }
        let head = &self.buf[..self.end];
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.start = 3;
            self.diagnostics.push(Diagnostic::warning(Position::at_offset(0, 0), DiagnosticKind::ByteOrderMark));
        } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            return Err(X12Error::Utf16 { offset: 0 });
        }
        Ok(())
    }

    /// Skips CR, LF, spaces and tabs between segments; `false` at the end of input.
    fn skip_whitespace(&mut self) -> Result<bool, X12Error> {
        loop {
            let window = &self.buf[self.start..self.end];
            match window.iter().position(|&byte| !matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | 0x0B | 0x0C)) {
                Some(skip) => {
                    self.start += skip;
                    return Ok(true);
                }
                None => {
                    self.start = self.end;
                    if !self.fill()? {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// At an ISA header (or the first segment of the input), reads the delimiters. Returns the
    /// ISA segment's length including its terminator when one was read.
    fn detect_delimiters(&mut self) -> Result<Option<usize>, X12Error> {
        if self.delimiters.is_some() && self.buf[self.start] != b'I' {
            return Ok(None);
        }
        loop {
            let offset = self.offset();
            match scan_isa(&self.buf[self.start..self.end], self.eof, offset)? {
                IsaScan::Found(delimiters, length) => {
                    self.delimiters = Some(delimiters);
                    return Ok(Some(length));
                }
                IsaScan::NeedMore => {
                    self.fill()?;
                }
                IsaScan::NotIsa => break,
            }
        }
        if self.delimiters.is_some() {
            return Ok(None);
        }
        loop {
            match guess_bare_st(&self.buf[self.start..self.end], self.eof) {
                IsaScan::Found(delimiters, _) => {
                    self.delimiters = Some(delimiters);
                    let position = Position::at_offset(self.number + 1, self.offset());
                    self.diagnostics.push(Diagnostic::warning(position, DiagnosticKind::NoEnvelope));
                    return Ok(None);
                }
                IsaScan::NeedMore => {
                    self.fill()?;
                }
                IsaScan::NotIsa => {
                    let found = show_bytes(&self.buf[self.start..self.end], 32);
                    return Err(X12Error::NotX12 { offset: self.offset(), found });
                }
            }
        }
    }

    /// Finds the terminator of the segment starting at `self.start` and the element
    /// separators before it in one pass (segments are short: a plain loop beats two searches),
    /// reading more input as needed. Returns (end of segment, start of next, terminated).
    fn scan_segment(&mut self, delimiters: Delimiters) -> Result<(usize, usize, bool), X12Error> {
        self.separators.clear();
        let mut scanned = 0;
        loop {
            let window = &self.buf[self.start + scanned..self.end];
            for (index, &byte) in window.iter().enumerate() {
                if byte == delimiters.segment {
                    let end = self.start + scanned + index;
                    return Ok((end, end + 1, true));
                }
                if byte == delimiters.element {
                    self.separators.push((scanned + index) as u32);
                }
            }
            scanned = self.end - self.start;
            if scanned > self.max_segment {
                return Err(self.too_long(delimiters.segment));
            }
            if !self.fill()? {
                return Ok((self.end, self.end, false));
            }
        }
    }

    fn too_long(&self, terminator: u8) -> X12Error {
        X12Error::SegmentTooLong {
            segment: self.number + 1,
            offset: self.offset(),
            limit: self.max_segment,
            terminator: char::from(terminator),
        }
    }

    /// Reads more input after the unread window, compacting and growing the buffer (up to the
    /// segment limit) as needed. `false` at the end of input.
    fn fill(&mut self) -> Result<bool, X12Error> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let limit = self.max_segment + CHUNK;
            if self.buf.len() >= limit {
                let terminator = self.delimiters.unwrap_or_default().segment;
                return Err(self.too_long(terminator));
            }
            let grown = (self.buf.len() * 2).min(limit);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(read) => {
                    self.end += read;
                    return Ok(true);
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// An ISA is at most this long; the segment limit never goes below it.
const ISA_MIN: usize = 1024;

/// Length of `segment` without trailing CR/LF (a newline terminator after CR, or a terminator
/// followed by a line break when the terminator itself is something else).
fn trim_line_end(segment: &[u8]) -> usize {
    let mut end = segment.len();
    while end > 0 && matches!(segment[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    end
}
