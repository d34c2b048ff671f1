//! A cluster node: keeps its heartbeat, takes and renews the leases of its fair share of
//! shards, fences each shard it takes and hands it to the actor system (shard supervisor and
//! entity actors from `practice-actors`) with that epoch, routes the shard's commands there,
//! and gives shards back when the member set changes (G5). The five module consumers follow
//! the leases: a shard taken joins them, a shard given back or fenced leaves them (its last
//! position stored) before the lease goes, so exactly one node consumes a shard. What can
//! wake the node's loop is one of: a tick or shutdown.
//!
//! Stopping a shard (actors snapshot, consumers store positions) runs beside the loop, never
//! in it: with the server slow or restarting that can take many seconds, and a loop that
//! waited would miss its heartbeat and every other renewal. A shard still stopping is not
//! taken again until its stop has finished.

use super::assign::shards_of;
use super::leased::{trusted_for, LeaseClock, LeasedJournal};
use super::leases::{Acquire, LeaseStore};
use super::router::route_shard;
use crate::background::Background;
use crate::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use practice_actors::journal::{Epoch, Journal, JournalError};
use practice_actors::metrics::BackboneMetrics;
use practice_actors::module::ModuleSet;
use practice_actors::NodeConfig;
use practice_protocol::shard::ShardId;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often a module consumer polls a shard that had no full page, for five modules over
/// every owned shard (heads and reads of owned shards come from the journal's own writes;
/// positions are stored at most every `consumer_store_every`). Before the event feed, every
/// poll also read on the server, and at the embedded default (200 ms) that halved the
/// JetStream bench's end to end; with the feed, 200 ms and 1 s measured the same (14–17 k
/// commands/s). Stop 27 tried 250 ms with the own writes: the half-load tail did not move
/// beyond the noise (eight pairs), so it stays at 1 s. Modules act on claims a second later
/// at worst, which billing work does not notice.
const CONSUMER_POLL: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct NodeSettings {
    pub nats_url: String,
    pub node_id: String,
    pub shard_count: u16,
    /// A lease not renewed for this long is free for another node.
    pub lease_timeout: Duration,
    pub replicas: usize,
    /// Testing only (see [`LeasedJournal`]): keep writing on an expired lease clock and keep
    /// a lost shard, so only the epoch fence stops this node.
    pub trust_fence_only: bool,
    /// Hold at most this many entity actors in memory (`NodeConfig::max_live_actors`).
    pub max_live_actors: Option<usize>,
}

struct Owned {
    revision: u64,
    epoch: Epoch,
    clock: Arc<LeaseClock>,
    stop: watch::Sender<bool>,
    router: JoinHandle<()>,
}

pub struct ClusterNode {
    settings: NodeSettings,
    client: async_nats::Client,
    journal: Arc<LeasedJournal>,
    actors: practice_actors::Node,
    modules: ModuleSet,
    leases: LeaseStore,
    owned: BTreeMap<ShardId, Owned>,
    /// Shards whose stop runs in the background; the lease (if given back) goes when it ends.
    stopping: BTreeMap<ShardId, JoinHandle<()>>,
    /// `practice_leases_held`: shard leases this node holds.
    leases_held: prometheus::IntGauge,
    /// Where the module consumers run; dropped last, after `run` has stopped them.
    _background: Background,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("invalid node id {0:?}: use [A-Za-z0-9_-]")]
    NodeId(String),
    #[error("{0}")]
    Runtime(String),
}

impl NodeSettings {
    /// The journal's layout on the server: a replicated stream's appends are planned on what
    /// its leader reads (a follower may answer a direct get before it has caught up).
    pub fn journal(&self) -> JetStreamSettings {
        JetStreamSettings {
            shard_count: self.shard_count,
            replicas: self.replicas,
            read_from_leader: self.replicas > 1,
            ..Default::default()
        }
    }
}

impl ClusterNode {
    pub async fn start(settings: NodeSettings, registry: &prometheus::Registry) -> Result<Self, ClusterError> {
        let id_ok = !settings.node_id.is_empty()
            && settings.node_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return Err(ClusterError::NodeId(settings.node_id));
        }
        let client = connect(&settings.nats_url, &format!("practice-node-{}", settings.node_id)).await?;
        let jetstream = JetStreamJournal::open(client.clone(), settings.journal()).await?;
        jetstream.register_metrics(registry).map_err(|error| ClusterError::Metrics(error.to_string()))?;
        let journal = Arc::new(LeasedJournal::new(jetstream, settings.trust_fence_only));
        let metrics = BackboneMetrics::register(registry).map_err(|error| ClusterError::Metrics(error.to_string()))?;
        let config = NodeConfig {
            consumer_poll: CONSUMER_POLL,
            max_live_actors: settings.max_live_actors,
            ..NodeConfig::default()
        };
        let actors = practice_actors::Node::new(journal.clone() as Arc<dyn Journal>, metrics, config);
        // Local callers (the HTTP API, uploads) reach every shard: the others' through NATS.
        actors.forward_to(Arc::new(super::wire::NatsForward {
            client: client.clone(),
            shard_count: settings.shard_count,
        }));
        // The consumers live on a thread of lower priority: commands go first (`background`).
        let background = Background::start("practice-modules")
            .map_err(|error| ClusterError::Runtime(format!("the module consumers' runtime: {error}")))?;
        let starting = actors.clone();
        let modules = background
            .handle()
            .spawn(async move { ModuleSet::start_tallies(&starting).await })
            .await
            .map_err(|error| ClusterError::Runtime(format!("starting the module consumers: {error}")))?
            .map_err(|error| JournalError::Unavailable(format!("starting the module consumers: {error}")))?;
        let leases = LeaseStore::open(client.clone(), settings.lease_timeout, settings.replicas).await?;
        let leases_held = prometheus::IntGauge::new("practice_leases_held", "Shard leases this node holds")
            .map_err(|error| ClusterError::Metrics(error.to_string()))?;
        registry.register(Box::new(leases_held.clone())).map_err(|error| ClusterError::Metrics(error.to_string()))?;
        Ok(Self {
            settings,
            client,
            journal,
            actors,
            modules,
            leases,
            owned: BTreeMap::new(),
            stopping: BTreeMap::new(),
            leases_held,
            _background: background,
        })
    }

    /// The actor system, for local callers (HTTP API) that want to skip the wire.
    pub fn actors(&self) -> &practice_actors::Node {
        &self.actors
    }

    /// The node's NATS connection, for what else it keeps in JetStream (the batch registry).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Run until `shutdown` resolves; then give every shard back and leave.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), ClusterError> {
        tokio::pin!(shutdown);
        let tick = (self.settings.lease_timeout / 4).max(Duration::from_millis(50));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(node = %self.settings.node_id, shards = self.settings.shard_count, "NodeStarted");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = interval.tick() => {
                    if let Err(error) = self.tick().await {
                        tracing::warn!(node = %self.settings.node_id, %error, "LeaseRoundError");
                    }
                }
            }
        }
        let shards: Vec<ShardId> = self.owned.keys().copied().collect();
        for shard in shards {
            self.give_back(shard);
        }
        for (_, stop) in std::mem::take(&mut self.stopping) {
            let _ = stop.await;
        }
        self.modules.stop().await;
        self.actors.shutdown().await;
        let _ = self.leases.leave(&self.settings.node_id).await;
        let _ = self.client.flush().await;
        tracing::info!(node = %self.settings.node_id, "NodeStopped");
        Ok(())
    }

    async fn tick(&mut self) -> Result<(), JournalError> {
        let round_started = Instant::now();
        self.leases.heartbeat(&self.settings.node_id).await?;
        self.stopping.retain(|_, stop| !stop.is_finished());
        self.drop_fenced();
        self.renew_all(round_started).await;
        let mut live = self.leases.live_nodes().await?;
        if !live.contains(&self.settings.node_id) {
            live.push(self.settings.node_id.clone());
        }
        let desired = shards_of(&live, self.settings.shard_count, &self.settings.node_id);
        tracing::debug!(node = %self.settings.node_id, ?live, desired = desired.len(), owned = self.owned.len(), "lease round");
        let surplus: Vec<ShardId> = self.owned.keys().filter(|shard| !desired.contains(shard)).copied().collect();
        for shard in surplus {
            self.give_back(shard);
        }
        let taking = Instant::now();
        for shard in desired {
            // Leases taken early in a long round would expire before the next round renews
            // them (a fresh node takes 64 shards at ~25 ms each when busy): the rest waits
            // for the next round, which renews first. At least one is taken per round.
            if taking.elapsed() >= self.take_budget() {
                break;
            }
            if !self.owned.contains_key(&shard) && !self.stopping.contains_key(&shard) {
                self.take(shard).await?;
            }
        }
        self.leases_held.set(self.owned.len() as i64);
        Ok(())
    }

    /// How long a lease round may spend taking shards: a quarter of the lease, so a lease
    /// taken at its start is renewed well within its timeout.
    fn take_budget(&self) -> Duration {
        self.settings.lease_timeout / 4
    }

    /// A router ends on its own only when its shard was fenced or its lease clock ran out:
    /// either way the shard is gone, and the next round may take it again with fresh actors.
    fn drop_fenced(&mut self) {
        let fenced: Vec<ShardId> =
            self.owned.iter().filter(|(_, owned)| owned.router.is_finished()).map(|(shard, _)| *shard).collect();
        for shard in fenced {
            if let Some(owned) = self.owned.remove(&shard) {
                tracing::warn!(node = %self.settings.node_id, %shard, epoch = owned.epoch.0, "ShardDropped: fenced or lease ran out");
                self.stop_shard(shard, owned, Handoff::Lost);
            }
        }
    }

    async fn renew_all(&mut self, sent: Instant) {
        // All at once: one after another, 64 renewals were 64 round trips before the round
        // could take anything, and the last lease renewed waited on every other.
        let (leases, node) = (&self.leases, &self.settings.node_id);
        let renewals = futures::future::join_all(
            self.owned
                .iter()
                .map(|(shard, owned)| async move { (*shard, leases.renew(*shard, node, owned.revision).await) }),
        )
        .await;
        let mut lost = Vec::new();
        for (shard, renewed) in renewals {
            match renewed {
                Ok(Some(revision)) => {
                    if let Some(owned) = self.owned.get_mut(&shard) {
                        owned.revision = revision;
                        owned.clock.extend(sent + trusted_for(self.settings.lease_timeout));
                    }
                }
                Ok(None) => lost.push(shard),
                // Unreachable server: the clock runs out on its own and appends stop.
                Err(error) => tracing::warn!(node = %self.settings.node_id, %shard, %error, "LeaseRenewError"),
            }
        }
        for shard in lost {
            tracing::warn!(node = %self.settings.node_id, %shard, "LeaseLost");
            if self.settings.trust_fence_only {
                continue;
            }
            if let Some(owned) = self.owned.remove(&shard) {
                self.stop_shard(shard, owned, Handoff::Lost);
            }
        }
    }

    /// How long one step of a lease round may wait on the server.
    fn lease_bound(&self) -> Duration {
        self.settings.lease_timeout.max(Duration::from_secs(1))
    }

    async fn take(&mut self, shard: ShardId) -> Result<(), JournalError> {
        let sent = Instant::now();
        let revision = match self.leases.try_acquire(shard, &self.settings.node_id).await? {
            Acquire::Acquired(revision) => revision,
            Acquire::Held(_) => return Ok(()),
        };
        let clock = Arc::new(LeaseClock::new(sent + trusted_for(self.settings.lease_timeout)));
        let started = async {
            // Bounded: right after a server restart a request can hang past its own timeout,
            // and this loop must keep its heartbeat. A fence cut short may still land; the
            // next take fences again, and epochs only grow.
            let epoch = tokio::time::timeout(self.lease_bound(), self.journal.inner().fence(shard))
                .await
                .map_err(|_| JournalError::Unavailable(format!("fencing shard {shard}: no answer in time")))??;
            self.journal.install(shard, clock.clone());
            // Commands wait in the subscription until the router starts below.
            let subscription = self
                .client
                .subscribe(format!("cmd.{}.>", shard.0))
                .await
                .map_err(|error| JournalError::Unavailable(format!("subscribing to shard {shard}: {error}")))?;
            self.actors
                .own_shard(shard, Some(epoch))
                .await
                .map_err(|error| JournalError::Unavailable(format!("starting shard {shard}: {error}")))?;
            // The consumers stop reading and storing positions once the lease clock runs out.
            let guard_clock = clock.clone();
            let guard = (!self.settings.trust_fence_only)
                .then(|| Arc::new(move || guard_clock.is_valid()) as practice_actors::module::ShardGuard);
            self.modules.add_shard(shard, guard)?;
            Ok::<_, JournalError>((epoch, subscription))
        }
        .await;
        let (epoch, subscription) = match started {
            Ok(started) => started,
            Err(error) => {
                // Nothing was consumed or served yet: undo without waiting on anyone busy.
                self.modules.drop_shard(shard);
                self.journal.remove(shard);
                self.actors.release_shard(shard).await;
                let _ = self.leases.release(shard, revision).await;
                return Err(error);
            }
        };
        let (stop, stopped) = watch::channel(false);
        let router_clock = (!self.settings.trust_fence_only).then(|| clock.clone());
        let router =
            tokio::spawn(route_shard(subscription, self.actors.clone(), self.client.clone(), stopped, router_clock));
        tracing::info!(node = %self.settings.node_id, %shard, epoch = epoch.0, "ShardTaken");
        self.owned.insert(shard, Owned { revision, epoch, clock, stop, router });
        Ok(())
    }

    /// Stop the shard in the background: stop taking commands, stop consuming, stop the
    /// shard's actors, stop writing. A shard given back does all of it on a valid lease
    /// (actors snapshot, consumers store positions) and frees the lease last, so the next
    /// owner starts at once. A shard lost writes nothing more: its clock is revoked first,
    /// so the snapshots and positions that would race the new owner fail at once instead.
    fn stop_shard(&mut self, shard: ShardId, owned: Owned, handoff: Handoff) {
        let (actors, modules, journal, leases) =
            (self.actors.clone(), self.modules.clone(), self.journal.clone(), self.leases.clone());
        let node = self.settings.node_id.clone();
        let stop = tokio::spawn(async move {
            let Owned { revision, epoch, clock, stop, router } = owned;
            if handoff == Handoff::Lost {
                clock.revoke();
            }
            let _ = stop.send(true);
            let _ = router.await;
            match handoff {
                Handoff::GiveBack => modules.remove_shard(shard).await,
                Handoff::Lost => modules.drop_shard(shard),
            }
            actors.release_shard(shard).await;
            clock.revoke();
            journal.remove(shard);
            if handoff == Handoff::GiveBack {
                if let Err(error) = leases.release(shard, revision).await {
                    tracing::warn!(%node, %shard, %error, "LeaseReleaseError: it will expire");
                }
                tracing::info!(%node, %shard, epoch = epoch.0, "ShardGivenBack");
            }
        });
        self.stopping.insert(shard, stop);
    }

    fn give_back(&mut self, shard: ShardId) {
        if let Some(owned) = self.owned.remove(&shard) {
            self.stop_shard(shard, owned, Handoff::GiveBack);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Handoff {
    /// Our choice: the lease is still ours until we release it.
    GiveBack,
    /// Taken, expired or fenced: another node may be writing already.
    Lost,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replicated_journal_reads_what_appends_are_planned_on_from_the_leader() {
        let settings = |replicas| NodeSettings {
            nats_url: "nats://127.0.0.1:4222".into(),
            node_id: "a".into(),
            shard_count: 8,
            lease_timeout: Duration::from_secs(10),
            replicas,
            trust_fence_only: false,
            max_live_actors: None,
        };
        let single = settings(1).journal();
        assert_eq!((single.shard_count, single.replicas, single.read_from_leader), (8, 1, false));
        let replicated = settings(3).journal();
        assert_eq!((replicated.replicas, replicated.read_from_leader), (3, true));
    }
}
