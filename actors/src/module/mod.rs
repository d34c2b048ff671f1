//! Module supervisors: Sentry, Denial, Reclaim, Leverage and ingestion read the event stream
//! as durable consumers (a stored position per shard) and answer with commands. Their
//! engines arrive in later issues; this module gives them the [`ModuleEngine`] trait and the
//! consumer loop that drives one.
//!
//! Delivery is at least once: a command emitted before the position was stored is emitted
//! again after a crash, so engines derive command ids from the event (G3 makes the repeat a
//! no-op).

mod consumer;
mod decoded;
mod event;
mod set;

pub(crate) use consumer::spread_first_poll;
pub use consumer::{ConsumerArguments, ModuleConsumer, ModuleMessage};
pub use decoded::DecodedEvents;
pub use event::{AnyEvent, ModuleEvent};
pub use set::ModuleSet;

use crate::entity::EntityCommand;
use practice_protocol::envelope::CommandEnvelope;

/// Whether this node may still consume a shard (a cluster node's lease clock). Checked
/// before each read and each position store.
pub type ShardGuard = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// Try this event again later; the position does not move past it.
    #[error("transient: {0}")]
    Transient(String),
    /// This event can never be handled: logged, counted and skipped.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A module's logic over the event stream. Pure apart from its own state: it sees one event
/// and returns the commands it wants sent.
pub trait ModuleEngine: Send + 'static {
    /// The durable consumer name (positions are stored under it).
    fn name(&self) -> &str;
    fn handle(&mut self, event: &ModuleEvent) -> Result<Vec<CommandEnvelope<EntityCommand>>, EngineError>;
}

/// The five modules that consume the event stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModuleKind {
    Sentry,
    Denial,
    Reclaim,
    Leverage,
    Ingestion,
}

impl ModuleKind {
    pub const ALL: [ModuleKind; 5] =
        [ModuleKind::Sentry, ModuleKind::Denial, ModuleKind::Reclaim, ModuleKind::Leverage, ModuleKind::Ingestion];

    pub fn consumer_name(self) -> &'static str {
        match self {
            ModuleKind::Sentry => "sentry",
            ModuleKind::Denial => "denial",
            ModuleKind::Reclaim => "reclaim",
            ModuleKind::Leverage => "leverage",
            ModuleKind::Ingestion => "ingestion",
        }
    }
}

/// The engine a module runs until its real one lands: counts the events it is shown per
/// event name (readable through `counts` and the `practice_module_events_total` metric),
/// emits nothing. It keeps the module's consumer position moving with the stream.
pub struct EventTally {
    name: String,
    counts: std::collections::BTreeMap<&'static str, u64>,
}

impl EventTally {
    pub fn new(module: ModuleKind) -> Self {
        Self::named(module.consumer_name())
    }

    pub fn named(name: &str) -> Self {
        Self { name: name.to_string(), counts: Default::default() }
    }

    pub fn counts(&self) -> &std::collections::BTreeMap<&'static str, u64> {
        &self.counts
    }
}

impl ModuleEngine for EventTally {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle(&mut self, event: &ModuleEvent) -> Result<Vec<CommandEnvelope<EntityCommand>>, EngineError> {
        *self.counts.entry(event.event.name()).or_default() += 1;
        Ok(Vec::new())
    }
}
