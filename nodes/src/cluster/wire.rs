//! Commands on the wire: a caller (any node, the CLI) sends a `CommandEnvelope` as a NATS
//! request on `cmd.<shard>.<kind>.<org>.<id>`; only the shard's owner subscribes there, so the
//! request reaches it, or gets "no responders" while the shard changes hands, and the caller
//! retries until its deadline. Bodies use the project codec.

use practice_actors::{EntityCommand, Outcome};
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::shard::{command_subject, shard_of};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

pub type WireCommand = CommandEnvelope<EntityCommand>;

/// What the owner answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandReply {
    /// Accepted (events durable) or rejected by the entity (nothing appended).
    Done(Outcome),
    /// Not a command this system can take (does not decode, wrong kind): do not retry.
    Refused { reason: String },
    /// The owner could not decide now (shard moving, lease lost, journal unavailable): retry.
    Unavailable { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no owner answered for the entity's shard within {0:?}")]
    Timeout(Duration),
    #[error("could not encode the command: {0}")]
    Encode(String),
    #[error("unreadable reply: {0}")]
    Decode(String),
}

/// Send `envelope` to its shard's owner and wait for the outcome, retrying while no node owns
/// the shard or the owner says `Unavailable`, until `deadline` has passed. Retrying is safe:
/// the entity remembers command ids (G3).
pub async fn send_command(
    client: &async_nats::Client,
    shard_count: u16,
    envelope: &WireCommand,
    deadline: Duration,
) -> Result<CommandReply, SendError> {
    let shard = shard_of(&envelope.entity, shard_count);
    let subject = command_subject(&envelope.entity, shard);
    let body = practice_protocol::codec::encode(envelope).map_err(|error| SendError::Encode(error.to_string()))?;
    let body = bytes::Bytes::from(body);
    let started = Instant::now();
    let mut backoff = Duration::from_millis(20);
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(SendError::Timeout(deadline));
        }
        let request = async_nats::Request::new().payload(body.clone()).timeout(Some(left.min(Duration::from_secs(6))));
        // An error is no responders (shard between owners) or a timeout (owner paused or dead).
        if let Ok(message) = client.send_request(subject.clone(), request).await {
            let reply: CommandReply = practice_protocol::codec::decode(&message.payload)
                .map_err(|error| SendError::Decode(error.to_string()))?;
            if !matches!(reply, CommandReply::Unavailable { .. }) {
                return Ok(reply);
            }
        }
        tokio::time::sleep(backoff.min(deadline.saturating_sub(started.elapsed()))).await;
        backoff = (backoff * 2).min(Duration::from_millis(500));
    }
}

/// A cluster node's way to the owners of the shards it does not hold: the command goes out as
/// a request on its shard's subject, retried while the shard changes hands (G3 makes that safe).
pub struct NatsForward {
    pub client: async_nats::Client,
    pub shard_count: u16,
}

impl practice_actors::Forward for NatsForward {
    fn forward(
        &self,
        envelope: WireCommand,
        timeout: Duration,
    ) -> practice_actors::journal::BoxFuture<'_, Result<Outcome, practice_actors::SendError>> {
        use practice_actors::SendError as Local;
        Box::pin(async move {
            match send_command(&self.client, self.shard_count, &envelope, timeout).await {
                Ok(CommandReply::Done(outcome)) => Ok(outcome),
                Ok(CommandReply::Refused { reason }) => Err(Local::Codec(reason)),
                Ok(CommandReply::Unavailable { reason }) => Err(Local::Unavailable(reason)),
                Err(SendError::Timeout(waited)) => Err(Local::Timeout(waited)),
                Err(error @ (SendError::Encode(_) | SendError::Decode(_))) => Err(Local::Codec(error.to_string())),
            }
        })
    }
}
