//! The payer actor: contracts (fee schedule per procedure code), rules and adjudication
//! statistics, from `practice_protocol::payer`, plugged into the generic entity actor.

use crate::entity::{Entity, EntityActor, EntityCommand, EntityRejection, Summary};
use practice_protocol::claim::DecideContext;
use practice_protocol::envelope::{EntityKind, EventEnvelope};
use practice_protocol::ids::CommandId;
use practice_protocol::payer::{decide_payer, PayerCommand, PayerEvent, PayerState};
use practice_protocol::roles::Actor;

pub struct PayerEntity;

/// The payer actor.
pub type PayerActor = EntityActor<PayerEntity>;

impl Entity for PayerEntity {
    const KIND: EntityKind = EntityKind::Payer;
    type State = PayerState;
    type Command = PayerCommand;
    type Event = PayerEvent;

    fn command(command: EntityCommand) -> Result<PayerCommand, EntityCommand> {
        match command {
            EntityCommand::Payer(command) => Ok(command),
            other => Err(other),
        }
    }

    fn command_name(command: &PayerCommand) -> &'static str {
        command.name()
    }

    fn event_name(event: &PayerEvent) -> &'static str {
        event.name()
    }

    fn decide(
        state: &PayerState,
        command_id: CommandId,
        command: &PayerCommand,
        actor: &Actor,
        _context: &DecideContext,
    ) -> Result<Vec<PayerEvent>, EntityRejection> {
        decide_payer(state, command_id, command, actor).map_err(EntityRejection::Payer)
    }

    fn apply(state: &mut PayerState, envelope: &EventEnvelope<PayerEvent>) {
        state.apply_envelope(envelope);
    }

    fn version(state: &PayerState) -> u64 {
        state.version
    }

    fn summary(state: &PayerState) -> Summary {
        Summary::Payer {
            registered: state.payer_id.is_some(),
            contract_rates: state.fee_schedule.len(),
            rules: state.rules.len(),
            claims_adjudicated: state.statistics.claims_adjudicated,
        }
    }
}
