//! Clearinghouse connectors (issue 5 item 4): how 837 batches leave the practice and how the
//! clearinghouse's answers (999, 277CA, 277, 835) come back; 276 status requests go out the
//! same way as 837s.
//!
//! [`Clearinghouse`] is the seam the submission and ingest actors use; two real carriers
//! implement it:
//! - [`file_drop::FileDrop`]: outbox/inbox folders, the way SFTP clearinghouses work.
//! - [`nats::NatsConnector`]: batches published to `out.<org>.837` on JetStream, answers consumed
//!   from `in.<org>.<txn>` (the `INBOUND` stream) through a durable consumer.
//!
//! [`route::Routed`] puts two of them ([`link::Link`]) behind one: the payers a routes file names
//! go through the second clearinghouse, every other payer through the first.
//!
//! Nothing inbound is lost: an item is only removed from its carrier when the caller
//! [`settles`](Clearinghouse::settle) it, and input that is not X12 is still handed over (with
//! its [`SniffError`]) so the caller can reject it with a reason.

pub mod batch;
pub mod bridge;
pub mod file_drop;
pub mod link;
pub mod nats;
pub mod route;
pub mod sniff;

pub use sniff::{sniff, InboundKind, SniffError};

use bytes::Bytes;
use std::future::Future;

/// One outbound interchange: an 837 batch or a 276 status request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundBatch {
    /// The batch id (the ISA/GS control number as text): `[A-Za-z0-9_-]+`.
    pub id: String,
    /// `837P`, `837I` or `276`.
    pub kind: InboundKind,
    pub bytes: Bytes,
}

/// What a carrier did with a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Where the batch went: a file path or `subject#sequence`.
    pub location: String,
    /// The very same content was already delivered under this id; nothing new was written.
    pub duplicate: bool,
}

/// One item received from the clearinghouse, still held by its carrier until settled.
#[derive(Debug)]
pub struct Inbound<R> {
    /// File name or subject it arrived under (no PHI: carriers name files by control number).
    pub name: String,
    /// Lowercase hex SHA-256 of the bytes: the de-duplication key downstream (G3).
    pub content_id: String,
    /// The transaction set, or why the bytes are not a usable X12 interchange.
    pub kind: Result<InboundKind, SniffError>,
    pub bytes: Bytes,
    /// Carrier-specific handle [`Clearinghouse::settle`] needs.
    pub receipt: R,
}

impl<R> Inbound<R> {
    /// The same item under another receipt (a carrier wrapping another's).
    pub fn map_receipt<S>(self, wrap: impl FnOnce(R) -> S) -> Inbound<S> {
        Inbound {
            name: self.name,
            content_id: self.content_id,
            kind: self.kind,
            bytes: self.bytes,
            receipt: wrap(self.receipt),
        }
    }
}

/// How the caller disposes of an inbound item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Journaled downstream: the carrier may forget it.
    Accepted,
    /// Never processable (not X12, wrong org, …): kept aside with the reason, not retried.
    Rejected(String),
    /// Could not be handled now (journal unavailable): offer it again later.
    Retry,
}

/// A connector error, saying which carrier and what failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: String, source: std::io::Error },
    #[error("batch id {0:?} must be 1-64 characters of [A-Za-z0-9_-]")]
    BadBatchId(String),
    #[error("batch {id}: {kind} is not an outbound transaction (only 837P, 837I and 276 are sent)")]
    NotOutbound { id: String, kind: InboundKind },
    #[error("batch {id} already delivered at {location} with different content")]
    Conflict { id: String, location: String },
    #[error("{what} is {size} bytes, over the server's max_payload of {limit} bytes")]
    TooLarge { what: String, size: usize, limit: usize },
    #[error("NATS {action}: {detail}")]
    Nats { action: &'static str, detail: String },
    #[error("an inbound item was settled with a link that did not receive it")]
    ForeignReceipt,
}

/// Carries 837 batches and 276 requests out and the clearinghouse's answers in.
pub trait Clearinghouse: Send + Sync {
    /// The handle an inbound item keeps with its carrier until settled.
    type Receipt: Send;

    /// Deliver one batch. Sending the same batch again is a no-op (`duplicate: true`).
    fn send(&self, batch: &OutboundBatch) -> impl Future<Output = Result<Delivery, ConnectorError>> + Send;

    /// Up to `max` waiting inbound items, oldest first; none is removed until settled.
    fn receive(&self, max: usize) -> impl Future<Output = Result<Vec<Inbound<Self::Receipt>>, ConnectorError>> + Send;

    /// The largest interchange this carrier takes, if it has a limit (a NATS server's
    /// `max_payload`): the exchange splits a batch that would be larger.
    fn max_batch_bytes(&self) -> Option<usize> {
        None
    }

    /// Dispose of one received item.
    fn settle(
        &self,
        receipt: Self::Receipt,
        settlement: Settlement,
    ) -> impl Future<Output = Result<(), ConnectorError>> + Send;
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn content_id(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

fn check_batch(batch: &OutboundBatch) -> Result<(), ConnectorError> {
    let id_ok = !batch.id.is_empty()
        && batch.id.len() <= 64
        && batch.id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if !id_ok {
        return Err(ConnectorError::BadBatchId(batch.id.clone()));
    }
    if !batch.kind.is_outbound() {
        return Err(ConnectorError::NotOutbound { id: batch.id.clone(), kind: batch.kind.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(id: &str, kind: InboundKind) -> OutboundBatch {
        OutboundBatch { id: id.into(), kind, bytes: Bytes::from_static(b"ISA") }
    }

    #[test]
    fn content_id_is_sha256_hex() {
        assert_eq!(content_id(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn batch_ids_and_kinds_are_checked() {
        assert!(check_batch(&batch("000000001", InboundKind::Claim837P)).is_ok());
        assert!(check_batch(&batch("b-7_x", InboundKind::Claim837I)).is_ok());
        for bad in ["", "../etc", "a b", "x.y", &"9".repeat(65)] {
            assert!(
                matches!(check_batch(&batch(bad, InboundKind::Claim837P)), Err(ConnectorError::BadBatchId(_))),
                "{bad}"
            );
        }
        let error = check_batch(&batch("1", InboundKind::Remittance835)).unwrap_err();
        assert!(check_batch(&batch("2", InboundKind::StatusRequest276)).is_ok());
        assert_eq!(error.to_string(), "batch 1: 835 is not an outbound transaction (only 837P, 837I and 276 are sent)");
    }
}
