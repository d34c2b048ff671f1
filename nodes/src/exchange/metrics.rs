//! What an operator watches of the clearinghouse link: whether this node is the one exchanging
//! (on a cluster, exactly one node per practice), how its passes go, and what went out and
//! came in. The counters move once per pass, from its report.

use super::PassReport;
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct ExchangeMetrics {
    /// `practice_exchange_leading`: 1 while this node sends and receives for the practice.
    pub leading: IntGauge,
    /// `practice_exchange_passes_total{outcome}`: `ok` or `failed` (retried next pass).
    pub passes: IntCounterVec,
    /// `practice_exchange_sent_total{what}`: `837_batches`, `claims`, `276_requests`.
    pub sent: IntCounterVec,
    /// `practice_exchange_received_files_total{settlement}`: `accepted`, `rejected`, `retried`.
    pub received: IntCounterVec,
    /// `practice_exchange_suspense_total`: inbound items that matched no claim.
    pub suspense: IntCounter,
}

impl ExchangeMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = ExchangeMetrics {
            leading: IntGauge::new("practice_exchange_leading", "1 while this node exchanges for the practice")?,
            passes: IntCounterVec::new(
                Opts::new("practice_exchange_passes_total", "Exchange passes by outcome"),
                &["outcome"],
            )?,
            sent: IntCounterVec::new(Opts::new("practice_exchange_sent_total", "What the exchange sent"), &["what"])?,
            received: IntCounterVec::new(
                Opts::new("practice_exchange_received_files_total", "Inbound files by how they were settled"),
                &["settlement"],
            )?,
            suspense: IntCounter::new("practice_exchange_suspense_total", "Inbound items that matched no claim")?,
        };
        registry.register(Box::new(metrics.leading.clone()))?;
        registry.register(Box::new(metrics.passes.clone()))?;
        registry.register(Box::new(metrics.sent.clone()))?;
        registry.register(Box::new(metrics.received.clone()))?;
        registry.register(Box::new(metrics.suspense.clone()))?;
        Ok(metrics)
    }

    pub fn passed(&self, report: &PassReport) {
        self.passes.with_label_values(&["ok"]).inc();
        let count = |n: usize| n as u64;
        self.sent.with_label_values(&["837_batches"]).inc_by(count(report.sent.batches));
        self.sent.with_label_values(&["claims"]).inc_by(count(report.sent.claims));
        self.sent.with_label_values(&["276_requests"]).inc_by(count(report.asked.requests));
        let received = &report.received;
        let accepted = received.files.saturating_sub(received.rejected + received.retried);
        self.received.with_label_values(&["accepted"]).inc_by(count(accepted));
        self.received.with_label_values(&["rejected"]).inc_by(count(received.rejected));
        self.received.with_label_values(&["retried"]).inc_by(count(received.retried));
        self.suspense.inc_by(count(received.suspense));
    }

    pub fn failed(&self) {
        self.passes.with_label_values(&["failed"]).inc();
    }
}
