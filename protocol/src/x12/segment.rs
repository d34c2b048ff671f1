//! One lexed segment: borrowed bytes plus the positions of its element separators. Nothing is
//! copied or allocated to look at an element or a component.

use super::delimiters::Delimiters;
use super::diagnostic::Position;

/// A segment borrowed from the lexer's buffer; valid until the next call to
/// [`SegmentReader::next_segment`](super::SegmentReader::next_segment).
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    bytes: &'a [u8],
    separators: &'a [u32],
    delimiters: Delimiters,
    number: u64,
    offset: u64,
    /// Whether the id is valid, as the lexer found (readers ask once per segment).
    valid_id: bool,
}

impl<'a> Segment<'a> {
    pub(crate) fn new(
        bytes: &'a [u8],
        separators: &'a [u32],
        delimiters: Delimiters,
        number: u64,
        offset: u64,
        valid_id: bool,
    ) -> Self {
        Self { bytes, separators, delimiters, number, offset, valid_id }
    }

    /// The segment id (`CLP`), the bytes before the first element separator.
    pub fn id(&self) -> &'a [u8] {
        match self.separators.first() {
            Some(&end) => &self.bytes[..end as usize],
            None => self.bytes,
        }
    }

    /// Whether the id is 2-3 capital letters or digits (the lexer reports any other).
    pub fn has_valid_id(&self) -> bool {
        self.valid_id
    }

    /// Whether the segment id is `id`.
    pub fn is(&self, id: &[u8]) -> bool {
        self.id() == id
    }

    /// The segment id as text for messages (`?` for bytes that are not ASCII).
    pub fn id_text(&self) -> String {
        self.id().iter().map(|&b| if b.is_ascii_graphic() { char::from(b) } else { '?' }).collect()
    }

    /// The raw bytes of the segment, without its terminator.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The delimiters in force for this segment.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// 1-based segment number over the whole input.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Byte offset of the segment's first byte in the input.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many elements follow the id (trailing empty elements included as written).
    pub fn element_count(&self) -> usize {
        self.separators.len()
    }

    /// Element `n` (1-based, `CLP04` is `element(4)`); empty when absent.
    pub fn element(&self, n: usize) -> &'a [u8] {
        if n == 0 || n > self.separators.len() {
            return &[];
        }
        let start = self.separators[n - 1] as usize + 1;
        let end = self.separators.get(n).map_or(self.bytes.len(), |&end| end as usize);
        &self.bytes[start..end]
    }

    /// Element `n` as text, or `None` when it is absent, empty, or not UTF-8.
    pub fn text(&self, n: usize) -> Option<&'a str> {
        let element = self.element(n);
        if element.is_empty() {
            return None;
        }
        std::str::from_utf8(element).ok()
    }

    /// The components of element `n`, split on the declared component separator.
    pub fn components(&self, n: usize) -> Components<'a> {
        Components { rest: Some(self.element(n)), separator: self.delimiters.component, alternate: None }
    }

    /// The components of composite element `n`, tolerating a composite written with another
    /// separator than ISA16 declares (real files write `HC>99213` under ISA16 `:`). Returns the
    /// separator actually used when it differs from the declared one, for a diagnostic.
    pub fn composite(&self, n: usize) -> (Components<'a>, Option<u8>) {
        let element = self.element(n);
        let declared = self.delimiters.component;
        // One pass over the element notes which candidates occur (bit i for CANDIDATES[i]).
        const CANDIDATES: [u8; 5] = [b':', b'>', b'<', b'\\', b'|'];
        let mut present = 0u8;
        for &byte in element {
            present |= match byte {
                b':' => 1,
                b'>' => 2,
                b'<' => 4,
                b'\\' => 8,
                b'|' => 16,
                _ => 0,
            };
        }
        let fallback = CANDIDATES
            .into_iter()
            .enumerate()
            .filter(|&(index, _)| present & (1 << index) != 0)
            .map(|(_, candidate)| candidate)
            .find(|&candidate| candidate != declared && Some(candidate) != self.delimiters.repetition);
        // Split on both when both appear (`HC>99213:25`): codes never contain either.
        let components = Components { rest: Some(element), separator: declared, alternate: fallback };
        (components, fallback)
    }

    /// The repetitions of element `n`, split on the repetition separator (ISA11).
    pub fn repetitions(&self, n: usize) -> Components<'a> {
        match self.delimiters.repetition {
            Some(separator) => Components { rest: Some(self.element(n)), separator, alternate: None },
            None => Components { rest: Some(self.element(n)), separator: self.delimiters.element, alternate: None },
        }
    }

    /// The position of this segment, for a diagnostic.
    pub fn position(&self) -> Position {
        Position {
            segment: self.number,
            offset: self.offset,
            segment_id: self.id_text(),
            element: None,
            component: None,
        }
    }

    /// The position of element `n` of this segment, for a diagnostic.
    pub fn position_of(&self, n: usize) -> Position {
        self.position().element(u16::try_from(n).unwrap_or(u16::MAX))
    }
}

/// Whether `id` is 2-3 capital letters or digits.
pub(crate) fn is_valid_id(id: &[u8]) -> bool {
    (2..=3).contains(&id.len()) && id.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The parts of an element split on one separator; an empty element yields one empty part.
#[derive(Clone, Debug)]
pub struct Components<'a> {
    rest: Option<&'a [u8]>,
    separator: u8,
    alternate: Option<u8>,
}

impl<'a> Iterator for Components<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        let found = match self.alternate {
            Some(alternate) => memchr::memchr2(self.separator, alternate, rest),
            None => memchr::memchr(self.separator, rest),
        };
        match found {
            Some(index) => {
                self.rest = Some(&rest[index + 1..]);
                Some(&rest[..index])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}
