//! Passivation at scale: 100,000 claims created in two waves of 50,000; between the waves
//! every idle actor snapshots and leaves memory. The second wave must fit in the memory the
//! first one gave back (glibc keeps freed memory for reuse rather than returning it to the
//! OS, so "memory drops" shows as reuse, not as a lower RSS). A passivated claim comes back
//! exactly. RSS comes from /proc/self/status; `PRACTICE_PASSIVATION_CLAIMS` changes the total.
//! A second test leaves passivation to the shards' timers while 5 % of the claims stay busy.

// RSS ratios are measurements, not money.
#![allow(clippy::float_arithmetic)]

mod support;

use practice_actors::entity::{Outcome, SendError};
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::{Node, NodeConfig};
use practice_protocol::claim::{ClaimState, ClaimStatus};
use practice_protocol::codec;
use std::sync::Arc;
use std::time::Instant;
use support::{rss_kib, start};
use tokio::sync::Semaphore;

async fn create(node: &Node, from: u64, to: u64) {
    let org = load_org(42);
    let permits = Arc::new(Semaphore::new(512));
    let mut tasks = Vec::with_capacity((to - from) as usize);
    for index in from..to {
        let node = node.clone();
        let permit = permits.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let outcome = node.send(claim_journey(org, index).remove(0)).await;
            drop(permit);
            outcome
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap().is_accepted());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_claims_passivate_and_come_back_exactly() {
    let claims: u64 = std::env::var("PRACTICE_PASSIVATION_CLAIMS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let wave = claims / 2;
    // No timer passivation during the run: this test passivates explicitly.
    let config = NodeConfig { idle_after: std::time::Duration::from_secs(3600), ..NodeConfig::default() };
    let test = start(64, config).await;
    let rss_start = rss_kib();
    let started = Instant::now();

    create(&test.node, 0, wave).await;
    assert_eq!(test.node.stats().await.live as u64, wave);
    let rss_first_wave = rss_kib();
    let probe = claim_journey(load_org(42), 7);
    let entity = probe[0].entity;
    let before = test.node.inspect(entity).await.unwrap();
    assert_eq!(test.node.passivate_all().await as u64, wave);
    let stats = test.node.stats().await;
    assert_eq!((stats.live, stats.passivated as u64), (0, wave));

    create(&test.node, wave, 2 * wave).await;
    let rss_second_wave = rss_kib();
    assert_eq!(test.node.passivate_all().await as u64, wave);
    let first_growth = rss_first_wave.saturating_sub(rss_start);
    let total_growth = rss_second_wave.saturating_sub(rss_start);
    println!(
        "passivation: {} claims in {:.1} s; RSS start {rss_start} KiB, {wave} live {rss_first_wave} KiB \
         ({:.2} KiB per live claim), after passivating them and {wave} more live {rss_second_wave} KiB",
        2 * wave,
        started.elapsed().as_secs_f64(),
        first_growth as f64 / wave as f64
    );
    // Without passivation the second wave would double the growth.
    assert!(
        total_growth * 2 < first_growth * 3,
        "memory was not given back: +{first_growth} KiB for the first wave, +{total_growth} KiB after both"
    );

    // Rehydrated from its snapshot: the same state, and its history continues in order.
    let after = test.node.inspect(entity).await.unwrap();
    assert_eq!(after, before);
    match test.node.send(probe[1].clone()).await.unwrap() {
        Outcome::Accepted { version, events_appended, .. } => assert_eq!((version, events_appended), (2, 1)),
        other => panic!("sign-off after rehydration: {other:?}"),
    }
    let state: ClaimState = codec::decode(&test.node.inspect(entity).await.unwrap().state).unwrap();
    assert!(state.signed_off);
    assert_eq!(state.status, Some(ClaimStatus::Draft));
    assert_eq!(test.node.stats().await.live, 1);
    test.node.shutdown().await;
}

/// The shards' own timers passivate idle claims while a few stay busy: 20,000 claims, 5 %
/// kept active by commands; the idle ones leave memory (live falls to at most the active
/// set, the gauge agrees), and a claim the timer passivated rehydrates exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_passivates_idle_claims_and_keeps_busy_ones() {
    let claims: u64 = 20_000;
    let active: u64 = claims / 20;
    let config = NodeConfig {
        idle_after: std::time::Duration::from_secs(2),
        passivation_check: std::time::Duration::from_millis(200),
        ..NodeConfig::default()
    };
    let test = start(64, config).await;
    let org = load_org(43);
    let idle_probe = claim_journey(org, claims - 1)[0].entity;
    create_for(&test.node, org, 0, claims).await;
    let before = test.node.inspect(idle_probe).await.unwrap();

    // Keep the first `active` claims busy (the same sign-off again and again: G3 answers it
    // without an append) until the timers have dropped everything else.
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    loop {
        for index in 0..active {
            let sign_off = claim_journey(org, index).remove(1);
            assert!(test.node.send(sign_off).await.unwrap().is_accepted());
        }
        let stats = test.node.stats().await;
        if stats.live as u64 <= active && stats.passivated as u64 >= claims - active {
            assert_eq!(stats.live + stats.passivated, claims as usize, "{stats:?}");
            assert_gauge_agrees(&test.node).await;
            break;
        }
        assert!(Instant::now() < deadline, "idle claims were not passivated: {stats:?}");
    }

    // The probe was passivated by the timer; it comes back exactly as it was.
    let after = test.node.inspect(idle_probe).await.unwrap();
    assert_eq!(after, before);
    let busy: ClaimState =
        codec::decode(&test.node.inspect(claim_journey(org, 0)[0].entity).await.unwrap().state).unwrap();
    assert!(busy.signed_off);
    test.node.shutdown().await;
}

/// The passivated gauge equals the shards' own count. The timers keep running, so compare
/// only when two stats reads around the gauge read agree (nothing moved in between).
async fn assert_gauge_agrees(node: &Node) {
    for _ in 0..100 {
        let first = node.stats().await.passivated as i64;
        let gauge = node.runtime().metrics.passivated_actors.get();
        if node.stats().await.passivated as i64 == first {
            assert_eq!(gauge, first);
            return;
        }
    }
    panic!("the passivated count never held still for one gauge read");
}

async fn create_for(node: &Node, org: practice_protocol::ids::OrgId, from: u64, to: u64) {
    let permits = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity((to - from) as usize);
    for index in from..to {
        let node = node.clone();
        let permit = permits.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let outcome = node.send(claim_journey(org, index).remove(0)).await;
            drop(permit);
            outcome
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap().is_accepted());
    }
}

/// Idle actors hibernate — they stay live, holding their state encoded — and wake exactly: a
/// hibernated claim inspects the same, takes its next command at the next sequence, answers a
/// repeated command without a second effect (G3), and passivates with the same snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_claims_hibernate_and_wake_exactly() {
    let claims: u64 = 2_000;
    let config = NodeConfig {
        idle_after: std::time::Duration::from_secs(3600),
        hibernate_after: std::time::Duration::from_millis(200),
        passivation_check: std::time::Duration::from_millis(50),
        ..NodeConfig::default()
    };
    let test = start(64, config).await;
    let org = load_org(44);
    create_for(&test.node, org, 0, claims).await;
    let journey = claim_journey(org, 3);
    let entity = journey[0].entity;
    let awake = test.node.inspect(entity).await.unwrap();

    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while test.node.stats().await.hibernated < claims as usize {
        assert!(Instant::now() < deadline, "idle claims did not hibernate: {:?}", test.node.stats().await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stats = test.node.stats().await;
    assert_eq!((stats.live, stats.passivated), (claims as usize, 0), "hibernated actors stay live");
    assert_eq!(test.node.runtime().metrics.hibernated_actors.get(), claims as i64, "the gauge counts them");
    // Inspecting reads the encoded state without waking it; a read copies the same state.
    assert_eq!(test.node.inspect(entity).await.unwrap(), awake);
    let (version, copy) = test.node.read::<ClaimState>(entity).await.unwrap();
    assert_eq!((version, copy), (awake.version, codec::decode::<ClaimState>(&awake.state).unwrap()));

    match test.node.send(journey[0].clone()).await.unwrap() {
        Outcome::Accepted { version, events_appended, .. } => assert_eq!((version, events_appended), (1, 0)),
        other => panic!("a repeated create on a hibernated claim: {other:?}"),
    }
    match test.node.send(journey[1].clone()).await.unwrap() {
        Outcome::Accepted { version, events_appended, .. } => assert_eq!((version, events_appended), (2, 1)),
        other => panic!("sign-off on a woken claim: {other:?}"),
    }
    assert!(test.node.stats().await.hibernated < claims as usize, "the woken claim is not hibernated");
    let signed: ClaimState = codec::decode(&test.node.inspect(entity).await.unwrap().state).unwrap();
    assert!(signed.signed_off);
    // A live (awake) claim's read is its state as it is; asked as another kind's state, an error.
    assert_eq!(test.node.read::<ClaimState>(entity).await.unwrap(), (2, signed));
    let wrong = test.node.read::<practice_protocol::practice::PracticeState>(entity).await;
    assert!(matches!(&wrong, Err(SendError::Codec(message)) if message.contains("claim")), "{wrong:?}");

    // Passivating a hibernated actor snapshots its encoded state as it is.
    let other = claim_journey(org, 11)[0].entity;
    let before = test.node.inspect(other).await.unwrap();
    assert_eq!(test.node.passivate_all().await as u64, claims);
    assert_eq!(test.node.inspect(other).await.unwrap(), before);
    // Read back after passivation: rebuilt from the snapshot, the same state.
    let (version, rebuilt) = test.node.read::<ClaimState>(other).await.unwrap();
    assert_eq!((version, rebuilt), (before.version, codec::decode::<ClaimState>(&before.state).unwrap()));
    assert_eq!(test.node.runtime().metrics.hibernated_actors.get(), 0, "none live, none hibernated");
    test.node.shutdown().await;
}

/// A 64-shard node holding at most `max_live` live actors, with no idle-time passivation.
async fn start_bounded(max_live: usize) -> support::TestNode {
    let idle_after = std::time::Duration::from_secs(3600);
    start(64, NodeConfig { idle_after, max_live_actors: Some(max_live), ..NodeConfig::default() }).await
}

/// A node bounded to 640 live actors (10 per shard) holds no more than that however fast
/// claims arrive: the least recently used go first, every claim is either live or
/// passivated, and an evicted claim comes back exactly and continues in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_bound_passivates_the_least_recently_used() {
    let claims: u64 = 5_000;
    let test = start_bounded(640).await;
    let org = load_org(45);
    let first = claim_journey(org, 0);
    create_for(&test.node, org, 0, 1).await;
    let before = test.node.inspect(first[0].entity).await.unwrap();
    create_for(&test.node, org, 1, claims).await;

    let stats = test.node.stats().await;
    assert!(stats.live <= 640, "the bound did not hold: {stats:?}");
    assert!(stats.live >= 64 * 8, "far more was passivated than the bound asks: {stats:?}");
    assert_eq!(stats.live + stats.passivated, claims as usize, "{stats:?}");
    assert_gauge_agrees(&test.node).await;

    // The first claim was the least recently used of its shard long ago: passivated, it
    // rehydrates the same and takes its next command at the next sequence.
    assert_eq!(test.node.inspect(first[0].entity).await.unwrap(), before);
    match test.node.send(first[1].clone()).await.unwrap() {
        Outcome::Accepted { version, events_appended, .. } => assert_eq!((version, events_appended), (2, 1)),
        other => panic!("sign-off after eviction: {other:?}"),
    }
    assert!(test.node.stats().await.live <= 640);
    test.node.shutdown().await;
}

/// An entity is never given a second actor while its first is still passivating: with one
/// live actor per shard, claims of a shard evict each other all the time, and each claim gets
/// the same sign-off twice at once. Every command gets its outcome (no sequence conflict from
/// two actors deciding on one history), and each claim is signed off exactly once (G1, G3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_for_a_passivating_claim_wait_for_its_next_actor() {
    let claims: u64 = 600;
    let test = start_bounded(64).await;
    let org = load_org(46);
    create_for(&test.node, org, 0, claims).await;
    let mut tasks = Vec::new();
    for index in 0..claims {
        for _ in 0..2 {
            let node = test.node.clone();
            tasks.push(tokio::spawn(async move { node.send(claim_journey(org, index).remove(1)).await }));
        }
    }
    let mut appended = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Outcome::Accepted { events_appended, .. }) => appended += events_appended,
            other => panic!("a sign-off got {other:?}"),
        }
    }
    assert_eq!(appended as u64, claims, "each claim signed off once");
    for index in [0, claims / 2, claims - 1] {
        let state: ClaimState =
            codec::decode(&test.node.inspect(claim_journey(org, index)[0].entity).await.unwrap().state).unwrap();
        assert!(state.signed_off);
        assert_eq!(state.version, 2);
    }
    assert!(test.node.stats().await.live <= 64);
    test.node.shutdown().await;
}
