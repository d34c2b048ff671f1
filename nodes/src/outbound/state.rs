//! The outbound log as a sequence of entries and what they add up to — pure, so the JetStream
//! store is a thin layer of reads and compare-and-set appends over it.
//!
//! A staged batch's or request's bytes are kept apart from its entry (under the `bytes` key the
//! entry names) so reading a practice's log back reads marks and clocks, not every 837 it sent.

use super::{next_after, InquiryClock, Submission};
use practice_actors::ingest::registry::SentBatch;
use practice_protocol::ids::ClaimId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// One change to a practice's outbound log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// An 837 batch staged under `control`: its submissions are sent from now on, their
    /// inquiry clocks start at `at_ms`.
    Batch {
        control: u32,
        institutional: bool,
        sent: Vec<SentBatch>,
        submissions: Vec<Submission>,
        at_ms: u64,
        bytes: Bytes,
    },
    /// A 276 staged under `control`: each submission's clock restarts at `at_ms` with one more
    /// request, and the claim's user requests up to the count given are answered.
    Request { control: u32, claims: usize, submissions: Vec<(Submission, u32)>, at_ms: u64, bytes: Bytes },
    /// The connector took what was staged under `control`.
    Delivered { control: u32 },
    /// The log folded up to here, stored under `bytes` (an encoded [`OutboundState`]): a
    /// reader starts from the latest one instead of the first entry, and the entries before it
    /// can go. Folding it changes nothing — it is what the entries before it add up to — so
    /// the store, not [`OutboundState::apply`], loads it when it has not read those entries.
    Checkpoint { bytes: Bytes },
}

/// Where a staging's bytes are: `chunks` messages (a large interchange does not fit in one)
/// under the key `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bytes {
    pub id: Uuid,
    pub chunks: u32,
}

/// What is staged under a control number, but its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Staged {
    Batch { institutional: bool, sent: Vec<SentBatch>, bytes: Bytes },
    Request { claims: usize, bytes: Bytes },
}

/// A practice's outbound log folded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundState {
    /// The control number the next staging takes (1 before any).
    next_control: Option<u32>,
    clocks: HashMap<Submission, InquiryClock>,
    answered: HashMap<ClaimId, u32>,
    staged: BTreeMap<u32, Staged>,
}

impl OutboundState {
    pub fn apply(&mut self, entry: &Entry) {
        match entry {
            Entry::Batch { control, institutional, sent, submissions, at_ms, bytes } => {
                for submission in submissions {
                    self.clocks.insert(*submission, InquiryClock { since_ms: *at_ms, asked: 0 });
                }
                let staged = Staged::Batch { institutional: *institutional, sent: sent.clone(), bytes: *bytes };
                self.staged.insert(*control, staged);
                self.next_control = Some(next_after(*control));
            }
            Entry::Request { control, claims, submissions, at_ms, bytes } => {
                for (submission, requested) in submissions {
                    let asked = self.clocks.get(submission).map_or(0, |clock| clock.asked);
                    let clock = InquiryClock { since_ms: *at_ms, asked: asked.saturating_add(1) };
                    self.clocks.insert(*submission, clock);
                    self.answered.insert(submission.claim_id, *requested);
                }
                self.staged.insert(*control, Staged::Request { claims: *claims, bytes: *bytes });
                self.next_control = Some(next_after(*control));
            }
            Entry::Delivered { control } => {
                self.staged.remove(control);
            }
            Entry::Checkpoint { .. } => {}
        }
    }

    /// Every submission that left or is staged to has a clock: the mark and the clock are one.
    pub fn is_sent(&self, submission: Submission) -> bool {
        self.clocks.contains_key(&submission)
    }

    pub fn clock(&self, submission: Submission) -> Option<InquiryClock> {
        self.clocks.get(&submission).copied()
    }

    pub fn requests_answered(&self, claim: ClaimId) -> u32 {
        self.answered.get(&claim).copied().unwrap_or(0)
    }

    pub fn next_control(&self) -> u32 {
        self.next_control.unwrap_or(1)
    }

    /// What is staged, by control number.
    pub fn staged(&self) -> impl Iterator<Item = (u32, &Staged)> {
        self.staged.iter().map(|(control, staged)| (*control, staged))
    }

    pub fn staged_at(&self, control: u32) -> Option<&Staged> {
        self.staged.get(&control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission(n: u128, number: u32) -> Submission {
        Submission { claim_id: ClaimId(Uuid::from_u128(n)), number }
    }

    #[test]
    fn batches_mark_and_requests_restart_the_clocks() {
        let mut state = OutboundState::default();
        assert_eq!(state.next_control(), 1);
        let (first, again) = (submission(1, 1), submission(1, 2));
        let bytes = Bytes { id: Uuid::from_u128(7), chunks: 1 };
        state.apply(&Entry::Batch {
            control: 1,
            institutional: false,
            sent: vec![],
            submissions: vec![first],
            at_ms: 1_000,
            bytes,
        });
        assert!(state.is_sent(first) && !state.is_sent(again));
        assert_eq!(state.next_control(), 2);
        state.apply(&Entry::Request { control: 2, claims: 1, submissions: vec![(first, 3)], at_ms: 5_000, bytes });
        assert_eq!(state.clock(first), Some(InquiryClock { since_ms: 5_000, asked: 1 }));
        assert_eq!(state.requests_answered(first.claim_id), 3);
        assert_eq!(state.staged().map(|(control, _)| control).collect::<Vec<_>>(), vec![1, 2]);
        state.apply(&Entry::Delivered { control: 1 });
        assert_eq!(state.staged().map(|(control, _)| control).collect::<Vec<_>>(), vec![2]);
        assert!(state.is_sent(first), "a delivered batch's marks stay");
    }

    #[test]
    fn control_numbers_wrap_after_nine_digits() {
        let mut state = OutboundState::default();
        let bytes = Bytes { id: Uuid::nil(), chunks: 1 };
        state.apply(&Entry::Request { control: 999_999_999, claims: 0, submissions: vec![], at_ms: 0, bytes });
        assert_eq!(state.next_control(), 1);
    }
}
