//! A cluster node: keeps its heartbeat, takes and renews the leases of its fair share of
//! shards, fences each shard it takes, runs one [`ShardTask`] per owned shard, and gives
//! shards back when the member set changes (G5). Everything that can wake the node's loop is
//! one of: a tick, a shard task ending, or shutdown.

use super::assign::shards_of;
use super::leases::{Acquire, LeaseStore};
use super::shard::{trusted_for, LeaseClock, ShardExit, ShardTask};
use crate::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use practice_actors::journal::{Epoch, Journal, JournalError};
use practice_protocol::shard::ShardId;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Debug)]
pub struct NodeSettings {
    pub nats_url: String,
    pub node_id: String,
    pub shard_count: u16,
    /// A lease not renewed for this long is free for another node.
    pub lease_timeout: Duration,
    pub replicas: usize,
    /// Testing only (see [`ShardTask::trust_fence_only`]).
    pub trust_fence_only: bool,
}

struct Owned {
    revision: u64,
    epoch: Epoch,
    clock: Arc<LeaseClock>,
    stop: watch::Sender<bool>,
    task: JoinHandle<ShardExit>,
}

pub struct Node {
    settings: NodeSettings,
    client: async_nats::Client,
    journal: Arc<JetStreamJournal>,
    leases: LeaseStore,
    owned: BTreeMap<ShardId, Owned>,
}

impl Node {
    pub async fn start(settings: NodeSettings) -> Result<Self, JournalError> {
        if settings.node_id.is_empty()
            || !settings.node_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(JournalError::InvalidAppend("node id must be [A-Za-z0-9_-]+".into()));
        }
        let client = connect(&settings.nats_url, &format!("practice-node-{}", settings.node_id)).await?;
        let journal = JetStreamJournal::open(
            client.clone(),
            JetStreamSettings { shard_count: settings.shard_count, replicas: settings.replicas, ..Default::default() },
        )
        .await?;
        let leases = LeaseStore::open(client.clone(), settings.lease_timeout, settings.replicas).await?;
        Ok(Self { settings, client, journal, leases, owned: BTreeMap::new() })
    }

    /// Run until `shutdown` resolves; then give every shard back and leave.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), JournalError> {
        tokio::pin!(shutdown);
        let tick = self.settings.lease_timeout / 4;
        let mut interval = tokio::time::interval(tick.max(Duration::from_millis(50)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(node = %self.settings.node_id, shards = self.settings.shard_count, "node started");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = interval.tick() => {
                    if let Err(error) = self.tick().await {
                        tracing::warn!(node = %self.settings.node_id, %error, "lease round failed");
                    }
                }
            }
        }
        let shards: Vec<ShardId> = self.owned.keys().copied().collect();
        for shard in shards {
            self.give_back(shard).await;
        }
        let _ = self.leases.leave(&self.settings.node_id).await;
        let _ = self.client.flush().await;
        tracing::info!(node = %self.settings.node_id, "node stopped");
        Ok(())
    }

    async fn tick(&mut self) -> Result<(), JournalError> {
        let round_started = Instant::now();
        self.leases.heartbeat(&self.settings.node_id).await?;
        self.reap_finished().await;
        self.renew_all(round_started).await;
        let mut live = self.leases.live_nodes().await?;
        if !live.contains(&self.settings.node_id) {
            live.push(self.settings.node_id.clone());
        }
        let desired = shards_of(&live, self.settings.shard_count, &self.settings.node_id);
        tracing::debug!(node = %self.settings.node_id, ?live, desired = desired.len(), owned = self.owned.len(), "lease round");
        let surplus: Vec<ShardId> = self.owned.keys().filter(|shard| !desired.contains(shard)).copied().collect();
        for shard in surplus {
            self.give_back(shard).await;
        }
        for shard in desired {
            if !self.owned.contains_key(&shard) {
                self.take(shard).await?;
            }
        }
        metrics::set_leases_held(&self.settings.node_id, self.owned.len());
        Ok(())
    }

    /// Shard tasks that ended on their own (fenced) lose their lease here.
    async fn reap_finished(&mut self) {
        let finished: Vec<ShardId> =
            self.owned.iter().filter(|(_, owned)| owned.task.is_finished()).map(|(shard, _)| *shard).collect();
        for shard in finished {
            if let Some(owned) = self.owned.remove(&shard) {
                owned.clock.revoke();
                let exit = owned.task.await;
                tracing::warn!(node = %self.settings.node_id, %shard, ?exit, "shard task ended");
            }
        }
    }

    async fn renew_all(&mut self, sent: Instant) {
        let mut lost = Vec::new();
        for (shard, owned) in &mut self.owned {
            match self.leases.renew(*shard, &self.settings.node_id, owned.revision).await {
                Ok(Some(revision)) => {
                    owned.revision = revision;
                    owned.clock.extend(sent + trusted_for(self.settings.lease_timeout));
                }
                Ok(None) => lost.push(*shard),
                // Unreachable server: the clock runs out on its own and the task stops writing.
                Err(error) => tracing::warn!(node = %self.settings.node_id, %shard, %error, "lease renewal failed"),
            }
        }
        for shard in lost {
            tracing::warn!(node = %self.settings.node_id, %shard, "lease lost");
            if self.settings.trust_fence_only {
                // Testing only: act as if lease bookkeeping had failed; the fence must stop us.
                continue;
            }
            if let Some(owned) = self.owned.remove(&shard) {
                owned.clock.revoke();
                let _ = owned.stop.send(true);
                let _ = owned.task.await;
            }
        }
    }

    async fn take(&mut self, shard: ShardId) -> Result<(), JournalError> {
        let sent = Instant::now();
        let revision = match self.leases.try_acquire(shard, &self.settings.node_id).await? {
            Acquire::Acquired(revision) => revision,
            Acquire::Held(_) => return Ok(()),
        };
        let clock = Arc::new(LeaseClock::new(sent + trusted_for(self.settings.lease_timeout)));
        let epoch = match self.journal.fence(shard).await {
            Ok(epoch) => epoch,
            Err(error) => {
                let _ = self.leases.release(shard, revision).await;
                return Err(error);
            }
        };
        let subscription = match self.client.subscribe(format!("cmd.{}.>", shard.0)).await {
            Ok(subscription) => subscription,
            Err(error) => {
                let _ = self.leases.release(shard, revision).await;
                return Err(JournalError::Unavailable(format!("subscribing to shard {shard}: {error}")));
            }
        };
        let (stop, stopped) = watch::channel(false);
        let task = ShardTask {
            shard,
            epoch,
            journal: self.journal.clone(),
            client: self.client.clone(),
            lease: clock.clone(),
            trust_fence_only: self.settings.trust_fence_only,
            states: HashMap::new(),
        };
        let task = tokio::spawn(task.run(subscription, stopped));
        tracing::info!(node = %self.settings.node_id, %shard, epoch = epoch.0, "shard taken");
        self.owned.insert(shard, Owned { revision, epoch, clock, stop, task });
        Ok(())
    }

    /// Stop writing first, then free the lease so the next owner starts at once.
    async fn give_back(&mut self, shard: ShardId) {
        let Some(owned) = self.owned.remove(&shard) else { return };
        let _ = owned.stop.send(true);
        let _ = owned.task.await;
        owned.clock.revoke();
        if let Err(error) = self.leases.release(shard, owned.revision).await {
            tracing::warn!(node = %self.settings.node_id, %shard, %error, "lease not released; it will expire");
        }
        tracing::info!(node = %self.settings.node_id, %shard, epoch = owned.epoch.0, "shard given back");
    }

    pub fn journal(&self) -> &Arc<JetStreamJournal> {
        &self.journal
    }
}

mod metrics {
    //! Leases held per node, for `/metrics`.
    use std::sync::OnceLock;

    fn gauge() -> Option<&'static prometheus::IntGaugeVec> {
        static GAUGE: OnceLock<Option<prometheus::IntGaugeVec>> = OnceLock::new();
        GAUGE
            .get_or_init(|| {
                let gauge = prometheus::IntGaugeVec::new(
                    prometheus::Opts::new("practice_leases_held", "Shard leases this node holds"),
                    &["node"],
                )
                .ok()?;
                prometheus::default_registry().register(Box::new(gauge.clone())).ok()?;
                Some(gauge)
            })
            .as_ref()
    }

    pub fn set_leases_held(node: &str, count: usize) {
        if let Some(gauge) = gauge() {
            gauge.with_label_values(&[node]).set(count as i64);
        }
    }
}
