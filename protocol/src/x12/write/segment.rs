//! The segment writer: elements, composites and repetitions joined with caller-chosen
//! delimiters, trailing empty elements dropped, and every value checked so that a delimiter
//! inside data can never split a segment.
//!
//! Errors are sticky: the first bad value is remembered with its segment and element position
//! and returned by [`SegmentWriter::finish`], so the writers above can write straight-line code
//! without a `?` after every element.

use super::error::X12WriteError;
use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use rust_decimal::Decimal;

/// The four delimiters of an interchange, plus an optional line break after each terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delimiters {
    pub element: u8,
    /// ISA11.
    pub repetition: u8,
    /// ISA16.
    pub component: u8,
    pub segment: u8,
    /// Write `\n` after each segment terminator (readable files; every reader accepts it).
    pub newline: bool,
}

impl Default for Delimiters {
    fn default() -> Self {
        Self { element: b'*', repetition: b'^', component: b':', segment: b'~', newline: false }
    }
}

impl Delimiters {
    /// The delimiters must be four distinct printable, non-alphanumeric, non-space characters.
    pub fn validate(&self) -> Result<(), X12WriteError> {
        let all = [self.element, self.repetition, self.component, self.segment];
        for (index, byte) in all.iter().enumerate() {
            let usable = byte.is_ascii_graphic() && !byte.is_ascii_alphanumeric();
            if !usable || all[..index].contains(byte) {
                return Err(X12WriteError::BadDelimiters {
                    reason: format!(
                        "delimiters must be four distinct printable, non-alphanumeric characters, got {:?}",
                        all.iter().map(|b| char::from(*b)).collect::<String>()
                    ),
                });
            }
        }
        Ok(())
    }

    fn is_reserved(&self, byte: u8) -> bool {
        byte == self.element || byte == self.repetition || byte == self.component || byte == self.segment
    }
}

/// Writes segments into a byte buffer and counts them.
#[derive(Debug)]
pub struct SegmentWriter {
    pub(crate) out: Vec<u8>,
    delimiters: Delimiters,
    segment_id: &'static str,
    element_index: usize,
    pending_empty: usize,
    /// Segments written since the counter was last reset (by ST).
    pub(crate) counted: u32,
    error: Option<X12WriteError>,
    /// Which bytes may appear in a data element: printable ASCII and space, minus the four
    /// delimiters (a table, because this check runs on every byte written).
    writable: [bool; 256],
}

impl SegmentWriter {
    pub fn new(delimiters: Delimiters) -> Result<Self, X12WriteError> {
        delimiters.validate()?;
        let mut writable = [false; 256];
        for (byte, slot) in writable.iter_mut().enumerate() {
            let byte = byte as u8;
            *slot = (byte.is_ascii_graphic() || byte == b' ') && !delimiters.is_reserved(byte);
        }
        Ok(Self {
            out: Vec::with_capacity(4096),
            delimiters,
            segment_id: "",
            element_index: 0,
            pending_empty: 0,
            counted: 0,
            error: None,
            writable,
        })
    }

    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// Start a segment.
    pub fn begin(&mut self, segment_id: &'static str) -> &mut Self {
        self.segment_id = segment_id;
        self.element_index = 0;
        self.pending_empty = 0;
        self.out.extend_from_slice(segment_id.as_bytes());
        self
    }

    /// One simple element; an empty value is held back and dropped if nothing follows it.
    pub fn el(&mut self, value: &str) -> &mut Self {
        self.element_index += 1;
        if value.is_empty() {
            self.pending_empty += 1;
            return self;
        }
        self.open_element();
        self.push_checked(value);
        self
    }

    /// A required element: an empty (or blank) value is a typed error naming the position.
    pub fn req(&mut self, value: &str) -> &mut Self {
        if is_blank(value) {
            self.fail(X12WriteError::MissingValue { segment: self.segment_id, element: self.element_index + 1 });
        }
        self.el(value)
    }

    /// A required free-text element cut to its maximum length.
    pub fn req_text(&mut self, value: &str, max_chars: usize) -> &mut Self {
        if is_blank(value) {
            self.fail(X12WriteError::MissingValue { segment: self.segment_id, element: self.element_index + 1 });
        }
        self.text(value, max_chars)
    }

    /// An optional element.
    pub fn opt(&mut self, value: Option<&str>) -> &mut Self {
        self.el(value.unwrap_or(""))
    }

    /// Several empty elements.
    pub fn skip(&mut self, count: usize) -> &mut Self {
        self.element_index += count;
        self.pending_empty += count;
        self
    }

    /// A free-text element cut to the guide's maximum length (names, addresses).
    pub fn text(&mut self, value: &str, max_chars: usize) -> &mut Self {
        let trimmed = trim_spaces(value);
        match trimmed.char_indices().nth(max_chars) {
            Some((cut, _)) => self.el(trimmed[..cut].trim_end()),
            None => self.el(trimmed),
        }
    }

    /// A decimal amount in X12 `R` form: no trailing zeros, no exponent.
    pub fn amount(&mut self, value: Decimal) -> &mut Self {
        let text = format_decimal(value);
        self.el(&text)
    }

    /// A date as CCYYMMDD, digit by digit (chrono's `format` parses its pattern on every call).
    pub fn date(&mut self, value: NaiveDate) -> &mut Self {
        let text = ccyymmdd(value);
        match std::str::from_utf8(&text) {
            Ok(text) => self.el(text),
            Err(_) => self.el(""),
        }
    }

    /// A time as HHMM.
    pub fn time(&mut self, value: NaiveTime) -> &mut Self {
        let text = format!("{:02}{:02}", value.hour(), value.minute());
        self.el(&text)
    }

    /// A composite element; trailing empty components are dropped, an all-empty composite is an
    /// empty element.
    pub fn comp(&mut self, parts: &[&str]) -> &mut Self {
        let used = parts.iter().rposition(|part| !part.is_empty()).map_or(0, |last| last + 1);
        if used == 0 {
            return self.el("");
        }
        self.element_index += 1;
        self.open_element();
        for (index, part) in parts[..used].iter().enumerate() {
            if index > 0 {
                self.out.push(self.delimiters.component);
            }
            self.push_checked(part);
        }
        self
    }

    /// End the segment: terminator, optional newline, count it.
    pub fn end(&mut self) {
        self.out.push(self.delimiters.segment);
        if self.delimiters.newline {
            self.out.push(b'\n');
        }
        self.counted += 1;
    }

    /// Raw bytes for fixed-width headers (ISA), already checked by the caller.
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub(crate) fn fail(&mut self, error: X12WriteError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// Whether an error has been met.
    pub fn has_error(&self) -> bool {
        self.error.is_some()
    }

    /// Give the first error its context (which claim, which remittance), once.
    pub(crate) fn wrap_error(&mut self, wrap: impl FnOnce(X12WriteError) -> X12WriteError) {
        if let Some(error) = self.error.take() {
            self.error = Some(wrap(error));
        }
    }

    /// The bytes written, or the first error met.
    pub fn finish(self) -> Result<Vec<u8>, X12WriteError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.out),
        }
    }

    fn open_element(&mut self) {
        for _ in 0..=self.pending_empty {
            self.out.push(self.delimiters.element);
        }
        self.pending_empty = 0;
    }

    fn push_checked(&mut self, value: &str) {
        if let Some(byte) = value.bytes().find(|byte| !self.writable[usize::from(*byte)]) {
            // The value itself may be PHI: name the position and the character class only.
            let character =
                if byte.is_ascii() { format!("{:?}", char::from(byte)) } else { "a non-ASCII character".to_string() };
            self.fail(X12WriteError::BadCharacter { segment: self.segment_id, element: self.element_index, character });
            return;
        }
        self.out.extend_from_slice(value.as_bytes());
    }
}

/// Only spaces (or nothing): the writers' idea of an empty required value.
fn is_blank(value: &str) -> bool {
    value.bytes().all(|byte| byte == b' ')
}

/// Without leading and trailing spaces (other whitespace is not writable anyway).
fn trim_spaces(value: &str) -> &str {
    value.trim_matches(' ')
}

/// CCYYMMDD for years 0 to 9999 (X12 has no other); other years are clamped.
pub fn ccyymmdd(value: NaiveDate) -> [u8; 8] {
    let year = value.year().clamp(0, 9999) as u32;
    let digits = [year / 1000, year / 100 % 10, year / 10 % 10, year % 10, value.month() / 10, value.month() % 10];
    let mut out = [b'0'; 8];
    for (slot, digit) in out.iter_mut().zip(digits) {
        *slot = b'0' + digit as u8;
    }
    out[6] = b'0' + (value.day() / 10) as u8;
    out[7] = b'0' + (value.day() % 10) as u8;
    out
}

/// X12 `R`: `-12.5`, `100`, `0.01`.
pub fn format_decimal(value: Decimal) -> String {
    let normalized = value.normalize();
    if normalized.is_zero() {
        return "0".to_string();
    }
    normalized.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn written(build: impl FnOnce(&mut SegmentWriter), delimiters: Delimiters) -> Result<String, X12WriteError> {
        let mut writer = SegmentWriter::new(delimiters)?;
        build(&mut writer);
        writer.finish().map(|bytes| String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn trailing_empty_elements_and_components_are_dropped() {
        let text = written(
            |w| {
                w.begin("NM1").el("85").el("2").el("CLINIC").skip(2).el("").comp(&["", ""]).el("XX").el("1234567893");
                w.end();
                w.begin("CLM").el("A1").amount(dec!(100.00)).el("").el("").comp(&["11", "B", "1", ""]).el("");
                w.end();
            },
            Delimiters::default(),
        )
        .unwrap();
        assert_eq!(text, "NM1*85*2*CLINIC*****XX*1234567893~CLM*A1*100***11:B:1~");
    }

    #[test]
    fn caller_chosen_delimiters_and_newlines() {
        let delimiters = Delimiters { element: b'|', repetition: b'!', component: b'>', segment: b'\'', newline: true };
        let text = written(
            |w| {
                w.begin("SV1").comp(&["HC", "99213", "25"]).amount(dec!(-12.50));
                w.end();
            },
            delimiters,
        )
        .unwrap();
        assert_eq!(text, "SV1|HC>99213>25|-12.5'\n");
    }

    #[test]
    fn a_delimiter_inside_data_is_a_typed_error_naming_the_position() {
        let error = written(
            |w| {
                w.begin("N3").el("12 MAIN ST").el("SUITE*4");
                w.end();
            },
            Delimiters::default(),
        )
        .unwrap_err();
        assert_eq!(error, X12WriteError::BadCharacter { segment: "N3", element: 2, character: "'*'".into() });
        let error = written(
            |w| {
                w.begin("NM1").el("IL").el("1").el("JOSÉ");
                w.end();
            },
            Delimiters::default(),
        )
        .unwrap_err();
        assert!(matches!(error, X12WriteError::BadCharacter { segment: "NM1", element: 3, .. }));
    }

    #[test]
    fn delimiters_must_be_distinct_and_punctuation() {
        for bad in [
            Delimiters { element: b'*', repetition: b'*', ..Delimiters::default() },
            Delimiters { component: b'A', ..Delimiters::default() },
            Delimiters { segment: b' ', ..Delimiters::default() },
        ] {
            assert!(matches!(SegmentWriter::new(bad), Err(X12WriteError::BadDelimiters { .. })));
        }
    }

    #[test]
    fn text_is_cut_to_its_maximum() {
        let text = written(
            |w| {
                w.begin("N3").text("  123 A VERY LONG STREET NAME  ", 9);
                w.end();
            },
            Delimiters::default(),
        )
        .unwrap();
        assert_eq!(text, "N3*123 A VER~");
    }

    #[test]
    fn dates_as_ccyymmdd() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(&ccyymmdd(date(2026, 11, 3)), b"20261103");
        assert_eq!(&ccyymmdd(date(1999, 1, 31)), b"19990131");
        assert_eq!(&ccyymmdd(date(12, 12, 9)), b"00121209");
    }

    #[test]
    fn decimals_in_r_form() {
        assert_eq!(format_decimal(dec!(100.00)), "100");
        assert_eq!(format_decimal(dec!(0.00)), "0");
        assert_eq!(format_decimal(dec!(-0.50)), "-0.5");
        assert_eq!(format_decimal(dec!(1234.56)), "1234.56");
    }
}
