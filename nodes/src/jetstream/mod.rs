//! The distributed journal: NATS JetStream behind the `Journal` trait (DESIGN.md §3).
//!
//! `setup` creates streams and buckets, `plan` decides each message's headers and `frame` its
//! payload and event positions (both pure), `known` which entities of a fenced shard have events, `ack`
//! reads the server's verdict, `read` reads history back, `owned` and `own_writes` keep
//! what the journal appended to the shards it fenced for reads of those, `feed` follows the
//! stream into a `window` of recent events per shard for reads of the others, `journal` ties them together, and
//! `inbound` publishes raw connector traffic with content-derived ids; `registry` keeps the
//! sent-batch registry in a KV bucket.

pub mod ack;
mod feed;
pub mod frame;
pub mod inbound;
pub mod journal;
mod known;
mod own_writes;
mod owned;
pub mod plan;
pub mod read;
pub mod registry;
pub mod setup;
mod shard_cache;
mod window;

pub use feed::ShardReads;
pub use journal::JetStreamJournal;
pub use setup::JetStreamSettings;

/// Connect to `url` with settings fit for a node: a large subscription buffer (core NATS drops
/// messages past it) and unlimited reconnects.
pub async fn connect(url: &str, name: &str) -> Result<async_nats::Client, practice_actors::journal::JournalError> {
    async_nats::ConnectOptions::new()
        .name(name)
        .subscription_capacity(1 << 16)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(std::time::Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|error| practice_actors::journal::JournalError::Unavailable(format!("connecting to {url}: {error}")))
}
