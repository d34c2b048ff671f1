//! `practice node`'s clearinghouse link: `--org ORG` with `--outbox DIR --inbox DIR` (the
//! file-drop connector) or `--connector-nats URL` (the NATS connector). Without them the node
//! exchanges nothing and claims wait in Submitted for whatever sends them. `--status-after-ms`
//! sets when a quiet payer is asked with a 276. `--route-payers FILE` with `--route-outbox DIR
//! --route-inbox DIR` or `--route-connector-nats URL` sends the payers the file lists through a
//! second clearinghouse (`connector::route`).

use crate::api::ingest::ServiceDirectory;
use crate::api::service::ClaimService;
use crate::exchange::metrics::{ExchangeMetrics, PracticeMetrics};
use crate::exchange::{Exchange, ExchangeHandle, Leads};
use anyhow::Context;
use practice_actors::ingest::pipeline::Ingestor;
use practice_actors::ingest::registry::BatchRegistry;
use practice_actors::runtime::PolicyBook;
use practice_actors::Node;
use practice_nodes::connector::batch::Parties;
use practice_nodes::connector::file_drop::FileDrop;
use practice_nodes::connector::link::Link;
use practice_nodes::connector::nats::NatsConnector;
use practice_nodes::connector::route::{PayerRoutes, Routed};
use practice_nodes::connector::Clearinghouse;
use practice_nodes::jetstream::JetStreamSettings;
use practice_nodes::outbound::jetstream_log::JetStreamOutboundLog;
use practice_nodes::outbound::sled_log::SledOutboundLog;
use practice_nodes::outbound::OutboundLog;
use practice_protocol::ids::OrgId;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct ExchangeArgs {
    /// The practice (organization id) whose submitted claims this node sends to its
    /// clearinghouse and whose answers it posts. Repeat it for several practices: each gets its
    /// own exchange, and with file drop its own subfolder (named by its id) of each folder.
    #[arg(long, value_delimiter = ',')]
    pub org: Vec<OrgId>,
    /// File-drop connector: 837 batches are written to this folder.
    #[arg(long, requires_all = ["inbox", "org"], conflicts_with = "connector_nats")]
    pub outbox: Option<PathBuf>,
    /// File-drop connector: 999, 277CA, 277 and 835 files are taken from this folder.
    #[arg(long, requires = "outbox")]
    pub inbox: Option<PathBuf>,
    /// NATS connector: batches to out.<org>.837, answers from in.<org>.<txn>.
    #[arg(long, requires = "org")]
    pub connector_nats: Option<String>,
    /// Milliseconds between exchange passes when nothing is waiting.
    #[arg(long, default_value_t = 1000)]
    pub exchange_interval_ms: u64,
    /// Inbox files younger than this are left for the next pass (a peer may still be writing).
    #[arg(long, default_value_t = 1000)]
    pub inbox_min_age_ms: u64,
    /// ISA06/GS02: who our 837s are from.
    #[arg(long, default_value = "PRACTICEOS")]
    pub sender_id: String,
    /// ISA08/GS03: the clearinghouse's id.
    #[arg(long, default_value = "SIMCLEARING")]
    pub receiver_id: String,
    /// Loop 1000B: the clearinghouse's name.
    #[arg(long, default_value = "SIM CLEARINGHOUSE")]
    pub receiver_name: String,
    /// Our name as the receiver of 277 status replies (NM1*41 of the 276).
    #[arg(long, default_value = "PRACTICE OS")]
    pub sender_name: String,
    /// Send a 276 status request for a claim the payer has been quiet on this long since it
    /// left (or since the last request); 0 asks only when a user asks (`status-request`).
    /// Default 30 days.
    #[arg(long, default_value_t = 30 * 24 * 3600 * 1000)]
    pub status_after_ms: u64,
    /// Payer routing: a JSON file naming a second clearinghouse (`receiver_id`,
    /// `receiver_name`) and the payers (`payers`) whose claims and status requests go through
    /// it; every other payer goes through the link above.
    #[arg(long, requires = "org")]
    pub route_payers: Option<PathBuf>,
    /// The second clearinghouse over file drop: its outbox folder.
    #[arg(long, requires_all = ["route_inbox", "route_payers"], conflicts_with = "route_connector_nats")]
    pub route_outbox: Option<PathBuf>,
    /// The second clearinghouse over file drop: its inbox folder.
    #[arg(long, requires = "route_outbox")]
    pub route_inbox: Option<PathBuf>,
    /// The second clearinghouse over NATS (another server than --connector-nats).
    #[arg(long, requires = "route_payers")]
    pub route_connector_nats: Option<String>,
}

impl ExchangeArgs {
    pub fn enabled(&self) -> bool {
        self.outbox.is_some() || self.connector_nats.is_some() || self.route_payers.is_some()
    }

    /// Start an exchange per practice when a connector is configured: on the embedded node
    /// with the outbound log in `data_dir`; on a cluster node (`cluster`) with each practice's
    /// log in JetStream, passing only while this node owns that practice's shard.
    pub async fn start(
        &self,
        node: &Node,
        service: Arc<dyn ClaimService>,
        batches: Arc<dyn BatchRegistry>,
        data_dir: &Path,
        cluster: Option<ClusterLink>,
        metrics: &prometheus::Registry,
    ) -> anyhow::Result<Option<Exchanges>> {
        if !self.enabled() || self.org.is_empty() {
            return Ok(None);
        }
        let routes = match &self.route_payers {
            Some(path) => {
                anyhow::ensure!(
                    self.route_outbox.is_some() || self.route_connector_nats.is_some(),
                    "--route-payers needs the second clearinghouse's link: --route-outbox/--route-inbox or --route-connector-nats"
                );
                anyhow::ensure!(
                    self.route_connector_nats.is_none() || self.route_connector_nats != self.connector_nats,
                    "--route-connector-nats must be another server than --connector-nats (both would read the same answers)"
                );
                Some(Arc::new(PayerRoutes::load(path)?))
            }
            None => None,
        };
        // One database for every practice of an embedded node (its keys name the practice).
        let logs = match cluster {
            None => Logs::Sled(Arc::new(
                SledOutboundLog::open(&data_dir.join("outbound")).context("opening the outbound log")?,
            )),
            Some(cluster) => Logs::JetStream(cluster),
        };
        let metrics = ExchangeMetrics::register(metrics).context("registering the exchange's metrics")?;
        let mut started = Vec::with_capacity(self.org.len());
        for &org in &self.org {
            let (log, leads) = match &logs {
                Logs::Sled(sled) => (OutboundLog::Sled { org, log: sled.clone() }, None),
                Logs::JetStream(cluster) => {
                    let log = JetStreamOutboundLog::open(cluster.client.clone(), org, cluster.replicas)
                        .await
                        .context("opening the outbound log in JetStream")?;
                    // The owner of the practice's shard sends; the others stand by and take
                    // over with its shard. The log's compare-and-set keeps a stale owner from
                    // sending.
                    let practice = PolicyBook::practice_ref(org);
                    let actors = node.clone();
                    let leads: Leads = Arc::new(move || actors.owns(&practice));
                    (OutboundLog::JetStream(Box::new(log)), Some(leads))
                }
            };
            let common = Common {
                org,
                service: service.clone(),
                ingestor: ServiceDirectory::ingestor(node.clone(), service.clone(), batches.clone()),
                registry: batches.clone(),
                log,
                parties: Parties {
                    sender_id: self.sender_id.clone(),
                    receiver_id: self.receiver_id.clone(),
                    receiver_name: self.receiver_name.clone(),
                    sender_name: self.sender_name.clone(),
                    ..Parties::default()
                },
                routes: routes.clone(),
                status_after: (self.status_after_ms > 0).then(|| Duration::from_millis(self.status_after_ms)),
                interval: Duration::from_millis(self.exchange_interval_ms),
                leads,
                metrics: metrics.of(org),
            };
            let folders = (self.folder(&self.outbox, org), self.folder(&self.inbox, org));
            let link = self.link(org, folders, &self.connector_nats, "the clearinghouse").await?;
            let Some(routes) = common.routes.clone() else {
                started.push(common.spawn(link));
                continue;
            };
            let routed = (self.folder(&self.route_outbox, org), self.folder(&self.route_inbox, org));
            let second = self.link(org, routed, &self.route_connector_nats, &routes.receiver_name).await?;
            eprintln!("practice node: {} payers routed to {}", routes.payers.len(), routes.receiver_name);
            started.push(common.spawn(Routed::new(link, second, routes)));
        }
        Ok(Some(Exchanges(started)))
    }

    /// A file-drop folder as given for one practice, its subfolder `<org>` for several.
    fn folder(&self, folder: &Option<PathBuf>, org: OrgId) -> Option<PathBuf> {
        let folder = folder.as_ref()?;
        Some(if self.org.len() > 1 { folder.join(org.to_string()) } else { folder.clone() })
    }

    /// The file-drop link when its folders are given, else the NATS one.
    async fn link(
        &self,
        org: OrgId,
        folders: (Option<PathBuf>, Option<PathBuf>),
        nats: &Option<String>,
        whom: &str,
    ) -> anyhow::Result<Link> {
        if let (Some(outbox), Some(inbox)) = folders {
            let connector = FileDrop::open(&outbox, &inbox, Duration::from_millis(self.inbox_min_age_ms))
                .context("opening the file-drop folders")?;
            eprintln!("practice node: exchanging for {org} with {whom} through {}", outbox.display());
            return Ok(Link::FileDrop(connector));
        }
        let url = nats
            .as_deref()
            .context("payer routing needs the first clearinghouse's link too: --outbox/--inbox or --connector-nats")?;
        let client = practice_nodes::jetstream::connect(url, "practice-exchange").await?;
        // Unsettled answers come back after a minute: long enough for a large 835.
        let connector = NatsConnector::open(client, org, &JetStreamSettings::default(), Duration::from_secs(60))
            .await
            .context("opening the NATS connector")?;
        eprintln!("practice node: exchanging for {org} with {whom} over NATS at {url}");
        Ok(Link::Nats(Box::new(connector)))
    }
}

/// Everything an exchange needs but its connector.
struct Common {
    org: OrgId,
    service: Arc<dyn ClaimService>,
    ingestor: Ingestor,
    registry: Arc<dyn BatchRegistry>,
    log: OutboundLog,
    parties: Parties,
    routes: Option<Arc<PayerRoutes>>,
    status_after: Option<Duration>,
    interval: Duration,
    leads: Option<Leads>,
    metrics: PracticeMetrics,
}

/// The node's running exchanges, one per practice.
pub struct Exchanges(Vec<ExchangeHandle>);

impl Exchanges {
    /// Let every exchange finish its pass and stop.
    pub async fn stop(self) {
        for exchange in self.0 {
            exchange.stop().await;
        }
    }
}

/// Where the practices' outbound logs are.
enum Logs {
    Sled(Arc<SledOutboundLog>),
    JetStream(ClusterLink),
}

/// What a cluster node's exchange keeps in JetStream.
pub struct ClusterLink {
    pub client: async_nats::Client,
    pub replicas: usize,
}

impl Common {
    fn spawn<C: Clearinghouse + 'static>(self, connector: C) -> ExchangeHandle {
        let exchange = Exchange {
            org: self.org,
            connector,
            service: self.service,
            ingestor: self.ingestor,
            registry: self.registry,
            log: self.log,
            parties: self.parties,
            routes: self.routes,
            status_after: self.status_after,
            // A hundredth of the quiet interval (a claim is asked about at most 1 % late), and
            // a user's request within ten passes.
            inquiry_every: self.status_after.map_or(self.interval * 10, |after| (after / 100).min(self.interval * 10)),
            last_inquiry: Default::default(),
            leads: self.leads,
            metrics: self.metrics,
        };
        exchange.spawn(self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        exchange: ExchangeArgs,
    }

    const A: &str = "6a1b2c3d-0000-4000-8000-0000000000a1";
    const B: &str = "6a1b2c3d-0000-4000-8000-0000000000b2";

    #[test]
    fn one_practice_uses_the_folders_as_given_several_a_subfolder_each() {
        let one = Cli::parse_from(["x", "--org", A, "--outbox", "/out", "--inbox", "/in"]).exchange;
        let a: OrgId = A.parse().unwrap();
        assert_eq!(one.folder(&one.outbox, a), Some(PathBuf::from("/out")));
        for several in [
            Cli::parse_from(["x", "--org", A, "--org", B, "--outbox", "/out", "--inbox", "/in"]).exchange,
            Cli::parse_from(["x", "--org", &format!("{A},{B}"), "--outbox", "/out", "--inbox", "/in"]).exchange,
        ] {
            assert_eq!(several.org.len(), 2);
            assert_eq!(several.folder(&several.inbox, a), Some(PathBuf::from(format!("/in/{A}"))));
            assert_eq!(several.folder(&several.route_outbox, a), None);
        }
    }
}
