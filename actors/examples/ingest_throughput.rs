//! Ingestion throughput, reported not asserted: N submitted claims on an embedded node, one
//! 835 paying all of them, ingested once (posts) and again (a redelivery: no events).
//! `cargo run -p practice-actors --example ingest_throughput [--release] -- [CLAIMS]`

use practice_actors::ingest::pipeline::{Ingestor, MemoryDirectory};
use practice_actors::ingest::sample::{era_835, payment};
use practice_actors::journal::{Journal, SledJournal};
use practice_actors::metrics::BackboneMetrics;
use practice_actors::{Node, NodeConfig};
use practice_protocol::claim::ClaimCommand;
use practice_protocol::fixtures::office_visit_claim;
use practice_protocol::ids::{CommandId, OrgId, UserId};
use practice_protocol::roles::{Actor, Role};
use practice_protocol::Currency;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let claims: u32 = std::env::args().nth(1).map(|arg| arg.parse()).transpose()?.unwrap_or(2_000);
    let dir = tempfile::tempdir()?;
    let journal: Arc<dyn Journal> = Arc::new(SledJournal::open(&dir.path().join("journal"), 64)?);
    let node =
        Node::start_embedded(journal, BackboneMetrics::register(&prometheus::Registry::new())?, NodeConfig::default())
            .await?;
    let directory = Arc::new(MemoryDirectory::default());
    let org = OrgId::new_v4();
    let user = |role| Actor::User { org, user: UserId::new_v4(), role };
    let mut payments = Vec::new();
    for n in 0..claims {
        let claim = office_visit_claim(org, n);
        let handle = node.claim(org, claim.id);
        for (role, command) in [
            (Role::CoderBiller, ClaimCommand::Create { claim: Box::new(claim.clone()) }),
            (Role::Clinician, ClaimCommand::SignOff),
            (Role::CoderBiller, ClaimCommand::Scrub { findings: Vec::new() }),
            (Role::BillingManager, ClaimCommand::Submit { tracking_id: "B".into() }),
        ] {
            handle.send(user(role), CommandId::new_v4(), command).await?;
        }
        payments.push(payment(&claim, &claim.patient_control_number));
        directory.insert(claim);
    }
    let file = era_835(payments, Vec::new())?;
    let ingestor = Ingestor::new(node.clone(), directory, Currency::USD);
    for run in ["first delivery", "redelivery"] {
        let started = Instant::now();
        let report = ingestor.ingest(org, &file).await?;
        // Integer arithmetic: the workspace lints keep floats out.
        let micros = started.elapsed().as_micros().max(1);
        println!(
            "{run}: {} claims, {} bytes, {} applied, {} events in {} ms = {} claim payments/s",
            report.commands,
            file.len(),
            report.applied,
            report.events_appended,
            micros / 1000,
            report.commands as u128 * 1_000_000 / micros
        );
    }
    node.shutdown().await;
    Ok(())
}
