//! [`Text`]: element text kept inline when short (codes, qualifiers, ids, most names), so
//! reading a remittance does not allocate once per element. Serializes as a plain string.

use serde::{Serialize, Serializer};
use std::fmt;
use std::ops::Deref;

const INLINE: usize = 22;

/// Text read from an X12 element: inline up to 22 bytes, on the heap beyond.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Text {
    pub fn new(text: &str) -> Self {
        if text.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Self(Repr::Inline { len: text.len() as u8, bytes })
        } else {
            Self(Repr::Heap(text.into()))
        }
    }

    /// Text from element bytes; `None` when they are not UTF-8. ASCII (nearly every element)
    /// is copied without a UTF-8 pass.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() <= INLINE {
            // Copy and check for ASCII in one pass: elements are a few bytes long, and a
            // variable-length `copy_from_slice` costs a `memcpy` call per element.
            let mut inline = [0; INLINE];
            let mut high = 0;
            for (slot, &byte) in inline.iter_mut().zip(bytes) {
                *slot = byte;
                high |= byte;
            }
            if high.is_ascii() {
                return Some(Self(Repr::Inline { len: bytes.len() as u8, bytes: inline }));
            }
        }
        std::str::from_utf8(bytes).ok().map(Self::new)
    }

    /// The text's bytes, without the UTF-8 check [`as_str`](Self::as_str) makes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(text) => text.as_bytes(),
        }
    }

    /// Length in bytes (inherent, so it does not go through `Deref` and its UTF-8 check).
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Built only from a `&str` or from ASCII, so the inline bytes are valid UTF-8.
            Repr::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
            Repr::Heap(text) => text,
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Self(Repr::Inline { len: 0, bytes: [0; INLINE] })
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Text;

    #[test]
    fn bytes_that_are_not_utf8_are_refused() {
        assert_eq!(Text::from_bytes(b"AB\xff"), None);
    }

    #[test]
    fn short_and_long_text_read_back() {
        for sample in ["", "CO", "1234567890123456789012", "12345678901234567890123", "DÜSSELDORF ÜBER ALLES MEDICAL"]
        {
            let text = Text::new(sample);
            assert_eq!(text.as_str(), sample);
            assert_eq!(Text::from_bytes(sample.as_bytes()), Some(text.clone()));
            assert_eq!(serde_json::to_string(&text).expect("json"), serde_json::to_string(sample).expect("json"));
        }
    }
}
