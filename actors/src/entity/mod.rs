//! What every event-sourced entity actor shares: the [`Entity`] trait that plugs a pure
//! `decide`/`apply` core into the generic [`EntityActor`], the command and outcome types that
//! cross the actor boundary, and rehydration (snapshot + journal tail).

mod actor;
mod held;
/// Why an entity actor stops itself: the shard supervisor reads it from the exit reason.
pub mod actor_exit {
    pub const EXIT_PASSIVATED: &str = "passivated";
    pub const EXIT_FENCED: &str = "fenced";
}
mod rehydrate;
mod types;

pub use actor::{EntityActor, EntityArguments};
pub use rehydrate::{decode_event, rehydrate, Rehydrated};
pub use types::{EntityCommand, EntityMessage, EntityRejection, Inspection, Outcome, SendError, StateCopy, Summary};

use crate::runtime::Runtime;
use practice_protocol::claim::DecideContext;
use practice_protocol::envelope::{EntityKind, EntityRef, EventEnvelope};
use practice_protocol::ids::CommandId;
use practice_protocol::roles::Actor;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A pure entity core: state, commands, events, and the functions between them.
pub trait Entity: Send + Sync + 'static {
    const KIND: EntityKind;
    type State: Default + Clone + PartialEq + std::fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    type Command: Send + 'static;
    type Event: Clone + std::fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Take this entity's command out of the shared enum, or give it back.
    fn command(command: EntityCommand) -> Result<Self::Command, EntityCommand>;
    fn command_name(command: &Self::Command) -> &'static str;
    fn event_name(event: &Self::Event) -> &'static str;
    /// Whether `decide` reads the practice's policies (only claims do).
    fn needs_policy() -> bool {
        false
    }
    /// Whether this command is only ever accepted by an entity without a history (a claim's
    /// `Create`). An actor whose first message starts with one decides it against the empty
    /// state instead of reading the journal first (see `EntityActor`).
    fn creates(_command: &EntityCommand) -> bool {
        false
    }
    fn decide(
        state: &Self::State,
        command_id: CommandId,
        command: &Self::Command,
        actor: &Actor,
        context: &DecideContext,
    ) -> Result<Vec<Self::Event>, EntityRejection>;
    fn apply(state: &mut Self::State, envelope: &EventEnvelope<Self::Event>);
    /// Events folded so far: the next event's sequence is `version + 1`.
    fn version(state: &Self::State) -> u64;
    fn summary(state: &Self::State) -> Summary;
    /// Publish what other actors read of this state (after start and after each command).
    fn after_apply(_entity: EntityRef, _state: &Self::State, _runtime: &Runtime) {}
    /// Guarantees this kind's history must keep beyond ordering (for `verify`): pairs of
    /// guarantee ("G3", "G7") and what broke.
    fn invariant_violations(
        _state: &Self::State,
        _events: &[EventEnvelope<Self::Event>],
    ) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}
