//! Leases in JetStream KV on a real server: create-only acquisition, compare-and-set renewal,
//! expiry on the server's clock, release, and membership that ages out.

use practice_nodes::cluster::leases::{Acquire, LeaseStore};
use practice_nodes::jetstream::connect;
use practice_protocol::shard::ShardId;
use std::time::Duration;

#[tokio::test]
async fn leases_are_compare_and_set_and_expire() {
    let server = match practice_tests::nats::NatsServer::start() {
        Ok(server) => server,
        Err(error) if std::env::var_os("CI").is_none() => return eprintln!("skipping: {error:#}"),
        Err(error) => panic!("CI needs nats-server: {error:#}"),
    };
    let timeout = Duration::from_millis(1200);
    let leases = LeaseStore::open(connect(&server.url(), "leases").await.unwrap(), timeout, 1).await.unwrap();
    let shard = ShardId(7);

    let Acquire::Acquired(revision) = leases.try_acquire(shard, "a").await.unwrap() else { panic!("free lease") };
    assert_eq!(leases.try_acquire(shard, "b").await.unwrap(), Acquire::Held("a".into()));
    let renewed = leases.renew(shard, "a", revision).await.unwrap().expect("a holds it");
    // A stale revision (a renewal racing a takeover) is refused.
    assert_eq!(leases.renew(shard, "a", revision).await.unwrap(), None);
    assert_eq!(leases.holder(shard).await.unwrap().as_deref(), Some("a"));

    // Not renewed: the server expires it and another node takes it.
    tokio::time::sleep(timeout * 2).await;
    assert_eq!(leases.holder(shard).await.unwrap(), None);
    let Acquire::Acquired(taken) = leases.try_acquire(shard, "b").await.unwrap() else { panic!("expired lease") };
    assert_eq!(leases.renew(shard, "a", renewed).await.unwrap(), None, "the old holder cannot renew");

    // Released leases are free at once.
    leases.release(shard, taken).await.unwrap();
    assert!(matches!(leases.try_acquire(shard, "c").await.unwrap(), Acquire::Acquired(_)));

    // Membership: a heartbeat that stops ages out.
    leases.heartbeat("a").await.unwrap();
    leases.heartbeat("b").await.unwrap();
    assert_eq!(leases.live_nodes().await.unwrap(), vec!["a".to_string(), "b".to_string()]);
    leases.leave("b").await.unwrap();
    assert_eq!(leases.live_nodes().await.unwrap(), vec!["a".to_string()]);
    tokio::time::sleep(timeout * 2).await;
    assert!(leases.live_nodes().await.unwrap().is_empty());
}
