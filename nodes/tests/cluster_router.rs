//! The shard router answers only while its lease clock runs. A node whose lease ran out
//! (NATS away, another node took the shard) still has actors in memory; a rejection decided
//! from that memory would reach the caller before the new owner's answer. The failure this
//! pins down: a stale owner answered "the claim does not exist" to a sign-off while the new
//! owner had just created the claim.

mod common;

use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::Outcome;
use practice_nodes::cluster::leased::LeaseClock;
use practice_nodes::cluster::router::route_shard;
use practice_nodes::cluster::wire::{send_command, CommandReply, SendError};
use practice_protocol::shard::shard_of;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SHARDS: u16 = 8;

async fn embedded_node(dir: &std::path::Path) -> practice_actors::Node {
    let journal = practice_actors::journal::SledJournal::open(&dir.join("journal"), SHARDS).expect("journal");
    let metrics = practice_actors::metrics::BackboneMetrics::register(&prometheus::Registry::new()).expect("metrics");
    practice_actors::Node::start_embedded(Arc::new(journal), metrics, practice_actors::NodeConfig::default())
        .await
        .expect("node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_whose_lease_ran_out_answers_nothing_from_memory() {
    let Some(server) = common::start_server() else { return };
    let client = practice_nodes::jetstream::connect(&server.url(), "router-test").await.expect("connect");
    let dir = tempfile::tempdir().expect("temp dir");
    let actors = embedded_node(dir.path()).await;

    let org = load_org(11);
    let journey = claim_journey(org, 0);
    let (create, sign_off) = (&journey[0], &journey[1]);
    let shard = shard_of(&create.entity, SHARDS);
    // Another claim on the same shard that is never created: its sign-off is rejected.
    let missing = (1..10_000)
        .map(|index| claim_journey(org, index).swap_remove(1))
        .find(|envelope| shard_of(&envelope.entity, SHARDS) == shard)
        .expect("a second claim on the shard");

    let clock = Arc::new(LeaseClock::new(Instant::now() + Duration::from_secs(60)));
    let subscription = client.subscribe(format!("cmd.{}.>", shard.0)).await.expect("subscribe");
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let router = tokio::spawn(route_shard(subscription, actors.clone(), client.clone(), stopped, Some(clock.clone())));
    let deadline = Duration::from_secs(5);

    // While the clock runs: acceptances and rejections both come back.
    let created = send_command(&client, SHARDS, create, deadline).await.expect("create");
    assert!(matches!(created, CommandReply::Done(Outcome::Accepted { events_appended: 1, .. })), "{created:?}");
    let rejected = send_command(&client, SHARDS, &missing, deadline).await.expect("sign-off of a missing claim");
    assert!(matches!(rejected, CommandReply::Done(Outcome::Rejected { .. })), "{rejected:?}");

    // The clock runs out: the next command is not answered from memory, and the router ends
    // (unsubscribing, so only a current owner hears the shard from now on).
    clock.revoke();
    let reply = send_command(&client, SHARDS, &missing, Duration::from_millis(300)).await;
    assert!(matches!(reply, Err(SendError::Timeout(_))), "a stale router answered: {reply:?}");
    tokio::time::timeout(Duration::from_secs(5), router).await.expect("the router ended").expect("router task");

    // A fresh owner (new clock, same journal) answers again, from the journal's truth.
    let clock = Arc::new(LeaseClock::new(Instant::now() + Duration::from_secs(60)));
    let subscription = client.subscribe(format!("cmd.{}.>", shard.0)).await.expect("subscribe");
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(route_shard(subscription, actors, client.clone(), stopped, Some(clock)));
    let signed = send_command(&client, SHARDS, sign_off, deadline).await.expect("sign-off");
    assert!(matches!(signed, CommandReply::Done(Outcome::Accepted { events_appended: 1, .. })), "{signed:?}");
}
