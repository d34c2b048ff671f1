//! The journal's own writes to the shards it fenced, one [`OwnedShard`] each, shared between
//! appends and readers. Reads of those shards (the module consumers', the node's
//! projections) are answered here, without the server and without the event feed, which
//! had delivered each of the node's events back to it (one message more out of the server
//! per event, and a parse in the node).
//!
//! An append whose outcome is unknown (no ack: a timeout, a lost connection, an append
//! future dropped) may have stored a message no ack will tell of: its shard's window goes,
//! and reads of the shard go through the event feed or the server until this journal fences
//! it again. A fence by
//! another writer (seen on the next append, or by a read at most [`RECHECK_FENCE`] after the
//! last look at the shard's epoch marker), or the node giving the shard up, drops it too.

use super::owned::{OwnedRead, OwnedShard};
use practice_actors::journal::StoredEvent;
use practice_protocol::shard::ShardId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a read waits for appends sent before one it must see to be acknowledged.
const CATCH_UP: Duration = Duration::from_millis(250);
/// How often reads make sure no other writer has fenced the shard since: another writer's
/// events are missing from the window, so until then its reads lag behind by them.
pub(crate) const RECHECK_FENCE: Duration = Duration::from_millis(500);

/// What the own writes say about a shard read.
pub(crate) enum OwnAnswer {
    Events(Vec<StoredEvent>),
    /// The shard is ours but the window cannot answer (a read from before it, or appends
    /// not acknowledged in time): read the server, not the event feed.
    Server,
    /// Not a shard this journal fenced (or its window went): the event feed or the server.
    NotOwned,
}

/// A shard's head as the own writes know it.
pub(crate) enum OwnHead {
    Known(u64),
    /// Ours, head not known yet: read it on the server and hand it to [`OwnWrites::note_head`]
    /// with this generation.
    Unknown(u64),
    NotOwned,
}

#[derive(Default)]
struct Slot {
    window: Option<OwnedShard>,
    /// Bumped whenever the window is replaced or dropped, so late answers go nowhere.
    generation: u64,
    /// The stream sequence of this journal's epoch marker, and when the server last showed it
    /// still the shard's latest.
    fence: Option<(u64, Instant)>,
}

pub(crate) struct OwnWrites {
    slots: Vec<(Mutex<Slot>, Notify)>,
    /// The highest stream sequence this journal has seen acknowledged.
    seen: AtomicU64,
    budget: usize,
}

impl OwnWrites {
    /// `budget` bytes of events kept per shard.
    pub(crate) fn new(shard_count: u16, budget: usize) -> Self {
        let slots = (0..shard_count).map(|_| (Mutex::new(Slot::default()), Notify::new())).collect();
        Self { slots, seen: AtomicU64::new(0), budget }
    }

    fn slot(&self, shard: ShardId) -> Option<(MutexGuard<'_, Slot>, &Notify)> {
        let (slot, notify) = self.slots.get(usize::from(shard.0))?;
        // Every change to a slot is one call that cannot panic half-way through in a way that
        // matters: a poisoned slot is still consistent enough to drop.
        Some((slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner), notify))
    }

    /// An ack of this journal's at `stream_sequence`.
    pub(crate) fn saw(&self, stream_sequence: u64) {
        self.seen.fetch_max(stream_sequence, Ordering::AcqRel);
    }

    /// This journal fenced `shard` with the marker at `fence_sequence`: from now on the shard's
    /// messages are its own appends. Returns the window's generation, for [`Self::note_head`].
    pub(crate) fn fenced(&self, shard: ShardId, fence_sequence: u64) -> u64 {
        self.saw(fence_sequence);
        let Some((mut slot, notify)) = self.slot(shard) else { return 0 };
        slot.generation += 1;
        slot.window = Some(OwnedShard::new(fence_sequence, self.budget));
        slot.fence = Some((fence_sequence, Instant::now()));
        notify.notify_waiters();
        slot.generation
    }

    /// The marker sequence to compare with the shard's latest on the server, when the shard
    /// is ours and that was last done more than [`RECHECK_FENCE`] ago.
    pub(crate) fn fence_to_check(&self, shard: ShardId) -> Option<u64> {
        let (slot, _) = self.slot(shard)?;
        slot.window.as_ref()?;
        slot.fence.filter(|(_, checked)| checked.elapsed() >= RECHECK_FENCE).map(|(sequence, _)| sequence)
    }

    /// The shard's latest epoch marker on the server is at `latest` (read after asking
    /// [`Self::fence_to_check`] for `ours`; `None` when the look failed): still ours, or
    /// fenced by another writer.
    pub(crate) fn fence_checked(&self, shard: ShardId, ours: u64, latest: Option<u64>) {
        let Some((mut slot, notify)) = self.slot(shard) else { return };
        if slot.fence.is_none_or(|(sequence, _)| sequence != ours) {
            return;
        }
        if latest.is_none_or(|latest| latest == ours) {
            slot.fence = Some((ours, Instant::now()));
        } else {
            slot.window = None;
            slot.fence = None;
            slot.generation += 1;
            notify.notify_waiters();
        }
    }

    /// The shard's last event as read on the server after the window of `generation` opened.
    pub(crate) fn note_head(&self, shard: ShardId, generation: u64, position: u64) {
        let Some((mut slot, _)) = self.slot(shard) else { return };
        if slot.generation == generation {
            if let Some(window) = slot.window.as_mut() {
                window.note_head(position);
            }
        }
    }

    /// The shard is not ours any more (fenced by another writer, given up).
    pub(crate) fn release(&self, shard: ShardId) {
        let Some((mut slot, notify)) = self.slot(shard) else { return };
        if slot.window.take().is_some() {
            slot.generation += 1;
        }
        slot.fence = None;
        notify.notify_waiters();
    }

    /// An append to `shard` is about to be sent: what it stored must be told to the guard,
    /// which takes the window down if dropped untold. `None` when the shard is not ours.
    pub(crate) fn begin(&self, shard: ShardId) -> Option<InFlight<'_>> {
        let (mut slot, _) = self.slot(shard)?;
        let generation = slot.generation;
        let window = slot.window.as_mut()?;
        let ticket = window.begin(self.seen.load(Ordering::Acquire));
        Some(InFlight { owner: self, shard, generation, ticket, told: false })
    }

    /// [`OwnedShard::count_after`] for a shard this journal holds.
    pub(crate) fn count_after(&self, shard: ShardId, after: u64) -> Option<u64> {
        let (slot, _) = self.slot(shard)?;
        Some(slot.window.as_ref()?.count_after(after))
    }

    pub(crate) fn head(&self, shard: ShardId) -> OwnHead {
        let Some((slot, _)) = self.slot(shard) else { return OwnHead::NotOwned };
        match slot.window.as_ref() {
            None => OwnHead::NotOwned,
            Some(window) => window.head().map_or(OwnHead::Unknown(slot.generation), OwnHead::Known),
        }
    }

    /// Up to `limit` events of `shard` after `after`, with every append of this journal
    /// acknowledged before the call among them.
    pub(crate) async fn read(&self, shard: ShardId, after: u64, limit: usize) -> OwnAnswer {
        let Some((_, notify)) = self.slots.get(usize::from(shard.0)) else { return OwnAnswer::NotOwned };
        let deadline = tokio::time::Instant::now() + CATCH_UP;
        let mut target = None;
        loop {
            let changed = notify.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let Some((slot, _)) = self.slot(shard) else { return OwnAnswer::NotOwned };
                let Some(window) = slot.window.as_ref() else { return OwnAnswer::NotOwned };
                let must_see = *target.get_or_insert(window.written());
                match window.read(after, limit, must_see) {
                    OwnedRead::Events(events) => return OwnAnswer::Events(events),
                    OwnedRead::Behind => return OwnAnswer::Server,
                    OwnedRead::Pending => {}
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return OwnAnswer::Server;
            }
        }
    }

    fn settle(&self, flight: &InFlight<'_>, outcome: impl FnOnce(&mut OwnedShard)) {
        let Some((mut slot, notify)) = self.slot(flight.shard) else { return };
        if slot.generation != flight.generation {
            return;
        }
        if let Some(window) = slot.window.as_mut() {
            outcome(window);
        }
        notify.notify_waiters();
    }
}

/// One append in flight to a shard of ours.
pub(crate) struct InFlight<'a> {
    owner: &'a OwnWrites,
    shard: ShardId,
    generation: u64,
    ticket: u64,
    told: bool,
}

impl InFlight<'_> {
    /// The append stored `events` (positions set, in order) in messages up to `last_sequence`.
    pub(crate) fn stored(mut self, last_sequence: u64, events: Vec<StoredEvent>) {
        self.told = true;
        let ticket = self.ticket;
        self.owner.settle(&self, |window| window.stored(ticket, last_sequence, events));
    }

    /// The server stored nothing (a refusal, a duplicate id).
    pub(crate) fn nothing(mut self) {
        self.told = true;
        let ticket = self.ticket;
        self.owner.settle(&self, |window| window.nothing(ticket));
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.told {
            return;
        }
        // Unknown: the message may be stored where no read here would look.
        let Some((mut slot, notify)) = self.owner.slot(self.shard) else { return };
        if slot.generation == self.generation {
            slot.window = None;
            slot.generation += 1;
        }
        notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jetstream::frame::{self, EVENTS_PER_MESSAGE};
    use practice_protocol::envelope::{EntityKind, EntityRef};
    use practice_protocol::ids::OrgId;
    use uuid::Uuid;

    const SHARD: ShardId = ShardId(1);

    fn event(stream_sequence: u64) -> StoredEvent {
        let entity = EntityRef { org: OrgId(Uuid::from_u128(1)), kind: EntityKind::Claim, id: Uuid::from_u128(2) };
        StoredEvent {
            entity,
            sequence: stream_sequence,
            shard: SHARD,
            position: frame::position(stream_sequence, 0),
            payload: vec![1],
        }
    }

    fn after_fence(fence: u64) -> u64 {
        frame::position(fence, EVENTS_PER_MESSAGE - 1)
    }

    async fn events(own: &OwnWrites, after: u64) -> Option<Vec<u64>> {
        match own.read(SHARD, after, 100).await {
            OwnAnswer::Events(events) => Some(events.iter().map(|event| event.sequence).collect()),
            OwnAnswer::Server | OwnAnswer::NotOwned => None,
        }
    }

    #[tokio::test]
    async fn a_fenced_shard_answers_from_what_its_appends_stored() {
        let own = OwnWrites::new(4, 1 << 20);
        assert!(matches!(own.read(SHARD, 0, 10).await, OwnAnswer::NotOwned));
        own.fenced(SHARD, 10);
        let append = own.begin(SHARD).unwrap();
        append.stored(11, vec![event(11)]);
        let refused = own.begin(SHARD).unwrap();
        refused.nothing();
        assert_eq!(events(&own, after_fence(10)).await, Some(vec![11]));
        assert!(matches!(own.head(SHARD), OwnHead::Known(head) if head == frame::position(11, 0)));
        // A read from before the fence is the server's.
        assert!(matches!(own.read(SHARD, 0, 10).await, OwnAnswer::Server));
        assert!(own.begin(ShardId(2)).is_none(), "a shard never fenced is not tracked");
    }

    #[tokio::test]
    async fn an_append_dropped_untold_takes_the_window_down_and_a_new_fence_brings_it_back() {
        let own = OwnWrites::new(4, 1 << 20);
        own.fenced(SHARD, 10);
        drop(own.begin(SHARD).unwrap());
        assert!(matches!(own.read(SHARD, after_fence(10), 10).await, OwnAnswer::NotOwned));
        assert!(own.begin(SHARD).is_none());
        own.fenced(SHARD, 20);
        let append = own.begin(SHARD).unwrap();
        append.stored(21, vec![event(21)]);
        assert_eq!(events(&own, after_fence(20)).await, Some(vec![21]));
    }

    #[tokio::test]
    async fn an_answer_from_before_a_new_fence_goes_nowhere() {
        let own = OwnWrites::new(4, 1 << 20);
        let first = own.fenced(SHARD, 10);
        let late = own.begin(SHARD).unwrap();
        let second = own.fenced(SHARD, 30);
        late.stored(12, vec![event(12)]);
        own.note_head(SHARD, first, frame::position(5, 0));
        assert_eq!(events(&own, after_fence(30)).await, Some(Vec::new()));
        assert!(matches!(own.read(SHARD, frame::position(5, 0), 10).await, OwnAnswer::Server));
        own.note_head(SHARD, second, frame::position(5, 0));
        assert_eq!(events(&own, frame::position(5, 0)).await, Some(Vec::new()));
    }

    #[tokio::test]
    async fn another_writers_fence_or_a_release_drops_the_window_and_a_failed_look_does_not() {
        let own = OwnWrites::new(4, 1 << 20);
        own.fenced(SHARD, 10);
        // Checked just now: not due.
        assert_eq!(own.fence_to_check(SHARD), None);
        own.fence_checked(SHARD, 10, None);
        own.fence_checked(SHARD, 10, Some(10));
        assert_eq!(events(&own, after_fence(10)).await, Some(Vec::new()));
        // A stale look for an older fence of ours changes nothing.
        own.fence_checked(SHARD, 3, Some(40));
        assert_eq!(events(&own, after_fence(10)).await, Some(Vec::new()));
        own.fence_checked(SHARD, 10, Some(40));
        assert!(matches!(own.read(SHARD, after_fence(10), 10).await, OwnAnswer::NotOwned));
        own.fenced(SHARD, 50);
        own.release(SHARD);
        assert!(matches!(own.head(SHARD), OwnHead::NotOwned));
    }

    #[tokio::test]
    async fn a_read_waits_for_an_earlier_append_and_then_sees_both() {
        let own = std::sync::Arc::new(OwnWrites::new(4, 1 << 20));
        own.fenced(SHARD, 10);
        let first = own.begin(SHARD).unwrap();
        own.saw(12);
        // The second append's ack (12) came first; the first may still land at 11.
        let second = own.begin(SHARD).unwrap();
        second.stored(12, vec![event(12)]);
        let reader = {
            let own = own.clone();
            tokio::spawn(async move { events(&own, after_fence(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!reader.is_finished(), "the read waits for the first append");
        first.stored(11, vec![event(11)]);
        assert_eq!(reader.await.unwrap(), Some(vec![11, 12]));
    }
}
