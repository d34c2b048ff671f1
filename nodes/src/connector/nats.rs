//! The NATS connector: 837 batches published to `out.<org>.837` and 276 status requests to
//! `out.<org>.276` (stream `OUTBOUND`), the
//! clearinghouse's answers consumed from `in.<org>.<txn>` (stream `INBOUND`) through one
//! durable pull consumer per org, so a restart resumes where it stopped.
//!
//! Every publish carries a content-derived `Nats-Msg-Id` (SHA-256 of the bytes): a batch or
//! file published twice inside the duplicate window is stored once (G3). An inbound message
//! is acknowledged only when settled: `Accepted` acks it, `Rejected` terminates it (never
//! redelivered), `Retry` naks it for redelivery.

use super::{
    check_batch, content_id, sniff, Clearinghouse, ConnectorError, Delivery, Inbound, OutboundBatch, Settlement,
};
use crate::jetstream::inbound::{publish_inbound, InboundReceipt};
use crate::jetstream::setup::INBOUND_STREAM;
use crate::jetstream::JetStreamSettings;
use async_nats::jetstream::{self, consumer, stream, AckKind};
use async_nats::HeaderMap;
use futures::StreamExt;
use practice_protocol::ids::OrgId;
use practice_protocol::shard::outbound_subject;
use std::time::Duration;

pub const OUTBOUND_STREAM: &str = "OUTBOUND";
/// Header naming the batch (its control number) on outbound messages.
pub const HEADER_BATCH: &str = "Practice-Batch";
/// Header naming the transaction (`837P`/`837I`/`276`) on outbound messages.
pub const HEADER_TRANSACTION: &str = "Practice-Transaction";

/// An inbound message held until settled.
#[derive(Debug)]
pub struct NatsReceipt(jetstream::Message);

/// One org's connector over JetStream.
pub struct NatsConnector {
    context: jetstream::Context,
    org: OrgId,
    inbound: consumer::PullConsumer,
    ack_wait: Duration,
}

fn nats(action: &'static str) -> impl FnOnce(String) -> ConnectorError {
    move |detail| ConnectorError::Nats { action, detail }
}

/// Create the `OUTBOUND` (`out.>`) and `INBOUND` (`in.>`) streams if missing; an existing
/// stream is used as it is.
pub async fn ensure_streams(context: &jetstream::Context, settings: &JetStreamSettings) -> Result<(), ConnectorError> {
    for (name, subject) in [(OUTBOUND_STREAM, "out.>"), (INBOUND_STREAM, "in.>")] {
        context
            .get_or_create_stream(stream::Config {
                name: name.into(),
                subjects: vec![subject.into()],
                storage: stream::StorageType::File,
                num_replicas: settings.replicas,
                duplicate_window: settings.duplicate_window,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .map_err(|error| nats("creating a stream")(format!("{name}: {error}")))?;
    }
    Ok(())
}

/// The durable consumer's name for `org`.
pub fn consumer_name(org: OrgId) -> String {
    format!("connector_{}", org.0.simple())
}

impl NatsConnector {
    /// Create (idempotently) the `OUTBOUND` and `INBOUND` streams and this org's durable
    /// consumer. `ack_wait` is how long a received, unsettled message waits before redelivery.
    pub async fn open(
        client: async_nats::Client,
        org: OrgId,
        settings: &JetStreamSettings,
        ack_wait: Duration,
    ) -> Result<Self, ConnectorError> {
        let context = jetstream::new(client);
        ensure_streams(&context, settings).await?;
        let inbound_stream =
            context.get_stream(INBOUND_STREAM).await.map_err(|error| nats("opening INBOUND")(error.to_string()))?;
        let name = consumer_name(org);
        let inbound = inbound_stream
            .get_or_create_consumer(
                &name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: format!("in.{}.>", org.0.simple()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait,
                    ..Default::default()
                },
            )
            .await
            .map_err(|error| nats("creating the inbound consumer")(format!("{name}: {error}")))?;
        Ok(Self { context, org, inbound, ack_wait })
    }

    pub fn org(&self) -> OrgId {
        self.org
    }

    pub fn ack_wait(&self) -> Duration {
        self.ack_wait
    }
}

impl Clearinghouse for NatsConnector {
    type Receipt = NatsReceipt;

    fn max_batch_bytes(&self) -> Option<usize> {
        Some(self.context.client().server_info().max_payload.saturating_sub(HEADER_MARGIN))
    }

    async fn send(&self, batch: &OutboundBatch) -> Result<Delivery, ConnectorError> {
        check_batch(batch)?;
        check_size(&self.context.client(), &format!("batch {}", batch.id), batch.bytes.len())?;
        let subject = outbound_subject(self.org, batch.kind.outbound_token());
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", content_id(&batch.bytes).as_str());
        headers.insert(HEADER_BATCH, batch.id.as_str());
        headers.insert(HEADER_TRANSACTION, batch.kind.token().as_str());
        let ack = self
            .context
            .publish_with_headers(subject.clone(), headers, batch.bytes.clone())
            .await
            .map_err(|error| nats("publishing a batch")(error.to_string()))?
            .await
            .map_err(|error| nats("awaiting the batch ack")(error.to_string()))?;
        Ok(Delivery { location: format!("{subject}#{}", ack.sequence), duplicate: ack.duplicate })
    }

    async fn receive(&self, max: usize) -> Result<Vec<Inbound<NatsReceipt>>, ConnectorError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut batch = self
            .inbound
            .fetch()
            .max_messages(max)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .map_err(|error| nats("fetching inbound")(error.to_string()))?;
        let mut items = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|error| nats("fetching inbound")(error.to_string()))?;
            let bytes = message.payload.clone();
            items.push(Inbound {
                name: message.subject.to_string(),
                content_id: content_id(&bytes),
                kind: sniff(&bytes),
                bytes,
                receipt: NatsReceipt(message),
            });
        }
        Ok(items)
    }

    async fn settle(&self, receipt: NatsReceipt, settlement: Settlement) -> Result<(), ConnectorError> {
        let result = match settlement {
            // Double ack: the server confirms, so an accepted item is not redelivered.
            Settlement::Accepted => receipt.0.double_ack().await,
            Settlement::Rejected(_) => receipt.0.ack_with(AckKind::Term).await,
            Settlement::Retry => receipt.0.ack_with(AckKind::Nak(None)).await,
        };
        result.map_err(|error| nats("settling an inbound message")(error.to_string()))
    }
}

/// Headers travel with a message's payload: the margin kept for them under `max_payload`.
const HEADER_MARGIN: usize = 512;

/// Refuse what the server would refuse, with a reason that names the limit (raise the
/// server's `max_payload` for larger interchanges).
fn check_size(client: &async_nats::Client, what: &str, size: usize) -> Result<(), ConnectorError> {
    let limit = client.server_info().max_payload;
    if limit > 0 && size + HEADER_MARGIN > limit {
        return Err(ConnectorError::TooLarge { what: what.into(), size, limit });
    }
    Ok(())
}

/// The clearinghouse side of the wire (and the HTTP upload's): route one file to
/// `in.<org>.<txn>` by its transaction set, de-duplicated by content. Bytes that are not an
/// X12 interchange are refused with the reason rather than published.
pub async fn publish_file(
    client: &async_nats::Client,
    org: OrgId,
    bytes: bytes::Bytes,
) -> Result<InboundReceipt, ConnectorError> {
    let kind = sniff(&bytes).map_err(|error| nats("refusing an inbound file")(error.to_string()))?;
    check_size(client, &format!("the {kind} file"), bytes.len())?;
    publish_inbound(client, org, &kind.token(), &content_id(&bytes), bytes)
        .await
        .map_err(|error| nats("publishing an inbound file")(error.to_string()))
}
