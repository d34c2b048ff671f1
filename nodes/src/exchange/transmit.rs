//! Outbound: every Submitted claim whose current submission has not left yet goes out in an
//! 837 batch per payer and claim type. Staged in the outbound log first, then recorded in the
//! batch registry (for the 999s), then handed to the connector; staged batches left over by a
//! crash go first on the next pass.

use super::{unix_ms, Exchange, ExchangeError};
use crate::api::service::ClaimFilter;
use chrono::{DateTime, NaiveDate, Utc};
use practice_actors::ingest::sent::sent_batches;
use practice_nodes::connector::batch::{by_payer_and_type, write_interchange};
use practice_nodes::connector::{Clearinghouse, InboundKind, OutboundBatch};
use practice_nodes::outbound::{StagedBatch, Submission};
use practice_protocol::claim::ClaimStatus;
use practice_protocol::domain::{Claim, ClaimType};
use practice_protocol::ids::ClaimId;
use std::collections::HashMap;

/// Most claims per interchange: large enough to batch a day's work, small enough that one bad
/// claim's 999 does not hold thousands.
pub const MAX_CLAIMS_PER_BATCH: usize = 500;

/// Why a batch was not built (nothing staged, no control number used).
#[derive(Debug, thiserror::Error)]
pub enum Unbuilt {
    #[error("{0}")]
    Refused(String),
    /// One claim's interchange is larger than the carrier takes: it waits, Submitted, until the
    /// carrier's limit is raised (a NATS server's `max_payload`).
    #[error("a one-claim interchange of {0} bytes is larger than the clearinghouse link takes")]
    TooLarge(usize),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransmitReport {
    pub batches: usize,
    pub claims: usize,
    /// Staged batches of an earlier pass handed over again.
    pub resent: usize,
}

impl<C: Clearinghouse> Exchange<C> {
    /// Hand over what an earlier pass staged, then send every submission not sent yet.
    pub async fn transmit(&self, now: DateTime<Utc>) -> Result<TransmitReport, ExchangeError> {
        let (day, now_ms) = (now.date_naive(), unix_ms(now));
        let mut report = TransmitReport::default();
        for staged in self.log.staged().await? {
            self.hand_over(&staged).await?;
            report.resent += 1;
        }
        let filter = ClaimFilter { status: Some(ClaimStatus::Submitted), ..ClaimFilter::default() };
        let submitted = self.service.list(self.org, filter).await.map_err(ExchangeError::Claims)?;
        let mut waiting = Vec::new();
        for snapshot in submitted {
            // The claim as it goes out now: an appeal's replacement (frequency 7) already names
            // the payer's claim control number (the fold of `Appealed`).
            let (Some(submission), Some(claim)) = (Submission::current(&snapshot.state), snapshot.state.claim) else {
                continue;
            };
            if !self.log.is_sent(submission).await? {
                waiting.push((snapshot.created_at, submission, claim));
            }
        }
        // Oldest claims first, so a backlog drains in order.
        waiting.sort_by_key(|(created_at, submission, _)| (*created_at, submission.claim_id.0));
        let numbers: HashMap<ClaimId, u32> =
            waiting.iter().map(|(_, submission, _)| (submission.claim_id, submission.number)).collect();
        let claims = waiting.into_iter().map(|(_, _, claim)| claim).collect();
        let limit = self.connector.max_batch_bytes();
        for ((payer, institutional), claims) in by_payer_and_type(claims) {
            // Oldest first; a batch larger than the carrier takes goes back as two halves.
            let mut pending: Vec<&[Claim]> = claims.chunks(MAX_CLAIMS_PER_BATCH).rev().collect();
            while let Some(chunk) = pending.pop() {
                let submissions: Vec<Submission> =
                    chunk.iter().map(|claim| Submission { claim_id: claim.id, number: numbers[&claim.id] }).collect();
                let staged = self
                    .log
                    .stage(&submissions, now_ms, |control| {
                        self.build(&payer, chunk, institutional, day, control, limit)
                    })
                    .await?;
                let staged = match staged {
                    Ok(staged) => staged,
                    Err(Unbuilt::TooLarge(bytes)) if chunk.len() > 1 => {
                        tracing::info!(payer = %payer, claims = chunk.len(), bytes, "837 batch split in two: larger than the link takes");
                        let (first, second) = chunk.split_at(chunk.len() / 2);
                        pending.extend([second, first]);
                        continue;
                    }
                    Err(error) => {
                        // A claim the writer refuses stays Submitted and unsent; the others of
                        // its payer go on the next pass only if it is fixed, so say which.
                        tracing::error!(payer = %payer, %error, "cannot write an 837 batch");
                        continue;
                    }
                };
                self.hand_over(&staged).await?;
                report.batches += 1;
                report.claims += chunk.len();
            }
        }
        Ok(report)
    }

    fn build(
        &self,
        payer: &str,
        claims: &[Claim],
        institutional: bool,
        day: NaiveDate,
        control: u32,
        limit: Option<usize>,
    ) -> Result<StagedBatch, Unbuilt> {
        let claim_type = if institutional { ClaimType::Institutional } else { ClaimType::Professional };
        let bytes = write_interchange(&self.parties_for(payer), claim_type, claims, day, control)
            .map_err(|error| Unbuilt::Refused(error.to_string()))?;
        if limit.is_some_and(|limit| bytes.len() > limit) {
            return Err(Unbuilt::TooLarge(bytes.len()));
        }
        let sent = sent_batches(&bytes, claims).map_err(|error| Unbuilt::Refused(error.to_string()))?;
        Ok(StagedBatch { org: self.org, control, institutional, bytes, sent })
    }

    /// Registry first (a 999 may come back before `send` returns), then the connector; then
    /// the batch is no longer staged.
    async fn hand_over(&self, staged: &StagedBatch) -> Result<(), ExchangeError> {
        for sent in &staged.sent {
            self.registry.record_sent(staged.org, sent.clone()).await?;
        }
        let kind = if staged.institutional { InboundKind::Claim837I } else { InboundKind::Claim837P };
        let batch = OutboundBatch { id: staged.id(), kind, bytes: staged.bytes.clone().into() };
        let delivery = self.connector.send(&batch).await?;
        tracing::info!(
            batch = %batch.id,
            claims = staged.sent.iter().map(|sent| sent.claims().count()).sum::<usize>(),
            duplicate = delivery.duplicate,
            "837 batch sent"
        );
        self.log.delivered(staged.control).await?;
        Ok(())
    }
}
