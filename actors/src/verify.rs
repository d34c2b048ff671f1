//! `verify`: replay the whole journal and check the guarantees it must show.
//!
//! - G1: in each shard's order, every entity's sequences run 1, 2, 3… with no gap, and the
//!   entity's own read gives the same history.
//! - G3: a command's events are one contiguous run (a command applied twice would show its id
//!   again later), no remittance is posted twice, and no processor receipt is recorded twice
//!   on a practice's statements.
//! - G4: the fold of the events equals every snapshot at its sequence, and the live state
//!   when a node is given.
//! - G7: for every claim, charge = paid + contractual + patient responsibility + other
//!   adjustments + written off + open balance (`ClaimLedger::conservation_holds`); for every
//!   practice, no statement is paid past its total or billed a claim another one bills, and
//!   what its plan's installments hold is no more than was paid (`StatementBook::problems`).
//!
//! Memory is per entity: the shard scan keeps one counter per entity, then each entity is
//! folded and dropped.

use crate::claim::ClaimEntity;
use crate::entity::{decode_event, Entity};
use crate::journal::{Journal, JournalError, StoredEvent};
use crate::node::Node;
use crate::payer::PayerEntity;
use crate::practice::PracticeEntity;
use practice_protocol::codec;
use practice_protocol::envelope::{EntityKind, EntityRef, EventEnvelope};
use practice_protocol::ids::CommandId;
use practice_protocol::shard::ShardId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// G1, G3, G4 or G7.
    pub guarantee: &'static str,
    pub entity: EntityRef,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} (org {}): {}",
            self.guarantee,
            self.entity.kind.as_str(),
            self.entity.id,
            self.entity.org,
            self.detail
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub shards: u16,
    pub events: u64,
    pub entities: BTreeMap<&'static str, u64>,
    pub snapshots_compared: u64,
    pub live_compared: u64,
    pub claims_conserving: u64,
    pub violations: Vec<Violation>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "shards scanned        {}", self.shards)?;
        writeln!(f, "events replayed       {}", self.events)?;
        for (kind, count) in &self.entities {
            writeln!(f, "{:<22}{count}", format!("{kind} entities"))?;
        }
        writeln!(f, "snapshots compared    {}", self.snapshots_compared)?;
        writeln!(f, "live states compared  {}", self.live_compared)?;
        writeln!(f, "claims conserving     {} (G7)", self.claims_conserving)?;
        if self.violations.is_empty() {
            writeln!(f, "violations            none: G1, G3, G4, G7 hold")
        } else {
            writeln!(f, "violations            {}", self.violations.len())?;
            for violation in self.violations.iter().take(100) {
                writeln!(f, "  {violation}")?;
            }
            Ok(())
        }
    }
}

/// Replay everything in `journal`; compare with live states too when `node` is given.
pub async fn verify(journal: &dyn Journal, node: Option<&Node>) -> Result<VerifyReport, JournalError> {
    let mut report = VerifyReport { shards: journal.shard_count(), ..VerifyReport::default() };
    // Entity → events seen in shard order (the last sequence), for G1.
    let mut seen: HashMap<EntityRef, u64> = HashMap::new();
    for shard in 0..journal.shard_count() {
        let mut after = 0;
        loop {
            let page = journal.read_shard(ShardId(shard), after, 4096).await?;
            let Some(last) = page.last() else { break };
            after = last.position;
            for stored in &page {
                report.events += 1;
                let previous = seen.entry(stored.entity).or_insert(0);
                if stored.sequence != *previous + 1 {
                    report.violations.push(Violation {
                        guarantee: "G1",
                        entity: stored.entity,
                        detail: format!(
                            "shard {shard} position {} holds sequence {} after {}",
                            stored.position, stored.sequence, previous
                        ),
                    });
                }
                *previous = stored.sequence.max(*previous);
            }
        }
    }
    let mut entities: Vec<(EntityRef, u64)> = seen.into_iter().collect();
    entities.sort();
    for (entity, last) in entities {
        *report.entities.entry(entity.kind.as_str()).or_default() += 1;
        let events = journal.read_entity(entity, 0).await?;
        if events.len() as u64 != last || events.last().map(|event| event.sequence) != Some(last) {
            report.violations.push(Violation {
                guarantee: "G1",
                entity,
                detail: format!("the entity read gives {} events, the shard scan {last}", events.len()),
            });
        }
        match entity.kind {
            EntityKind::Claim => verify_entity::<ClaimEntity>(journal, node, entity, &events, &mut report).await?,
            EntityKind::Payer => verify_entity::<PayerEntity>(journal, node, entity, &events, &mut report).await?,
            EntityKind::Practice => {
                verify_entity::<PracticeEntity>(journal, node, entity, &events, &mut report).await?
            }
        }
    }
    Ok(report)
}

async fn verify_entity<E: Entity>(
    journal: &dyn Journal,
    node: Option<&Node>,
    entity: EntityRef,
    events: &[StoredEvent],
    report: &mut VerifyReport,
) -> Result<(), JournalError> {
    let mut violation = |guarantee: &'static str, detail: String| {
        report.violations.push(Violation { guarantee, entity, detail });
    };
    let snapshot = journal.load_snapshot(entity).await?;
    let mut state = E::State::default();
    // A snapshot at sequence 0 (an actor passivated before its first event) is the empty state.
    let mut snapshot_state = match &snapshot {
        Some((0, _)) => Some(E::State::default()),
        _ => None,
    };
    let mut finished_commands: HashSet<CommandId> = HashSet::new();
    let mut current_command: Option<CommandId> = None;
    let mut envelopes: Vec<EventEnvelope<E::Event>> = Vec::with_capacity(events.len());
    for stored in events {
        let envelope = match decode_event::<E>(stored) {
            Ok(envelope) => envelope,
            Err(error) => {
                violation("G4", format!("event {} does not decode: {error}", stored.sequence));
                return Ok(());
            }
        };
        if envelope.command_id != current_command {
            if let Some(previous) = current_command {
                finished_commands.insert(previous);
            }
            if let Some(command_id) = envelope.command_id {
                if finished_commands.contains(&command_id) {
                    violation("G3", format!("command {command_id} has effects again at sequence {}", stored.sequence));
                }
            }
            current_command = envelope.command_id;
        }
        E::apply(&mut state, &envelope);
        if let Some((sequence, _)) = &snapshot {
            if *sequence == E::version(&state) {
                snapshot_state = Some(state.clone());
            }
        }
        envelopes.push(envelope);
    }
    if let Some((sequence, bytes)) = snapshot {
        report.snapshots_compared += 1;
        match codec::decode::<E::State>(&bytes) {
            Ok(stored) if Some(&stored) == snapshot_state.as_ref() => {}
            Ok(_) => violation("G4", format!("snapshot at sequence {sequence} differs from the replayed state")),
            Err(error) => violation("G4", format!("snapshot at sequence {sequence} does not decode: {error}")),
        }
    }
    if let Some(node) = node {
        if node.owns(&entity) {
            match node.inspect(entity).await {
                Ok(inspection) => {
                    report.live_compared += 1;
                    match codec::decode::<E::State>(&inspection.state) {
                        Ok(live) if live == state => {}
                        Ok(_) => violation("G4", format!("live state at version {} differs", inspection.version)),
                        Err(error) => violation("G4", format!("live state does not decode: {error}")),
                    }
                }
                Err(error) => violation("G4", format!("live state unavailable: {error}")),
            }
        }
    }
    let broken = E::invariant_violations(&state, &envelopes);
    if E::KIND == EntityKind::Claim && !broken.iter().any(|(guarantee, _)| *guarantee == "G7") {
        report.claims_conserving += 1;
    }
    for (guarantee, detail) in broken {
        report.violations.push(Violation { guarantee, entity, detail });
    }
    Ok(())
}
