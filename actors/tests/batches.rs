//! Several commands for one entity sent together (`Node::send_batch`): the actor decides them
//! in order and appends their events in one journal write. The history is exactly what the
//! same commands sent one by one make (same events, sequences and command ids), a rejection
//! in the middle stops nothing after it, a batch sent again has no effect (G3), and a failed
//! append is every command's failure and leaves nothing behind: the actor rebuilds from the
//! journal and the same batch then succeeds once.

mod support;

use practice_actors::entity::{EntityCommand, EntityRejection, Outcome, SendError};
use practice_actors::journal::{Journal, SledJournal};
use practice_actors::metrics::BackboneMetrics;
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::{Node, NodeConfig};
use practice_protocol::claim::ClaimCommand;
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::ids::CommandId;
use std::sync::Arc;
use std::time::Duration;
use support::{start, FlakyJournal};

/// The events of an entity as comparable facts: sequence, command id, the event's JSON.
async fn history(journal: &dyn Journal, entity: practice_protocol::envelope::EntityRef) -> Vec<String> {
    let events = journal.read_entity(entity, 0).await.unwrap();
    events
        .iter()
        .map(|stored| {
            let envelope: practice_protocol::envelope::EventEnvelope<practice_protocol::claim::ClaimEvent> =
                practice_protocol::codec::decode(&stored.payload).unwrap();
            format!(
                "{} {:?} {}",
                envelope.sequence,
                envelope.command_id,
                serde_json::to_string(&envelope.event).unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_makes_the_history_its_commands_make_one_by_one() {
    let (one_by_one, together) = (start(4, NodeConfig::default()).await, start(4, NodeConfig::default()).await);
    let org = load_org(3);
    let journey = claim_journey(org, 1);
    let entity = journey[0].entity;
    for command in journey.clone() {
        assert!(one_by_one.node.send(command).await.unwrap().is_accepted());
    }
    let outcomes = together.node.send_batch(entity, journey.clone()).await;
    assert_eq!(outcomes.len(), journey.len());
    for (index, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Ok(Outcome::Accepted { events_appended, version, .. }) => {
                assert_eq!((*events_appended, *version), (1, index as u64 + 1), "command {index}")
            }
            other => panic!("command {index}: {other:?}"),
        }
    }
    let expected = history(one_by_one.journal.as_ref(), entity).await;
    assert_eq!(expected.len(), journey.len());
    assert_eq!(history(together.journal.as_ref(), entity).await, expected);
    // The same batch again: nothing new (G3), also after passivation.
    together.node.passivate_all().await;
    for outcome in together.node.send_batch(entity, journey.clone()).await {
        assert!(matches!(outcome, Ok(Outcome::Accepted { events_appended: 0, .. })), "{outcome:?}");
    }
    assert_eq!(history(together.journal.as_ref(), entity).await.len(), journey.len());
    one_by_one.node.shutdown().await;
    together.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_in_a_batch_stops_nothing_after_it_and_strangers_are_refused() {
    let test = start(4, NodeConfig::default()).await;
    let org = load_org(5);
    let journey = claim_journey(org, 2);
    let entity = journey[0].entity;
    // Submitting before the scrub is refused; the scrub and the submit after it are not.
    let early_submit = CommandEnvelope { command_id: CommandId::derived(&[b"early"]), ..journey[3].clone() };
    let batch = vec![journey[0].clone(), journey[1].clone(), early_submit, journey[2].clone(), journey[3].clone()];
    let outcomes = test.node.send_batch(entity, batch).await;
    assert!(matches!(outcomes[2], Ok(Outcome::Rejected { .. })), "{:?}", outcomes[2]);
    for index in [0, 1, 3, 4] {
        assert!(matches!(outcomes[index], Ok(Outcome::Accepted { events_appended: 1, .. })), "{:?}", outcomes[index]);
    }
    // Another organization's command and another entity's are answered apart, never decided.
    let stranger = claim_journey(load_org(6), 2)[0].clone();
    let other_claim = claim_journey(org, 3)[0].clone();
    // A sign-off once the payer accepted the claim is out of turn: refused after the accept.
    let out_of_turn = CommandEnvelope {
        command_id: CommandId::derived(&[b"late sign-off"]),
        command: EntityCommand::Claim(ClaimCommand::SignOff),
        ..journey[4].clone()
    };
    let outcomes = test.node.send_batch(entity, vec![stranger, other_claim, journey[4].clone(), out_of_turn]).await;
    assert!(matches!(outcomes[0], Err(SendError::WrongKind { .. })), "{:?}", outcomes[0]);
    assert!(matches!(outcomes[1], Err(SendError::WrongKind { .. })), "{:?}", outcomes[1]);
    assert!(matches!(outcomes[2], Ok(Outcome::Accepted { events_appended: 1, .. })), "{:?}", outcomes[2]);
    assert!(
        matches!(outcomes[3], Ok(Outcome::Rejected { rejection: EntityRejection::Claim(_), .. })),
        "{:?}",
        outcomes[3]
    );
    assert_eq!(test.journal.read_entity(entity, 0).await.unwrap().len(), 5);
    test.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_append_fails_every_command_of_the_batch_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(FlakyJournal::over(SledJournal::open(&dir.path().join("journal"), 4).unwrap()));
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    let node = Node::start_embedded(flaky.clone(), metrics, NodeConfig::default()).await.unwrap();
    let org = load_org(8);
    let journey = claim_journey(org, 4);
    let entity = journey[0].entity;
    assert!(node.send(journey[0].clone()).await.unwrap().is_accepted());
    flaky.fail_next(1);
    let failed = node.send_batch(entity, journey[1..4].to_vec()).await;
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|outcome| matches!(outcome, Err(SendError::Journal(_)))), "{failed:?}");
    assert_eq!(flaky.inner.read_entity(entity, 0).await.unwrap().len(), 1, "nothing of the batch was stored");
    // The actor dropped the state it had applied ahead and rebuilt: the batch now goes through once.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let retried = node.send_batch(entity, journey[1..4].to_vec()).await;
    let versions: Vec<u64> = retried
        .iter()
        .map(|outcome| match outcome {
            Ok(Outcome::Accepted { events_appended: 1, version, .. }) => *version,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(versions, vec![2, 3, 4]);
    assert_eq!(flaky.inner.read_entity(entity, 0).await.unwrap().len(), 4);
    node.shutdown().await;
}
