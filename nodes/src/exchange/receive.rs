//! Inbound: every answer waiting with the connector (999, 277CA, 277, 835) goes through the
//! ingestion pipeline — parsed, matched, sent to the claim actors, remembered — and only then
//! is settled with the connector, so a crash in between offers it again (and the content ids
//! make the second run apply nothing). A file the readers refuse is set aside with the reason;
//! a journal that is down leaves the file for the next pass.

use super::{Exchange, ExchangeError};
use practice_nodes::connector::{Clearinghouse, InboundKind, Settlement};

/// Inbound items taken per receive.
pub const RECEIVE_MAX: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiveReport {
    pub files: usize,
    /// Files whose content had been ingested before (a redelivery).
    pub duplicates: usize,
    pub rejected: usize,
    /// Files left with the carrier for a later pass.
    pub retried: usize,
    pub events: usize,
    pub suspense: usize,
}

impl<C: Clearinghouse> Exchange<C> {
    /// Take what is waiting, up to [`RECEIVE_MAX`] items.
    pub async fn receive(&self) -> Result<ReceiveReport, ExchangeError> {
        let mut report = ReceiveReport::default();
        let items = self.connector.receive(RECEIVE_MAX).await?;
        let mut retry_rest = false;
        for item in items {
            report.files += 1;
            let settlement = if retry_rest {
                Settlement::Retry
            } else {
                self.settlement(&item.name, &item.kind, &item.bytes, &mut report).await
            };
            match &settlement {
                Settlement::Accepted => {}
                Settlement::Rejected(reason) => {
                    report.rejected += 1;
                    tracing::warn!(file = %item.name, %reason, "inbound file set aside");
                }
                Settlement::Retry => {
                    report.retried += 1;
                    // Later files may depend on this one (a 277CA after its 999): keep order.
                    retry_rest = true;
                }
            }
            self.connector.settle(item.receipt, settlement).await?;
        }
        Ok(report)
    }

    async fn settlement(
        &self,
        name: &str,
        kind: &Result<InboundKind, practice_nodes::connector::SniffError>,
        bytes: &[u8],
        report: &mut ReceiveReport,
    ) -> Settlement {
        match kind {
            Err(error) => return Settlement::Rejected(format!("not an X12 interchange: {error}")),
            Ok(kind) if kind.is_outbound() => {
                return Settlement::Rejected(format!("{kind} is ours to send, not an answer we receive"))
            }
            Ok(_) => {}
        }
        match self.ingestor.ingest(self.org, bytes).await {
            Ok(ingested) => {
                report.duplicates += usize::from(ingested.duplicate);
                report.events += ingested.events_appended;
                report.suspense += ingested.suspense.len();
                tracing::info!(
                    file = %name,
                    events = ingested.events_appended,
                    refused = ingested.refused.len(),
                    suspense = ingested.suspense.len(),
                    duplicate = ingested.duplicate,
                    "inbound file ingested"
                );
                Settlement::Accepted
            }
            Err(error) if !error.is_retryable() => Settlement::Rejected(error.to_string()),
            Err(error) => {
                tracing::warn!(file = %name, %error, "inbound file left for the next pass");
                Settlement::Retry
            }
        }
    }
}
