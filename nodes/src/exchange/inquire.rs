//! Status requests: a claim sent to the payer (Submitted or Accepted) that has had no final
//! answer for the configured interval is asked about in a 276, and again after every further
//! quiet interval. The 277 replies come back through `receive` like every other answer and are
//! kept in the claim's history (`ClaimStatusReported`) without moving its status.
//!
//! The same staging as 837s: the 276's bytes and the restarted inquiry clocks are flushed to the
//! outbound log before the connector gets the request, so a crash re-sends the same bytes
//! (a no-op for both connectors) and never asks twice for one interval.

use super::{unix_ms, Exchange, ExchangeError};
use crate::api::service::{ClaimFilter, ClaimSnapshot};
use chrono::{DateTime, Utc};
use practice_nodes::connector::batch::{inquiry, payer_key, write_status_request};
use practice_nodes::connector::{Clearinghouse, InboundKind, OutboundBatch};
use practice_nodes::outbound::{StagedRequest, Submission};
use practice_protocol::claim::ClaimStatus;
use practice_protocol::x12::write::StatusInquiry;

/// Most claims per 276 interchange.
pub const MAX_INQUIRIES_PER_REQUEST: usize = 500;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InquiryReport {
    /// 276 interchanges sent.
    pub requests: usize,
    /// Claims asked about.
    pub claims: usize,
    /// Staged requests of an earlier pass handed over again.
    pub resent: usize,
}

impl<C: Clearinghouse> Exchange<C> {
    /// Hand over what an earlier pass staged, then ask about every claim a user asked about and
    /// every claim whose payer has been quiet for `status_after` (looking at most every
    /// `inquiry_every`).
    pub async fn inquire(&self, now: DateTime<Utc>) -> Result<InquiryReport, ExchangeError> {
        let mut report = InquiryReport::default();
        for staged in self.log.staged_requests().await? {
            self.hand_over_request(&staged).await?;
            report.resent += 1;
        }
        {
            let mut last = self.last_inquiry.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| at.elapsed() < self.inquiry_every) {
                return Ok(report);
            }
            *last = Some(std::time::Instant::now());
        }
        let now_ms = unix_ms(now);
        let after_ms = self.status_after.map(|after| u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
        // With the payer each claim bills: one payer per 276, so each 276 goes to the
        // clearinghouse its payer is routed through.
        let mut due: Vec<(String, Submission, ClaimSnapshot)> = Vec::new();
        for status in [ClaimStatus::Submitted, ClaimStatus::Accepted] {
            let filter = ClaimFilter { status: Some(status), ..ClaimFilter::default() };
            for snapshot in self.service.list(self.org, filter).await.map_err(ExchangeError::Claims)? {
                let Some(submission) = Submission::current(&snapshot.state) else { continue };
                // Only what left can be asked about; a submission still waiting to go is not late.
                if !self.log.is_sent(submission).await? {
                    continue;
                }
                // Asked for by a user since the last 276, or quiet for the configured interval.
                let requested =
                    snapshot.state.status_requests > self.log.requests_answered(submission.claim_id).await?;
                let clock = self.log.inquiry_clock(submission, now_ms).await?;
                let quiet = after_ms.is_some_and(|after_ms| now_ms.saturating_sub(clock.since_ms) >= after_ms);
                if requested || quiet {
                    let payer = snapshot.state.claim.as_ref().map(payer_key).unwrap_or_default();
                    due.push((payer, submission, snapshot));
                }
            }
        }
        due.sort_by(|(left, a, x), (right, b, y)| {
            (left, x.created_at, a.claim_id.0).cmp(&(right, y.created_at, b.claim_id.0))
        });
        let by_payer = due.chunk_by(|(left, ..), (right, ..)| left == right);
        for chunk in by_payer.flat_map(|group| group.chunks(MAX_INQUIRIES_PER_REQUEST)) {
            let parties = self.parties_for(&chunk[0].0);
            let submissions: Vec<(Submission, u32)> =
                chunk.iter().map(|(_, submission, snapshot)| (*submission, snapshot.state.status_requests)).collect();
            let staged = self.log.stage_request(&submissions, now_ms, |control| {
                let inquiries: Vec<StatusInquiry<'_>> = chunk
                    .iter()
                    .filter_map(|(_, _, snapshot)| {
                        let claim = snapshot.state.claim.as_ref()?;
                        Some(inquiry(claim, snapshot.state.payer_claim_control_number.clone()))
                    })
                    .collect();
                let bytes = write_status_request(&parties, &inquiries, now.date_naive(), control)
                    .map_err(|error| error.to_string())?;
                Ok::<_, String>(StagedRequest { org: self.org, control, bytes, claims: inquiries.len() })
            });
            let staged = staged.await?;
            match staged {
                Ok(staged) => {
                    self.hand_over_request(&staged).await?;
                    report.requests += 1;
                    report.claims += staged.claims;
                }
                // The writer refuses a claim without coverage or lines: nothing was staged and
                // the clocks did not move, so the next pass says the same; name the count only.
                Err(error) => tracing::error!(claims = chunk.len(), %error, "cannot write a 276"),
            }
        }
        Ok(report)
    }

    async fn hand_over_request(&self, staged: &StagedRequest) -> Result<(), ExchangeError> {
        let batch =
            OutboundBatch { id: staged.id(), kind: InboundKind::StatusRequest276, bytes: staged.bytes.clone().into() };
        let delivery = self.connector.send(&batch).await?;
        tracing::info!(request = %batch.id, claims = staged.claims, duplicate = delivery.duplicate, "276 sent");
        self.log.request_delivered(staged.control).await?;
        Ok(())
    }
}
