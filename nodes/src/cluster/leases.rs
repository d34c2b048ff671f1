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

#[derive(Clone)]
pub struct LeaseStore {
    nodes: kv::Store,
    leases: kv::Store,
    /// Every operation gives up after this: an answer later than a lease period is useless,
    /// and a listing that never ends (seen right after a server restart) must not stall the
    /// node's lease loop, which would miss its heartbeat and every renewal.
    bound: Duration,
}

/// `what` within `bound`, or unavailable.
async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    bound: Duration,
    operation: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, JournalError> {
    match tokio::time::timeout(bound, operation).await {
        Ok(result) => result.map_err(|error| unavailable(what, error)),
        Err(_) => Err(unavailable(what, format!("no answer within {bound:?}"))),
    }
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
        Ok(Self { nodes, leases, bound: timeout.max(Duration::from_secs(1)) })
    }

    /// Say "I am alive" for another lease period.
    pub async fn heartbeat(&self, node: &str) -> Result<(), JournalError> {
        bounded("heartbeat", self.bound, self.nodes.put(node, Bytes::from(node.to_string()))).await?;
        Ok(())
    }

    /// Nodes whose heartbeat has not expired.
    pub async fn live_nodes(&self) -> Result<Vec<String>, JournalError> {
        let listing = async {
            let keys = self.nodes.keys().await.map_err(|error| error.to_string())?;
            keys.try_collect::<Vec<String>>().await.map_err(|error| error.to_string())
        };
        let mut nodes = bounded("listing nodes", self.bound, listing).await?;
        nodes.sort();
        Ok(nodes)
    }

    /// Leave the member list at once (graceful shutdown).
    pub async fn leave(&self, node: &str) -> Result<(), JournalError> {
        bounded("leaving", self.bound, self.nodes.purge(node)).await
    }

    pub async fn try_acquire(&self, shard: ShardId, node: &str) -> Result<Acquire, JournalError> {
        let created =
            tokio::time::timeout(self.bound, self.leases.create(lease_key(shard), Bytes::from(node.to_string())))
                .await
                .map_err(|_| unavailable("taking lease", format!("no answer within {:?}", self.bound)))?;
        match created {
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
        let updated = tokio::time::timeout(
            self.bound,
            self.leases.update(lease_key(shard), Bytes::from(node.to_string()), revision),
        )
        .await
        .map_err(|_| unavailable("renewing lease", format!("no answer within {:?}", self.bound)))?;
        match updated {
            Ok(revision) => Ok(Some(revision)),
            Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(None),
            Err(error) => Err(unavailable("renewing lease", error)),
        }
    }

    /// Give a lease up so the next owner need not wait for it to expire.
    pub async fn release(&self, shard: ShardId, revision: u64) -> Result<(), JournalError> {
        bounded("releasing lease", self.bound, self.leases.purge_expect_revision(lease_key(shard), Some(revision)))
            .await
    }

    /// Who holds the lease of `shard` now, if anyone.
    pub async fn holder(&self, shard: ShardId) -> Result<Option<String>, JournalError> {
        let entry = bounded("reading lease", self.bound, self.leases.entry(lease_key(shard))).await?;
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
