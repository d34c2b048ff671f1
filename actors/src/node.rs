//! The node: the cloneable handle everything else uses to reach entities. It owns one shard
//! supervisor per owned shard and the module consumers, routes each command to its shard,
//! and waits for the outcome with an explicit timeout.

use crate::entity::{EntityCommand, EntityMessage, EntityRejection, Inspection, Outcome, SendError, StateCopy};
use crate::journal::{BoxFuture, Epoch, Journal, JournalError};
use crate::metrics::BackboneMetrics;
use crate::module::{ConsumerArguments, DecodedEvents, ModuleConsumer, ModuleEngine, ModuleMessage};
use crate::runtime::{NodeConfig, PolicyBook, Runtime};
use crate::shard::{ShardArguments, ShardMessage, ShardStats, ShardSupervisor};
use chrono::Utc;
use practice_protocol::claim::ClaimCommand;
use practice_protocol::envelope::{CommandEnvelope, EntityRef};
use practice_protocol::ids::{ClaimId, CommandId, OrgId};
use practice_protocol::roles::Actor;
use practice_protocol::shard::{claim_ref, shard_of, ShardId};
use ractor::{Actor as _, ActorRef, RpcReplyPort};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("could not start {what}: {detail}")]
    Spawn { what: String, detail: String },
}

/// Live and passivated entity actors over every owned shard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub shards: usize,
    pub live: usize,
    /// Of the live actors, those holding their state encoded.
    pub hibernated: usize,
    pub passivated: usize,
    pub restarts: u64,
    pub fenced_shards: usize,
}

struct NodeInner {
    runtime: Arc<Runtime>,
    shards: RwLock<BTreeMap<ShardId, ActorRef<ShardMessage>>>,
    modules: Mutex<Vec<ActorRef<ModuleMessage>>>,
    forward: OnceLock<Arc<dyn Forward>>,
}

/// Where a node sends the commands of shards it does not own: on a cluster, their owner (over
/// NATS). Without one, such a command is `SendError::NotOwner`.
pub trait Forward: Send + Sync + 'static {
    fn forward(
        &self,
        envelope: CommandEnvelope<EntityCommand>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Outcome, SendError>>;
}

#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

impl Node {
    /// A node owning no shard yet (a cluster node adds them as it takes leases).
    pub fn new(journal: Arc<dyn Journal>, metrics: BackboneMetrics, config: NodeConfig) -> Node {
        let runtime = Arc::new(Runtime {
            journal,
            metrics,
            config,
            policies: PolicyBook::default(),
            decoded: DecodedEvents::default(),
        });
        Node {
            inner: Arc::new(NodeInner {
                runtime,
                shards: RwLock::new(BTreeMap::new()),
                modules: Mutex::new(Vec::new()),
                forward: OnceLock::new(),
            }),
        }
    }

    /// The embedded node: owns every shard of the journal.
    pub async fn start_embedded(
        journal: Arc<dyn Journal>,
        metrics: BackboneMetrics,
        config: NodeConfig,
    ) -> Result<Node, NodeError> {
        let node = Node::new(journal, metrics, config);
        for shard in 0..node.inner.runtime.journal.shard_count() {
            node.own_shard(ShardId(shard), None).await?;
        }
        Ok(node)
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.inner.runtime
    }

    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.inner.runtime.journal
    }

    /// Start supervising `shard`. With `epoch: None` the node fences the shard itself
    /// (embedded); a cluster node passes the epoch its lease gave it. Returns the epoch held.
    pub async fn own_shard(&self, shard: ShardId, epoch: Option<Epoch>) -> Result<(), NodeError> {
        if self.shard_actor(shard).is_some() {
            return Ok(());
        }
        let arguments = ShardArguments { shard, epoch, runtime: self.inner.runtime.clone() };
        let (actor, _join) = ShardSupervisor::spawn(None, ShardSupervisor, arguments)
            .await
            .map_err(|error| NodeError::Spawn { what: format!("shard {shard}"), detail: error.to_string() })?;
        if let Ok(mut shards) = self.inner.shards.write() {
            shards.insert(shard, actor);
        }
        Ok(())
    }

    /// Stop supervising `shard`: its live actors snapshot and stop first.
    pub async fn release_shard(&self, shard: ShardId) {
        let actor = self.inner.shards.write().ok().and_then(|mut shards| shards.remove(&shard));
        if let Some(actor) = actor {
            let _ = ractor::call_t!(actor, ShardMessage::PassivateAll, 60_000);
            let _ = actor.stop_and_wait(None, Some(Duration::from_secs(10))).await;
        }
    }

    pub fn owned_shards(&self) -> Vec<ShardId> {
        self.inner.shards.read().map(|shards| shards.keys().copied().collect()).unwrap_or_default()
    }

    fn shard_actor(&self, shard: ShardId) -> Option<ActorRef<ShardMessage>> {
        self.inner.shards.read().ok().and_then(|shards| shards.get(&shard).cloned())
    }

    pub fn shard_of(&self, entity: &EntityRef) -> ShardId {
        shard_of(entity, self.inner.runtime.journal.shard_count())
    }

    /// Whether `entity`'s shard is one of this node's.
    pub fn owns(&self, entity: &EntityRef) -> bool {
        self.shard_actor(self.shard_of(entity)).is_some()
    }

    /// From now on, commands of shards this node does not own go to `forward`.
    pub fn forward_to(&self, forward: Arc<dyn Forward>) {
        let _ = self.inner.forward.set(forward);
    }

    /// Send a command and wait for its outcome up to the configured timeout.
    pub async fn send(&self, envelope: CommandEnvelope<EntityCommand>) -> Result<Outcome, SendError> {
        self.send_with_timeout(envelope, self.inner.runtime.config.command_timeout).await
    }

    /// `send`, through the forwarder when the entity's shard is not this node's.
    pub async fn send_with_timeout(
        &self,
        envelope: CommandEnvelope<EntityCommand>,
        timeout: Duration,
    ) -> Result<Outcome, SendError> {
        if let Some(forward) = self.inner.forward.get() {
            if !self.owns(&envelope.entity) {
                return forward.forward(envelope, timeout).await;
            }
        }
        self.send_local(envelope, timeout).await
    }

    /// Deliver to this node's own shard only (what a shard's command intake does: a command
    /// that reached the wrong node is refused, never sent on).
    pub async fn send_local(
        &self,
        envelope: CommandEnvelope<EntityCommand>,
        timeout: Duration,
    ) -> Result<Outcome, SendError> {
        let entity = envelope.entity;
        if envelope.command.kind() != entity.kind {
            return Err(SendError::WrongKind { expected: entity.kind, found: envelope.command.kind() });
        }
        // G8: nobody acts on another organization's entity.
        if envelope.actor.org() != entity.org {
            return Ok(Outcome::Rejected { entity, rejection: EntityRejection::WrongOrganization });
        }
        let shard = self.shard_of(&entity);
        let actor = self.shard_actor(shard).ok_or(SendError::NotOwner { shard })?;
        let (sender, receiver) = ractor::concurrency::oneshot();
        let message = EntityMessage::Command { envelope: Box::new(envelope), reply: RpcReplyPort::from(sender) };
        actor.cast(ShardMessage::Route { entity, message }).map_err(|_| SendError::NotOwner { shard })?;
        match tokio::time::timeout(timeout, receiver).await {
            Err(_) => Err(SendError::Timeout(timeout)),
            Ok(Err(_)) => Err(SendError::Dropped),
            Ok(Ok(result)) => result,
        }
    }

    /// Several commands for one entity: its actor decides them in order and appends all their
    /// events in one journal write (the events, and so replay and idempotency, are those of
    /// sending them one by one). One outcome per command, in order. On another node's shard
    /// they go one by one through the forwarder.
    pub async fn send_batch(
        &self,
        entity: EntityRef,
        envelopes: Vec<CommandEnvelope<EntityCommand>>,
    ) -> Vec<Result<Outcome, SendError>> {
        let timeout = self.inner.runtime.config.command_timeout;
        if self.inner.forward.get().is_some() && !self.owns(&entity) {
            let mut outcomes = Vec::with_capacity(envelopes.len());
            for envelope in envelopes {
                outcomes.push(self.send_with_timeout(envelope, timeout).await);
            }
            return outcomes;
        }
        // What `send_local` refuses is answered here; the rest travel together.
        let mut outcomes: Vec<Option<Result<Outcome, SendError>>> = Vec::with_capacity(envelopes.len());
        let mut batch = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            outcomes.push(if envelope.entity != entity || envelope.command.kind() != entity.kind {
                Some(Err(SendError::WrongKind { expected: entity.kind, found: envelope.command.kind() }))
            } else if envelope.actor.org() != entity.org {
                Some(Ok(Outcome::Rejected { entity, rejection: EntityRejection::WrongOrganization }))
            } else {
                batch.push(envelope);
                None
            });
        }
        let mut decided = match batch.is_empty() {
            true => Vec::new(),
            false => self.route_batch(entity, batch, timeout).await,
        }
        .into_iter();
        outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|| decided.next().unwrap_or(Err(SendError::Dropped))))
            .collect()
    }

    async fn route_batch(
        &self,
        entity: EntityRef,
        envelopes: Vec<CommandEnvelope<EntityCommand>>,
        timeout: Duration,
    ) -> Vec<Result<Outcome, SendError>> {
        let count = envelopes.len();
        let every = |error: SendError| (0..count).map(|_| Err(error.clone())).collect();
        let shard = self.shard_of(&entity);
        let Some(actor) = self.shard_actor(shard) else { return every(SendError::NotOwner { shard }) };
        let (sender, receiver) = ractor::concurrency::oneshot();
        let message = EntityMessage::Commands { envelopes, reply: RpcReplyPort::from(sender) };
        if actor.cast(ShardMessage::Route { entity, message }).is_err() {
            return every(SendError::NotOwner { shard });
        }
        match tokio::time::timeout(timeout, receiver).await {
            Err(_) => every(SendError::Timeout(timeout)),
            Ok(Err(_)) => every(SendError::Dropped),
            Ok(Ok(outcomes)) => outcomes,
        }
    }

    /// The live state of an entity (spawning it from the journal if needed).
    pub async fn inspect(&self, entity: EntityRef) -> Result<Inspection, SendError> {
        self.ask(entity, EntityMessage::Inspect).await
    }

    /// A copy of an entity's state as its actor holds it, typed: `S` is the entity's
    /// `Entity::State` (`ClaimState` for a claim). What `inspect` gives, without the encoding
    /// in the actor and the decoding here.
    pub async fn read<S: std::any::Any>(&self, entity: EntityRef) -> Result<(u64, S), SendError> {
        let copy: StateCopy = self.ask(entity, EntityMessage::Read).await?;
        match copy.state.downcast::<S>() {
            Ok(state) => Ok((copy.version, *state)),
            Err(_) => Err(SendError::Codec(format!(
                "a {}'s state is not a {}",
                entity.kind.as_str(),
                std::any::type_name::<S>()
            ))),
        }
    }

    /// One question to an entity of a shard this node owns, answered within the command
    /// timeout.
    async fn ask<T>(&self, entity: EntityRef, message: fn(RpcReplyPort<T>) -> EntityMessage) -> Result<T, SendError> {
        let shard = self.shard_of(&entity);
        let actor = self.shard_actor(shard).ok_or(SendError::NotOwner { shard })?;
        let timeout = self.inner.runtime.config.command_timeout;
        let (sender, receiver) = ractor::concurrency::oneshot();
        let message = message(RpcReplyPort::from(sender));
        actor.cast(ShardMessage::Route { entity, message }).map_err(|_| SendError::NotOwner { shard })?;
        match tokio::time::timeout(timeout, receiver).await {
            Err(_) => Err(SendError::Timeout(timeout)),
            Ok(Err(_)) => Err(SendError::Dropped),
            Ok(Ok(answer)) => Ok(answer),
        }
    }

    /// Passivate every live entity actor now (tests, benchmarks, shutdown). Returns how many.
    pub async fn passivate_all(&self) -> usize {
        let actors: Vec<_> = self.inner.shards.read().map(|s| s.values().cloned().collect()).unwrap_or_default();
        let mut total = 0;
        for actor in actors {
            total += ractor::call_t!(actor, ShardMessage::PassivateAll, 30_000).unwrap_or(0);
        }
        total
    }

    pub async fn stats(&self) -> NodeStats {
        let actors: Vec<_> = self.inner.shards.read().map(|s| s.values().cloned().collect()).unwrap_or_default();
        let mut stats = NodeStats { shards: actors.len(), ..NodeStats::default() };
        for actor in actors {
            let shard: ShardStats = ractor::call_t!(actor, ShardMessage::Stats, 10_000).unwrap_or_default();
            stats.live += shard.live;
            stats.hibernated += shard.hibernated;
            stats.passivated += shard.passivated;
            stats.restarts += shard.restarts;
            stats.fenced_shards += usize::from(shard.fenced);
        }
        stats
    }

    /// Start a module consumer over `shards` (every owned shard when `None`). The n-th one
    /// started first polls n/5 of the poll period late (modulo five, one per module kind), so
    /// the consumers of a node started one by one do not poll in one burst either.
    pub async fn start_module(
        &self,
        engine: Box<dyn ModuleEngine>,
        shards: Option<Vec<ShardId>>,
    ) -> Result<(), NodeError> {
        let shards = shards.unwrap_or_else(|| self.owned_shards());
        let name = engine.name().to_string();
        let started = self.inner.modules.lock().map(|modules| modules.len()).unwrap_or(0) as u32;
        let first_poll = crate::module::spread_first_poll(
            self.inner.runtime.config.consumer_poll,
            started,
            crate::module::ModuleKind::ALL.len() as u32,
        );
        let arguments = ConsumerArguments { node: self.clone(), engine, shards, first_poll };
        let (actor, _join) = ModuleConsumer::spawn(None, ModuleConsumer, arguments)
            .await
            .map_err(|error| NodeError::Spawn { what: format!("module {name}"), detail: error.to_string() })?;
        if let Ok(mut modules) = self.inner.modules.lock() {
            modules.push(actor);
        }
        Ok(())
    }

    /// Graceful stop: module consumers first (they store their positions), then every
    /// shard passivates its actors (snapshots) and stops.
    pub async fn shutdown(&self) {
        let modules: Vec<_> = self.inner.modules.lock().map(|mut m| m.drain(..).collect()).unwrap_or_default();
        for module in modules {
            let _ = module.stop_and_wait(None, Some(Duration::from_secs(10))).await;
        }
        for shard in self.owned_shards() {
            self.release_shard(shard).await;
        }
    }

    /// A handle bound to one claim.
    pub fn claim(&self, org: OrgId, claim: ClaimId) -> ClaimHandle {
        ClaimHandle { node: self.clone(), entity: claim_ref(org, claim) }
    }
}

/// A cloneable handle to one claim.
#[derive(Clone)]
pub struct ClaimHandle {
    node: Node,
    entity: EntityRef,
}

impl ClaimHandle {
    pub fn entity(&self) -> EntityRef {
        self.entity
    }

    pub async fn send(&self, actor: Actor, command_id: CommandId, command: ClaimCommand) -> Result<Outcome, SendError> {
        let envelope = CommandEnvelope {
            command_id,
            entity: self.entity,
            issued_at: Utc::now(),
            actor,
            command: EntityCommand::Claim(command),
        };
        self.node.send(envelope).await
    }
}
