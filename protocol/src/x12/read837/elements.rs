//! Element text for the 837 reader, as owned `String`s (the model keeps text owned), read
//! through the public `Segment` API only.

use crate::x12::segment::Segment;

/// Element `n` as trimmed text, `None` when absent or blank.
pub(super) fn text(segment: &Segment<'_>, n: usize) -> Option<String> {
    let element = segment.element(n);
    if element.is_empty() {
        return None;
    }
    let value = String::from_utf8_lossy(element);
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// The components of composite element `n` as trimmed text (tolerating a composite written
/// with another separator than ISA16 declares).
pub(super) fn components(segment: &Segment<'_>, n: usize) -> Vec<String> {
    let (parts, _) = segment.composite(n);
    parts.map(|part| String::from_utf8_lossy(part).trim().to_string()).collect()
}
