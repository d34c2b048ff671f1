//! Shard leases and node membership in JetStream KV.
//!
//! - bucket `nodes`: key = node id, refreshed every tick; `max_age` = the lease timeout, so a
//!   node that stops refreshing disappears from the member list on its own.
//! - bucket `leases`: key `shard-<n>` = owning node id. Taken with `create` (only if absent),
//!   renewed with `update` on the revision we hold (compare-and-set), given up with a
//!   revision-checked delete. The bucket's `max_age` is the lease timeout: a lease that is not
//!   renewed expires on the server's clock, not on any node's.
//!
//! A node must stop writing before anyone else can start: it treats a lease as valid until
//! `renewal sent + timeout - margin`, measured on its own monotonic clock from before the
//! renewal left, and the epoch fence refuses whatever slips through (G6).

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::TryStreamExt;
use practice_actors::journal::JournalError;
use practice_protocol::shard::ShardId;
use std::time::Duration;

pub const NODES_BUCKET: &str = "nodes";
pub const LEASES_BUCKET: &str = "leases";

pub struct LeaseStore {
    nodes: kv::Store,
    leases: kv::Store,
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> JournalError {
    JournalError::Unavailable(format!("{what}: {error}"))
}

pub fn lease_key(shard: ShardId) -> String {
    format!("shard-{}", shard.0)
}

/// The outcome of trying to take a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// Ours, at this revision.
    Acquired(u64),
    /// Someone holds it (maybe us from a previous life: it expires on its own).
    Held(String),
}

impl LeaseStore {
    pub async fn open(client: async_nats::Client, timeout: Duration, replicas: usize) -> Result<Self, JournalError> {
        let context = jetstream::new(client);
        let nodes = crate::jetstream::setup::bucket(&context, NODES_BUCKET, replicas, timeout).await?;
        let leases = crate::jetstream::setup::bucket(&context, LEASES_BUCKET, replicas, timeout).await?;
        Ok(Self { nodes, leases })
    }

    /// Say "I am alive" for another lease period.
    pub async fn heartbeat(&self, node: &str) -> Result<(), JournalError> {
        self.nodes.put(node, Bytes::from(node.to_string())).await.map_err(|error| unavailable("heartbeat", error))?;
        Ok(())
    }

    /// Nodes whose heartbeat has not expired.
    pub async fn live_nodes(&self) -> Result<Vec<String>, JournalError> {
        let keys = self.nodes.keys().await.map_err(|error| unavailable("listing nodes", error))?;
        let mut nodes: Vec<String> = keys.try_collect().await.map_err(|error| unavailable("listing nodes", error))?;
        nodes.sort();
        Ok(nodes)
    }

    /// Leave the member list at once (graceful shutdown).
    pub async fn leave(&self, node: &str) -> Result<(), JournalError> {
        self.nodes.purge(node).await.map_err(|error| unavailable("leaving", error))
    }

    pub async fn try_acquire(&self, shard: ShardId, node: &str) -> Result<Acquire, JournalError> {
        match self.leases.create(lease_key(shard), Bytes::from(node.to_string())).await {
            Ok(revision) => Ok(Acquire::Acquired(revision)),
            Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => {
                let holder = self.holder(shard).await?.unwrap_or_default();
                Ok(Acquire::Held(holder))
            }
            Err(error) => Err(unavailable("taking lease", error)),
        }
    }

    /// Renew on the revision we hold; `Ok(None)` when the lease is no longer ours.
    pub async fn renew(&self, shard: ShardId, node: &str, revision: u64) -> Result<Option<u64>, JournalError> {
        match self.leases.update(lease_key(shard), Bytes::from(node.to_string()), revision).await {
            Ok(revision) => Ok(Some(revision)),
            Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(None),
            Err(error) => Err(unavailable("renewing lease", error)),
        }
    }

    /// Give a lease up so the next owner need not wait for it to expire.
    pub async fn release(&self, shard: ShardId, revision: u64) -> Result<(), JournalError> {
        self.leases
            .purge_expect_revision(lease_key(shard), Some(revision))
            .await
            .map_err(|error| unavailable("releasing lease", error))
    }

    /// Who holds the lease of `shard` now, if anyone.
    pub async fn holder(&self, shard: ShardId) -> Result<Option<String>, JournalError> {
        let entry = self.leases.entry(lease_key(shard)).await.map_err(|error| unavailable("reading lease", error))?;
        Ok(entry
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| String::from_utf8_lossy(&entry.value).into_owned()))
    }

    /// Every shard's holder (for status output and tests).
    pub async fn holders(&self, shard_count: u16) -> Result<Vec<(ShardId, Option<String>)>, JournalError> {
        let mut all = Vec::with_capacity(usize::from(shard_count));
        for shard in 0..shard_count {
            all.push((ShardId(shard), self.holder(ShardId(shard)).await?));
        }
        Ok(all)
    }
}
