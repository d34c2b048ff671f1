//! The claim actor: the protocol's claim state machine (`decide`, `ClaimState::apply`) plugged
//! into the generic entity actor. Claims read their practice's policies (write-off threshold,
//! appeal window) through the node's `PolicyBook`.

use crate::entity::{Entity, EntityActor, EntityCommand, EntityRejection, Summary};
use practice_protocol::claim::{decide, ClaimCommand, ClaimEvent, ClaimState, DecideContext};
use practice_protocol::envelope::{EntityKind, EventEnvelope};
use practice_protocol::ids::CommandId;
use practice_protocol::roles::Actor;
use rust_decimal::Decimal;
use std::collections::HashSet;

pub struct ClaimEntity;

/// The claim actor.
pub type ClaimActor = EntityActor<ClaimEntity>;

impl Entity for ClaimEntity {
    const KIND: EntityKind = EntityKind::Claim;
    type State = ClaimState;
    type Command = ClaimCommand;
    type Event = ClaimEvent;

    fn command(command: EntityCommand) -> Result<ClaimCommand, EntityCommand> {
        match command {
            EntityCommand::Claim(command) => Ok(command),
            other => Err(other),
        }
    }

    fn command_name(command: &ClaimCommand) -> &'static str {
        command.name()
    }

    fn event_name(event: &ClaimEvent) -> &'static str {
        event.name()
    }

    fn needs_policy() -> bool {
        true
    }

    fn creates(command: &EntityCommand) -> bool {
        matches!(command, EntityCommand::Claim(ClaimCommand::Create { .. }))
    }

    fn decide(
        state: &ClaimState,
        command_id: CommandId,
        command: &ClaimCommand,
        actor: &Actor,
        context: &DecideContext,
    ) -> Result<Vec<ClaimEvent>, EntityRejection> {
        decide(state, command_id, command, actor, context).map_err(EntityRejection::Claim)
    }

    fn apply(state: &mut ClaimState, envelope: &EventEnvelope<ClaimEvent>) {
        state.apply_envelope(envelope);
    }

    fn version(state: &ClaimState) -> u64 {
        state.version
    }

    fn summary(state: &ClaimState) -> Summary {
        let (charge, paid, open_balance) = match state.ledger.as_ref() {
            Some(ledger) => (ledger.charge, ledger.totals.paid, ledger.open_balance()),
            None => (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO),
        };
        Summary::Claim { status: state.status, charge, paid, open_balance }
    }

    /// G3: no remittance posted twice. G7: the ledger conserves money.
    fn invariant_violations(state: &ClaimState, events: &[EventEnvelope<ClaimEvent>]) -> Vec<(&'static str, String)> {
        let mut violations = Vec::new();
        let mut payments = HashSet::new();
        for envelope in events {
            if let ClaimEvent::RemittancePosted { posting } = &envelope.event {
                if !payments.insert(posting.payment_id) {
                    let detail =
                        format!("payment {} posted twice (sequence {})", posting.payment_id, envelope.sequence);
                    violations.push(("G3", detail));
                }
            }
        }
        if let Some(ledger) = state.ledger.as_ref() {
            if !ledger.conservation_holds() {
                violations.push((
                    "G7",
                    format!(
                        "charge {} is not paid {} + contractual {} + patient {} + other {} + written off {} + open {}",
                        ledger.charge,
                        ledger.totals.paid,
                        ledger.totals.contractual,
                        ledger.totals.patient_responsibility,
                        ledger.totals.other_adjustments,
                        ledger.written_off,
                        ledger.open_balance()
                    ),
                ));
            }
        }
        violations
    }
}
