//! The module consumers of a cluster node: one consumer actor per module, each over the
//! shards the node currently owns. Shards join when their lease is taken and leave (after
//! their last position is stored) before the lease is given back, so one node at a time
//! consumes a shard and the next owner resumes from the stored position.

use super::{
    spread_first_poll, ConsumerArguments, EventTally, ModuleConsumer, ModuleEngine, ModuleKind, ModuleMessage,
    ShardGuard,
};
use crate::journal::JournalError;
use crate::node::{Node, NodeError};
use practice_protocol::shard::ShardId;
use ractor::{Actor, ActorRef};
use std::time::Duration;

/// How long removing a shard may wait for a consumer busy with a page.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct ModuleSet {
    consumers: Vec<(String, ActorRef<ModuleMessage>)>,
}

impl ModuleSet {
    /// One consumer per engine, over no shard yet, their polls spread over the poll period.
    pub async fn start(node: &Node, engines: Vec<Box<dyn ModuleEngine>>) -> Result<ModuleSet, NodeError> {
        let mut consumers = Vec::with_capacity(engines.len());
        let count = engines.len() as u32;
        for (index, engine) in (0u32..).zip(engines) {
            let name = engine.name().to_string();
            let first_poll = spread_first_poll(node.runtime().config.consumer_poll, index, count);
            let arguments = ConsumerArguments { node: node.clone(), engine, shards: Vec::new(), first_poll };
            let (actor, _join) = ModuleConsumer::spawn(None, ModuleConsumer, arguments)
                .await
                .map_err(|error| NodeError::Spawn { what: format!("module {name}"), detail: error.to_string() })?;
            consumers.push((name, actor));
        }
        Ok(ModuleSet { consumers })
    }

    /// The five modules with the engine each runs until its real one lands.
    pub async fn start_tallies(node: &Node) -> Result<ModuleSet, NodeError> {
        let engines = ModuleKind::ALL.iter().map(|module| Box::new(EventTally::new(*module)) as Box<dyn ModuleEngine>);
        Self::start(node, engines.collect()).await
    }

    /// Every consumer starts on `shard` from its stored position, for as long as `guard`
    /// (when given) says the node may. Returns at once: a consumer busy with a page (seconds
    /// when the server restarts) takes the shard when it is free.
    pub fn add_shard(&self, shard: ShardId, guard: Option<ShardGuard>) -> Result<(), JournalError> {
        for (name, consumer) in &self.consumers {
            consumer.cast(ModuleMessage::AddShard(shard, guard.clone())).map_err(|error| {
                JournalError::Unavailable(format!("module {name} did not take shard {shard}: {error}"))
            })?;
        }
        Ok(())
    }

    /// Every consumer leaves `shard`, its position stored; waits for all of them.
    pub async fn remove_shard(&self, shard: ShardId) {
        for (name, consumer) in &self.consumers {
            let timeout = CHANGE_TIMEOUT.as_millis() as u64;
            let removed = ractor::call_t!(consumer, |reply| ModuleMessage::RemoveShard(shard, Some(reply)), timeout);
            if let Err(error) = removed {
                tracing::warn!(module = %name, %shard, %error, "module consumer did not confirm leaving the shard");
            }
        }
    }

    /// Every consumer leaves `shard` without storing anything (the lease is lost: another
    /// node may be consuming it already). Returns at once; a later [`ModuleSet::add_shard`]
    /// of the same shard is handled after this, so it reloads the stored position.
    pub fn drop_shard(&self, shard: ShardId) {
        for (_, consumer) in &self.consumers {
            let _ = consumer.cast(ModuleMessage::RemoveShard(shard, None));
        }
    }

    /// Stop every consumer (after the current page), each storing what moved since its last store.
    pub async fn stop(&self) {
        for (_, consumer) in &self.consumers {
            let _ = consumer.stop_and_wait(None, Some(Duration::from_secs(10))).await;
        }
    }
}
