//! A claim actor whose first message creates the claim decides it without reading the journal:
//! the journal's sequence check proves the claim new. Its answers are the ones an actor that
//! loaded first gives: a Create for a claim that exists (the same command again, or another)
//! and a refused Create both fall back to a loaded decision, count nothing twice and change no
//! history.

mod support;

use practice_actors::entity::{EntityCommand, EntityRejection, Outcome};
use practice_actors::journal::SledJournal;
use practice_actors::metrics::BackboneMetrics;
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::{Node, NodeConfig};
use practice_protocol::claim::{ClaimCommand, Rejection};
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::ids::CommandId;
use std::sync::Arc;
use support::FlakyJournal;
use uuid::Uuid;

struct Setup {
    node: Node,
    journal: Arc<FlakyJournal>,
    metrics: BackboneMetrics,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(FlakyJournal::over(SledJournal::open(&dir.path().join("journal"), 4).unwrap()));
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    let node = Node::start_embedded(journal.clone(), metrics.clone(), NodeConfig::default()).await.unwrap();
    Setup { node, journal, metrics, _dir: dir }
}

fn with_new_id(mut envelope: CommandEnvelope<EntityCommand>) -> CommandEnvelope<EntityCommand> {
    envelope.command_id = CommandId(Uuid::new_v4());
    envelope
}

fn create_count(metrics: &BackboneMetrics, outcome: &str) -> u64 {
    metrics.commands.with_label_values(&["claim", "create", outcome]).get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_claims_are_created_without_a_journal_read() {
    let Setup { node, journal, metrics, _dir } = setup().await;
    let journeys: Vec<_> = (0..20).map(|index| claim_journey(load_org(30), index)).collect();
    for journey in &journeys {
        let created = node.send(journey[0].clone()).await.unwrap();
        assert!(matches!(created, Outcome::Accepted { events_appended: 1, version: 1, .. }), "{created:?}");
        let signed = node.send(journey[1].clone()).await.unwrap();
        assert!(matches!(signed, Outcome::Accepted { events_appended: 1, version: 2, .. }), "{signed:?}");
    }
    assert_eq!(journal.claim_reads(), 0, "a new claim's actor read the journal");
    assert_eq!(create_count(&metrics, "accepted"), 20);
    // A batch that starts with the Create is decided as new too.
    let journey = claim_journey(load_org(30), 20);
    let outcomes = node.send_batch(journey[0].entity, journey[..3].to_vec()).await;
    let versions: Vec<_> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(Outcome::Accepted { version, .. }) => *version,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert_eq!(journal.claim_reads(), 0);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_for_an_existing_claim_gets_the_answer_of_a_loaded_actor() {
    let Setup { node, journal, metrics, _dir } = setup().await;
    let journey = claim_journey(load_org(31), 0);
    let entity = journey[0].entity;
    assert!(node.send(journey[0].clone()).await.unwrap().is_accepted());
    assert!(node.send(journey[1].clone()).await.unwrap().is_accepted());
    // Passivated: the next message meets an actor that has not loaded.
    node.passivate_all().await;
    let again = node.send(journey[0].clone()).await.unwrap();
    assert!(matches!(again, Outcome::Accepted { events_appended: 0, version: 2, .. }), "{again:?}");
    assert!(journal.claim_reads() > 0, "the fallback did not load the claim");
    node.passivate_all().await;
    let other = node.send(with_new_id(journey[0].clone())).await.unwrap();
    assert!(
        matches!(other, Outcome::Rejected { rejection: EntityRejection::Claim(Rejection::AlreadyExists), .. }),
        "{other:?}"
    );
    // The same answers from the actor now loaded, and a history untouched.
    let loaded = node.send(with_new_id(journey[0].clone())).await.unwrap();
    assert!(matches!(loaded, Outcome::Rejected { .. }), "{loaded:?}");
    assert_eq!(node.journal().read_entity(entity, 0).await.unwrap().len(), 2);
    assert_eq!(create_count(&metrics, "failed"), 0, "a fallback was counted as a failed command");
    assert_eq!(create_count(&metrics, "accepted"), 2);
    assert_eq!(node.stats().await.restarts, 0);
    let next = node.send(journey[2].clone()).await.unwrap();
    assert!(matches!(next, Outcome::Accepted { events_appended: 1, version: 3, .. }), "{next:?}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_create_leaves_nothing_behind_for_the_next_command() {
    let Setup { node, journal: _, metrics, _dir } = setup().await;
    let journey = claim_journey(load_org(32), 0);
    let mut invalid = with_new_id(journey[0].clone());
    if let EntityCommand::Claim(ClaimCommand::Create { claim }) = &mut invalid.command {
        claim.lines.clear();
    }
    let refused = node.send(invalid).await.unwrap();
    assert!(
        matches!(refused, Outcome::Rejected { rejection: EntityRejection::Claim(Rejection::Invalid(_)), .. }),
        "{refused:?}"
    );
    assert_eq!(create_count(&metrics, "rejected"), 1);
    // The actor holds the claim as loaded (none), not the refused Create's state.
    let early = node.send(journey[1].clone()).await.unwrap();
    assert!(matches!(early, Outcome::Rejected { rejection: EntityRejection::Claim(Rejection::NotFound), .. }));
    let created = node.send(journey[0].clone()).await.unwrap();
    assert!(matches!(created, Outcome::Accepted { events_appended: 1, version: 1, .. }), "{created:?}");
    assert_eq!(node.journal().read_entity(journey[0].entity, 0).await.unwrap().len(), 1);
    node.shutdown().await;
}
