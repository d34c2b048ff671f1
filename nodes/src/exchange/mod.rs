//! The node's clearinghouse exchange: what a billing office's clearinghouse link does all day.
//! Every pass sends the claims a billing manager submitted as 837 batches (`transmit`), asks
//! payers about claims they have been quiet on with 276 status requests (`inquire`), and takes
//! the clearinghouse's answers in (`receive`), over any [`Clearinghouse`] connector — the
//! file-drop folders or NATS.
//!
//! It reads claims from the API's projection of the journal (`ClaimService`), so it starts
//! once that projection has caught up; it writes only through the outbound log, the batch
//! registry, the connector and the ingestion pipeline's commands.

pub mod inquire;
pub mod metrics;
pub mod receive;
pub mod transmit;

use crate::api::service::{ClaimService, ServiceError};
use inquire::InquiryReport;
use practice_actors::ingest::pipeline::Ingestor;
use practice_actors::ingest::registry::{BatchRegistry, RegistryError};
use practice_nodes::connector::batch::Parties;
use practice_nodes::connector::route::PayerRoutes;
use practice_nodes::connector::{Clearinghouse, ConnectorError};
use practice_nodes::outbound::{OutboundLog, OutboundLogError};
use practice_protocol::ids::OrgId;
use receive::ReceiveReport;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use transmit::TransmitReport;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error(transparent)]
    Log(#[from] OutboundLogError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("connector: {0}")]
    Connector(#[from] ConnectorError),
    #[error("reading claims: {0}")]
    Claims(ServiceError),
}

pub struct Exchange<C> {
    pub org: OrgId,
    pub connector: C,
    pub service: Arc<dyn ClaimService>,
    pub ingestor: Ingestor,
    pub registry: Arc<dyn BatchRegistry>,
    pub log: OutboundLog,
    pub parties: Parties,
    /// Payers reached through another clearinghouse: their interchanges are addressed to it
    /// (the connector, a [`Routed`](practice_nodes::connector::route::Routed), carries them there).
    pub routes: Option<Arc<PayerRoutes>>,
    /// Ask the payer (276) about a claim sent this long ago with no final answer, and again
    /// after each such quiet interval; `None` never asks.
    pub status_after: Option<Duration>,
    /// How often `inquire` looks for claims to ask about: reading every claim with the payer
    /// each pass would be waste, and neither a 30-day clock nor a user's "check status" needs it.
    pub inquiry_every: Duration,
    /// When it last looked.
    pub last_inquiry: std::sync::Mutex<Option<std::time::Instant>>,
    /// On a cluster, whether this node is the one that sends for the practice now (it owns the
    /// practice entity's shard); `None` on the embedded node, which always is.
    pub leads: Option<Leads>,
    pub metrics: metrics::PracticeMetrics,
}

/// Whether this node should run the exchange's passes now.
pub type Leads = Arc<dyn Fn() -> bool + Send + Sync>;

impl<C> Exchange<C> {
    /// Who an interchange for `payer` is from and to.
    fn parties_for(&self, payer: &str) -> Parties {
        match &self.routes {
            Some(routes) if routes.routes(payer) => Parties {
                receiver_id: routes.receiver_id.clone(),
                receiver_name: routes.receiver_name.clone(),
                ..self.parties.clone()
            },
            _ => self.parties.clone(),
        }
    }
}

/// Milliseconds since the Unix epoch (0 before it).
fn unix_ms(time: chrono::DateTime<chrono::Utc>) -> u64 {
    u64::try_from(time.timestamp_millis()).unwrap_or(0)
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub sent: TransmitReport,
    pub asked: InquiryReport,
    pub received: ReceiveReport,
}

impl<C: Clearinghouse + 'static> Exchange<C> {
    /// Send what is due, then take in what arrived.
    pub async fn pass(&self) -> Result<PassReport, ExchangeError> {
        let now = chrono::Utc::now();
        // What another node sent for the practice before this one took over.
        self.log.refresh().await?;
        let sent = self.transmit(now).await?;
        let asked = self.inquire(now).await?;
        let received = self.receive().await?;
        Ok(PassReport { sent, asked, received })
    }

    /// Run a pass every `interval` (at once again while a pass finds work) until stopped.
    pub fn spawn(self, interval: Duration) -> ExchangeHandle {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            while !self.service.ready() {
                if wait(&mut stopped, Duration::from_millis(50)).await {
                    return;
                }
            }
            let mut leading = None;
            loop {
                let leads = self.leads.as_ref().is_none_or(|leads| leads());
                if leading != Some(leads) {
                    leading = Some(leads);
                    self.metrics.leading(leads);
                    if self.leads.is_some() {
                        // Operators read which node talks to the clearinghouse from here.
                        tracing::info!(org = %self.org, leads, "exchange leadership");
                        eprintln!(
                            "practice node: {} for organization {}",
                            if leads { "sending and receiving" } else { "standing by (another node exchanges)" },
                            self.org
                        );
                    }
                }
                if !leads {
                    if wait(&mut stopped, interval).await {
                        return;
                    }
                    continue;
                }
                let busy = match self.pass().await {
                    Ok(report) => {
                        self.metrics.passed(&report);
                        if report != PassReport::default() {
                            tracing::info!(
                                batches = report.sent.batches,
                                claims = report.sent.claims,
                                status_requests = report.asked.requests,
                                asked = report.asked.claims,
                                files = report.received.files,
                                events = report.received.events,
                                "exchange pass"
                            );
                        }
                        report.received.files > report.received.retried
                    }
                    Err(error) => {
                        self.metrics.failed();
                        tracing::warn!(%error, "exchange pass failed; retrying");
                        false
                    }
                };
                let pause = if busy { Duration::ZERO } else { interval };
                if wait(&mut stopped, pause).await {
                    return;
                }
            }
        });
        ExchangeHandle { stop, task }
    }
}

/// Sleep `pause`, or less if stopped; true when stopped.
async fn wait(stopped: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    if *stopped.borrow() {
        return true;
    }
    let _ = tokio::time::timeout(pause, stopped.changed()).await;
    *stopped.borrow()
}

/// A running exchange; `stop` lets the current pass finish.
pub struct ExchangeHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ExchangeHandle {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the exchange task failed");
        }
    }
}
