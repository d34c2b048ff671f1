//! Raw connector traffic into the `INBOUND` stream (`in.<org>.<txn>`), with a content-derived
//! `Nats-Msg-Id` so a file published twice inside the window is stored once (G3). Past the
//! window, `Journal::remember_inbound` and the entity's own memory keep it to one effect.

use super::ack::{parse_ack, AckError};
use super::plan::HEADER_MSG_ID;
use async_nats::{HeaderMap, Request};
use bytes::Bytes;
use practice_actors::journal::JournalError;
use practice_protocol::ids::OrgId;
use practice_protocol::shard::inbound_subject;
use std::time::Duration;

/// The result of an inbound publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundReceipt {
    pub stream_sequence: u64,
    /// Already stored under this id within the duplicate window.
    pub duplicate: bool,
}

/// Publish one inbound item; `message_id` is derived from content (file hash, ERA trace).
pub async fn publish_inbound(
    client: &async_nats::Client,
    org: OrgId,
    transaction: &str,
    message_id: &str,
    body: Bytes,
) -> Result<InboundReceipt, JournalError> {
    if transaction.is_empty() || !transaction.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(JournalError::InvalidAppend(format!("transaction {transaction:?} must be [A-Za-z0-9_]+")));
    }
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_MSG_ID, message_id);
    let request = Request::new().headers(headers).payload(body).timeout(Some(Duration::from_secs(5)));
    let reply = client
        .send_request(inbound_subject(org, transaction), request)
        .await
        .map_err(|error| JournalError::Unavailable(format!("publishing inbound: {error}")))?;
    match parse_ack(&reply.payload) {
        Ok(ack) => Ok(InboundReceipt { stream_sequence: ack.sequence, duplicate: ack.duplicate }),
        Err(AckError::Refused(refusal)) => Err(JournalError::Unavailable(refusal.to_string())),
        Err(error) => Err(JournalError::Unavailable(error.to_string())),
    }
}
