//! One owned shard's command intake: the subscription on `cmd.<shard>.>` feeding the actor
//! node, one task per request so a slow entity does not hold up the others (each entity's
//! actor still takes its own commands one at a time, G1). When the shard turns out to be
//! fenced (a newer owner took it), the router unsubscribes at once and ends, so the new
//! owner's answers are the only ones callers hear; the node then drops the shard.

use super::wire::{CommandReply, WireCommand};
use futures::StreamExt;
use practice_actors::SendError;
use std::sync::Arc;
use tokio::sync::{watch, Notify};

pub async fn route_shard(
    mut commands: async_nats::Subscriber,
    actors: practice_actors::Node,
    client: async_nats::Client,
    mut stop: watch::Receiver<bool>,
) {
    let fenced = Arc::new(Notify::new());
    loop {
        let message = tokio::select! {
            _ = stop.changed() => break,
            _ = fenced.notified() => break,
            message = commands.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        let Some(reply_to) = message.reply else { continue };
        let actors = actors.clone();
        let client = client.clone();
        let fenced = fenced.clone();
        tokio::spawn(async move {
            let reply = match practice_protocol::codec::decode::<WireCommand>(&message.payload) {
                Err(error) => CommandReply::Refused { reason: format!("command does not decode: {error}") },
                Ok(envelope) => match actors.send(envelope).await {
                    Ok(outcome) => CommandReply::Done(outcome),
                    Err(SendError::Fenced { .. }) => {
                        // Say nothing: the caller's retry reaches the new owner.
                        fenced.notify_one();
                        return;
                    }
                    Err(error @ (SendError::WrongKind { .. } | SendError::Codec(_))) => {
                        CommandReply::Refused { reason: error.to_string() }
                    }
                    Err(error) => CommandReply::Unavailable { reason: error.to_string() },
                },
            };
            match practice_protocol::codec::encode(&reply) {
                Ok(body) => {
                    if let Err(error) = client.publish(reply_to, body.into()).await {
                        tracing::warn!(%error, "CommandReplyError: reply not sent");
                    }
                }
                Err(error) => tracing::error!(%error, "CommandReplyError: reply does not encode"),
            }
        });
    }
    // Dropping the subscription unsubscribes: the next owner gets the shard's traffic.
    let _ = commands.unsubscribe().await;
}
