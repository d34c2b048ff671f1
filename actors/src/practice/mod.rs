//! The practice actor: users and roles, write-off threshold, appeal window, from
//! `practice_protocol::practice`, plugged into the generic entity actor. After every change it
//! publishes its policies to the node's `PolicyBook`, which claim decisions read.

use crate::entity::{Entity, EntityActor, EntityCommand, EntityRejection, Summary};
use crate::runtime::Runtime;
use practice_protocol::claim::DecideContext;
use practice_protocol::envelope::{EntityKind, EntityRef, EventEnvelope};
use practice_protocol::ids::CommandId;
use practice_protocol::practice::{decide_practice, PracticeCommand, PracticeEvent, PracticeState};
use practice_protocol::roles::Actor;

pub struct PracticeEntity;

/// The practice actor.
pub type PracticeActor = EntityActor<PracticeEntity>;

impl Entity for PracticeEntity {
    const KIND: EntityKind = EntityKind::Practice;
    type State = PracticeState;
    type Command = PracticeCommand;
    type Event = PracticeEvent;

    fn command(command: EntityCommand) -> Result<PracticeCommand, EntityCommand> {
        match command {
            EntityCommand::Practice(command) => Ok(command),
            other => Err(other),
        }
    }

    fn command_name(command: &PracticeCommand) -> &'static str {
        command.name()
    }

    fn event_name(event: &PracticeEvent) -> &'static str {
        event.name()
    }

    fn decide(
        state: &PracticeState,
        command_id: CommandId,
        command: &PracticeCommand,
        actor: &Actor,
        _context: &DecideContext,
    ) -> Result<Vec<PracticeEvent>, EntityRejection> {
        decide_practice(state, command_id, command, actor).map_err(EntityRejection::Practice)
    }

    fn apply(state: &mut PracticeState, envelope: &EventEnvelope<PracticeEvent>) {
        state.apply_envelope(envelope);
    }

    fn version(state: &PracticeState) -> u64 {
        state.version
    }

    fn summary(state: &PracticeState) -> Summary {
        Summary::Practice {
            users: state.users.len(),
            write_off_threshold: state.write_off_threshold,
            appeal_window_days: state.appeal_window_days,
        }
    }

    fn invariant_violations(
        state: &PracticeState,
        _events: &[EventEnvelope<PracticeEvent>],
    ) -> Vec<(&'static str, String)> {
        state.statements.problems()
    }

    fn after_apply(entity: EntityRef, state: &PracticeState, runtime: &Runtime) {
        runtime.policies.update(entity.org, state);
    }
}
