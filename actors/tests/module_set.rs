//! The module consumers of a cluster node (`ModuleSet`) as its lease loop drives them:
//! adding a shard never waits on the journal, a shard whose stored position cannot be read
//! yet is retried until it can, and a shard dropped (lease lost) then added again resumes
//! from the stored position, not from what this node last remembered. Positions are stored
//! once per `consumer_store_every` at most, and what moved since is stored when a consumer stops.
//! A consumer busy with a long page lets the other tasks of its thread run, and an event the
//! engine asks to retry comes again before the ones after it. A set's consumers poll a share of
//! the period apart.

mod support;

use practice_actors::entity::EntityCommand;
use practice_actors::journal::{Journal, SledJournal};
use practice_actors::metrics::BackboneMetrics;
use practice_actors::module::{EngineError, EventTally, ModuleEngine, ModuleEvent, ModuleSet};
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::{Node, NodeConfig};
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::shard::ShardId;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{eventually, Counting, FlakyJournal};

const SHARD: ShardId = ShardId(0);

async fn one_shard_node() -> (Node, Arc<FlakyJournal>, tempfile::TempDir) {
    one_shard_node_with(NodeConfig { consumer_poll: Duration::from_millis(20), ..NodeConfig::default() }).await
}

async fn one_shard_node_with(config: NodeConfig) -> (Node, Arc<FlakyJournal>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(FlakyJournal::over(SledJournal::open(&dir.path().join("journal"), 1).unwrap()));
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    let node = Node::start_embedded(journal.clone(), metrics, config).await.unwrap();
    (node, journal, dir)
}

/// Send the journeys of claims `claims` of org `seed`; the events the journal holds after.
async fn journeys(node: &Node, journal: &dyn Journal, seed: u64, claims: std::ops::Range<u64>) -> usize {
    for index in claims {
        for command in claim_journey(load_org(seed), index) {
            assert!(node.send(command).await.unwrap().is_accepted());
        }
    }
    journal.read_shard(SHARD, 0, usize::MAX).await.unwrap().len()
}

async fn counting_set(node: &Node) -> (ModuleSet, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let engine = Box::new(Counting(EventTally::named("sentry"), seen.clone())) as Box<dyn ModuleEngine>;
    (ModuleSet::start(node, vec![engine]).await.unwrap(), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_added_while_its_position_cannot_be_read_is_consumed_once_it_can() {
    let (node, journal, _dir) = one_shard_node().await;
    let total = journeys(&node, journal.as_ref(), 1, 0..5).await;
    journal.fail_position_loads(3);
    let (set, seen) = counting_set(&node).await;
    set.add_shard(SHARD, None).unwrap();
    assert!(eventually(|| seen.load(Ordering::SeqCst) == total).await, "saw {seen:?} of {total}");
    assert_eq!(journal.position_failures.load(Ordering::SeqCst), 0, "every failed load was retried");
    set.stop().await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_shard_added_again_resumes_from_the_stored_position() {
    let (node, journal, _dir) = one_shard_node().await;
    let first = journeys(&node, journal.as_ref(), 2, 0..3).await;
    let (set, seen) = counting_set(&node).await;
    set.add_shard(SHARD, None).unwrap();
    assert!(eventually(|| seen.load(Ordering::SeqCst) == first).await, "saw {seen:?} of {first}");
    set.drop_shard(SHARD);
    // Meanwhile another owner consumed these and stored its position past them.
    let second = journeys(&node, journal.as_ref(), 2, 3..6).await;
    let head = journal.read_shard(SHARD, 0, usize::MAX).await.unwrap().last().unwrap().position;
    journal.store_position("sentry", SHARD, head).await.unwrap();
    set.add_shard(SHARD, None).unwrap();
    let third = journeys(&node, journal.as_ref(), 2, 6..7).await;
    let expected = first + (third - second);
    assert!(eventually(|| seen.load(Ordering::SeqCst) >= expected).await, "saw {seen:?} of {expected}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(seen.load(Ordering::SeqCst), expected, "events another owner consumed were handed over again");
    set.stop().await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_stored_once_a_period_and_what_moved_since_when_the_consumer_stops() {
    let every = Duration::from_millis(600);
    let config =
        NodeConfig { consumer_poll: Duration::from_millis(20), consumer_store_every: every, ..NodeConfig::default() };
    let (node, journal, _dir) = one_shard_node_with(config).await;
    let (set, seen) = counting_set(&node).await;
    set.add_shard(SHARD, None).unwrap();
    // Claims one at a time for about two store periods: the consumer handles each within a
    // poll or two, and stores the shard's position once a period, not once per poll.
    let started = std::time::Instant::now();
    let mut claims = 0;
    while started.elapsed() < every * 2 {
        let total = journeys(&node, journal.as_ref(), 3, claims..claims + 1).await;
        claims += 1;
        assert!(eventually(|| seen.load(Ordering::SeqCst) == total).await, "saw {seen:?} of {total}");
    }
    let (stores, elapsed) = (journal.position_stores.load(Ordering::SeqCst), started.elapsed());
    // Shard 0's first store is due at once, then one a period (a slow machine may take longer
    // than the two periods aimed at); storing on every poll that moved made one per claim.
    let at_most = 2 + (elapsed.as_millis() / every.as_millis()) as usize;
    assert!((1..=at_most).contains(&stores), "{stores} position stores for {claims} claims over {elapsed:?}");
    // A position that moved waits for its turn, then is stored without the consumer stopping.
    let total = journeys(&node, journal.as_ref(), 3, claims..claims + 1).await;
    let head = journal.read_shard(SHARD, 0, usize::MAX).await.unwrap().last().unwrap().position;
    assert!(eventually(|| seen.load(Ordering::SeqCst) == total).await);
    let deadline = std::time::Instant::now() + every * 10;
    while journal.load_position("sentry", SHARD).await.unwrap() != head {
        assert!(std::time::Instant::now() < deadline, "the moved position was not stored within {:?}", every * 10);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What moved after the last store is stored when the consumer stops.
    let total = journeys(&node, journal.as_ref(), 3, claims + 1..claims + 2).await;
    assert!(eventually(|| seen.load(Ordering::SeqCst) == total).await);
    let head = journal.read_shard(SHARD, 0, usize::MAX).await.unwrap().last().unwrap().position;
    set.stop().await;
    assert_eq!(journal.load_position("sentry", SHARD).await.unwrap(), head);
    node.shutdown().await;
}

/// The ticker's count at each event the engine is handed.
struct TickRecorder {
    tally: EventTally,
    ticks: Arc<AtomicUsize>,
    seen: Arc<std::sync::Mutex<Vec<usize>>>,
}

impl ModuleEngine for TickRecorder {
    fn name(&self) -> &str {
        self.tally.name()
    }
    fn handle(&mut self, event: &ModuleEvent) -> Result<Vec<CommandEnvelope<EntityCommand>>, EngineError> {
        self.seen.lock().unwrap().push(self.ticks.load(Ordering::SeqCst));
        self.tally.handle(event)
    }
}

/// A consumer handing a long page to its engine gives its thread up now and then, so the
/// commands queued behind it on the same worker run meanwhile. On a one-thread runtime a task
/// that counts whenever it runs shows it: without the yields, a page's events all see one count.
#[tokio::test(flavor = "current_thread")]
async fn a_consumer_busy_with_a_long_page_lets_other_tasks_run() {
    let (node, journal, _dir) = one_shard_node().await;
    let total = journeys(&node, journal.as_ref(), 4, 0..60).await;
    let page = NodeConfig::default().consumer_batch.min(total);
    assert!(page > 256, "only {page} events in the first page");
    let ticks = Arc::new(AtomicUsize::new(0));
    let counting = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                ticks.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        }
    });
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let engine = TickRecorder { tally: EventTally::named("sentry"), ticks: ticks.clone(), seen: seen.clone() };
    let set = ModuleSet::start(&node, vec![Box::new(engine) as Box<dyn ModuleEngine>]).await.unwrap();
    set.add_shard(SHARD, None).unwrap();
    assert!(eventually(|| seen.lock().unwrap().len() >= total).await, "the consumer did not finish");
    let first_page: Vec<usize> = seen.lock().unwrap()[..page].to_vec();
    let runs = 1 + first_page.windows(2).filter(|pair| pair[0] != pair[1]).count();
    // Tokio's budget is 128 units a turn: a page of more than 256 events gives way.
    assert!(runs >= 2, "the other task never ran during a page of {page} events");
    counting.abort();
    set.stop().await;
    node.shutdown().await;
}

/// Asks to retry one event once, then takes it; the positions it took, in order.
struct RetriesOnce {
    tally: EventTally,
    retry_at: usize,
    retried: bool,
    taken: Arc<std::sync::Mutex<Vec<u64>>>,
}

impl ModuleEngine for RetriesOnce {
    fn name(&self) -> &str {
        self.tally.name()
    }
    fn handle(&mut self, event: &ModuleEvent) -> Result<Vec<CommandEnvelope<EntityCommand>>, EngineError> {
        let mut taken = self.taken.lock().unwrap();
        if taken.len() == self.retry_at && !self.retried {
            self.retried = true;
            return Err(EngineError::Transient("payer portal down".into()));
        }
        taken.push(event.position);
        drop(taken);
        self.tally.handle(event)
    }
}

/// An engine that asks to retry an event in the middle of a page gets it again on a later
/// poll, and the events after it only then: each once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_engine_asks_to_retry_comes_again_before_the_ones_after_it() {
    let (node, journal, _dir) = one_shard_node().await;
    let total = journeys(&node, journal.as_ref(), 5, 0..8).await;
    let positions: Vec<u64> =
        journal.read_shard(SHARD, 0, usize::MAX).await.unwrap().iter().map(|event| event.position).collect();
    let taken = Arc::new(std::sync::Mutex::new(Vec::new()));
    let retry_at = total / 2;
    let engine = RetriesOnce { tally: EventTally::named("denial"), retry_at, retried: false, taken: taken.clone() };
    let set = ModuleSet::start(&node, vec![Box::new(engine) as Box<dyn ModuleEngine>]).await.unwrap();
    set.add_shard(SHARD, None).unwrap();
    assert!(
        eventually(|| taken.lock().unwrap().len() == total).await,
        "took {:?} of {total}",
        taken.lock().unwrap().len()
    );
    assert_eq!(
        *taken.lock().unwrap(),
        positions,
        "the engine missed, repeated or reordered events around event {retry_at}"
    );
    set.stop().await;
    assert_eq!(journal.load_position("denial", SHARD).await.unwrap(), positions[total - 1]);
    node.shutdown().await;
}

/// When each consumer first had all `total` events of the shard, since `started`.
async fn first_reads(counters: &[Arc<AtomicUsize>], total: usize, started: std::time::Instant) -> Vec<Duration> {
    let mut done_at: Vec<Option<Duration>> = vec![None; counters.len()];
    while done_at.iter().any(Option::is_none) {
        assert!(started.elapsed() < Duration::from_secs(10), "not every consumer read the shard: {done_at:?}");
        for (done, seen) in done_at.iter_mut().zip(counters) {
            if done.is_none() && seen.load(Ordering::SeqCst) == total {
                *done = Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done_at.into_iter().flatten().collect()
}

fn spread(times: &[Duration]) -> Duration {
    *times.iter().max().unwrap() - *times.iter().min().unwrap()
}

/// A node polling once a second whose one shard holds the journeys of two claims of `seed`,
/// and how many events those are.
async fn loaded_slow_poll_node(seed: u64) -> (Node, tempfile::TempDir, usize) {
    let (node, journal, dir) =
        one_shard_node_with(NodeConfig { consumer_poll: Duration::from_secs(1), ..NodeConfig::default() }).await;
    let total = journeys(&node, journal.as_ref(), seed, 0..2).await;
    (node, dir, total)
}

/// The five tally engines, each counting what it was handed.
fn counted_engines() -> (Vec<Box<dyn ModuleEngine>>, Vec<Arc<AtomicUsize>>) {
    let counters: Vec<Arc<AtomicUsize>> = (0..5).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let engines = ["sentry", "denial", "reclaim", "leverage", "ingestion"]
        .iter()
        .zip(&counters)
        .map(|(name, seen)| Box::new(Counting(EventTally::named(name), seen.clone())) as Box<dyn ModuleEngine>)
        .collect();
    (engines, counters)
}

/// A node's consumers start together; their polls are spread over the poll period, so the
/// five passes over a period's events do not all land in one burst. Each consumer here first
/// reads the shard's events a different share of a one-second period after the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumers_of_a_set_poll_a_share_of_the_period_apart() {
    let (node, _dir, total) = loaded_slow_poll_node(9).await;
    let (engines, counters) = counted_engines();
    let started = std::time::Instant::now();
    let set = ModuleSet::start(&node, engines).await.unwrap();
    set.add_shard(SHARD, None).unwrap();
    // Aligned polls finish within a few milliseconds of each other; spread ones 0.2 s apart.
    let times = first_reads(&counters, total, started).await;
    assert!(spread(&times) >= Duration::from_millis(500), "first reads {times:?}");
    set.stop().await;
    node.shutdown().await;
}

/// The same for consumers a node starts one by one (`practice node` on the embedded journal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_a_node_starts_one_by_one_poll_a_share_of_the_period_apart() {
    let (node, _dir, total) = loaded_slow_poll_node(10).await;
    let (engines, counters) = counted_engines();
    let started = std::time::Instant::now();
    for engine in engines {
        node.start_module(engine, None).await.unwrap();
    }
    let times = first_reads(&counters, total, started).await;
    assert!(spread(&times) >= Duration::from_millis(500), "first reads {times:?}");
    node.shutdown().await;
}
