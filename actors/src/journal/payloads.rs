//! Several event payloads in one stored value, each as a big-endian `u32` length and its
//! bytes. Both journals keep a command's events together this way: the embedded one in a run
//! record (`sled_keys`), JetStream in one message (`practice-nodes`' `jetstream::frame`).
//! Pure; the count travels beside the payloads (a record header, a message header).

/// Why a value does not hold the payloads it should.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadsError {
    #[error("event length cut short")]
    LengthCutShort,
    #[error("event payload cut short")]
    PayloadCutShort,
    #[error("{0} bytes after the last event")]
    TrailingBytes(usize),
}

/// The number of bytes `append` adds for `payloads`.
pub fn encoded_len<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> usize {
    payloads.into_iter().map(|payload| 4 + payload.len()).sum()
}

/// Add each payload, length first, to `out`.
pub fn append<'a>(out: &mut Vec<u8>, payloads: impl IntoIterator<Item = &'a [u8]>) {
    for payload in payloads {
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
    }
}

/// Exactly `count` payloads, the whole of `bytes`.
pub fn split(bytes: &[u8], count: usize) -> Result<Vec<&[u8]>, PayloadsError> {
    let mut payloads = Vec::with_capacity(count.min(bytes.len() / 4));
    let mut rest = bytes;
    for _ in 0..count {
        let (length, tail) = rest.split_first_chunk::<4>().ok_or(PayloadsError::LengthCutShort)?;
        let length = u32::from_be_bytes(*length) as usize;
        if tail.len() < length {
            return Err(PayloadsError::PayloadCutShort);
        }
        let (payload, tail) = tail.split_at(length);
        payloads.push(payload);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(PayloadsError::TrailingBytes(rest.len()));
    }
    Ok(payloads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_every_cut_or_extra_byte_is_an_error() {
        let payloads: [&[u8]; 3] = [b"first", b"", b"third event"];
        let mut bytes = Vec::new();
        append(&mut bytes, payloads);
        assert_eq!(bytes.len(), encoded_len(payloads));
        assert_eq!(split(&bytes, 3).unwrap(), payloads.to_vec());
        for cut in 0..bytes.len() {
            assert!(split(&bytes[..cut], 3).is_err(), "cut at {cut}");
        }
        assert_eq!(split(&bytes, 2), Err(PayloadsError::TrailingBytes(4 + 11)));
        assert_eq!(split(&[], 0).unwrap(), Vec::<&[u8]>::new());
    }
}
