//! The journal conformance suite (the same checks the sled journal passes) against the
//! JetStream journal on a real nats-server. Each store is its own server; reopening a store
//! kills that server with SIGKILL and restarts it on the same directory, so "durable across
//! reopen" here also means "survives a crash of NATS".

use practice_actors::journal::conformance::{run_all, BoxFuture, CreatedStore, JournalHarness};
use practice_actors::journal::{Journal, JournalError};
use practice_nodes::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use practice_tests::nats::NatsServer;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct JetStreamHarness {
    servers: Mutex<Vec<NatsServer>>,
    /// Heads and epoch markers read from the stream's leader, as a replicated stream's are.
    read_from_leader: bool,
}

fn unavailable(error: impl std::fmt::Display) -> JournalError {
    JournalError::Unavailable(error.to_string())
}

async fn open(url: &str, shard_count: u16, read_from_leader: bool) -> Result<Arc<dyn Journal>, JournalError> {
    let client = connect(url, "conformance").await?;
    let settings = JetStreamSettings { shard_count, read_from_leader, ..Default::default() };
    let journal = JetStreamJournal::open(client, settings).await?;
    Ok(journal as Arc<dyn Journal>)
}

impl JournalHarness for JetStreamHarness {
    fn create(&self, shard_count: u16) -> BoxFuture<'_, Result<CreatedStore, JournalError>> {
        Box::pin(async move {
            let server = NatsServer::start().map_err(unavailable)?;
            let url = server.url();
            let index = {
                let mut servers = self.servers.lock().map_err(unavailable)?;
                servers.push(server);
                servers.len() - 1
            };
            Ok((index.to_string(), open(&url, shard_count, self.read_from_leader).await?))
        })
    }

    fn reopen(
        &self,
        token: String,
        journal: Arc<dyn Journal>,
        shard_count: u16,
    ) -> BoxFuture<'_, Result<Arc<dyn Journal>, JournalError>> {
        Box::pin(async move {
            drop(journal);
            let index: usize = token.parse().map_err(unavailable)?;
            let url = {
                let mut servers = self.servers.lock().map_err(unavailable)?;
                let server = servers.get_mut(index).ok_or_else(|| unavailable("no such store"))?;
                server.restart().map_err(unavailable)?;
                server.url()
            };
            open(&url, shard_count, self.read_from_leader).await
        })
    }
}

async fn passes_the_suite(harness: JetStreamHarness) {
    if let Err(error) = practice_tests::nats::find_nats_server() {
        assert!(std::env::var_os("CI").is_none(), "CI needs nats-server: {error:#}");
        eprintln!("skipping: {error:#}");
        return;
    }
    let failures = run_all(&harness).await;
    assert!(failures.is_empty(), "{}", failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_journal_passes_the_conformance_suite() {
    passes_the_suite(JetStreamHarness::default()).await;
}

/// With the reads an append is planned on going to the stream's leader (the JetStream API's
/// message get), as on a replicated stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_journal_reading_from_the_leader_passes_the_conformance_suite() {
    passes_the_suite(JetStreamHarness { read_from_leader: true, ..Default::default() }).await;
}
