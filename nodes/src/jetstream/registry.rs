//! The batch registry (which claims left in which 837 interchange, group and set; the 999s'
//! verdicts) in a JetStream KV bucket, for nodes on NATS: every node of a cluster sees the
//! batches any of them sent. Key: organization, then the group control number's key in hex (a
//! 999 can carry any text there; KV keys cannot). Changes are compare-and-set on the entry's
//! revision, so two nodes recording at once never lose one another's write.

use super::setup::bucket;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use practice_actors::ingest::registry::{
    control_key, merge_sent, with_verdicts, BatchRegistry, RegisteredBatch, RegistryError, SentBatch, SetOutcome,
};
use practice_actors::journal::{BoxFuture, JournalError};
use practice_protocol::codec::{decode, encode};
use practice_protocol::ids::OrgId;
use std::time::Duration;

pub const BATCHES_BUCKET: &str = "batches";

/// Compare-and-set attempts before a change gives up as contended.
const ATTEMPTS: usize = 16;

pub struct KvBatchRegistry {
    store: kv::Store,
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> RegistryError {
    RegistryError::Unavailable(format!("{what}: {error}"))
}

impl KvBatchRegistry {
    /// Open (creating when missing) the bucket with `replicas` copies.
    pub async fn open(client: async_nats::Client, replicas: usize) -> Result<Self, JournalError> {
        let context = jetstream::new(client);
        Ok(Self { store: bucket(&context, BATCHES_BUCKET, replicas, Duration::ZERO).await? })
    }

    fn key(org: OrgId, group_control_number: &str) -> String {
        let hex: String = control_key(group_control_number).bytes().map(|byte| format!("{byte:02x}")).collect();
        format!("{}.g{hex}", org.0.simple())
    }

    /// The entry now: its batch (if any) and the revision to set against (if any).
    async fn load(&self, key: &str) -> Result<(Option<RegisteredBatch>, Option<u64>), RegistryError> {
        let entry = self.store.entry(key).await.map_err(|error| unavailable("reading a batch", error))?;
        match entry {
            None => Ok((None, None)),
            Some(entry) if entry.operation != kv::Operation::Put => Ok((None, Some(entry.revision))),
            Some(entry) => {
                let registered = decode(&entry.value).map_err(|error| RegistryError::Corrupt(error.to_string()))?;
                Ok((Some(registered), Some(entry.revision)))
            }
        }
    }

    /// Apply `change` to the entry at `key`; on a concurrent write, read again and retry.
    async fn update(
        &self,
        key: &str,
        change: impl Fn(Option<RegisteredBatch>) -> Result<Option<RegisteredBatch>, RegistryError>,
    ) -> Result<(), RegistryError> {
        for _ in 0..ATTEMPTS {
            let (existing, revision) = self.load(key).await?;
            let Some(next) = change(existing)? else { return Ok(()) };
            let bytes = Bytes::from(encode(&next).map_err(|error| RegistryError::Corrupt(error.to_string()))?);
            let written = match revision {
                None => match self.store.create(key, bytes).await {
                    Ok(_) => true,
                    Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => false,
                    Err(error) => return Err(unavailable("recording a batch", error)),
                },
                Some(revision) => match self.store.update(key, bytes, revision).await {
                    Ok(_) => true,
                    Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => false,
                    Err(error) => return Err(unavailable("recording a batch", error)),
                },
            };
            if written {
                return Ok(());
            }
        }
        Err(RegistryError::Unavailable(format!("batch {key} changed under us {ATTEMPTS} times")))
    }
}

impl BatchRegistry for KvBatchRegistry {
    fn record_sent(&self, org: OrgId, batch: SentBatch) -> BoxFuture<'_, Result<(), RegistryError>> {
        let key = Self::key(org, &batch.group_control_number);
        Box::pin(async move { self.update(&key, |existing| merge_sent(existing, batch.clone())).await })
    }

    fn find(
        &self,
        org: OrgId,
        group_control_number: &str,
    ) -> BoxFuture<'_, Result<Option<RegisteredBatch>, RegistryError>> {
        let key = Self::key(org, group_control_number);
        Box::pin(async move { Ok(self.load(&key).await?.0) })
    }

    fn record_verdicts(
        &self,
        org: OrgId,
        group_control_number: &str,
        verdicts: Vec<(String, SetOutcome)>,
    ) -> BoxFuture<'_, Result<(), RegistryError>> {
        let key = Self::key(org, group_control_number);
        let group = group_control_number.to_string();
        Box::pin(async move { self.update(&key, |existing| with_verdicts(existing, &group, &verdicts)).await })
    }
}
