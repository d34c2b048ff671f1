//! The backbone's guarantees, end to end over the embedded journal: G1 ordering, G3
//! idempotency, G4 replay (`verify`), restarts of failing actors, and module consumers.

mod support;

use practice_actors::entity::{EntityCommand, EntityRejection, Outcome, SendError, Summary};
use practice_actors::journal::SledJournal;
use practice_actors::metrics::BackboneMetrics;
use practice_actors::module::EventTally;
use practice_actors::synthetic::{claim_journey, load_org, sample_claim};
use practice_actors::verify::verify;
use practice_actors::{Node, NodeConfig};
use practice_protocol::claim::{ClaimCommand, ClaimState, ClaimStatus};
use practice_protocol::codec;
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::ids::{ClaimId, CommandId, OrgId, UserId};
use practice_protocol::roles::{Actor, Role};
use practice_protocol::shard::claim_ref;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;
use support::{start, Counting, FlakyJournal};
use uuid::Uuid;

fn biller(org: OrgId) -> Actor {
    Actor::User { org, user: UserId(Uuid::from_u128(11)), role: Role::CoderBiller }
}

fn envelope(
    org: OrgId,
    claim: ClaimId,
    command_id: CommandId,
    actor: Actor,
    command: ClaimCommand,
) -> CommandEnvelope<EntityCommand> {
    CommandEnvelope {
        command_id,
        entity: claim_ref(org, claim),
        issued_at: chrono::Utc::now(),
        actor,
        command: EntityCommand::Claim(command),
    }
}

async fn send_journeys(node: &Node, org: OrgId, claims: u64) -> usize {
    let mut tasks = Vec::new();
    for index in 0..claims {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0;
            for command in claim_journey(org, index) {
                let outcome = node.send(command).await.expect("send");
                assert!(outcome.is_accepted(), "claim {index}: {outcome:?}");
                accepted += 1;
            }
            accepted
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g1_concurrent_senders_to_one_claim_make_one_serial_history() {
    let test = start(8, NodeConfig::default()).await;
    let org = OrgId(Uuid::new_v4());
    let claim_id = ClaimId(Uuid::new_v4());
    let claim = sample_claim(org, claim_id, 3);
    let create = envelope(
        org,
        claim_id,
        CommandId::new_v4(),
        biller(org),
        ClaimCommand::Create { claim: Box::new(claim.clone()) },
    );
    assert!(test.node.send(create).await.unwrap().is_accepted());
    let mut tasks = Vec::new();
    for sender in 0..16u32 {
        let node = test.node.clone();
        let claim = claim.clone();
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            for round in 0..10u32 {
                let mut lines = claim.lines.clone();
                lines[0].units = rust_decimal::Decimal::from(sender * 100 + round + 1);
                let command = ClaimCommand::AmendCoding { diagnoses: claim.diagnoses.clone(), lines };
                let outcome =
                    node.send(envelope(org, claim_id, CommandId::new_v4(), biller(org), command)).await.unwrap();
                if let Outcome::Accepted { events_appended, .. } = outcome {
                    accepted += events_appended as u64;
                }
            }
            accepted
        }));
    }
    let mut appended = 1;
    for task in tasks {
        appended += task.await.unwrap();
    }
    assert_eq!(appended, 161);
    let history = test.journal.read_entity(claim_ref(org, claim_id), 0).await.unwrap();
    let sequences: Vec<u64> = history.iter().map(|event| event.sequence).collect();
    assert_eq!(sequences, (1..=161).collect::<Vec<_>>());
    // Replay equals the live actor's state, and verify finds nothing wrong.
    let live = test.node.inspect(claim_ref(org, claim_id)).await.unwrap();
    let live: ClaimState = codec::decode(&live.state).unwrap();
    let events: Vec<_> = history.iter().map(|stored| codec::decode(&stored.payload).unwrap()).collect();
    assert_eq!(ClaimState::fold(&events), live);
    let report = verify(test.journal.as_ref(), Some(&test.node)).await.unwrap();
    assert!(report.ok(), "{report}");
    test.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g3_the_same_commands_twice_have_one_effect() {
    let test = start(8, NodeConfig::default()).await;
    let org = load_org(7);
    assert_eq!(send_journeys(&test.node, org, 5).await, 31);
    let claim = claim_ref(org, ClaimId::derived(&[org.0.as_bytes(), &0u64.to_be_bytes()]));
    let before = test.journal.read_entity(claim, 0).await.unwrap().len();
    for command in claim_journey(org, 0) {
        match test.node.send(command).await.unwrap() {
            Outcome::Accepted { events_appended, .. } => assert_eq!(events_appended, 0),
            other => panic!("a redelivered command was not recognised: {other:?}"),
        }
    }
    // Also after passivation: the applied ids come back with the snapshot.
    test.node.passivate_all().await;
    for command in claim_journey(org, 0) {
        assert!(matches!(test.node.send(command).await.unwrap(), Outcome::Accepted { events_appended: 0, .. }));
    }
    assert_eq!(test.journal.read_entity(claim, 0).await.unwrap().len(), before);
    assert!(test.journal.remember_inbound(org, "835-file-hash").await.unwrap());
    assert!(!test.journal.remember_inbound(org, "835-file-hash").await.unwrap());
    test.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g4_verify_after_a_mixed_load_finds_no_difference() {
    let test = start(16, NodeConfig::default()).await;
    let org = load_org(1);
    let commands = send_journeys(&test.node, org, 60).await;
    assert_eq!(commands, 60 * 6 + 12);
    // Some claims passivated (snapshots to compare), the rest live.
    test.node.passivate_all().await;
    send_journeys(&test.node, load_org(2), 20).await;
    let report = verify(test.journal.as_ref(), Some(&test.node)).await.unwrap();
    assert!(report.ok(), "{report}");
    assert_eq!(report.entities.get("claim"), Some(&80));
    assert_eq!(report.claims_conserving, 80);
    assert_eq!(report.snapshots_compared, 60);
    assert_eq!(report.live_compared, 80);
    // Ends as the journeys say: every fifth claim written off, the rest paid or partly paid.
    let claim = claim_ref(org, ClaimId::derived(&[org.0.as_bytes(), &5u64.to_be_bytes()]));
    let state: ClaimState = codec::decode(&test.node.inspect(claim).await.unwrap().state).unwrap();
    assert_eq!(state.status, Some(ClaimStatus::WrittenOff));
    test.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_a_broken_history() {
    let test = start(4, NodeConfig::default()).await;
    let org = load_org(3);
    send_journeys(&test.node, org, 3).await;
    test.node.shutdown().await;
    // Append, behind the actors' back, a second copy of a claim's first command's event.
    let claim = claim_ref(org, ClaimId::derived(&[org.0.as_bytes(), &1u64.to_be_bytes()]));
    let history = test.journal.read_entity(claim, 0).await.unwrap();
    let mut copy: practice_protocol::envelope::EventEnvelope<practice_protocol::claim::ClaimEvent> =
        codec::decode(&history[1].payload).unwrap();
    copy.sequence = history.len() as u64 + 1;
    let shard = history[0].shard;
    let epoch = test.journal.fence(shard).await.unwrap();
    let batch = practice_actors::journal::AppendBatch {
        shard,
        epoch,
        events: vec![practice_actors::journal::PendingEvent {
            entity: claim,
            sequence: copy.sequence,
            message_id: "dup".into(),
            payload: codec::encode(&copy).unwrap(),
        }],
    };
    test.journal.append(batch).await.unwrap();
    let report = verify(test.journal.as_ref(), None).await.unwrap();
    assert!(!report.ok());
    assert!(report.violations.iter().any(|violation| violation.guarantee == "G3"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_actor_is_restarted_then_quarantined_past_its_intensity() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(FlakyJournal::over(SledJournal::open(&dir.path().join("journal"), 4).unwrap()));
    let config = NodeConfig { max_restarts: 2, restart_window: Duration::from_secs(30), ..NodeConfig::default() };
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    let node = Node::start_embedded(flaky.clone(), metrics, config).await.unwrap();
    let org = load_org(4);
    let journey = claim_journey(org, 2);
    assert!(node.send(journey[0].clone()).await.unwrap().is_accepted());
    flaky.fail_next(1);
    let failed = node.send(journey[1].clone()).await;
    assert!(matches!(failed, Err(SendError::Journal(_))), "{failed:?}");
    // Restarted from the journal: the same command now succeeds, once.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let retried = node.send(journey[1].clone()).await.unwrap();
    assert!(matches!(retried, Outcome::Accepted { events_appended: 1, version: 2, .. }), "{retried:?}");
    assert_eq!(node.stats().await.restarts, 1);
    // One more failure is the second restart; the next exceeds the intensity (2 in the
    // window) and the entity is quarantined instead of restarted.
    flaky.fail_next(2);
    for _ in 0..2 {
        assert!(node.send(journey[2].clone()).await.is_err());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resting = node.send(journey[2].clone()).await;
    assert_eq!(node.stats().await.restarts, 2);
    assert!(matches!(resting, Err(SendError::Quarantined { .. })), "{resting:?}");
    // Other claims are unaffected.
    assert!(node.send(claim_journey(org, 3)[0].clone()).await.unwrap().is_accepted());
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_cannot_be_rebuilt_answers_the_error_and_the_next_message_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(FlakyJournal::over(SledJournal::open(&dir.path().join("journal"), 4).unwrap()));
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    let node = Node::start_embedded(flaky.clone(), metrics, NodeConfig::default()).await.unwrap();
    let journey = claim_journey(load_org(5), 1);
    assert!(node.send(journey[0].clone()).await.unwrap().is_accepted());
    node.passivate_all().await;
    // The claim comes back on its next message; its journal tail cannot be read this once.
    flaky.fail_entity_reads(1);
    let failed = node.send(journey[1].clone()).await;
    assert!(matches!(failed, Err(SendError::Journal(_))), "{failed:?}");
    let retried = node.send(journey[1].clone()).await.unwrap();
    assert!(matches!(retried, Outcome::Accepted { events_appended: 1, version: 2, .. }), "{retried:?}");
    // Not a crash: no restart counted, nothing quarantined, the history has no gap.
    assert_eq!(node.stats().await.restarts, 0);
    assert_eq!(node.journal().read_entity(journey[1].entity, 0).await.unwrap().len(), 2);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tenant_and_wrong_kind_are_refused() {
    let test = start(4, NodeConfig::default()).await;
    let org = load_org(5);
    let mut command = claim_journey(org, 0).remove(0);
    command.actor = biller(OrgId(Uuid::new_v4()));
    let outcome = test.node.send(command).await.unwrap();
    assert!(matches!(outcome, Outcome::Rejected { rejection: EntityRejection::WrongOrganization, .. }));
    let mut command = claim_journey(org, 0).remove(0);
    command.entity.kind = practice_protocol::envelope::EntityKind::Payer;
    assert!(matches!(test.node.send(command).await, Err(SendError::WrongKind { .. })));
    test.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn practice_policy_reaches_claim_decisions() {
    use practice_protocol::practice::PracticeCommand;
    let test = start(4, NodeConfig::default()).await;
    let org = load_org(6);
    let admin = Actor::User { org, user: UserId(Uuid::from_u128(1)), role: Role::PracticeAdmin };
    let practice = practice_actors::runtime::PolicyBook::practice_ref(org);
    let set = CommandEnvelope {
        command_id: CommandId::new_v4(),
        entity: practice,
        issued_at: chrono::Utc::now(),
        actor: admin,
        command: EntityCommand::Practice(PracticeCommand::SetWriteOffThreshold {
            amount: rust_decimal::Decimal::from(10),
        }),
    };
    let outcome = test.node.send(set).await.unwrap();
    assert!(matches!(outcome, Outcome::Accepted { summary: Summary::Practice { .. }, .. }));
    // Claim 0 is denied then written off by an admin (allowed at any amount); a billing
    // manager's write-off above the new $10 threshold is refused.
    let mut journey = claim_journey(org, 0);
    let mut write_off = journey.pop().unwrap();
    for command in journey {
        assert!(test.node.send(command).await.unwrap().is_accepted());
    }
    write_off.actor = Actor::User { org, user: UserId(Uuid::from_u128(2)), role: Role::BillingManager };
    let refused = test.node.send(write_off).await.unwrap();
    assert!(matches!(refused, Outcome::Rejected { .. }), "{refused:?}");
    test.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_consumers_resume_from_their_durable_position() {
    let config = NodeConfig { consumer_poll: Duration::from_millis(20), consumer_batch: 7, ..NodeConfig::default() };
    let test = start(4, config).await;
    let seen = Arc::new(AtomicUsize::new(0));
    test.node.start_module(Box::new(Counting(EventTally::named("sentry"), seen.clone())), None).await.unwrap();
    let commands = send_journeys(&test.node, load_org(8), 10).await;
    let total = verify(test.journal.as_ref(), None).await.unwrap().events as usize;
    assert!(commands > 0);
    for _ in 0..200 {
        if seen.load(std::sync::atomic::Ordering::SeqCst) >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), total);
    test.node.shutdown().await;
    // A second run of the same consumer starts after the stored positions: sees nothing old.
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    let node = Node::start_embedded(
        test.journal.clone(),
        metrics,
        NodeConfig { consumer_poll: Duration::from_millis(20), ..NodeConfig::default() },
    )
    .await
    .unwrap();
    let again = Arc::new(AtomicUsize::new(0));
    node.start_module(Box::new(Counting(EventTally::named("sentry"), again.clone())), None).await.unwrap();
    send_journeys(&node, load_org(9), 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let new_events = node
        .journal()
        .read_entity(claim_ref(load_org(9), ClaimId::derived(&[load_org(9).0.as_bytes(), &0u64.to_be_bytes()])), 0)
        .await
        .unwrap()
        .len();
    assert_eq!(again.load(std::sync::atomic::Ordering::SeqCst), new_events);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_commands_events_actors_and_lag() {
    let dir = tempfile::tempdir().unwrap();
    let journal: Arc<dyn practice_actors::journal::Journal> =
        Arc::new(SledJournal::open(&dir.path().join("journal"), 4).unwrap());
    let registry = prometheus::Registry::new();
    let metrics = BackboneMetrics::register(&registry).unwrap();
    let config = NodeConfig { consumer_poll: Duration::from_millis(20), ..NodeConfig::default() };
    let node = Node::start_embedded(journal, metrics.clone(), config).await.unwrap();
    node.start_module(Box::new(EventTally::named("reclaim")), None).await.unwrap();
    send_journeys(&node, load_org(12), 3).await;
    let accepted = metrics.commands.with_label_values(&["claim", "create", "accepted"]).get();
    assert_eq!(accepted, 3);
    assert_eq!(metrics.events.with_label_values(&["claim", "ClaimCreated"]).get(), 3);
    assert_eq!(metrics.live_actors.with_label_values(&["claim"]).get(), 3);
    assert!(metrics.append_latency.get_sample_count() >= 19);
    node.passivate_all().await;
    assert_eq!(metrics.passivated_actors.get(), 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(metrics.module_events.with_label_values(&["reclaim", "ClaimCreated"]).get(), 3);
    // One lag gauge per shard the consumer reads, all at 0 once it caught up.
    let gathered = registry.gather().iter().map(|family| family.get_metric().len()).sum::<usize>();
    assert!(gathered > 0);
    for shard in 0..4 {
        let lag = metrics.consumer_lag.get_metric_with_label_values(&["reclaim", &shard.to_string()]).unwrap();
        assert_eq!(lag.get(), 0, "shard {shard}");
    }
    node.shutdown().await;
}
