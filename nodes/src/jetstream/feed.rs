//! One ordered consumer over the whole `EVENTS` stream per journal, its events kept in a
//! [`Window`], so reads near the head of shards the journal does not hold (the API's
//! projections on a cluster node) are answered from memory. The shards it fenced are read
//! from its own writes ([`super::own_writes`]) and never start the feed.
//!
//! Why: a shard read on the server is a short-lived consumer filtered on `evt.<shard>.>`,
//! and the server finds that shard's messages by scanning every message after the start.
//! Five modules reading 64 shards scanned each message 320 times: on a 20,000-claim bench
//! that held end-to-end commands at 8–10 k/s against 26 k/s with the modules idle.
//!
//! The feed starts on the first read or head lookup of such a shard, from the stream's last
//! message then. A read is answered from the window when it starts inside it
//! and the window holds every message this journal has had acknowledged on that shard
//! (read-your-writes; other nodes' writes show up as fast as the server delivers them).
//! Otherwise, and while the feed is down, the caller reads the server as before.

use super::read::expand_delivered;
use super::window::Window;
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use practice_actors::journal::{JournalError, StoredEvent};
use practice_protocol::shard::ShardId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// What the window may hold: about two seconds of a node's peak write rate.
const WINDOW_BYTES: usize = 32 << 20;
/// How long a read waits for the feed to deliver this journal's own acknowledged writes
/// before it reads the server instead.
const CATCH_UP: Duration = Duration::from_millis(250);
/// After a failed start or a wait that ran out, reads go to the server this long before the
/// feed is tried again.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// What the feed knows of a shard's head.
pub(crate) enum HeadLookup {
    Known(u64),
    /// Read it on the server; the window open now, if any, is named for `note_head`.
    Unknown(Option<u64>),
}

/// How many shard reads the window answered and how many went to the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardReads {
    pub from_window: u64,
    pub from_server: u64,
}

pub(crate) struct Feed {
    shard_count: u16,
    /// `practice_journal_shard_reads_total{source}`, counted whether or not it is registered.
    reads: prometheus::IntCounterVec,
    shared: Arc<Shared>,
    task: Mutex<Option<AbortHandle>>,
    /// When a read first gave up waiting for the feed, and where the feed stood then.
    stalled: Mutex<Option<(Instant, u64)>>,
    /// Held while starting, so one read starts the feed and the others wait for it; remembers
    /// when a start last failed.
    starting: tokio::sync::Mutex<Option<Instant>>,
    /// The runtime the journal was opened on: the feed follows there whoever's read starts it
    /// (a module consumer's runs on a thread of lower priority, `crate::background`).
    home: tokio::runtime::Handle,
}

struct Shared {
    /// `None` while the feed is not running.
    window: Mutex<Option<Window>>,
    /// The window's `covered`, for readers waiting on it.
    covered: watch::Sender<u64>,
    /// Per shard, the last stream sequence this journal's appends were acknowledged at.
    written: Vec<AtomicU64>,
    /// Told when readers find the feed stalled: `follow` takes a new consumer.
    resubscribe: tokio::sync::Notify,
}

impl Shared {
    fn window(&self) -> MutexGuard<'_, Option<Window>> {
        // The window is only ever pushed to whole messages at a time; a panic mid-push leaves
        // at worst a message half in, which the next start replaces.
        self.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Feed {
    /// Called on the runtime the feed is to run on.
    pub(crate) fn new(shard_count: u16) -> Result<Self, JournalError> {
        let reads = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "practice_journal_shard_reads_total",
                "Shard reads (module consumers, projections) answered by the event feed's window or the server",
            ),
            &["source"],
        )
        .map_err(|error| JournalError::Unavailable(format!("event feed metrics: {error}")))?;
        Ok(Self {
            shard_count,
            reads,
            shared: Arc::new(Shared {
                window: Mutex::new(None),
                covered: watch::Sender::new(0),
                written: (0..shard_count).map(|_| AtomicU64::new(0)).collect(),
                resubscribe: tokio::sync::Notify::new(),
            }),
            task: Mutex::new(None),
            stalled: Mutex::new(None),
            starting: tokio::sync::Mutex::new(None),
            home: tokio::runtime::Handle::try_current()
                .map_err(|error| JournalError::Unavailable(format!("event feed: {error}")))?,
        })
    }

    /// This journal's append to `shard` was acknowledged at `stream_sequence`.
    pub(crate) fn wrote(&self, shard: ShardId, stream_sequence: u64) {
        if let Some(written) = self.shared.written.get(usize::from(shard.0)) {
            written.fetch_max(stream_sequence, Ordering::AcqRel);
        }
    }

    /// The shard's events after `after` from memory, or `None` when the server must answer.
    pub(crate) async fn read(
        &self,
        stream: &Stream,
        shard: ShardId,
        after: u64,
        limit: usize,
    ) -> Option<Vec<StoredEvent>> {
        let events = if self.ensure_running(stream).await && self.caught_up(shard).await {
            self.shared.window().as_ref().and_then(|window| window.read(shard, after, limit))
        } else {
            None
        };
        self.count_read(events.is_some());
        events
    }

    /// Count a shard read answered from memory (this window or the journal's own writes) or
    /// by the server.
    pub(crate) fn count_read(&self, from_memory: bool) {
        self.reads.with_label_values(&[if from_memory { "window" } else { "server" }]).inc();
    }

    /// Count shard reads in `registry` too.
    pub(crate) fn register(&self, registry: &prometheus::Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.reads.clone()))
    }

    pub(crate) fn reads(&self) -> ShardReads {
        ShardReads {
            from_window: self.reads.with_label_values(&["window"]).get(),
            from_server: self.reads.with_label_values(&["server"]).get(),
        }
    }

    /// The shard's last position as far as the feed knows, starting the feed if needed.
    /// When it cannot say, the caller reads the head on the server and hands it to
    /// [`Feed::note_head`] with the [`HeadLookup::Unknown`] token.
    pub(crate) async fn head(&self, stream: &Stream, shard: ShardId) -> HeadLookup {
        if !self.ensure_running(stream).await || !self.caught_up(shard).await {
            return HeadLookup::Unknown(None);
        }
        let window = self.shared.window();
        match window.as_ref() {
            None => HeadLookup::Unknown(None),
            Some(window) => match window.head(shard) {
                Some(head) => HeadLookup::Known(head),
                None => HeadLookup::Unknown(Some(window.opened_at())),
            },
        }
    }

    /// [`Window::count_after`], while the feed runs (it is not started for this).
    pub(crate) fn count_after(&self, shard: ShardId, after: u64) -> Option<u64> {
        self.shared.window().as_ref()?.count_after(shard, after)
    }

    /// A head read on the server, sent after [`Feed::head`] answered `Unknown(opened)`.
    pub(crate) fn note_head(&self, shard: ShardId, position: u64, opened: Option<u64>) {
        let mut window = self.shared.window();
        // Only the window that was open when the read went out may trust it.
        if let Some(window) = window.as_mut().filter(|window| Some(window.opened_at()) == opened) {
            window.note_head(shard, position);
        }
    }

    /// Whether the window holds everything this journal has written to `shard`, waiting a
    /// little for the feed to deliver it. After a wait ran out, reads do not wait again for a
    /// while (the server answers meanwhile); when the next wait runs out too with the feed
    /// not having moved since, the feed is stalled (its consumer lost with a server restart)
    /// and is told to follow on with a new one.
    async fn caught_up(&self, shard: ShardId) -> bool {
        let Some(written) = self.shared.written.get(usize::from(shard.0)) else { return false };
        let target = written.load(Ordering::Acquire);
        let mut covered = self.shared.covered.subscribe();
        if *covered.borrow_and_update() >= target {
            return true;
        }
        let stalled = *self.stalled.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if stalled.is_some_and(|(at, _)| at.elapsed() < RESTART_AFTER) {
            return false;
        }
        let reached =
            matches!(tokio::time::timeout(CATCH_UP, covered.wait_for(|covered| *covered >= target)).await, Ok(Ok(_)));
        if reached {
            return true;
        }
        let now = *covered.borrow();
        let mut stalled = self.stalled.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *stalled {
            Some((_, then)) if then == now => {
                self.shared.resubscribe.notify_one();
                *stalled = None;
            }
            _ => *stalled = Some((Instant::now(), now)),
        }
        false
    }

    async fn ensure_running(&self, stream: &Stream) -> bool {
        if self.shared.window().is_some() {
            return true;
        }
        let mut failed_at = self.starting.lock().await;
        if self.shared.window().is_some() {
            return true;
        }
        if failed_at.is_some_and(|at| at.elapsed() < RESTART_AFTER) {
            return false;
        }
        match self.start(stream).await {
            Ok(()) => {
                *failed_at = None;
                true
            }
            Err(error) => {
                tracing::warn!(%error, "event feed did not start; shard reads go to the server");
                *failed_at = Some(Instant::now());
                false
            }
        }
    }

    async fn start(&self, stream: &Stream) -> Result<(), JournalError> {
        let last = stream
            .get_info()
            .await
            .map_err(|error| JournalError::Unavailable(format!("event feed: {error}")))?
            .state
            .last_sequence;
        let messages = subscribe(stream, last + 1).await?;
        *self.shared.window() = Some(Window::new(self.shard_count, last, WINDOW_BYTES));
        self.shared.covered.send_replace(last);
        let task = self.home.spawn(follow(self.shared.clone(), stream.clone(), messages));
        if let Some(previous) =
            self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(task.abort_handle())
        {
            previous.abort();
        }
        Ok(())
    }
}

/// An ordered consumer over the whole stream from `start_sequence`.
async fn subscribe(stream: &Stream, start_sequence: u64) -> Result<pull::Ordered, JournalError> {
    let unavailable = |error: &dyn std::fmt::Display| JournalError::Unavailable(format!("event feed: {error}"));
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
            // Pull requests of 4 s make the idle heartbeat 2 s (async-nats recreates an ordered
            // consumer after missed heartbeats; the stall check in `caught_up` is the backstop).
            max_expires: Duration::from_secs(4),
            ..Default::default()
        })
        .await
        .map_err(|error| unavailable(&error))?;
    consumer.messages().await.map_err(|error| unavailable(&error))
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            task.abort();
        }
    }
}

/// Push every message the ordered consumer delivers into the window. When the consumer fails
/// or a reader finds it stalled, follow on with a new one from the message after the last one
/// in, so the window stays whole; when that cannot be made, or a message cannot be read (the
/// window cannot hold it and stay whole), the window goes and reads use the server until the
/// next start.
async fn follow(shared: Arc<Shared>, stream: Stream, mut messages: pull::Ordered) {
    loop {
        let failure = loop {
            let next = tokio::select! {
                next = messages.next() => next,
                () = shared.resubscribe.notified() => break "stalled".to_string(),
            };
            let message = match next {
                None => break "ended".to_string(),
                Some(Err(error)) => break error.to_string(),
                Some(Ok(message)) => message,
            };
            let (sequence, events) = match events_of(&message) {
                Ok(read) => read,
                Err(error) => {
                    tracing::warn!(%error, "event feed stopped; shard reads go to the server until it restarts");
                    *shared.window() = None;
                    return;
                }
            };
            let covered = {
                let mut window = shared.window();
                let Some(window) = window.as_mut() else { return };
                window.push(sequence, events);
                window.covered()
            };
            shared.covered.send_replace(covered);
        };
        let Some(next) = shared.window().as_ref().map(|window| window.covered() + 1) else { return };
        tracing::warn!(%failure, next, "event feed follows on with a new consumer");
        match subscribe(&stream, next).await {
            Ok(resumed) => messages = resumed,
            Err(error) => {
                tracing::warn!(%error, "event feed stopped; shard reads go to the server until it restarts");
                *shared.window() = None;
                return;
            }
        }
    }
}

/// A delivered message's stream sequence and events (none for an epoch marker).
fn events_of(message: &async_nats::jetstream::Message) -> Result<(u64, Vec<StoredEvent>), JournalError> {
    let sequence = message.info().map_err(|error| JournalError::Corrupt(error.to_string()))?.stream_sequence;
    if message.subject.as_str().starts_with("epoch.") {
        return Ok((sequence, Vec::new()));
    }
    Ok((sequence, expand_delivered(message, sequence)?))
}
