//! One owned shard's command intake: the subscription on `cmd.<shard>.>` feeding the actor
//! node, one task per request so a slow entity does not hold up the others (each entity's
//! actor still takes its own commands one at a time, G1). When the shard turns out to be
//! fenced (a newer owner took it), the router unsubscribes at once and ends, so the new
//! owner's answers are the only ones callers hear; the node then drops the shard.
//!
//! The same holds when the node's lease clock runs out: while NATS is away another node may
//! take the shard, and both would hear its commands. A rejection or an "already applied" is
//! decided from this node's memory without touching the journal, so the fence cannot stop a
//! stale one; the router answers only while the clock runs, and ends when it has run out.

use super::leased::LeaseClock;
use super::wire::{CommandReply, WireCommand};
use futures::StreamExt;
use practice_actors::{Outcome, SendError};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

pub async fn route_shard(
    mut commands: async_nats::Subscriber,
    actors: practice_actors::Node,
    client: async_nats::Client,
    mut stop: watch::Receiver<bool>,
    clock: Option<Arc<LeaseClock>>,
) {
    let fenced = Arc::new(Notify::new());
    let trusted = move || clock.as_ref().is_none_or(|clock| clock.is_valid());
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
        if !trusted() {
            publish_reply(&client, reply_to, &lease_ran_out()).await;
            break;
        }
        let actors = actors.clone();
        let client = client.clone();
        let fenced = fenced.clone();
        let trusted = trusted.clone();
        tokio::spawn(async move {
            let reply = match practice_protocol::codec::decode::<WireCommand>(&message.payload) {
                Err(error) => CommandReply::Refused { reason: format!("command does not decode: {error}") },
                Ok(envelope) => match actors.send_local(envelope, actors.runtime().config.command_timeout).await {
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
            // Only an append that passed the fence is sure to be current once the clock is out.
            let appended =
                matches!(&reply, CommandReply::Done(Outcome::Accepted { events_appended, .. }) if *events_appended > 0);
            let reply = if appended || trusted() { reply } else { lease_ran_out() };
            publish_reply(&client, reply_to, &reply).await;
        });
    }
    // Dropping the subscription unsubscribes: the next owner gets the shard's traffic.
    let _ = commands.unsubscribe().await;
}

fn lease_ran_out() -> CommandReply {
    CommandReply::Unavailable { reason: "this node's lease on the shard ran out".into() }
}

async fn publish_reply(client: &async_nats::Client, reply_to: async_nats::Subject, reply: &CommandReply) {
    match practice_protocol::codec::encode(reply) {
        Ok(body) => {
            if let Err(error) = client.publish(reply_to, body.into()).await {
                tracing::warn!(%error, "CommandReplyError: reply not sent");
            }
        }
        Err(error) => tracing::error!(%error, "CommandReplyError: reply does not encode"),
    }
}
