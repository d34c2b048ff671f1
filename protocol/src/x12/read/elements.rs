//! Element readers shared by the transaction readers: text, X12 decimal amounts and
//! composite procedure codes, each pushing a precise diagnostic when the element is missing or
//! malformed instead of failing.

pub use super::text::Text;
use crate::x12::diagnostic::{Diagnostic, DiagnosticKind};
use crate::x12::segment::Segment;
use rust_decimal::Decimal;
use serde::Serialize;

/// Element `n` as owned text, `None` when absent or empty.
#[inline]
pub(crate) fn text(segment: &Segment<'_>, n: usize) -> Option<Text> {
    let element = segment.element(n);
    if element.is_empty() {
        return None;
    }
    Some(text_of(element))
}

/// Bytes as [`Text`], surrounding spaces trimmed; bytes that are not UTF-8 are replaced.
#[inline]
pub(crate) fn text_of(bytes: &[u8]) -> Text {
    let bytes = trim_spaces(bytes);
    Text::from_bytes(bytes).unwrap_or_else(|| Text::new(String::from_utf8_lossy(bytes).trim()))
}

/// Element `n` as owned text; pushes `MissingElement` when absent.
pub(crate) fn required_text(
    segment: &Segment<'_>,
    n: usize,
    expected: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Text {
    match text(segment, n) {
        Some(value) if !value.is_empty() => value,
        _ => {
            diagnostics.push(missing(segment, n, expected));
            Text::default()
        }
    }
}

/// Element `n` as an X12 decimal (`R` type: optional minus, digits, optional point), `None`
/// when absent; pushes `InvalidElement` when malformed.
pub(crate) fn amount(
    segment: &Segment<'_>,
    n: usize,
    expected: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Decimal> {
    let element = segment.element(n);
    if element.is_empty() {
        return None;
    }
    match parse_decimal(element) {
        Some(value) => Some(value),
        None => {
            diagnostics.push(invalid(segment, n, expected));
            None
        }
    }
}

/// Element `n` as a required decimal: zero (with a diagnostic) when absent or malformed, so
/// reading continues and the balance check flags the gap.
pub(crate) fn required_amount(
    segment: &Segment<'_>,
    n: usize,
    expected: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Decimal {
    if segment.element(n).is_empty() {
        diagnostics.push(missing(segment, n, expected));
        return Decimal::ZERO;
    }
    amount(segment, n, expected, diagnostics).unwrap_or(Decimal::ZERO)
}

/// Strict X12 decimal parse without allocation: `-12.50`, `12`, `.5`; at most 28 digits.
pub(crate) fn parse_decimal(bytes: &[u8]) -> Option<Decimal> {
    let bytes = trim_spaces(bytes);
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    // Amounts have a handful of digits: accumulate in a u64 (19 digits always fit) and
    // take the wide path only for longer ones.
    let mut mantissa: u64 = 0;
    let mut scale: u32 = 0;
    let mut seen_point = false;
    let mut digit_count = 0;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                digit_count += 1;
                if digit_count > 19 {
                    return parse_long_decimal(negative, digits);
                }
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                scale += u32::from(seen_point);
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if digit_count == 0 {
        return None;
    }
    let (low, middle) = (mantissa as u32, (mantissa >> 32) as u32);
    Some(Decimal::from_parts(low, middle, 0, negative && mantissa != 0, scale))
}

/// [`parse_decimal`] for 20 to 28 digits (`digits` without its sign).
fn parse_long_decimal(negative: bool, digits: &[u8]) -> Option<Decimal> {
    let mut mantissa: i128 = 0;
    let mut scale: u32 = 0;
    let mut seen_point = false;
    let mut digit_count = 0;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                digit_count += 1;
                if digit_count > 28 {
                    return None;
                }
                mantissa = mantissa * 10 + i128::from(byte - b'0');
                scale += u32::from(seen_point);
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    Decimal::try_from_i128_with_scale(if negative { -mantissa } else { mantissa }, scale).ok()
}

fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| b != b' ').map_or(start, |end| end + 1);
    &bytes[start..end]
}

/// A composite medical procedure: `HC:99213:25:59` → qualifier `HC`, code `99213`, modifiers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Procedure {
    /// Product/service id qualifier: `HC` (CPT/HCPCS), `NU` (revenue code), `AD`, `N4`, …
    pub qualifier: Text,
    pub code: Text,
    /// Up to four modifiers, as written.
    pub modifiers: Vec<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
}

/// Reads composite element `n` as a procedure. Tolerates a composite written with another
/// separator than ISA16 declares, with a warning naming both.
pub(crate) fn procedure(segment: &Segment<'_>, n: usize, diagnostics: &mut Vec<Diagnostic>) -> Option<Procedure> {
    if segment.element(n).is_empty() {
        return None;
    }
    let (mut components, mismatch) = segment.composite(n);
    if let Some(found) = mismatch {
        diagnostics.push(Diagnostic::warning(
            segment.position_of(n),
            DiagnosticKind::ComponentSeparatorMismatch {
                declared: char::from(segment.delimiters().component),
                found: char::from(found),
            },
        ));
    }
    let mut next = || components.next().map(text_of);
    let qualifier = next().unwrap_or_default();
    let code = next().unwrap_or_default();
    let mut modifiers = Vec::new();
    for _ in 0..4 {
        match next() {
            Some(modifier) if !modifier.is_empty() => modifiers.push(modifier),
            Some(_) => {}
            None => break,
        }
    }
    let description = next().filter(|text| !text.is_empty());
    if code.is_empty() {
        diagnostics.push(Diagnostic::error(
            segment.position_of(n).component(2),
            DiagnosticKind::MissingElement { expected: "procedure code".to_string() },
        ));
    }
    Some(Procedure { qualifier, code, modifiers, description })
}

/// The components of element `n` as owned text (tolerating a mismatched separator silently:
/// callers that care use [`procedure`]).
pub(crate) fn components(segment: &Segment<'_>, n: usize) -> Vec<Text> {
    let (components, _) = segment.composite(n);
    components.map(text_of).collect()
}

pub(crate) fn missing(segment: &Segment<'_>, n: usize, expected: &str) -> Diagnostic {
    Diagnostic::error(segment.position_of(n), DiagnosticKind::MissingElement { expected: expected.to_string() })
}

pub(crate) fn invalid(segment: &Segment<'_>, n: usize, expected: &str) -> Diagnostic {
    let found = String::from_utf8_lossy(segment.element(n)).into_owned();
    Diagnostic::error(segment.position_of(n), DiagnosticKind::InvalidElement { expected: expected.to_string(), found })
}

#[cfg(test)]
mod tests {
    use super::parse_decimal;
    use rust_decimal_macros::dec;

    #[test]
    fn decimals_parse_strictly() {
        assert_eq!(parse_decimal(b"12.50"), Some(dec!(12.50)));
        assert_eq!(parse_decimal(b"-9.00"), Some(dec!(-9.00)));
        assert_eq!(parse_decimal(b"67.5"), Some(dec!(67.5)));
        assert_eq!(parse_decimal(b".5"), Some(dec!(0.5)));
        assert_eq!(parse_decimal(b"0"), Some(dec!(0)));
        assert_eq!(parse_decimal(b" 7 "), Some(dec!(7)));
        assert_eq!(parse_decimal(b"-0.00").map(|value| value.to_string()), Some("0.00".to_string()));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(dec!(18446744073709551615)));
        assert_eq!(parse_decimal(b"-1234567890.123456789012345678"), Some(dec!(-1234567890.123456789012345678)));
        assert_eq!(parse_decimal(b"9999999999999999999999999999"), Some(dec!(9999999999999999999999999999)));
        for bad in [&b""[..], b"-", b".", b"1.2.3", b"1e5", b"12,50", b"abc", b"1 2", b"99999999999999999999999999999"]
        {
            assert_eq!(parse_decimal(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
