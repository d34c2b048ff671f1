//! A loopback cluster for the process tests: one real nats-server and real `practice node`
//! processes, plus in-process helpers to read leases, drive load and verify the journal.

#![allow(dead_code)]

use practice_actors::verify::{verify, VerifyReport};
use practice_nodes::cluster::assign::assign;
use practice_nodes::cluster::leases::LeaseStore;
use practice_nodes::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::{shard_of, ShardId};
use practice_tests::nats::{NatsServer, Process};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const LEASE_TIMEOUT: Duration = Duration::from_millis(1500);
pub const SHARDS: u16 = 64;

pub struct Cluster {
    pub server: NatsServer,
    pub nodes: BTreeMap<String, Process>,
    pub logs: tempfile::TempDir,
}

/// Start a server, or skip (return None) when none is installed, except under CI.
pub fn start_server() -> Option<NatsServer> {
    start_server_with(NatsServer::start)
}

/// [`start_server`] with the largest message the server takes set to `max_payload`.
pub fn start_server_with_max_payload(max_payload: &str) -> Option<NatsServer> {
    start_server_with(|| NatsServer::start_with_max_payload(max_payload))
}

/// A claim of a test organization that lands on `shard` of `SHARDS`; `salt` picks another one.
pub fn claim_on(shard: ShardId, salt: u128) -> EntityRef {
    let org = OrgId(uuid::Uuid::from_u128(0xfeed));
    (0..u128::MAX)
        .map(|index| EntityRef { org, kind: EntityKind::Claim, id: uuid::Uuid::from_u128(salt * 1_000_003 + index) })
        .find(|entity| shard_of(entity, SHARDS) == shard)
        .unwrap()
}

fn start_server_with(start: impl FnOnce() -> anyhow::Result<NatsServer>) -> Option<NatsServer> {
    match start() {
        Ok(server) => Some(server),
        Err(error) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping: {error:#}");
            None
        }
        Err(error) => panic!("CI needs nats-server: {error:#}"),
    }
}

impl Cluster {
    pub fn start() -> Option<Self> {
        let server = start_server()?;
        Some(Self { server, nodes: BTreeMap::new(), logs: tempfile::tempdir().ok()? })
    }

    pub fn start_node(&mut self, id: &str, extra: &[&str]) {
        let mut args: Vec<String> = vec![
            "node".into(),
            "--nats".into(),
            self.server.url(),
            "--node-id".into(),
            id.into(),
            "--lease-timeout-ms".into(),
            LEASE_TIMEOUT.as_millis().to_string(),
        ];
        args.extend(extra.iter().map(|arg| arg.to_string()));
        let log = self.logs.path().join(format!("{id}.log"));
        let process = Process::spawn(id, &practice_binary(), &args, &log).expect("spawn node");
        self.nodes.insert(id.to_string(), process);
    }

    pub fn node(&mut self, id: &str) -> &mut Process {
        self.nodes.get_mut(id).expect("no such node")
    }

    pub fn logs_of_all(&self) -> String {
        self.nodes.iter().map(|(id, node)| format!("--- {id}\n{}", node.log())).collect()
    }

    pub async fn client(&self) -> async_nats::Client {
        connect(&self.server.url(), "test").await.expect("connect")
    }

    pub async fn journal(&self) -> Arc<JetStreamJournal> {
        let settings = JetStreamSettings { shard_count: SHARDS, ..Default::default() };
        JetStreamJournal::open(self.client().await, settings).await.expect("journal")
    }

    /// Shard holders now.
    pub async fn holders(&self) -> BTreeMap<u16, Option<String>> {
        let leases = LeaseStore::open(self.client().await, LEASE_TIMEOUT, 1).await.expect("leases");
        leases.holders(SHARDS).await.expect("holders").into_iter().map(|(shard, holder)| (shard.0, holder)).collect()
    }

    /// Wait until the holders are exactly the fair assignment over `nodes`.
    pub async fn wait_balanced(&self, nodes: &[&str], within: Duration) -> BTreeMap<u16, Option<String>> {
        let deadline = Instant::now() + within;
        let names: Vec<String> = nodes.iter().map(|node| node.to_string()).collect();
        let expected: BTreeMap<u16, Option<String>> =
            assign(&names, SHARDS).into_iter().map(|(shard, owner)| (shard.0, Some(owner))).collect();
        loop {
            let holders = self.holders().await;
            if holders == expected {
                return holders;
            }
            if Instant::now() > deadline {
                panic!("shards not balanced over {nodes:?} within {within:?}: {holders:?}\n{}", self.logs_of_all());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn verify(&self) -> VerifyReport {
        let journal = self.journal().await;
        verify(journal.as_ref(), None).await.expect("verify")
    }
}

pub fn practice_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_practice"))
}

/// How many events the synthetic journeys of claims `0..claims` append when each command is
/// applied once: the pure state machine, run here, is the reference.
pub fn expected_events(seed: u64, claims: u64) -> u64 {
    use practice_actors::synthetic::{claim_journey, load_org};
    use practice_actors::EntityCommand;
    use practice_protocol::claim::{decide, ClaimState, DecideContext};
    let context = DecideContext::at(chrono::Utc::now());
    let mut total = 0;
    for index in 0..claims {
        let mut state = ClaimState::default();
        for envelope in claim_journey(load_org(seed), index) {
            let EntityCommand::Claim(command) = &envelope.command else { continue };
            let events = decide(&state, envelope.command_id, command, &envelope.actor, &context).expect("journey step");
            for event in &events {
                state.apply(event);
            }
            state.applied_commands.insert(envelope.command_id);
            total += events.len() as u64;
        }
    }
    total
}
