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
    /// is copied without a UTF-8 pass. Inlined, so the value is built where it is kept.
    #[inline]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() <= INLINE {
            // Gather the bytes in registers and store them whole: elements are a few bytes
            // long, a variable-length copy costs a `memcpy` call, and byte-wise stores read
            // back as one wide load stall the CPU (failed store-to-load forwarding).
            let (mut low, mut rest, mut high) = (0u128, 0u64, 0u8);
            for (index, &byte) in bytes.iter().enumerate() {
                if index < 16 {
                    low |= u128::from(byte) << (8 * index);
                } else {
                    rest |= u64::from(byte) << (8 * (index - 16));
                }
                high |= byte;
            }
            if high.is_ascii() {
                let mut inline = [0; INLINE];
                inline[..16].copy_from_slice(&low.to_le_bytes());
                inline[16..].copy_from_slice(&rest.to_le_bytes()[..INLINE - 16]);
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
