//! The recent events of every shard, in memory, as [`super::feed`] reads them off the stream.
//! Pure: the feed pushes each stream message's events in stream order, readers ask for a
//! shard's events after a position, and the oldest events go once a byte budget is spent.
//!
//! The window holds every event with position above its start in a message at or below
//! `covered`, so a read that starts at or above that is answered whole from memory; one that
//! starts below it is the caller's to make on the server. The start is the stream's end when
//! the window opened, lowered for a shard to its last event then (read on the server), and
//! raised as the oldest events go.

use super::frame::{self, EVENTS_PER_MESSAGE};
use practice_actors::journal::StoredEvent;
use practice_protocol::shard::ShardId;
use std::collections::VecDeque;

/// Bytes counted for an event besides its payload (its place in two queues, ids, positions).
const EVENT_OVERHEAD: usize = 96;

pub(crate) struct Window {
    /// The position of the last event dropped for the budget (0 before any).
    dropped: u64,
    /// Per shard, the lowest position a read may start at besides `dropped`.
    floors: Vec<u64>,
    /// The stream's last message when the window opened.
    opened_at: u64,
    covered: u64,
    shards: Vec<VecDeque<StoredEvent>>,
    /// The shard of every held event, oldest first: what to drop next.
    order: VecDeque<ShardId>,
    /// The last position known per shard, from events seen or a head read on the server.
    heads: Vec<Option<u64>>,
    bytes: usize,
    budget: usize,
}

impl Window {
    /// An empty window over a stream whose last message is `last_sequence`: everything
    /// after that message will be held.
    pub(crate) fn new(shard_count: u16, last_sequence: u64, budget: usize) -> Self {
        let count = usize::from(shard_count);
        let start = frame::position(last_sequence, EVENTS_PER_MESSAGE - 1);
        Self {
            dropped: 0,
            floors: vec![start; count],
            opened_at: last_sequence,
            covered: last_sequence,
            shards: (0..count).map(|_| VecDeque::new()).collect(),
            order: VecDeque::new(),
            heads: vec![None; count],
            bytes: 0,
            budget,
        }
    }

    /// Every message up to this stream sequence is in.
    pub(crate) fn covered(&self) -> u64 {
        self.covered
    }

    /// The message at `stream_sequence` (the next one after `covered`, or a repeat of one
    /// already in, which is ignored) holding `events` (none for an epoch marker).
    pub(crate) fn push(&mut self, stream_sequence: u64, events: Vec<StoredEvent>) {
        if stream_sequence <= self.covered {
            return;
        }
        self.covered = stream_sequence;
        for event in events {
            let Some(queue) = self.shards.get_mut(usize::from(event.shard.0)) else { continue };
            let head = &mut self.heads[usize::from(event.shard.0)];
            *head = Some(head.map_or(event.position, |known| known.max(event.position)));
            self.bytes += event.payload.len() + EVENT_OVERHEAD;
            self.order.push_back(event.shard);
            queue.push_back(event);
        }
        while self.bytes > self.budget {
            let Some(shard) = self.order.pop_front() else { break };
            let Some(event) = self.shards[usize::from(shard.0)].pop_front() else { break };
            self.bytes -= event.payload.len() + EVENT_OVERHEAD;
            self.dropped = event.position;
        }
    }

    /// Up to `limit` events of `shard` after `after`, or `None` when the window no longer
    /// (or never did) reach back that far.
    pub(crate) fn read(&self, shard: ShardId, after: u64, limit: usize) -> Option<Vec<StoredEvent>> {
        let floor = *self.floors.get(usize::from(shard.0))?;
        if after < floor.max(self.dropped) {
            return None;
        }
        let (queue, first) = self.after(shard, after)?;
        Some(queue.range(first..).take(limit).cloned().collect())
    }

    /// How many events of `shard` the window holds after `after`: all the shard holds after
    /// it, or a lower bound when `after` lies before the window's reach.
    pub(crate) fn count_after(&self, shard: ShardId, after: u64) -> Option<u64> {
        let (queue, first) = self.after(shard, after)?;
        Some((queue.len() - first) as u64)
    }

    /// The shard's queue and the index of its first event after `after`.
    fn after(&self, shard: ShardId, after: u64) -> Option<(&VecDeque<StoredEvent>, usize)> {
        let queue = self.shards.get(usize::from(shard.0))?;
        Some((queue, queue.partition_point(|event| event.position <= after)))
    }

    /// The shard's last position as far as the window knows, if it knows.
    pub(crate) fn head(&self, shard: ShardId) -> Option<u64> {
        self.heads.get(usize::from(shard.0)).copied().flatten()
    }

    /// The shard's last event as read on the server (0 for an empty shard) by a read sent
    /// after the window opened: it saw every message the window starts after, so when it
    /// lies before the window's start, the shard has nothing in between and reads may start
    /// from it.
    pub(crate) fn note_head(&mut self, shard: ShardId, position: u64) {
        let index = usize::from(shard.0);
        let (Some(head), Some(floor)) = (self.heads.get_mut(index), self.floors.get_mut(index)) else { return };
        *head = Some(head.map_or(position, |known| known.max(position)));
        *floor = (*floor).min(position);
    }

    /// The stream's last message when the window opened: tells windows apart.
    pub(crate) fn opened_at(&self) -> u64 {
        self.opened_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::envelope::{EntityKind, EntityRef};
    use practice_protocol::ids::OrgId;
    use uuid::Uuid;

    fn event(shard: u16, stream_sequence: u64, index: usize, bytes: usize) -> StoredEvent {
        let entity = EntityRef { org: OrgId(Uuid::from_u128(1)), kind: EntityKind::Claim, id: Uuid::from_u128(7) };
        StoredEvent {
            entity,
            sequence: 1,
            shard: ShardId(shard),
            position: frame::position(stream_sequence, index),
            payload: vec![0; bytes],
        }
    }

    fn positions(events: &[StoredEvent]) -> Vec<u64> {
        events.iter().map(|event| event.position).collect()
    }

    #[test]
    fn holds_what_follows_the_stream_it_started_on() {
        let mut window = Window::new(4, 10, 1 << 20);
        // Anything in message 10 or before is not the window's to answer.
        assert_eq!(window.read(ShardId(1), frame::position(10, 3), 10), None);
        let start = frame::position(10, EVENTS_PER_MESSAGE - 1);
        assert_eq!(window.read(ShardId(1), start, 10), Some(Vec::new()));
        window.push(11, vec![event(1, 11, 0, 5), event(1, 11, 1, 5)]);
        window.push(12, Vec::new());
        window.push(13, vec![event(2, 13, 0, 5)]);
        window.push(14, vec![event(1, 14, 0, 5)]);
        assert_eq!(window.covered(), 14);
        let all = window.read(ShardId(1), start, 10).unwrap();
        assert_eq!(positions(&all), vec![frame::position(11, 0), frame::position(11, 1), frame::position(14, 0)]);
        // From the middle of a message, and a page at a time.
        assert_eq!(positions(&window.read(ShardId(1), all[0].position, 10).unwrap()), positions(&all[1..]));
        assert_eq!(positions(&window.read(ShardId(1), start, 2).unwrap()), positions(&all[..2]));
        assert_eq!(window.read(ShardId(3), start, 10), Some(Vec::new()));
        assert_eq!(window.head(ShardId(1)), Some(frame::position(14, 0)));
        assert_eq!(window.head(ShardId(3)), None);
        // A repeat of a message already in changes nothing.
        window.push(13, vec![event(2, 13, 0, 5)]);
        assert_eq!(window.read(ShardId(2), start, 10).unwrap().len(), 1);
    }

    #[test]
    fn the_oldest_events_go_when_the_budget_is_spent_and_reads_behind_them_are_refused() {
        let per_event = 10 + EVENT_OVERHEAD;
        let mut window = Window::new(2, 0, 3 * per_event);
        for sequence in 1..=5 {
            window.push(sequence, vec![event((sequence % 2) as u16, sequence, 0, 10)]);
        }
        // Events of messages 1 and 2 went: a read from before message 3 is refused.
        assert_eq!(window.read(ShardId(1), frame::position(2, 0) - 1, 10), None);
        assert_eq!(window.read(ShardId(1), frame::position(1, 0), 10), None);
        let from_two = window.read(ShardId(1), frame::position(2, 0), 10).unwrap();
        assert_eq!(positions(&from_two), vec![frame::position(3, 0), frame::position(5, 0)]);
        assert_eq!(
            positions(&window.read(ShardId(0), frame::position(2, 0), 10).unwrap()),
            vec![frame::position(4, 0)]
        );
        // Heads outlive the events they came from.
        assert_eq!(window.head(ShardId(1)), Some(frame::position(5, 0)));
    }

    #[test]
    fn a_head_read_on_the_server_opens_the_shard_back_to_it_and_never_moves_a_head_back() {
        let mut window = Window::new(2, 9, 1 << 20);
        let last_of_shard = frame::position(4, 0);
        assert_eq!(window.read(ShardId(0), last_of_shard, 10), None);
        window.note_head(ShardId(0), last_of_shard);
        assert_eq!(window.head(ShardId(0)), Some(last_of_shard));
        window.push(10, vec![event(0, 10, 0, 1)]);
        assert_eq!(positions(&window.read(ShardId(0), last_of_shard, 10).unwrap()), vec![frame::position(10, 0)]);
        // Only that shard: the other still starts at the window's opening.
        assert_eq!(window.read(ShardId(1), last_of_shard, 10), None);
        // An answer sent before that event arrived moves neither the head nor the start.
        window.note_head(ShardId(0), last_of_shard);
        assert_eq!(window.head(ShardId(0)), Some(frame::position(10, 0)));
        assert_eq!(window.read(ShardId(0), last_of_shard, 10).map(|events| events.len()), Some(1));
        // An empty shard reads from the beginning.
        window.note_head(ShardId(1), 0);
        assert_eq!(window.read(ShardId(1), 0, 10), Some(Vec::new()));
    }
}
