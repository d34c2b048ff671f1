//! What an operator watches of the clearinghouse link, per practice (`org` label): whether
//! this node is the one exchanging (on a cluster, exactly one node per practice), how its
//! passes go, and what went out and came in. The counters move once per pass, from its report.

use super::PassReport;
use practice_protocol::ids::OrgId;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// The node's exchange metrics; [`ExchangeMetrics::of`] binds them to one practice.
#[derive(Clone)]
pub struct ExchangeMetrics {
    /// `practice_exchange_leading{org}`: 1 while this node sends and receives for the practice.
    leading: IntGaugeVec,
    /// `practice_exchange_passes_total{org,outcome}`: `ok` or `failed` (retried next pass).
    passes: IntCounterVec,
    /// `practice_exchange_sent_total{org,what}`: `837_batches`, `claims`, `276_requests`.
    sent: IntCounterVec,
    /// `practice_exchange_received_files_total{org,settlement}`: `accepted`, `rejected`, `retried`.
    received: IntCounterVec,
    /// `practice_exchange_suspense_total{org}`: inbound items that matched no claim.
    suspense: IntCounterVec,
}

/// The metrics of one practice's exchange.
#[derive(Clone)]
pub struct PracticeMetrics {
    metrics: ExchangeMetrics,
    org: String,
}

impl ExchangeMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let vec = |name: &str, help: &str, label: &str| IntCounterVec::new(Opts::new(name, help), &["org", label]);
        let metrics = ExchangeMetrics {
            leading: IntGaugeVec::new(
                Opts::new("practice_exchange_leading", "1 while this node exchanges for the practice"),
                &["org"],
            )?,
            passes: vec("practice_exchange_passes_total", "Exchange passes by outcome", "outcome")?,
            sent: vec("practice_exchange_sent_total", "What the exchange sent", "what")?,
            received: vec(
                "practice_exchange_received_files_total",
                "Inbound files by how they were settled",
                "settlement",
            )?,
            suspense: IntCounterVec::new(
                Opts::new("practice_exchange_suspense_total", "Inbound items that matched no claim"),
                &["org"],
            )?,
        };
        registry.register(Box::new(metrics.leading.clone()))?;
        registry.register(Box::new(metrics.passes.clone()))?;
        registry.register(Box::new(metrics.sent.clone()))?;
        registry.register(Box::new(metrics.received.clone()))?;
        registry.register(Box::new(metrics.suspense.clone()))?;
        Ok(metrics)
    }

    pub fn of(&self, org: OrgId) -> PracticeMetrics {
        PracticeMetrics { metrics: self.clone(), org: org.to_string() }
    }
}

impl PracticeMetrics {
    pub fn leading(&self, leads: bool) {
        self.metrics.leading.with_label_values(&[&self.org]).set(i64::from(leads));
    }

    pub fn passed(&self, report: &PassReport) {
        let (metrics, org) = (&self.metrics, self.org.as_str());
        metrics.passes.with_label_values(&[org, "ok"]).inc();
        let count = |n: usize| n as u64;
        metrics.sent.with_label_values(&[org, "837_batches"]).inc_by(count(report.sent.batches));
        metrics.sent.with_label_values(&[org, "claims"]).inc_by(count(report.sent.claims));
        metrics.sent.with_label_values(&[org, "276_requests"]).inc_by(count(report.asked.requests));
        let received = &report.received;
        let accepted = received.files.saturating_sub(received.rejected + received.retried);
        metrics.received.with_label_values(&[org, "accepted"]).inc_by(count(accepted));
        metrics.received.with_label_values(&[org, "rejected"]).inc_by(count(received.rejected));
        metrics.received.with_label_values(&[org, "retried"]).inc_by(count(received.retried));
        metrics.suspense.with_label_values(&[org]).inc_by(count(received.suspense));
    }

    pub fn failed(&self) {
        self.metrics.passes.with_label_values(&[&self.org, "failed"]).inc();
    }
}
