//! Property tests: random command sequences from random roles never reach a state the table
//! does not allow, never lose an event, and keep G7 exact at every step.

mod claims;

use claims::*;
use practice_protocol::claim::{decide, transition_allowed, ClaimCommand, ClaimEvent, ClaimState, RejectionSource};
use practice_protocol::envelope::EventEnvelope;
use practice_protocol::ids::CommandId;
use practice_protocol::roles::{Actor, Role, SystemComponent};
use practice_protocol::shard::claim_ref;
use proptest::prelude::*;

fn actor_for(choice: u8) -> Actor {
    match choice % 11 {
        index @ 0..=8 => user(Role::ALL[index as usize]),
        9 => ingestion(),
        _ => Actor::System { org: org(), component: SystemComponent::Scrubber },
    }
}

fn command_for(choice: u8, salt: u32) -> ClaimCommand {
    let claim = claim();
    let tag = format!("p{salt}");
    match choice % 14 {
        0 => ClaimCommand::Create { claim: Box::new(claim) },
        1 => ClaimCommand::AmendCoding { diagnoses: claim.diagnoses.clone(), lines: claim.lines.clone() },
        2 => ClaimCommand::SignOff,
        3 => ClaimCommand::Scrub { findings: vec![] },
        4 => ClaimCommand::Submit { tracking_id: format!("ISA{salt}") },
        5 => ClaimCommand::Reject { source: RejectionSource::ClaimAcknowledgment277Ca, reason: "A7".into() },
        6 => ClaimCommand::Accept { payer_claim_control_number: Some(tag) },
        7 => ClaimCommand::PostRemittance { posting: Box::new(full_payment(&tag)) },
        8 => ClaimCommand::PostRemittance { posting: Box::new(partial_payment(&tag)) },
        9 => ClaimCommand::PostRemittance { posting: Box::new(denial(&tag)) },
        10 => ClaimCommand::PostRemittance { posting: Box::new(reversal_of(&full_payment(&format!("r{salt}")), &tag)) },
        11 => ClaimCommand::Appeal {
            corrected_lines: None,
            payer_claim_control_number: None,
            note: "records attached".into(),
        },
        12 => ClaimCommand::WriteOff { reason: "policy".into() },
        _ => ClaimCommand::Void { reason: "error".into() },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_invariants(steps in prop::collection::vec((any::<u8>(), any::<u8>(), 0u32..6, any::<bool>()), 1..60)) {
        let entity = claim_ref(org(), claim().id);
        let mut live = ClaimState::default();
        let mut journal: Vec<EventEnvelope<ClaimEvent>> = Vec::new();
        let mut previous_ids: Vec<CommandId> = Vec::new();
        for (command_choice, actor_choice, salt, redeliver) in steps {
            let command = command_for(command_choice, salt);
            let actor = actor_for(actor_choice);
            // Sometimes redeliver an id already applied: it must have no effect.
            let command_id = match (redeliver, previous_ids.last()) {
                (true, Some(id)) => *id,
                _ => CommandId::new_v4(),
            };
            let already_applied = live.applied_commands.contains(&command_id);
            let Ok(events) = decide(&live, command_id, &command, &actor, &context()) else { continue };
            if already_applied {
                prop_assert!(events.is_empty(), "a redelivered command produced events");
            }
            for event in events {
                let from = live.status;
                let envelope = EventEnvelope::new(entity, live.version + 1, now(), actor.clone(), Some(command_id), event);
                live.apply_envelope(&envelope);
                journal.push(envelope);
                if let (Some(from), Some(to)) = (from, live.status) {
                    prop_assert!(transition_allowed(from, to), "{from} -> {to} is not in the table");
                }
                if let Some(ledger) = live.ledger.as_ref() {
                    prop_assert!(ledger.conservation_holds(), "G7 broken: {ledger:?}");
                }
            }
            previous_ids.push(command_id);
        }
        // No event lost: sequences are 1..=n with no gaps, and the replay equals the live state.
        for (index, envelope) in journal.iter().enumerate() {
            prop_assert_eq!(envelope.sequence, index as u64 + 1);
        }
        prop_assert_eq!(live.version, journal.len() as u64);
        prop_assert_eq!(ClaimState::fold(&journal), live);
    }
}
