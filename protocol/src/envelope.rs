//! Versioned envelopes: every event and command travels inside one, with its ids, tenant,
//! per-entity sequence, time and actor.

use crate::ids::{CommandId, EventId, OrgId};
use crate::roles::Actor;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Bumped when an event's shape changes; readers upcast older versions.
pub const EVENT_SCHEMA_VERSION: u16 = 1;

/// Which kind of entity a stream of events belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Claim,
    Payer,
    Practice,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Claim => "claim",
            EntityKind::Payer => "payer",
            EntityKind::Practice => "practice",
        }
    }
}

/// An entity's address: tenant, kind and id. The tenant is part of every key (G8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityRef {
    pub org: OrgId,
    pub kind: EntityKind,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEnvelope<E> {
    pub event_id: EventId,
    pub entity: EntityRef,
    /// 1-based position in the entity's own history; no gaps (G1).
    pub sequence: u64,
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
    /// The command that produced this event, for idempotency (G3) and audit.
    pub command_id: Option<CommandId>,
    pub schema_version: u16,
    pub event: E,
}

impl<E> EventEnvelope<E> {
    pub fn new(
        entity: EntityRef,
        sequence: u64,
        recorded_at: DateTime<Utc>,
        actor: Actor,
        command_id: Option<CommandId>,
        event: E,
    ) -> Self {
        let event_id = EventId::derived(&[entity.org.0.as_bytes(), entity.id.as_bytes(), &sequence.to_be_bytes()]);
        Self { event_id, entity, sequence, recorded_at, actor, command_id, schema_version: EVENT_SCHEMA_VERSION, event }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEnvelope<C> {
    pub command_id: CommandId,
    pub entity: EntityRef,
    pub issued_at: DateTime<Utc>,
    pub actor: Actor,
    pub command: C,
}
