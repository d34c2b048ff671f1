//! A journal event decoded for module engines.

use crate::claim::ClaimEntity;
use crate::entity::{decode_event, SendError};
use crate::journal::StoredEvent;
use crate::payer::PayerEntity;
use crate::practice::PracticeEntity;
use practice_protocol::claim::ClaimEvent;
use practice_protocol::envelope::{EntityKind, EventEnvelope};
use practice_protocol::payer::PayerEvent;
use practice_protocol::practice::PracticeEvent;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyEvent {
    Claim(EventEnvelope<ClaimEvent>),
    Payer(EventEnvelope<PayerEvent>),
    Practice(EventEnvelope<PracticeEvent>),
}

impl AnyEvent {
    pub fn decode(stored: &StoredEvent) -> Result<AnyEvent, SendError> {
        Ok(match stored.entity.kind {
            EntityKind::Claim => AnyEvent::Claim(decode_event::<ClaimEntity>(stored)?),
            EntityKind::Payer => AnyEvent::Payer(decode_event::<PayerEntity>(stored)?),
            EntityKind::Practice => AnyEvent::Practice(decode_event::<PracticeEntity>(stored)?),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            AnyEvent::Claim(envelope) => envelope.event.name(),
            AnyEvent::Payer(envelope) => envelope.event.name(),
            AnyEvent::Practice(envelope) => envelope.event.name(),
        }
    }
}

/// What an engine sees: the decoded event and where it sits in its shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleEvent {
    pub shard: practice_protocol::shard::ShardId,
    pub position: u64,
    /// Shared by the node's consumers, which decode each event once between them.
    pub event: std::sync::Arc<AnyEvent>,
}
