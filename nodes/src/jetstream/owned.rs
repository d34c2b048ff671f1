//! One fenced shard's events as this journal appended them, in memory. Pure: the journal
//! tells it which appends are in flight and what each stored, readers ask for events after a
//! position, and the oldest events go once a byte budget is spent.
//!
//! After this journal's fence at stream sequence `F`, every message on the shard's event
//! subjects past `F` is one of its own appends (a stale writer's epoch check fails), so the
//! acks say all the shard holds past `F`; a head read on the server after the fence says
//! whether anything lies between the shard's last earlier event and `F` (nothing does).
//!
//! Acks of pipelined appends come back in any order. An append is registered before it is
//! sent, with the highest stream sequence the journal had seen acknowledged by then: its
//! message lands above that, since the server stored those before it could receive this one.
//! A read answers only up to the lowest such floor of the appends still in flight, so it
//! never passes a message an earlier append is about to be acknowledged at.

use super::frame::{self, EVENTS_PER_MESSAGE};
use practice_actors::journal::StoredEvent;
use std::collections::{BTreeMap, VecDeque};

/// Bytes counted for an event besides its payload (queue slot, ids, positions).
const EVENT_OVERHEAD: usize = 96;

/// What a read gets from the shard's own writes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OwnedRead {
    /// Every event of the shard after the position asked for, up to the limit.
    Events(Vec<StoredEvent>),
    /// The read starts before what the window holds: the caller reads elsewhere.
    Behind,
    /// An append acknowledged before the read began is not readable yet (one sent before it
    /// is still in flight): wait for it, or read elsewhere.
    Pending,
}

pub(crate) struct OwnedShard {
    /// Reads may start at or after this position.
    floor: u64,
    /// The position of the last event dropped for the budget (0 before any).
    dropped: u64,
    events: VecDeque<StoredEvent>,
    /// Appends in flight: ticket → the highest stream sequence seen acknowledged when it was
    /// registered. Tickets and floors rise together, so the first entry has the lowest floor.
    in_flight: BTreeMap<u64, u64>,
    next_ticket: u64,
    /// The last stream sequence an append of this shard was acknowledged at.
    written: u64,
    /// The shard's last event position, once known from an ack or a head read.
    head: Option<u64>,
    bytes: usize,
    budget: usize,
}

impl OwnedShard {
    /// The shard as this journal fenced it at `fence_sequence`: everything after it is held.
    pub(crate) fn new(fence_sequence: u64, budget: usize) -> Self {
        Self {
            floor: frame::position(fence_sequence, EVENTS_PER_MESSAGE - 1),
            dropped: 0,
            events: VecDeque::new(),
            in_flight: BTreeMap::new(),
            next_ticket: 0,
            written: 0,
            head: None,
            bytes: 0,
            budget,
        }
    }

    /// The shard's last event as read on the server after the fence (0 for an empty shard).
    /// When it lies before the fence, nothing lies between it and the fence, so reads may
    /// start from it; when after, it is one of our own and changes nothing but the head.
    pub(crate) fn note_head(&mut self, position: u64) {
        self.floor = self.floor.min(position);
        self.head = Some(self.head.map_or(position, |known| known.max(position)));
    }

    /// An append is about to be sent; `seen` is the highest stream sequence the journal has
    /// seen acknowledged. Returns its ticket.
    pub(crate) fn begin(&mut self, seen: u64) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        // Floors never fall behind an earlier ticket's, even if `seen` was read racily.
        let floor = self.in_flight.values().next_back().map_or(seen, |last| seen.max(*last));
        self.in_flight.insert(ticket, floor);
        ticket
    }

    /// The append of `ticket` stored nothing (refused, or a duplicate of an earlier message).
    pub(crate) fn nothing(&mut self, ticket: u64) {
        self.in_flight.remove(&ticket);
    }

    /// The append of `ticket` stored `events` (positions set, in order) in messages up to
    /// `last_sequence`.
    pub(crate) fn stored(&mut self, ticket: u64, last_sequence: u64, events: Vec<StoredEvent>) {
        self.in_flight.remove(&ticket);
        self.written = self.written.max(last_sequence);
        let Some(first) = events.first().map(|event| event.position) else { return };
        if let Some(last) = events.last() {
            self.head = Some(self.head.map_or(last.position, |known| known.max(last.position)));
        }
        // Acks arrive out of order: insert where the events belong. Nearly always the end,
        // which is checked first: a search touches events all over the queue.
        let at = match self.events.back() {
            Some(last) if last.position >= first => self.events.partition_point(|event| event.position < first),
            _ => self.events.len(),
        };
        for (offset, event) in events.into_iter().enumerate() {
            self.bytes += event.payload.len() + EVENT_OVERHEAD;
            self.events.insert(at + offset, event);
        }
        while self.bytes > self.budget {
            let Some(event) = self.events.pop_front() else { break };
            self.bytes -= event.payload.len() + EVENT_OVERHEAD;
            self.dropped = event.position;
        }
    }

    /// The last stream sequence an append of this shard was acknowledged at: what a read
    /// begun now must see.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The shard's last event position, if known.
    pub(crate) fn head(&self) -> Option<u64> {
        self.head
    }

    /// How many events the window holds after `after`: all the shard holds after it, or a
    /// lower bound when `after` lies before the window's reach.
    pub(crate) fn count_after(&self, after: u64) -> u64 {
        (self.events.len() - self.first_after(after)) as u64
    }

    /// The index of the first event after `after`. Readers are nearly always at the end,
    /// which is checked first: a search touches events all over the queue.
    fn first_after(&self, after: u64) -> usize {
        match self.events.back() {
            Some(last) if last.position > after => self.events.partition_point(|event| event.position <= after),
            _ => self.events.len(),
        }
    }

    /// Up to `limit` events after `after`, as long as every append acknowledged up to
    /// `target` (a stream sequence) is readable.
    pub(crate) fn read(&self, after: u64, limit: usize, target: u64) -> OwnedRead {
        if after < self.floor.max(self.dropped) {
            return OwnedRead::Behind;
        }
        let readable = match self.in_flight.values().next() {
            None => u64::MAX,
            Some(&floor) if floor >= target => frame::position(floor, EVENTS_PER_MESSAGE - 1),
            Some(_) => return OwnedRead::Pending,
        };
        let events = self
            .events
            .range(self.first_after(after)..)
            .take_while(|event| event.position <= readable)
            .take(limit)
            .cloned();
        OwnedRead::Events(events.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::envelope::{EntityKind, EntityRef};
    use practice_protocol::ids::OrgId;
    use practice_protocol::shard::ShardId;
    use uuid::Uuid;

    fn event(stream_sequence: u64, index: usize, bytes: usize) -> StoredEvent {
        let entity = EntityRef { org: OrgId(Uuid::from_u128(1)), kind: EntityKind::Claim, id: Uuid::from_u128(7) };
        StoredEvent {
            entity,
            sequence: 1,
            shard: ShardId(0),
            position: frame::position(stream_sequence, index),
            payload: vec![0; bytes],
        }
    }

    fn positions(read: OwnedRead) -> Vec<u64> {
        match read {
            OwnedRead::Events(events) => events.iter().map(|event| event.position).collect(),
            other => panic!("expected events, got {other:?}"),
        }
    }

    #[test]
    fn holds_what_follows_the_fence_and_reaches_back_to_a_head_read_before_it() {
        let mut shard = OwnedShard::new(20, 1 << 20);
        let start = frame::position(20, EVENTS_PER_MESSAGE - 1);
        assert_eq!(shard.read(frame::position(5, 0), 10, 0), OwnedRead::Behind);
        assert_eq!(positions(shard.read(start, 10, 0)), Vec::<u64>::new());
        assert_eq!(shard.head(), None);
        // The shard's last event before the fence was in message 5: reads may start there.
        shard.note_head(frame::position(5, 0));
        assert_eq!(shard.head(), Some(frame::position(5, 0)));
        let ticket = shard.begin(20);
        shard.stored(ticket, 21, vec![event(21, 0, 4), event(21, 1, 4)]);
        assert_eq!(
            positions(shard.read(frame::position(5, 0), 10, 21)),
            vec![frame::position(21, 0), frame::position(21, 1)]
        );
        assert_eq!(positions(shard.read(frame::position(21, 0), 10, 21)), vec![frame::position(21, 1)]);
        assert_eq!(positions(shard.read(frame::position(5, 0), 1, 21)), vec![frame::position(21, 0)]);
        assert_eq!(shard.read(frame::position(4, 0), 10, 21), OwnedRead::Behind);
        // A head read that saw one of our own appends moves the head only.
        shard.note_head(frame::position(21, 1));
        assert_eq!(shard.read(frame::position(4, 0), 10, 21), OwnedRead::Behind);
        assert_eq!(shard.head(), Some(frame::position(21, 1)));
        assert_eq!(shard.written(), 21);
    }

    #[test]
    fn counts_the_events_after_a_position_not_the_positions_between() {
        let mut shard = OwnedShard::new(10, 1 << 20);
        for sequence in [11, 14, 15] {
            let ticket = shard.begin(sequence - 1);
            shard.stored(ticket, sequence, vec![event(sequence, 0, 1), event(sequence, 1, 1)]);
        }
        assert_eq!(shard.count_after(frame::position(10, EVENTS_PER_MESSAGE - 1)), 6);
        assert_eq!(shard.count_after(frame::position(11, 1)), 4);
        assert_eq!(shard.count_after(frame::position(14, 0)), 3);
        assert_eq!(shard.count_after(frame::position(15, 1)), 0);
        // From before the window's reach: what it holds, a lower bound.
        assert_eq!(shard.count_after(0), 6);
    }

    #[test]
    fn a_read_stops_before_what_an_append_still_in_flight_may_be_stored_at() {
        let mut shard = OwnedShard::new(10, 1 << 20);
        let start = frame::position(10, EVENTS_PER_MESSAGE - 1);
        let first = shard.begin(10);
        let second = shard.begin(10);
        // The second append's ack comes first: the first may still land at 11, before it.
        shard.stored(second, 12, vec![event(12, 0, 1)]);
        assert_eq!(positions(shard.read(start, 10, 0)), Vec::<u64>::new());
        // A reader that must see sequence 12 waits.
        assert_eq!(shard.read(start, 10, 12), OwnedRead::Pending);
        let third = shard.begin(12);
        shard.stored(first, 11, vec![event(11, 0, 1)]);
        // The third was sent after 12 was acknowledged: everything up to 12 is readable.
        assert_eq!(positions(shard.read(start, 10, 12)), vec![frame::position(11, 0), frame::position(12, 0)]);
        shard.stored(third, 14, vec![event(14, 0, 1)]);
        assert_eq!(
            positions(shard.read(start, 10, 14)),
            vec![frame::position(11, 0), frame::position(12, 0), frame::position(14, 0)]
        );
        assert_eq!(shard.head(), Some(frame::position(14, 0)));
    }

    #[test]
    fn an_append_that_stored_nothing_holds_no_read_back() {
        let mut shard = OwnedShard::new(3, 1 << 20);
        let refused = shard.begin(3);
        let later = shard.begin(3);
        shard.stored(later, 4, vec![event(4, 0, 1)]);
        assert_eq!(shard.read(0, 10, 4), OwnedRead::Behind);
        assert_eq!(shard.read(frame::position(3, 15), 10, 4), OwnedRead::Pending);
        shard.nothing(refused);
        assert_eq!(positions(shard.read(frame::position(3, 15), 10, 4)), vec![frame::position(4, 0)]);
    }

    #[test]
    fn a_later_tickets_floor_never_falls_behind_an_earlier_ones() {
        let mut shard = OwnedShard::new(1, 1 << 20);
        let early = shard.begin(9);
        // `seen` read before another task raised it: the floor stays at 9.
        let late = shard.begin(7);
        shard.nothing(early);
        shard.stored(late, 10, vec![event(10, 0, 1)]);
        assert_eq!(positions(shard.read(frame::position(1, 15), 10, 10)), vec![frame::position(10, 0)]);
    }

    #[test]
    fn the_oldest_events_go_when_the_budget_is_spent_and_reads_behind_them_are_refused() {
        let per_event = 10 + EVENT_OVERHEAD;
        let mut shard = OwnedShard::new(0, 3 * per_event);
        for sequence in 1..=5 {
            let ticket = shard.begin(sequence - 1);
            shard.stored(ticket, sequence, vec![event(sequence, 0, 10)]);
        }
        assert_eq!(shard.read(frame::position(1, 0), 10, 5), OwnedRead::Behind);
        assert_eq!(
            positions(shard.read(frame::position(2, 0), 10, 5)),
            vec![frame::position(3, 0), frame::position(4, 0), frame::position(5, 0)]
        );
    }
}
