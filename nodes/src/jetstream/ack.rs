//! JetStream publish acknowledgements, parsed from the raw reply so the server's own error
//! codes stay visible (async-nats folds most of them into `Other`).
//!
//! Codes verified against nats-server 2.15.1 (see `nodes/tests/jetstream_journal.rs`):
//! - 10071 `JSStreamWrongLastSequenceErr`: an expected-last-(subject-)sequence check failed.
//!   On a data message of an atomic batch the whole batch is abandoned, nothing stored.
//! - 10164: in a cluster, a concurrent checked publish on the same checked subject is refused
//!   at once without a sequence; it means "retry", never "fenced".
//! - 10201: an atomic batch carries a `Nats-Msg-Id` already stored within the duplicate window.
//!   Outside batches the same case is a success ack with `duplicate: true`. Our event ids are
//!   derived from (entity, sequence), so both mean "this sequence exists already".
//! - 10060 `JSStreamNotFoundErr`; 10077 message size; other codes are reported verbatim.

use serde::Deserialize;

pub const WRONG_LAST_SEQUENCE: u64 = 10071;
pub const RETRY_CHECKED_PUBLISH: u64 = 10164;
pub const BATCH_DUPLICATE_MESSAGE_ID: u64 = 10201;

/// A successful store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishAck {
    pub stream: String,
    /// Stream sequence of the (last) stored message.
    pub sequence: u64,
    /// The `Nats-Msg-Id` was seen within the duplicate window: nothing new stored.
    pub duplicate: bool,
    /// Messages in a committed atomic batch (0 outside batches).
    pub batch_count: u64,
}

/// A refusal, with the server's codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("jetstream refused the publish: {description} (code {code}, err_code {err_code})")]
pub struct PublishRefusal {
    pub code: u64,
    pub err_code: u64,
    pub description: String,
}

impl PublishRefusal {
    pub fn is_wrong_last_sequence(&self) -> bool {
        self.err_code == WRONG_LAST_SEQUENCE
    }

    pub fn is_duplicate_in_batch(&self) -> bool {
        self.err_code == BATCH_DUPLICATE_MESSAGE_ID
    }

    pub fn is_retry(&self) -> bool {
        self.err_code == RETRY_CHECKED_PUBLISH
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error(transparent)]
    Refused(PublishRefusal),
    #[error("unreadable publish ack ({0}): {1}")]
    Unreadable(String, String),
}

#[derive(Deserialize)]
struct RawAck {
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    duplicate: bool,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    error: Option<RawError>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    code: u64,
    #[serde(default)]
    err_code: u64,
    #[serde(default)]
    description: String,
}

/// Parse a publish reply body.
pub fn parse_ack(body: &[u8]) -> Result<PublishAck, AckError> {
    let raw: RawAck = serde_json::from_slice(body).map_err(|error| {
        AckError::Unreadable(error.to_string(), String::from_utf8_lossy(body).chars().take(200).collect())
    })?;
    if let Some(error) = raw.error {
        return Err(AckError::Refused(PublishRefusal {
            code: error.code,
            err_code: error.err_code,
            description: error.description,
        }));
    }
    match (raw.stream, raw.seq) {
        (Some(stream), Some(sequence)) => {
            Ok(PublishAck { stream, sequence, duplicate: raw.duplicate, batch_count: raw.count.unwrap_or(0) })
        }
        _ => Err(AckError::Unreadable("no stream or sequence".into(), String::from_utf8_lossy(body).into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stored_message() {
        let ack = parse_ack(br#"{"stream":"EVENTS","seq":42}"#).unwrap();
        assert_eq!(ack, PublishAck { stream: "EVENTS".into(), sequence: 42, duplicate: false, batch_count: 0 });
    }

    #[test]
    fn parses_a_committed_batch_and_a_duplicate() {
        let ack = parse_ack(br#"{"stream":"EVENTS","seq":9,"batch":"b1","count":3}"#).unwrap();
        assert_eq!((ack.sequence, ack.batch_count), (9, 3));
        assert!(parse_ack(br#"{"stream":"EVENTS","seq":9,"duplicate":true}"#).unwrap().duplicate);
    }

    #[test]
    fn keeps_the_server_error_code() {
        let error = parse_ack(br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}"#)
            .unwrap_err();
        let AckError::Refused(refusal) = error else { panic!("expected a refusal, got {error:?}") };
        assert!(refusal.is_wrong_last_sequence());
        assert!(!refusal.is_retry());
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(parse_ack(b"\xff{"), Err(AckError::Unreadable(..))));
        assert!(matches!(parse_ack(b"{}"), Err(AckError::Unreadable(..))));
    }
}
