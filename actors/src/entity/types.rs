//! Messages, outcomes and errors of entity actors.

use crate::journal::{Epoch, JournalError};
use practice_protocol::claim::{ClaimCommand, ClaimStatus, Rejection};
use practice_protocol::envelope::{CommandEnvelope, EntityKind, EntityRef};
use practice_protocol::payer::{PayerCommand, PayerRejection};
use practice_protocol::practice::{PracticeCommand, PracticeRejection};
use practice_protocol::shard::ShardId;
use ractor::RpcReplyPort;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Any entity's command; the envelope's `entity.kind` must match the variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityCommand {
    Claim(ClaimCommand),
    Payer(PayerCommand),
    Practice(PracticeCommand),
}

impl EntityCommand {
    pub fn kind(&self) -> EntityKind {
        match self {
            EntityCommand::Claim(_) => EntityKind::Claim,
            EntityCommand::Payer(_) => EntityKind::Payer,
            EntityCommand::Practice(_) => EntityKind::Practice,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            EntityCommand::Claim(command) => command.name(),
            EntityCommand::Payer(command) => command.name(),
            EntityCommand::Practice(command) => command.name(),
        }
    }
}

/// Why an entity refused a command. Nothing was appended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum EntityRejection {
    #[error(transparent)]
    Claim(#[from] Rejection),
    #[error(transparent)]
    Payer(#[from] PayerRejection),
    #[error(transparent)]
    Practice(#[from] PracticeRejection),
    #[error("the actor belongs to another organization than the entity")]
    WrongOrganization,
}

/// The new state in a few fields: what a caller needs without the whole state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Summary {
    Claim { status: Option<ClaimStatus>, charge: Decimal, paid: Decimal, open_balance: Decimal },
    Payer { registered: bool, contract_rates: usize, rules: usize, claims_adjudicated: u64 },
    Practice { users: usize, write_off_threshold: Decimal, appeal_window_days: i64 },
}

/// What became of a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its events are durable (none when the command id was already applied, G3).
    Accepted {
        entity: EntityRef,
        version: u64,
        events_appended: usize,
        summary: Summary,
    },
    Rejected {
        entity: EntityRef,
        rejection: EntityRejection,
    },
}

impl Outcome {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted { .. })
    }
}

/// Why a command got no outcome. Every variant but `Fenced`, `NotOwner` and `WrongKind` is
/// worth retrying with the same command id: idempotency makes the retry safe (G3).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("no outcome within {0:?}; the command may or may not have been applied")]
    Timeout(Duration),
    #[error("shard {shard} is not owned by this node")]
    NotOwner { shard: ShardId },
    #[error("shard {shard} was taken by a newer owner (epoch {epoch:?} is stale)")]
    Fenced { shard: ShardId, epoch: Epoch },
    #[error("a {found:?} command was sent to a {expected:?} entity")]
    WrongKind { expected: EntityKind, found: EntityKind },
    #[error("the entity failed too often and rests until {retry_after_ms} ms from now")]
    Quarantined { retry_after_ms: u64 },
    #[error("the entity actor stopped before answering; retry")]
    Dropped,
    #[error("journal: {0}")]
    Journal(JournalError),
    #[error("stored state does not decode: {0}")]
    Codec(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl EntityMessage {
    /// Answer a command (or each of several) with `error` instead of handling it; other
    /// messages have nobody waiting.
    pub fn refuse(self, error: SendError) {
        match self {
            EntityMessage::Command { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            EntityMessage::Commands { envelopes, reply } => {
                let _ = reply.send(envelopes.iter().map(|_| Err(error.clone())).collect());
            }
            EntityMessage::Passivate(_)
            | EntityMessage::Hibernate
            | EntityMessage::Inspect(_)
            | EntityMessage::Read(_) => {}
        }
    }
}

/// The in-memory state of a live entity, encoded: for `verify`, tests and the dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub version: u64,
    /// The codec-encoded `Entity::State`.
    pub state: Vec<u8>,
}

pub enum EntityMessage {
    Command {
        envelope: Box<CommandEnvelope<EntityCommand>>,
        reply: RpcReplyPort<Result<Outcome, SendError>>,
    },
    /// Several commands for this entity, decided in order, their events appended together
    /// (one journal write instead of one per command); one outcome per command, in order.
    Commands {
        envelopes: Vec<CommandEnvelope<EntityCommand>>,
        reply: RpcReplyPort<Vec<Result<Outcome, SendError>>>,
    },
    /// Snapshot, then stop: the shard supervisor found the actor idle. The port, when given,
    /// hears once the snapshot is durable.
    Passivate(Option<RpcReplyPort<()>>),
    /// Keep the state encoded until the next message: the shard supervisor found the actor
    /// idle, though not yet for long enough to passivate it.
    Hibernate,
    Inspect(RpcReplyPort<Inspection>),
    /// A copy of the state in memory (`Node::read`).
    Read(RpcReplyPort<StateCopy>),
}

/// A copy of a live entity's `Entity::State`, for a reader in the same process: no encoding
/// in the actor and no decoding in the reader (the demo reads every claim back this way).
pub struct StateCopy {
    pub version: u64,
    pub state: Box<dyn std::any::Any + Send>,
}
