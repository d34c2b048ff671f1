//! The file-drop ↔ NATS bridge (`practice connector bridge`): for a clearinghouse that only
//! speaks folders (SFTP), files landing in the inbox are published to `in.<org>.<txn>`, and
//! batches published to `out.<org>.837` and status requests to `out.<org>.276` are written to
//! the outbox.
//!
//! Each step settles only after the other side holds the item: an inbox file moves to
//! `processed/` after JetStream acknowledged it, an outbound message is acked after its file
//! was renamed into place. A crash in between repeats the step, and content-derived ids
//! (inbound) and same-content checks (outbound) make the repeat a no-op.

use super::file_drop::FileDrop;
use super::nats::{ensure_streams, publish_file, HEADER_BATCH, HEADER_TRANSACTION, OUTBOUND_STREAM};
use super::{content_id, sniff, Clearinghouse, ConnectorError, InboundKind, OutboundBatch, Settlement};
use crate::jetstream::JetStreamSettings;
use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use practice_protocol::ids::OrgId;
use practice_protocol::shard::outbound_subject;
use std::time::Duration;

/// What one pass moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Inbox files published (duplicates included: they are settled too).
    pub published: usize,
    /// Inbox files set aside in `rejected/` (not X12).
    pub rejected: usize,
    /// Outbound batches written to the outbox.
    pub written: usize,
}

/// Moves one org's traffic between a [`FileDrop`] and JetStream.
pub struct Bridge {
    drop: FileDrop,
    client: async_nats::Client,
    org: OrgId,
    outbound: consumer::PullConsumer,
}

impl Bridge {
    /// Open the `OUTBOUND` and `INBOUND` streams (created if missing) and this org's durable bridge consumer.
    pub async fn open(
        drop: FileDrop,
        client: async_nats::Client,
        org: OrgId,
        settings: &JetStreamSettings,
    ) -> Result<Self, ConnectorError> {
        let context = jetstream::new(client.clone());
        ensure_streams(&context, settings).await?;
        let stream = context
            .get_stream(OUTBOUND_STREAM)
            .await
            .map_err(|error| ConnectorError::Nats { action: "opening OUTBOUND", detail: error.to_string() })?;
        let name = format!("bridge_{}", org.0.simple());
        // Create or update: a consumer made before 276s went out filtered on `out.<org>.837`
        // only, and would never see a status request.
        let outbound = stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: outbound_subject(org, "*"),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .map_err(|error| ConnectorError::Nats {
                action: "creating the bridge consumer",
                detail: error.to_string(),
            })?;
        Ok(Self { drop, client, org, outbound })
    }

    /// Move everything waiting, up to `max` items each way.
    pub async fn pass(&self, max: usize) -> Result<PassReport, ConnectorError> {
        let mut report = PassReport::default();
        for item in self.drop.receive(max).await? {
            match item.kind {
                Ok(_) => match publish_file(&self.client, self.org, item.bytes).await {
                    Ok(_) => {
                        self.drop.settle(item.receipt, Settlement::Accepted).await?;
                        report.published += 1;
                    }
                    // Set aside (not lost) so one oversized file does not block the rest.
                    Err(error @ ConnectorError::TooLarge { .. }) => {
                        self.drop.settle(item.receipt, Settlement::Rejected(error.to_string())).await?;
                        report.rejected += 1;
                    }
                    // The server is unavailable: stop; the file is offered again next pass.
                    Err(error) => return Err(error),
                },
                Err(error) => {
                    self.drop.settle(item.receipt, Settlement::Rejected(error.to_string())).await?;
                    report.rejected += 1;
                }
            }
        }
        let mut messages = self
            .outbound
            .fetch()
            .max_messages(max.max(1))
            .messages()
            .await
            .map_err(|error| ConnectorError::Nats { action: "fetching outbound", detail: error.to_string() })?;
        while let Some(message) = messages.next().await {
            let message = message
                .map_err(|error| ConnectorError::Nats { action: "fetching outbound", detail: error.to_string() })?;
            let header =
                |name: &str| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_string());
            // A batch without our headers still gets a name: its kind from ST03, its id from
            // the stream sequence.
            let kind = match header(HEADER_TRANSACTION).as_deref().and_then(InboundKind::from_outbound_token) {
                Some(kind) => kind,
                None => sniff(&message.payload).ok().filter(InboundKind::is_outbound).unwrap_or(InboundKind::Claim837P),
            };
            let id = match header(HEADER_BATCH) {
                Some(id) => id,
                None => format!("seq{}", message.info().map(|info| info.stream_sequence).unwrap_or_default()),
            };
            let mut batch = OutboundBatch { id, kind, bytes: message.payload.clone() };
            match self.drop.send(&batch).await {
                Ok(_) => {}
                // A reused control number with new content: keep both rather than wedge.
                Err(ConnectorError::Conflict { .. }) => {
                    batch.id = format!("{}-{}", batch.id, &content_id(&batch.bytes)[..12]);
                    self.drop.send(&batch).await?;
                }
                Err(error) => return Err(error),
            }
            message
                .double_ack()
                .await
                .map_err(|error| ConnectorError::Nats { action: "acking outbound", detail: error.to_string() })?;
            report.written += 1;
        }
        Ok(report)
    }
}
