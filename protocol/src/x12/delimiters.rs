//! The four X12 delimiters, read from each ISA header (never assumed), or guessed for a bare
//! ST…SE transaction set that arrives without an envelope.

use super::diagnostic::X12Error;

/// Element, repetition, component separators and segment terminator of one interchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// ISA byte 3, e.g. `*`.
    pub element: u8,
    /// ISA11 when it is a separator (5010); `None` for the 4010 `U` standards id.
    pub repetition: Option<u8>,
    /// ISA16, e.g. `:`.
    pub component: u8,
    /// The byte after ISA16, e.g. `~`.
    pub segment: u8,
}

impl Default for Delimiters {
    /// The delimiters most 5010 files use: `*`, `^`, `:`, `~`.
    fn default() -> Self {
        Self { element: b'*', repetition: Some(b'^'), component: b':', segment: b'~' }
    }
}

/// Outcome of looking for delimiters (an ISA header, or a bare ST) at the start of a window.
pub(crate) enum IsaScan {
    /// Not an ISA header (or not an ST segment).
    NotIsa,
    /// Looks like an ISA header but more bytes are needed to tell.
    NeedMore,
    /// A complete header: its delimiters and its length including the terminator.
    Found(Delimiters, usize),
}

/// The longest ISA we accept: 106 bytes in the standard, more with over-long fields.
pub(crate) const ISA_SCAN_LIMIT: usize = 512;

/// Reads the delimiters from an ISA header at the start of `window`. The element separator is
/// byte 3; ISA16 is the byte after the 16th element separator and the segment terminator the
/// byte after that, so over-long ISA fields (a 10-digit ISA13) are still read.
pub(crate) fn scan_isa(window: &[u8], at_eof: bool, offset: u64) -> Result<IsaScan, X12Error> {
    if window.len() < 4 {
        return Ok(if !at_eof && b"ISA".starts_with(&window[..window.len().min(3)]) {
            IsaScan::NeedMore
        } else {
            IsaScan::NotIsa
        });
    }
    if &window[..3] != b"ISA" || !is_delimiter_byte(window[3]) {
        return Ok(IsaScan::NotIsa);
    }
    let element = window[3];
    let mut separators = 0;
    let mut isa11 = (0usize, 0usize);
    let mut previous = 3;
    for (index, &byte) in window.iter().enumerate().take(ISA_SCAN_LIMIT).skip(4) {
        if byte != element {
            continue;
        }
        separators += 1;
        if separators == 11 {
            isa11 = (previous + 1, index);
        }
        previous = index;
        if separators == 15 {
            // `index` is the separator before ISA16: ISA16 and the terminator follow.
            let (Some(&component), Some(&segment)) = (window.get(index + 1), window.get(index + 2)) else {
                return need_more(at_eof, offset, "input ends inside the ISA header");
            };
            if !is_delimiter_byte(component) || component == element {
                return Err(bad(
                    offset,
                    format!("ISA16 component separator {:?} is not a usable delimiter", component as char),
                ));
            }
            if segment == element || segment == component || segment.is_ascii_alphanumeric() || segment == b' ' {
                return Err(bad(
                    offset,
                    format!("segment terminator {:?} after ISA16 is not a usable delimiter", segment as char),
                ));
            }
            let isa11_value = &window[isa11.0..isa11.1];
            let repetition = match isa11_value {
                [byte] if is_delimiter_byte(*byte) && ![element, component, segment].contains(byte) => Some(*byte),
                _ => None,
            };
            return Ok(IsaScan::Found(Delimiters { element, repetition, component, segment }, index + 3));
        }
    }
    if window.len() >= ISA_SCAN_LIMIT {
        return Err(bad(
            offset,
            format!("found {separators} of 16 element separators {:?} in {ISA_SCAN_LIMIT} bytes", element as char),
        ));
    }
    need_more(at_eof, offset, &format!("input ends after {separators} of 16 ISA elements"))
}

/// Guesses delimiters for a bare `ST` segment: the byte after `ST` separates elements and the
/// first byte after that which cannot be part of an ST element ends the segment.
pub(crate) fn guess_bare_st(window: &[u8], at_eof: bool) -> IsaScan {
    if window.len() < 3 {
        return if at_eof { IsaScan::NotIsa } else { IsaScan::NeedMore };
    }
    if &window[..2] != b"ST" || !is_delimiter_byte(window[2]) {
        return IsaScan::NotIsa;
    }
    let element = window[2];
    let terminator =
        window[3..].iter().take(ISA_SCAN_LIMIT).copied().find(|&byte| {
            byte != element && !byte.is_ascii_alphanumeric() && byte != b' ' && byte != b'.' && byte != b'-'
        });
    match terminator {
        Some(segment) => {
            // No ISA16 to read: take the usual `:`, or `>` when `:` is already taken.
            let component = if segment != b':' && element != b':' { b':' } else { b'>' };
            IsaScan::Found(Delimiters { element, repetition: None, component, segment }, 0)
        }
        None if at_eof || window.len() >= ISA_SCAN_LIMIT => IsaScan::NotIsa,
        None => IsaScan::NeedMore,
    }
}

fn need_more(at_eof: bool, offset: u64, reason: &str) -> Result<IsaScan, X12Error> {
    if at_eof {
        Err(bad(offset, reason.to_string()))
    } else {
        Ok(IsaScan::NeedMore)
    }
}

fn bad(offset: u64, reason: String) -> X12Error {
    X12Error::BadIsa { offset, reason }
}

/// A byte that can separate elements or components: ASCII, not a letter, digit or whitespace
/// (whitespace between segments is skipped, so it can only ever terminate a segment).
fn is_delimiter_byte(byte: u8) -> bool {
    !byte.is_ascii_alphanumeric() && !byte.is_ascii_whitespace() && byte != 0x0B && byte < 0x80
}
