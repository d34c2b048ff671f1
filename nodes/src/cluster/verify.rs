//! `verify`: replay the whole journal and check the guarantees that can be read from it alone.
//!
//! - G1: each entity's events, in journal order, have sequences 1, 2, 3... (no gap, no repeat,
//!   no fork), live on the entity's own shard, and read back identically per entity.
//! - G3: a command's events are one contiguous run in its claim's history (a command applied
//!   twice would show up twice).
//! - G7: every claim's ledger conserves money after replay.
//!
//! Works over any `Journal`, so the embedded and the JetStream backends are checked alike.

use practice_actors::journal::{Journal, JournalError, StoredEvent};
use practice_protocol::claim::{ClaimEvent, ClaimState};
use practice_protocol::envelope::{EntityKind, EntityRef, EventEnvelope};
use practice_protocol::ids::CommandId;
use practice_protocol::shard::{shard_of, ShardId};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

const PAGE: usize = 2048;

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    pub shards: u16,
    pub entities: u64,
    pub events: u64,
    /// Claims per status after replay.
    pub statuses: BTreeMap<String, u64>,
    pub violations: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

struct EntityReplay {
    last_sequence: u64,
    state: ClaimState,
    /// Command ids seen, and the command of the previous event.
    commands: HashSet<CommandId>,
    previous_command: Option<CommandId>,
    events: Vec<StoredEvent>,
}

/// Replay every shard of `journal`.
pub async fn verify(journal: &dyn Journal) -> Result<VerifyReport, JournalError> {
    let shard_count = journal.shard_count();
    let mut report = VerifyReport { shards: shard_count, ..Default::default() };
    for shard in 0..shard_count {
        let shard = ShardId(shard);
        let mut entities: HashMap<EntityRef, EntityReplay> = HashMap::new();
        let mut after = 0;
        loop {
            let page = journal.read_shard(shard, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.position;
            for event in page {
                report.events += 1;
                check_event(shard, shard_count, event, &mut entities, &mut report.violations);
            }
        }
        for (entity, replay) in entities {
            report.entities += 1;
            let reread = journal.read_entity(entity, 0).await?;
            if reread != replay.events {
                report.violations.push(format!("G1: {} reads back differently per entity", describe(&entity)));
            }
            if let Some(ledger) = &replay.state.ledger {
                if !ledger.conservation_holds() {
                    report.violations.push(format!("G7: {} does not conserve money", describe(&entity)));
                }
            }
            let status = replay.state.status.map_or("none".to_string(), |status| status.as_str().to_string());
            *report.statuses.entry(status).or_default() += 1;
        }
    }
    Ok(report)
}

fn describe(entity: &EntityRef) -> String {
    // Ids only: no PHI ever appears in the journal's addressing.
    format!("{} {}/{}", entity.kind.as_str(), entity.org.0.simple(), entity.id.simple())
}

fn check_event(
    shard: ShardId,
    shard_count: u16,
    event: StoredEvent,
    entities: &mut HashMap<EntityRef, EntityReplay>,
    violations: &mut Vec<String>,
) {
    let entity = event.entity;
    if shard_of(&entity, shard_count) != shard || event.shard != shard {
        violations.push(format!("G1: {} stored on shard {shard}, belongs elsewhere", describe(&entity)));
    }
    let replay = entities.entry(entity).or_insert_with(|| EntityReplay {
        last_sequence: 0,
        state: ClaimState::default(),
        commands: HashSet::new(),
        previous_command: None,
        events: Vec::new(),
    });
    if event.sequence != replay.last_sequence + 1 {
        violations.push(format!(
            "G1: {} has sequence {} after {} (position {})",
            describe(&entity),
            event.sequence,
            replay.last_sequence,
            event.position
        ));
    }
    replay.last_sequence = event.sequence;
    if entity.kind == EntityKind::Claim {
        match practice_protocol::codec::decode::<EventEnvelope<ClaimEvent>>(&event.payload) {
            Err(error) => violations.push(format!("G4: event at position {} does not decode: {error}", event.position)),
            Ok(envelope) => {
                if envelope.entity != entity || envelope.sequence != event.sequence {
                    violations.push(format!("G1: envelope at position {} disagrees with its address", event.position));
                }
                if let Some(command) = envelope.command_id {
                    if replay.previous_command != Some(command) && !replay.commands.insert(command) {
                        violations.push(format!(
                            "G3: {} applied command {command} twice (position {})",
                            describe(&entity),
                            event.position
                        ));
                    }
                }
                replay.previous_command = envelope.command_id;
                replay.state.apply_envelope(&envelope);
            }
        }
    }
    replay.events.push(event);
}
