//! Passivation at scale: 100,000 claims, then all idle → their actors snapshot and leave
//! memory; a passivated claim comes back exactly. Prints RSS figures (from
//! /proc/self/status); `PRACTICE_PASSIVATION_CLAIMS` changes the count.

mod support;

use practice_actors::entity::Outcome;
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::NodeConfig;
use practice_protocol::claim::{ClaimState, ClaimStatus};
use practice_protocol::codec;
use std::sync::Arc;
use std::time::Instant;
use support::{rss_kib, start};
use tokio::sync::Semaphore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_claims_passivate_and_come_back_exactly() {
    let claims: u64 = std::env::var("PRACTICE_PASSIVATION_CLAIMS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    // No timer passivation during the run: this test passivates explicitly.
    let config = NodeConfig { idle_after: std::time::Duration::from_secs(3600), ..NodeConfig::default() };
    let test = start(64, config).await;
    let org = load_org(42);
    let rss_start = rss_kib();
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(512));
    let mut tasks = Vec::with_capacity(claims as usize);
    for index in 0..claims {
        let node = test.node.clone();
        let permit = permits.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let create = claim_journey(org, index).remove(0);
            let outcome = node.send(create).await;
            drop(permit);
            outcome
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap().is_accepted());
    }
    println!("passivation: {claims} creates in {:.1} s", started.elapsed().as_secs_f64());
    let live = test.node.stats().await;
    assert_eq!(live.live as u64, claims);
    let rss_live = rss_kib();
    let probe = claim_journey(org, 7);
    let entity = probe[0].entity;
    let before = test.node.inspect(entity).await.unwrap();

    let passivated = test.node.passivate_all().await;
    assert_eq!(passivated as u64, claims);
    let stats = test.node.stats().await;
    assert_eq!((stats.live, stats.passivated as u64), (0, claims));
    let rss_passivated = rss_kib();
    println!(
        "passivation: {claims} claims; RSS start {rss_start} KiB, all live {rss_live} KiB \
         ({:.2} KiB per live claim), all passivated {rss_passivated} KiB",
        (rss_live.saturating_sub(rss_start)) as f64 / claims as f64
    );
    // The memory the live actors held is released (the allocator may keep some of it).
    assert!(rss_passivated < rss_live, "RSS did not drop: {rss_live} KiB live, {rss_passivated} KiB passivated");

    // Rehydrated from its snapshot: the same state, and its history continues in order.
    let after = test.node.inspect(entity).await.unwrap();
    assert_eq!(after, before);
    let sign_off = probe[1].clone();
    match test.node.send(sign_off).await.unwrap() {
        Outcome::Accepted { version, events_appended, .. } => assert_eq!((version, events_appended), (2, 1)),
        other => panic!("sign-off after rehydration: {other:?}"),
    }
    let state: ClaimState = codec::decode(&test.node.inspect(entity).await.unwrap().state).unwrap();
    assert!(state.signed_off);
    assert_eq!(state.status, Some(ClaimStatus::Draft));
    assert_eq!(test.node.stats().await.live, 1);
    test.node.shutdown().await;
}
