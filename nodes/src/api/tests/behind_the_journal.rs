//! A projection that follows the journal from behind (a cluster node's, or one whose process
//! was paused) must not send an answer for a claim it has not read yet to suspense: the
//! ingestion's directory catches the list up before it calls a control number unknown.

use crate::api::ingest::ServiceDirectory;
use crate::api::node::NodeClaimService;
use crate::api::service::{ClaimFilter, ClaimService};
use practice_actors::ingest::pipeline::ClaimDirectory;
use practice_actors::journal::SledJournal;
use practice_actors::metrics::BackboneMetrics;
use practice_actors::synthetic::claim_journey;
use practice_actors::{EntityCommand, Node, NodeConfig, Outcome};
use practice_protocol::claim::ClaimCommand;
use practice_protocol::ids::OrgId;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_claim_appended_behind_the_lists_back_is_found_not_suspended() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = Arc::new(SledJournal::open(&dir.path().join("journal"), 8).expect("journal"));
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).expect("metrics");
    let node = Node::start_embedded(journal, metrics, NodeConfig::default()).await.expect("node");
    // A follower that, once caught up, would not look again for an hour.
    let service = NodeClaimService::start_polling(node.clone(), Duration::from_secs(3600));
    let started = Instant::now();
    while !service.ready() {
        assert!(started.elapsed() < Duration::from_secs(10), "the projection never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Created straight through the node, as another node's API would: this service's list
    // only learns of it from the journal.
    let org = OrgId::new_v4();
    let create = claim_journey(org, 7).remove(0);
    let EntityCommand::Claim(ClaimCommand::Create { claim }) = &create.command else {
        panic!("a journey starts with its create: {:?}", create.command)
    };
    let (id, number) = (claim.id, claim.patient_control_number.to_string());
    let outcome = node.send(create).await.expect("sent");
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    let listed = service.list(org, ClaimFilter::default()).await.expect("list");
    assert!(listed.is_empty(), "the list was meant to be behind the journal here: {}", listed.len());

    let directory = ServiceDirectory { service: service.clone() };
    let asked = Instant::now();
    let found = directory.claims_by_control_number(org, vec![number, "NOT-OURS-1".into()]).await.expect("looked up");
    let found: Vec<_> = found.iter().map(|claim| claim.id).collect();
    assert_eq!(found, vec![id]);
    // Caught up on request, not at the follower's next hourly look.
    assert!(asked.elapsed() < Duration::from_secs(60), "{:?}", asked.elapsed());
    assert_eq!(service.list(org, ClaimFilter::default()).await.expect("list").len(), 1);
    node.shutdown().await;
}
