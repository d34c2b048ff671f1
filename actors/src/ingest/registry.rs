//! The registry of sent batches: which claims went out in which interchange (ISA13), functional
//! group (GS06) and transaction set (ST02), per organization, and what each set's 999 said.
//! A 999 names only the group and set control numbers we sent (AK102, AK202); this registry is
//! how it finds its way back to claims.
//!
//! Behind a trait so any durable key-value store can back it: `SledBatchRegistry` (a small
//! sled database next to the embedded journal) and `MemoryBatchRegistry` (tests). A group
//! control number is reused only for the very same batch: a different batch under a number
//! already recorded is refused, since a 999 for it could not tell the two apart.

use crate::journal::sled_open::SyncedDb;
use crate::journal::BoxFuture;
use practice_protocol::codec::{decode, encode};
use practice_protocol::ids::{ClaimId, OrgId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One claim in a sent transaction set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentClaim {
    pub claim_id: ClaimId,
    /// CLM01.
    pub patient_control_number: String,
}

/// One 837 transaction set we sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentSet {
    /// ST02, as written.
    pub control_number: String,
    pub claims: Vec<SentClaim>,
}

/// One functional group of an interchange we sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentBatch {
    /// ISA13, as written.
    pub interchange_control_number: String,
    /// GS06, as written.
    pub group_control_number: String,
    pub sets: Vec<SentSet>,
}

impl SentBatch {
    /// Every claim of the batch, in file order.
    pub fn claims(&self) -> impl Iterator<Item = &SentClaim> {
        self.sets.iter().flat_map(|set| set.claims.iter())
    }
}

/// What a 999 said about one set of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetOutcome {
    pub accepted: bool,
    /// IK501 (or AK901 for a group rejected as a whole).
    pub status_code: String,
    /// The 999's errors in words (IK3/IK4 segment and element, IK5/AK9 codes).
    pub reason: String,
    /// The inbound file that said so.
    pub file_id: String,
}

/// A batch as registered, with the verdicts received so far (by ST02).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredBatch {
    pub batch: SentBatch,
    pub verdicts: BTreeMap<String, SetOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("group control number {group} was already used for a different batch")]
    ControlNumberReused { group: String },
    #[error("batch registry unavailable: {0}")]
    Unavailable(String),
    #[error("batch registry corrupt: {0}")]
    Corrupt(String),
}

/// Where sent batches are recorded. Every method is durable before it returns `Ok`.
pub trait BatchRegistry: Send + Sync + 'static {
    /// Record a batch as sent (before it leaves). The same batch again is a no-op.
    fn record_sent(&self, org: OrgId, batch: SentBatch) -> BoxFuture<'_, Result<(), RegistryError>>;

    /// The batch sent under this GS06 (leading zeros do not matter), if any.
    fn find(
        &self,
        org: OrgId,
        group_control_number: &str,
    ) -> BoxFuture<'_, Result<Option<RegisteredBatch>, RegistryError>>;

    /// Remember a 999's verdicts on sets of one registered batch, by ST02 (the latest verdict
    /// on a set wins): all of them, or none when one names a set the batch does not have.
    fn record_verdicts(
        &self,
        org: OrgId,
        group_control_number: &str,
        verdicts: Vec<(String, SetOutcome)>,
    ) -> BoxFuture<'_, Result<(), RegistryError>>;
}

/// A control number as a key: trimmed, leading zeros dropped (`000000031` and `31` are one
/// group; X12 writers differ in padding).
pub fn control_key(control_number: &str) -> String {
    let trimmed = control_number.trim();
    let digits = trimmed.trim_start_matches('0');
    if digits.is_empty() && !trimmed.is_empty() {
        "0".to_string()
    } else {
        digits.to_string()
    }
}

/// The pure rules every backend shares.
pub fn merge_sent(
    existing: Option<RegisteredBatch>,
    batch: SentBatch,
) -> Result<Option<RegisteredBatch>, RegistryError> {
    match existing {
        Some(found) if found.batch == batch => Ok(None),
        Some(found) => Err(RegistryError::ControlNumberReused { group: found.batch.group_control_number }),
        None => Ok(Some(RegisteredBatch { batch, verdicts: BTreeMap::new() })),
    }
}

/// The batch at a key after a 999's verdicts on its sets (an error when there is no batch, or
/// a verdict names a set it does not have).
pub fn with_verdicts(
    existing: Option<RegisteredBatch>,
    group_control_number: &str,
    verdicts: &[(String, SetOutcome)],
) -> Result<Option<RegisteredBatch>, RegistryError> {
    let mut registered = existing.ok_or_else(|| RegistryError::Corrupt(format!("no batch {group_control_number}")))?;
    for (set_control_number, outcome) in verdicts {
        set_verdict(&mut registered, set_control_number, outcome.clone())?;
    }
    Ok(Some(registered))
}

fn set_verdict(
    registered: &mut RegisteredBatch,
    set_control_number: &str,
    outcome: SetOutcome,
) -> Result<(), RegistryError> {
    let key = control_key(set_control_number);
    let Some(set) = registered.batch.sets.iter().find(|set| control_key(&set.control_number) == key) else {
        return Err(RegistryError::Corrupt(format!(
            "group {} has no set {set_control_number}",
            registered.batch.group_control_number
        )));
    };
    registered.verdicts.insert(set.control_number.clone(), outcome);
    Ok(())
}

/// In memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryBatchRegistry {
    batches: Mutex<HashMap<(OrgId, String), RegisteredBatch>>,
}

impl MemoryBatchRegistry {
    fn with<T>(&self, work: impl FnOnce(&mut HashMap<(OrgId, String), RegisteredBatch>) -> T) -> T {
        let mut batches = self.batches.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut batches)
    }
}

impl BatchRegistry for MemoryBatchRegistry {
    fn record_sent(&self, org: OrgId, batch: SentBatch) -> BoxFuture<'_, Result<(), RegistryError>> {
        let result = self.with(|batches| {
            let key = (org, control_key(&batch.group_control_number));
            if let Some(registered) = merge_sent(batches.get(&key).cloned(), batch)? {
                batches.insert(key, registered);
            }
            Ok(())
        });
        Box::pin(async move { result })
    }

    fn find(
        &self,
        org: OrgId,
        group_control_number: &str,
    ) -> BoxFuture<'_, Result<Option<RegisteredBatch>, RegistryError>> {
        let found = self.with(|batches| batches.get(&(org, control_key(group_control_number))).cloned());
        Box::pin(async move { Ok(found) })
    }

    fn record_verdicts(
        &self,
        org: OrgId,
        group_control_number: &str,
        verdicts: Vec<(String, SetOutcome)>,
    ) -> BoxFuture<'_, Result<(), RegistryError>> {
        let result = self.with(|batches| {
            let key = (org, control_key(group_control_number));
            let updated = with_verdicts(batches.get(&key).cloned(), group_control_number, &verdicts)?;
            batches.extend(updated.map(|registered| (key, registered)));
            Ok(())
        });
        Box::pin(async move { result })
    }
}

/// A small sled database of its own (e.g. `<data dir>/batches`, next to the journal): key =
/// organization id (16 bytes) + GS06 key, value = the codec-encoded `RegisteredBatch`. A write
/// reads, changes and stores its entry under a lock, then flushes (`SyncedDb`) before it is
/// acknowledged. Writes run on tokio's blocking threads, since a flush waits for the device:
/// several 999s or 837 batches recorded at once share one sync instead of each holding up
/// the thread that awaits it.
pub struct SledBatchRegistry {
    store: Arc<SledStore>,
}

struct SledStore {
    db: SyncedDb,
    /// Serializes read-change-store; the flush after it is outside, shared with other writers.
    write: Mutex<()>,
}

fn unavailable(error: sled::Error) -> RegistryError {
    RegistryError::Unavailable(error.to_string())
}

impl SledBatchRegistry {
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        let db = SyncedDb::open(dir, 8 << 20).map_err(unavailable)?;
        Ok(SledBatchRegistry { store: Arc::new(SledStore { db, write: Mutex::new(()) }) })
    }

    fn key(org: OrgId, group_control_number: &str) -> Vec<u8> {
        let mut key = org.0.as_bytes().to_vec();
        key.extend_from_slice(control_key(group_control_number).as_bytes());
        key
    }

    /// Change the entry at `key` on a blocking thread; `Ok` once it is on the device.
    fn update(
        &self,
        key: Vec<u8>,
        change: impl FnOnce(Option<RegisteredBatch>) -> Result<Option<RegisteredBatch>, RegistryError> + Send + 'static,
    ) -> BoxFuture<'_, Result<(), RegistryError>> {
        let store = self.store.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || store.update(&key, change))
                .await
                .map_err(|error| RegistryError::Unavailable(format!("a registry write did not finish: {error}")))?
        })
    }
}

impl SledStore {
    fn load(&self, key: &[u8]) -> Result<Option<RegisteredBatch>, RegistryError> {
        match self.db.get(key).map_err(unavailable)? {
            Some(bytes) => decode(&bytes).map(Some).map_err(|error| RegistryError::Corrupt(error.to_string())),
            None => Ok(None),
        }
    }

    fn update(
        &self,
        key: &[u8],
        change: impl FnOnce(Option<RegisteredBatch>) -> Result<Option<RegisteredBatch>, RegistryError>,
    ) -> Result<(), RegistryError> {
        {
            let _guard = self.write.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(registered) = change(self.load(key)?)? {
                let bytes = encode(&registered).map_err(|error| RegistryError::Corrupt(error.to_string()))?;
                self.db.insert(key, bytes).map_err(unavailable)?;
            }
        }
        // Even when nothing changed: the entry as read may be another writer's, not yet synced.
        self.db.flush().map_err(unavailable)
    }
}

impl BatchRegistry for SledBatchRegistry {
    fn record_sent(&self, org: OrgId, batch: SentBatch) -> BoxFuture<'_, Result<(), RegistryError>> {
        let key = Self::key(org, &batch.group_control_number);
        self.update(key, |existing| merge_sent(existing, batch))
    }

    fn find(
        &self,
        org: OrgId,
        group_control_number: &str,
    ) -> BoxFuture<'_, Result<Option<RegisteredBatch>, RegistryError>> {
        let key = Self::key(org, group_control_number);
        Box::pin(async move { self.store.load(&key) })
    }

    fn record_verdicts(
        &self,
        org: OrgId,
        group_control_number: &str,
        verdicts: Vec<(String, SetOutcome)>,
    ) -> BoxFuture<'_, Result<(), RegistryError>> {
        let key = Self::key(org, group_control_number);
        let group = group_control_number.to_string();
        self.update(key, move |existing| with_verdicts(existing, &group, &verdicts))
    }
}

/// The behaviour every backend must show, as one check a backend's tests run (the JetStream
/// KV backend lives in `practice-nodes`). Returns what went wrong instead of panicking.
pub mod checks {
    use super::*;

    pub fn batch(group: &str, claims: &[(u128, &str)]) -> SentBatch {
        SentBatch {
            interchange_control_number: format!("{:0>9}", group),
            group_control_number: group.to_string(),
            sets: vec![SentSet {
                control_number: "0001".into(),
                claims: claims
                    .iter()
                    .map(|(id, pcn)| SentClaim {
                        claim_id: ClaimId(uuid::Uuid::from_u128(*id)),
                        patient_control_number: pcn.to_string(),
                    })
                    .collect(),
            }],
        }
    }

    pub fn outcome(accepted: bool) -> SetOutcome {
        SetOutcome { accepted, status_code: "A".into(), reason: String::new(), file_id: "x12:1".into() }
    }

    fn ensure(holds: bool, what: &str) -> Result<(), String> {
        if holds {
            Ok(())
        } else {
            Err(what.to_string())
        }
    }

    /// Record, record again, reuse a control number, find with other padding, keep
    /// organizations apart, record verdicts and refuse verdicts for unknown sets or groups.
    /// Leaves org `1`'s group `31` recorded with set `0001` accepted, for durability checks.
    pub async fn exercise(registry: &dyn BatchRegistry) -> Result<(), String> {
        let (org, other) = (OrgId(uuid::Uuid::from_u128(1)), OrgId(uuid::Uuid::from_u128(2)));
        let failed = |error: RegistryError| error.to_string();
        let sent = batch("31", &[(1, "PCN1"), (2, "PCN2")]);
        registry.record_sent(org, sent.clone()).await.map_err(failed)?;
        registry.record_sent(org, sent.clone()).await.map_err(|error| format!("the same batch again: {error}"))?;
        let reused = registry.record_sent(org, batch("031", &[(3, "PCN3")])).await;
        ensure(
            matches!(reused, Err(RegistryError::ControlNumberReused { .. })),
            "a reused control number was accepted",
        )?;
        let found = registry.find(org, "000000031").await.map_err(failed)?;
        ensure(found.is_some_and(|found| found.batch == sent), "leading zeros changed the lookup")?;
        ensure(registry.find(other, "31").await.map_err(failed)?.is_none(), "another organization's batch was found")?;
        registry.record_verdicts(org, "31", vec![("1".into(), outcome(true))]).await.map_err(failed)?;
        let found = registry.find(org, "31").await.map_err(failed)?;
        ensure(
            found.is_some_and(|found| found.verdicts.get("0001") == Some(&outcome(true))),
            "the verdict was not kept",
        )?;
        let no_set = vec![("0001".into(), outcome(false)), ("0002".into(), outcome(false))];
        ensure(registry.record_verdicts(org, "31", no_set).await.is_err(), "a verdict for no set")?;
        let found = registry.find(org, "31").await.map_err(failed)?;
        ensure(
            found.is_some_and(|found| found.verdicts.get("0001") == Some(&outcome(true))),
            "a refused 999 changed a verdict",
        )?;
        let no_group = vec![("0001".into(), outcome(false))];
        ensure(registry.record_verdicts(org, "99", no_group).await.is_err(), "a verdict for no group")?;
        let mut two = batch("32", &[(4, "PCN4")]);
        two.sets.push(SentSet {
            control_number: "0002".into(),
            claims: vec![SentClaim {
                claim_id: ClaimId(uuid::Uuid::from_u128(5)),
                patient_control_number: "PCN5".into(),
            }],
        });
        registry.record_sent(org, two).await.map_err(failed)?;
        let both = vec![("0001".into(), outcome(true)), ("2".into(), outcome(false))];
        registry.record_verdicts(org, "32", both).await.map_err(failed)?;
        let found = registry.find(org, "32").await.map_err(failed)?.ok_or("batch 32 is gone")?;
        ensure(
            found.verdicts.get("0001") == Some(&outcome(true)) && found.verdicts.get("0002") == Some(&outcome(false)),
            "a group's verdicts were not all kept",
        )?;
        Ok(())
    }

    /// After [`exercise`] and a reopen: what it left is still there.
    pub async fn still_there(registry: &dyn BatchRegistry) -> Result<(), String> {
        let found = registry.find(OrgId(uuid::Uuid::from_u128(1)), "31").await.map_err(|error| error.to_string())?;
        let found = found.ok_or("the batch did not survive a reopen")?;
        ensure(found.batch.claims().count() == 2, "the batch lost claims")?;
        ensure(found.verdicts.get("0001").is_some_and(|verdict| verdict.accepted), "the verdict did not survive")
    }
}

#[cfg(test)]
mod tests {
    use super::checks::{exercise, still_there};
    use super::*;

    #[tokio::test]
    async fn memory_registry_keeps_batches_per_organization() {
        exercise(&MemoryBatchRegistry::default()).await.unwrap();
    }

    #[tokio::test]
    async fn sled_registry_keeps_batches_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let registry = SledBatchRegistry::open(dir.path()).unwrap();
            exercise(&registry).await.unwrap();
        }
        still_there(&SledBatchRegistry::open(dir.path()).unwrap()).await.unwrap();
    }

    #[test]
    fn control_keys_ignore_padding() {
        assert_eq!(control_key(" 000000031 "), "31");
        assert_eq!(control_key("0000"), "0");
        assert_eq!(control_key(""), "");
    }
}
