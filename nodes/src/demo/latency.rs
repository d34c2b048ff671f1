//! A claim's latency from submission to posted payment, two ways. `settle` is wall clock: the
//! simulated days between its 837 and its 835 take no time of their own, but the work of those
//! days on every other claim does. `processing` is the claim's own two legs, with the simulated
//! days between them excluded: its submission (from the day's submission run starting to its
//! 837 written; the run submits every claim of the day before it writes the batches) plus its
//! posting (from the day's 835s arriving to its payment posted).

use practice_protocol::ids::ClaimId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct LatencyLog {
    /// When the claim's first submission began.
    submitted_at: HashMap<ClaimId, Instant>,
    /// Its latest submission's leg: a resubmission replaces the one the payer never paid.
    submission_leg: HashMap<ClaimId, Duration>,
    pub settle: Vec<Duration>,
    pub processing: Vec<Duration>,
}

impl LatencyLog {
    /// `claims` were submitted from `started` until their 837 was written, now.
    pub fn submitted(&mut self, claims: impl IntoIterator<Item = ClaimId>, started: Instant) {
        let leg = started.elapsed();
        for claim in claims {
            self.submitted_at.entry(claim).or_insert(started);
            self.submission_leg.insert(claim, leg);
        }
    }

    /// `claim`'s payment, from an 835 that arrived at `arrived`, was posted at `posted`.
    pub fn posted(&mut self, claim: ClaimId, arrived: Instant, posted: Instant) {
        if let Some(at) = self.submitted_at.get(&claim) {
            self.settle.push(posted.saturating_duration_since(*at));
        }
        if let Some(leg) = self.submission_leg.get(&claim) {
            self.processing.push(*leg + posted.saturating_duration_since(arrived));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processing_counts_only_the_claims_own_legs() {
        let mut log = LatencyLog::default();
        let claim = ClaimId(uuid::Uuid::from_u128(1));
        let started = Instant::now() - Duration::from_millis(30);
        log.submitted([claim], started);
        // Days of other work later, its 835 arrives and posts 5 ms after.
        let arrived = Instant::now() + Duration::from_secs(10);
        log.posted(claim, arrived, arrived + Duration::from_millis(5));
        let processing = log.processing[0];
        assert!(processing >= Duration::from_millis(35) && processing < Duration::from_secs(1), "{processing:?}");
        assert!(log.settle[0] >= Duration::from_secs(10), "{:?}", log.settle[0]);
        log.posted(ClaimId(uuid::Uuid::from_u128(2)), arrived, arrived);
        assert_eq!(log.processing.len(), 1, "a claim never submitted has no latency");
    }
}
