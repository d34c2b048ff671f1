//! G1 across nodes: many concurrent senders on two connections to one claim while its shard
//! may move to a joining node: one serial history, identical on every read. G3 for inbound
//! traffic: the broker de-duplicates within its window, the journal's memory beyond it.

mod common;

use common::{Cluster, SHARDS};
use practice_actors::journal::Journal;
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::{EntityCommand, Outcome};
use practice_nodes::cluster::assign::assign;
use practice_nodes::cluster::wire::{send_command, CommandReply, WireCommand};
use practice_nodes::jetstream::inbound::publish_inbound;
use practice_nodes::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use practice_protocol::claim::ClaimCommand;
use practice_protocol::ids::{CommandId, UserId};
use practice_protocol::roles::{Actor, Role};
use practice_protocol::shard::shard_of;
use std::time::Duration;

fn amend(create: &WireCommand, salt: u64) -> WireCommand {
    let EntityCommand::Claim(ClaimCommand::Create { claim }) = &create.command else { panic!("not a create") };
    let org = create.entity.org;
    WireCommand {
        command_id: CommandId::derived(&[create.entity.id.as_bytes(), b"amend", &salt.to_be_bytes()]),
        entity: create.entity,
        issued_at: chrono::Utc::now(),
        actor: Actor::User { org, user: UserId::derived(&[b"g1-biller"]), role: Role::CoderBiller },
        command: EntityCommand::Claim(ClaimCommand::AmendCoding {
            diagnoses: claim.diagnoses.clone(),
            lines: claim.lines.clone(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g1_concurrent_senders_on_one_claim_across_a_rebalance() {
    let Some(mut cluster) = Cluster::start() else { return };
    for id in ["a", "b", "c"] {
        cluster.start_node(id, &[]);
    }
    cluster.wait_balanced(&["a", "b", "c"], Duration::from_secs(20)).await;
    // A claim whose shard moves to the joining node `d`.
    let names = |list: &[&str]| list.iter().map(|name| name.to_string()).collect::<Vec<_>>();
    let before = assign(&names(&["a", "b", "c"]), SHARDS);
    let after = assign(&names(&["a", "b", "c", "d"]), SHARDS);
    let create = (0..1000)
        .map(|index| claim_journey(load_org(11), index).swap_remove(0))
        .find(|create| {
            let shard = shard_of(&create.entity, SHARDS);
            before[&shard] != after[&shard] && after[&shard] == "d"
        })
        .unwrap();
    let first = cluster.client().await;
    let second = cluster.client().await;
    let reply = send_command(&first, SHARDS, &create, Duration::from_secs(20)).await;
    assert!(matches!(reply, Ok(CommandReply::Done(Outcome::Accepted { .. }))), "{reply:?}");

    let senders = (0..40u64).map(|salt| {
        let client = if salt % 2 == 0 { first.clone() } else { second.clone() };
        let command = amend(&create, salt);
        tokio::spawn(async move { send_command(&client, SHARDS, &command, Duration::from_secs(30)).await })
    });
    let senders: Vec<_> = senders.collect();
    cluster.start_node("d", &[]);
    for sender in senders {
        let reply = sender.await.unwrap();
        assert!(matches!(reply, Ok(CommandReply::Done(Outcome::Accepted { .. }))), "{reply:?}");
    }
    cluster.wait_balanced(&["a", "b", "c", "d"], Duration::from_secs(20)).await;

    let journal = cluster.journal().await;
    let history = journal.read_entity(create.entity, 0).await.unwrap();
    let sequences: Vec<u64> = history.iter().map(|event| event.sequence).collect();
    assert_eq!(sequences, (1..=41).collect::<Vec<u64>>(), "one serial history, no gap, no repeat");
    let other_reader = cluster.journal().await;
    assert_eq!(other_reader.read_entity(create.entity, 0).await.unwrap(), history);
    let report = cluster.verify().await;
    assert!(report.ok(), "{report}");
    assert_eq!(report.events, 41);
}

#[tokio::test]
async fn g3_inbound_once_within_and_beyond_the_broker_window() {
    let Some(server) = common::start_server() else { return };
    let client = connect(&server.url(), "g3").await.unwrap();
    let settings = JetStreamSettings { duplicate_window: Duration::from_secs(1), ..Default::default() };
    let journal = JetStreamJournal::open(client.clone(), settings).await.unwrap();
    let org = load_org(12);
    let file = bytes::Bytes::from_static(b"ISA*00*...~ (an 835, by content)");
    let message_id = "835:sha256:0f1e2d";
    // The connector's path: publish to INBOUND, and apply only what the journal has not seen.
    let first = publish_inbound(&client, org, "835", message_id, file.clone()).await.unwrap();
    let again = publish_inbound(&client, org, "835", message_id, file.clone()).await.unwrap();
    assert!(!first.duplicate);
    assert!(again.duplicate, "inside the window the broker stores it once");
    assert_eq!(again.stream_sequence, first.stream_sequence);
    assert!(journal.remember_inbound(org, message_id).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let late = publish_inbound(&client, org, "835", message_id, file).await.unwrap();
    assert!(!late.duplicate, "past the window the broker has forgotten");
    assert!(!journal.remember_inbound(org, message_id).await.unwrap(), "the journal has not");
    assert!(publish_inbound(&client, org, "8 35", message_id, bytes::Bytes::new()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_loads_and_verifies_a_cluster() {
    let Some(mut cluster) = Cluster::start() else { return };
    cluster.start_node("a", &[]);
    cluster.wait_balanced(&["a"], Duration::from_secs(20)).await;
    let url = cluster.server.url();
    let run = |args: Vec<String>| {
        std::process::Command::new(common::practice_binary()).args(args).output().expect("run practice")
    };
    let args = |list: &[&str]| list.iter().map(|arg| arg.to_string()).collect::<Vec<_>>();
    let load = run(args(&["load", "--nats", &url, "--claims", "20", "--concurrency", "8", "--seed", "13"]));
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    let report: serde_json::Value = serde_json::from_slice(&load.stdout).expect("JSON report");
    assert_eq!(report["failed"], 0);
    assert_eq!(report["events_appended"], common::expected_events(13, 20));
    let verify = run(args(&["verify", "--nats", &url]));
    let printed = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{printed}");
    assert!(printed.contains("claim entities        20"), "{printed}");
}
