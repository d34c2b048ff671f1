//! `PostingIngestion`: the upload endpoint's `Ingestion` that posts. The raw file is first
//! stored as received (`StoreOnlyIngestion`, named by its SHA-256; the full `IngestReport` is
//! kept beside it as `<sha256>.ingest.json`), then run through the
//! actors' ingestion pipeline (`practice_actors::ingest::pipeline`): parsed, matched to the
//! organization's claims, and sent to the claim actors as the ingestion system actor.
//!
//! Every upload is posted, even one whose bytes are already stored: a crash between storing
//! and posting must not lose the file, and the content-derived command ids make a second run
//! apply nothing (G3). A file the readers refuse is answered `refused` (final, do not resend);
//! a failure worth a resend (claim actor timeout, journal down) is an error, which the upload
//! endpoint answers 503.

use super::service::{ClaimFilter, ClaimService};
use super::upload::{IngestReceipt, Ingestion, StoreOnlyIngestion, Upload};
use axum::body::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use practice_actors::ingest::pipeline::{ClaimDirectory, DirectoryError, IngestReport, Ingestor};
use practice_actors::ingest::registry::BatchRegistry;
use practice_actors::Node;
use practice_protocol::domain::Claim;
use practice_protocol::ids::OrgId;
use practice_protocol::Currency;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The claim directory over the API's claim service (its projection of the journal).
pub struct ServiceDirectory {
    pub service: Arc<dyn ClaimService>,
}

impl ServiceDirectory {
    /// The ingestion pipeline over `service`'s claims, taking 999s to the claims of the 837s
    /// recorded in `batches`: what uploads and the node's clearinghouse exchange post through.
    pub fn ingestor(node: Node, service: Arc<dyn ClaimService>, batches: Arc<dyn BatchRegistry>) -> Ingestor {
        Ingestor::new(node, Arc::new(ServiceDirectory { service }), Currency::USD).with_registry(batches)
    }
}

impl ClaimDirectory for ServiceDirectory {
    fn claims_by_control_number(
        &self,
        org: OrgId,
        numbers: Vec<String>,
    ) -> practice_actors::journal::BoxFuture<'_, Result<Vec<Claim>, DirectoryError>> {
        Box::pin(async move {
            let wanted: HashSet<String> = numbers.into_iter().collect();
            let found = self.matching(org, &wanted).await?;
            let named: HashSet<&str> = found.iter().map(|claim| claim.patient_control_number.as_str()).collect();
            if wanted.iter().all(|number| named.contains(number.as_str())) {
                return Ok(found);
            }
            // A number we do not know may name a claim another node created a moment ago, or
            // while this process was paused: suspense only after the list caught up.
            self.service.catch_up().await.map_err(|error| DirectoryError(error.to_string()))?;
            self.matching(org, &wanted).await
        })
    }
}

impl ServiceDirectory {
    async fn matching(&self, org: OrgId, wanted: &HashSet<String>) -> Result<Vec<Claim>, DirectoryError> {
        // The projection has no control-number index yet: one pass over the organization.
        let snapshots =
            self.service.list(org, ClaimFilter::default()).await.map_err(|error| DirectoryError(error.to_string()))?;
        Ok(snapshots
            .into_iter()
            .filter_map(|snapshot| snapshot.state.claim)
            .filter(|claim| wanted.contains(claim.patient_control_number.as_str()))
            .collect())
    }
}

pub struct PostingIngestion {
    store: StoreOnlyIngestion,
    ingestor: Ingestor,
    directory: PathBuf,
}

impl PostingIngestion {
    /// `batches` is where the 837s this practice sent are recorded: an uploaded 999 finds its
    /// claims there.
    pub fn new(
        directory: PathBuf,
        node: Node,
        service: Arc<dyn ClaimService>,
        batches: Arc<dyn BatchRegistry>,
    ) -> Self {
        PostingIngestion {
            store: StoreOnlyIngestion::new(directory.clone()),
            ingestor: ServiceDirectory::ingestor(node, service, batches),
            directory,
        }
    }

    /// Where the full report of an upload is kept: beside the raw file, so its suspense items,
    /// PLB entries and 999 verdicts outlive the HTTP reply.
    pub fn report_path(&self, upload: &Upload) -> PathBuf {
        self.directory.join(upload.org.0.simple().to_string()).join(format!("{}.ingest.json", upload.sha256))
    }

    /// Write then rename, so a reader never sees half a report.
    async fn keep_report(&self, upload: &Upload, report: &IngestReport) -> Result<(), String> {
        let path = self.report_path(upload);
        // A redelivery applies nothing: the first run's report says what was posted.
        if report.duplicate && tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let partial = path.with_extension("partial");
        let json = serde_json::to_vec_pretty(report).map_err(|error| error.to_string())?;
        tokio::fs::write(&partial, json).await.map_err(|error| error.to_string())?;
        tokio::fs::rename(&partial, &path).await.map_err(|error| error.to_string())
    }
}

/// One line a billing office can read; the numbers a connector can log.
fn detail(report: &IngestReport) -> String {
    format!(
        "{} commands, {} applied ({} events); {} refused by their claims; {} in suspense; {} provider-level entries; \
         {} 999 set verdicts; {} 835s out of balance",
        report.commands,
        report.applied,
        report.events_appended,
        report.refused.len(),
        report.suspense.len(),
        report.provider_entries.len(),
        report.set_verdicts.len(),
        report.out_of_balance.len()
    )
}

impl Ingestion for PostingIngestion {
    fn ingest(&self, upload: Upload, raw: Bytes) -> BoxFuture<'_, Result<IngestReceipt, String>> {
        async move {
            let org = upload.org;
            // Stored first: the raw file survives whatever happens to the posting.
            self.store.ingest(upload.clone(), raw.clone()).await?;
            match self.ingestor.ingest(org, &raw).await {
                Ok(report) => {
                    self.keep_report(&upload, &report).await?;
                    Ok(IngestReceipt {
                        status: if report.duplicate { "duplicate" } else { "posted" },
                        detail: detail(&report),
                    })
                }
                Err(error) if !error.is_retryable() => {
                    Ok(IngestReceipt { status: "refused", detail: error.to_string() })
                }
                Err(error) => Err(error.to_string()),
            }
        }
        .boxed()
    }
}
