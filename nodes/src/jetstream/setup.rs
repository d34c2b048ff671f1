//! Streams and buckets the JetStream backend needs, created idempotently at start.
//!
//! - `EVENTS`: `evt.>` (one subject per entity) and `epoch.>` (one per shard), file storage,
//!   `allow_atomic` for group commit, `allow_direct` for cheap last-by-subject reads.
//! - `INBOUND`: `in.>`, raw connector traffic, de-duplicated by `Nats-Msg-Id`.
//! - KV `snapshots`, `positions`, `inbound_ids`: one value per key (history 1).
//!
//! Durability is the server's `sync_interval: always` (deploy configs, test harness); with
//! `replicas > 1` an ack also means a quorum has it.

use async_nats::jetstream::{self, kv, stream};
use practice_actors::journal::JournalError;
use std::time::Duration;

pub const EVENTS_STREAM: &str = "EVENTS";
pub const INBOUND_STREAM: &str = "INBOUND";
pub const SNAPSHOTS_BUCKET: &str = "snapshots";
pub const POSITIONS_BUCKET: &str = "positions";
pub const INBOUND_IDS_BUCKET: &str = "inbound_ids";

/// How the backend is laid out on the server.
#[derive(Clone, Debug)]
pub struct JetStreamSettings {
    pub shard_count: u16,
    /// Stream and bucket replicas: 1 on a single server, 3 (or 5) in production.
    pub replicas: usize,
    /// `Nats-Msg-Id` window. Past it, idempotency is the entity's job (DESIGN.md §3).
    pub duplicate_window: Duration,
    /// How long one publish or read may take before the journal says `Unavailable`.
    pub request_timeout: Duration,
    /// Read the heads and epoch markers appends are planned on from the stream's leader, not
    /// with a direct get any replica may answer before it has caught up: set it whenever
    /// `replicas > 1` (a single server's direct get is exact, and cheaper).
    pub read_from_leader: bool,
}

impl Default for JetStreamSettings {
    fn default() -> Self {
        Self {
            shard_count: practice_protocol::shard::DEFAULT_SHARD_COUNT,
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            request_timeout: Duration::from_secs(5),
            read_from_leader: false,
        }
    }
}

pub(crate) struct Stores {
    pub events: stream::Stream,
    pub snapshots: kv::Store,
    pub positions: kv::Store,
    pub inbound_ids: kv::Store,
}

fn unavailable(what: &str) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> JournalError + '_ {
    move |error| JournalError::Unavailable(format!("{what}: {error}"))
}

pub(crate) async fn ensure(context: &jetstream::Context, settings: &JetStreamSettings) -> Result<Stores, JournalError> {
    let events = context
        .get_or_create_stream(stream::Config {
            name: EVENTS_STREAM.into(),
            subjects: vec!["evt.>".into(), "epoch.>".into()],
            storage: stream::StorageType::File,
            num_replicas: settings.replicas,
            duplicate_window: settings.duplicate_window,
            allow_atomic_publish: true,
            allow_direct: true,
            ..Default::default()
        })
        .await
        .map_err(|error| unavailable("creating stream EVENTS")(error.into()))?;
    context
        .get_or_create_stream(stream::Config {
            name: INBOUND_STREAM.into(),
            subjects: vec!["in.>".into()],
            storage: stream::StorageType::File,
            num_replicas: settings.replicas,
            duplicate_window: settings.duplicate_window,
            allow_direct: true,
            ..Default::default()
        })
        .await
        .map_err(|error| unavailable("creating stream INBOUND")(error.into()))?;
    let snapshots = bucket(context, SNAPSHOTS_BUCKET, settings.replicas, Duration::ZERO).await?;
    let positions = bucket(context, POSITIONS_BUCKET, settings.replicas, Duration::ZERO).await?;
    let inbound_ids = bucket(context, INBOUND_IDS_BUCKET, settings.replicas, Duration::ZERO).await?;
    Ok(Stores { events, snapshots, positions, inbound_ids })
}

/// Open `name`, creating it when missing. `max_age` zero keeps entries forever.
pub(crate) async fn bucket(
    context: &jetstream::Context,
    name: &str,
    replicas: usize,
    max_age: Duration,
) -> Result<kv::Store, JournalError> {
    if let Ok(store) = context.get_key_value(name).await {
        return Ok(store);
    }
    let created = context
        .create_key_value(kv::Config {
            bucket: name.into(),
            history: 1,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            max_age,
            ..Default::default()
        })
        .await;
    match created {
        Ok(store) => Ok(store),
        // Another node may have created it between our get and create.
        Err(create_error) => context
            .get_key_value(name)
            .await
            .map_err(|_| JournalError::Unavailable(format!("creating bucket {name}: {create_error}"))),
    }
}
