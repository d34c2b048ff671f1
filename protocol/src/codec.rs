//! The wire codec: the one place that knows how events and commands become bytes.
//!
//! Layout: one format-version byte, then bincode 2 (standard config, varint integers) of the
//! serde form. Changing the format means a new version byte here and a decoder for the old
//! one; nothing else in the system changes. Decoding never panics and never allocates more
//! than `MAX_DECODE_BYTES`, whatever the input.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The current format. 0 is reserved so a zeroed buffer is never mistaken for data.
pub const FORMAT_VERSION: u8 = 1;

/// Upper bound on what one decode may allocate (a claim with 999 lines is far below it).
pub const MAX_DECODE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty input: no format byte")]
    Empty,
    #[error("unknown format version {0} (this build reads {FORMAT_VERSION})")]
    UnknownVersion(u8),
    #[error("could not encode: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("could not decode: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_DECODE_BYTES>()
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut bytes = Vec::with_capacity(256);
    bytes.push(FORMAT_VERSION);
    bincode::serde::encode_into_std_write(value, &mut bytes, config())?;
    Ok(bytes)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::UnknownVersion(version));
    }
    let (value, read) = bincode::serde::decode_from_slice(body, config())?;
    if read != body.len() {
        return Err(CodecError::TrailingBytes(body.len() - read));
    }
    Ok(value)
}
