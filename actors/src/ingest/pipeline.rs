//! The ingestion pipeline: one raw inbound X12 file of one organization → parsed and checked
//! (`inbound::parse_inbound`) → the claims it names looked up (`ClaimDirectory`) → planned
//! (`inbound::plan_inbound`) → each command sent to its claim actor as the ingestion system
//! actor → the file remembered in the journal (`remember_inbound`). A 999's verdicts go to
//! the claims of the sets they name through the `BatchRegistry` (rejected: `Reject` back to
//! Draft with the 999's errors; accepted: recorded); PLB entries and suspense items (an
//! unmatched payment, a 999 for no batch we sent, a posting a claim refused) are journaled on
//! the practice entity (`ledger`).
//!
//! Crash safety: the file is remembered only after every command has an outcome. A crash or a
//! send failure before that leaves it unremembered; the connector redelivers it and the content-
//! derived command ids make the second run apply nothing twice (G3). A redelivery after success
//! runs again too (commands are no-ops) and is reported as a duplicate.

use super::ack999::plan_999;
use super::era::{ClaimIndex, ProviderLedgerEntry};
use super::inbound::{parse_inbound, plan_inbound, InboundError, InboundSuspense, PlannedCommand, SetVerdict};
use super::ledger::{provider_records, record, suspense_records, RefusedPosting};
use super::registry::{control_key, BatchRegistry, RegistryError, SetOutcome};
use crate::entity::{EntityCommand, Outcome, SendError};
use crate::journal::{BoxFuture, JournalError};
use crate::node::Node;
use chrono::Utc;
use practice_protocol::claim::{ClaimCommand, RejectionSource};
use practice_protocol::domain::Claim;
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::ids::{ClaimId, OrgId};
use practice_protocol::roles::{Actor, SystemComponent};
use practice_protocol::shard::claim_ref;
use practice_protocol::Currency;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tokio::task::JoinSet;

/// Where the pipeline finds our claims by patient control number (CLM01). The node's
/// projection implements it; tests use `MemoryDirectory`.
pub trait ClaimDirectory: Send + Sync + 'static {
    /// The organization's claims whose control number is one of `numbers` (all of them when
    /// several claims share a number: primary, secondary, tertiary).
    fn claims_by_control_number(
        &self,
        org: OrgId,
        numbers: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<Claim>, DirectoryError>>;
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("claim directory unavailable: {0}")]
pub struct DirectoryError(pub String);

/// Claims held in memory, per organization.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    claims: std::sync::RwLock<Vec<Claim>>,
}

impl MemoryDirectory {
    pub fn insert(&self, claim: Claim) {
        self.claims.write().unwrap_or_else(|poisoned| poisoned.into_inner()).push(claim);
    }
}

impl ClaimDirectory for MemoryDirectory {
    fn claims_by_control_number(
        &self,
        org: OrgId,
        numbers: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<Claim>, DirectoryError>> {
        let wanted: HashSet<String> = numbers.into_iter().collect();
        let claims = self.claims.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let found = claims
            .iter()
            .filter(|claim| claim.org == org && wanted.contains(claim.patient_control_number.as_str()))
            .cloned()
            .collect();
        Box::pin(async move { Ok(found) })
    }
}

/// Why a file was not (fully) ingested. `Invalid` is final; the rest are worth a redelivery.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Invalid(#[from] InboundError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("claim {claim}: {error}")]
    Send { claim: ClaimId, error: SendError },
    #[error("a sending task failed: {0}")]
    Task(String),
    #[error("remembering the file: {0}")]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("recording PLB entries and suspense on the practice: {0}")]
    Ledger(SendError),
}

impl IngestError {
    /// A redelivery of the same file can succeed (the input itself is fine).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, IngestError::Invalid(_))
    }
}

/// A claim command its actor refused (e.g. a second original payment on a Paid claim): kept,
/// with the reason, for a biller; never dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusedCommand {
    pub claim_id: ClaimId,
    pub command: &'static str,
    pub reason: String,
}

/// What one file did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    pub file_id: String,
    /// The journal had already remembered this file.
    pub duplicate: bool,
    pub commands: usize,
    /// Commands that appended events (0 for every command of a redelivered file).
    pub applied: usize,
    pub events_appended: usize,
    pub refused: Vec<RefusedCommand>,
    pub provider_entries: Vec<ProviderLedgerEntry>,
    pub suspense: Vec<InboundSuspense>,
    pub set_verdicts: Vec<SetVerdict>,
    pub status_replies: usize,
    pub out_of_balance: Vec<String>,
    pub reader_warnings: usize,
    /// Claims a `Reject` (999 or 277CA) returned to Draft in this run, with the source.
    pub returned_to_draft: Vec<(ClaimId, RejectionSource)>,
    /// Claims a 277CA `Accept` moved to Accepted in this run.
    pub accepted: Vec<ClaimId>,
    /// PLB entries and suspense items newly journaled on the practice (0 on a redelivery).
    pub ledger_recorded: usize,
}

/// Takes inbound files to the claim actors of a node.
#[derive(Clone)]
pub struct Ingestor {
    node: Node,
    directory: Arc<dyn ClaimDirectory>,
    /// The practice's billing currency (835s carry none).
    currency: Currency,
    /// Sent 837 batches, for 999s. Without one, every 999 verdict is a suspense item.
    registry: Option<Arc<dyn BatchRegistry>>,
    /// Claims of one file whose commands are in flight at once.
    in_flight: usize,
}

/// Claims of one file sent at once: enough to keep every shard busy, while an 835 of 50,000
/// claims does not hold 50,000 tasks and their commands in memory together.
pub const CLAIMS_IN_FLIGHT: usize = 1024;

impl Ingestor {
    pub fn new(node: Node, directory: Arc<dyn ClaimDirectory>, currency: Currency) -> Self {
        Ingestor { node, directory, currency, registry: None, in_flight: CLAIMS_IN_FLIGHT }
    }

    /// At most `claims` claims of a file in flight at once (at least one).
    pub fn with_claims_in_flight(mut self, claims: usize) -> Self {
        self.in_flight = claims.max(1);
        self
    }

    /// Take 999s back to claims through `registry`.
    pub fn with_registry(mut self, registry: Arc<dyn BatchRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Ingest one file for `org`. Commands of one claim go in file order (a reversal before
    /// its correction); different claims go concurrently.
    pub async fn ingest(&self, org: OrgId, raw: &[u8]) -> Result<IngestReport, IngestError> {
        let parsed = parse_inbound(raw)?;
        let claims = self.directory.claims_by_control_number(org, parsed.patient_control_numbers()).await?;
        // The directory is trusted to filter by tenant; check again, since a leak here would post
        // one practice's money to another's claim (G8).
        let claims: Vec<Claim> = claims.into_iter().filter(|claim| claim.org == org).collect();
        let mut plan = plan_inbound(&parsed, &ClaimIndex::new(claims.iter()), self.currency);
        let mut batches = HashMap::new();
        if let Some(registry) = &self.registry {
            for verdict in &plan.set_verdicts {
                let key = control_key(&verdict.group_control_number);
                if let std::collections::hash_map::Entry::Vacant(slot) = batches.entry(key) {
                    if let Some(found) = registry.find(org, &verdict.group_control_number).await? {
                        slot.insert(found);
                    }
                }
            }
        }
        let acks = plan_999(&plan.set_verdicts, &batches, &parsed.file_id);
        plan.commands.extend(acks.commands);
        plan.suspense.extend(acks.suspense);
        let mut report = IngestReport {
            file_id: parsed.file_id.clone(),
            commands: plan.commands.len(),
            provider_entries: plan.provider_entries,
            suspense: plan.suspense,
            set_verdicts: plan.set_verdicts,
            status_replies: plan.status_replies,
            out_of_balance: plan.out_of_balance,
            reader_warnings: parsed.warnings,
            ..IngestReport::default()
        };
        let refused = self.send_all(org, plan.commands, &mut report).await?;
        if let Some(registry) = &self.registry {
            // One write per group (a 999 usually answers one), all of a group's sets in it.
            let mut by_group: BTreeMap<String, Vec<(String, SetOutcome)>> = BTreeMap::new();
            for (group, set, outcome) in acks.outcomes {
                by_group.entry(group).or_default().push((set, outcome));
            }
            for (group, verdicts) in by_group {
                registry.record_verdicts(org, &group, verdicts).await?;
            }
        }
        let mut records = provider_records(&report.provider_entries);
        records.extend(suspense_records(&report.suspense, &refused));
        let ledger = record(&self.node, org, records).await.map_err(IngestError::Ledger)?;
        report.ledger_recorded = ledger.recorded;
        for reason in ledger.refused {
            tracing::warn!(%org, %reason, "the practice refused a PLB or suspense record");
        }
        report.duplicate = !self.node.journal().remember_inbound(org, &parsed.file_id).await?;
        tracing::info!(
            %org,
            file = %report.file_id,
            commands = report.commands,
            applied = report.applied,
            suspense = report.suspense.len(),
            refused = report.refused.len(),
            duplicate = report.duplicate,
            "inbound file ingested"
        );
        Ok(report)
    }

    async fn send_all(
        &self,
        org: OrgId,
        commands: Vec<PlannedCommand>,
        report: &mut IngestReport,
    ) -> Result<Vec<RefusedPosting>, IngestError> {
        let mut by_claim: BTreeMap<ClaimId, Vec<PlannedCommand>> = BTreeMap::new();
        for command in commands {
            by_claim.entry(command.claim_id).or_default().push(command);
        }
        let actor = Actor::System { org, component: SystemComponent::Ingestion };
        let mut tasks = JoinSet::new();
        let mut sent = SentTally::default();
        for (claim_id, commands) in by_claim {
            if tasks.len() >= self.in_flight {
                if let Some(joined) = tasks.join_next().await {
                    sent.take(joined, report);
                }
            }
            let (node, actor) = (self.node.clone(), actor.clone());
            tasks.spawn(async move {
                // One claim's commands in file order, appended together: all or none of them
                // (a failure is every command's, and the file is offered again).
                let entity = claim_ref(org, claim_id);
                let envelopes = commands
                    .iter()
                    .map(|planned| CommandEnvelope {
                        command_id: planned.command_id,
                        entity,
                        issued_at: Utc::now(),
                        actor: actor.clone(),
                        command: EntityCommand::Claim(planned.command.clone()),
                    })
                    .collect();
                let outcomes = node.send_batch(entity, envelopes).await;
                commands
                    .into_iter()
                    .zip(outcomes)
                    .map(|(planned, outcome)| (claim_id, planned.command.name(), planned.command, outcome))
                    .collect::<Vec<_>>()
            });
        }
        while let Some(joined) = tasks.join_next().await {
            sent.take(joined, report);
        }
        let SentTally { first_error, mut refused_postings } = sent;
        report.refused.sort_by_key(|refused| refused.claim_id);
        report.returned_to_draft.sort_by_key(|(claim_id, _)| *claim_id);
        report.accepted.sort();
        // File order is lost across claims; a stable order keeps the suspense ids' ranks stable.
        refused_postings.sort_by_key(|refused| (refused.claim_id, refused.posting.payment_id));
        first_error.map_or(Ok(refused_postings), Err)
    }
}

/// What a claim's sent commands came back with, as each claim's task finishes.
type ClaimOutcomes = Vec<(ClaimId, &'static str, ClaimCommand, Result<Outcome, SendError>)>;

#[derive(Default)]
struct SentTally {
    first_error: Option<IngestError>,
    refused_postings: Vec<RefusedPosting>,
}

impl SentTally {
    fn take(&mut self, joined: Result<ClaimOutcomes, tokio::task::JoinError>, report: &mut IngestReport) {
        let outcomes = match joined {
            Ok(outcomes) => outcomes,
            Err(error) => {
                self.first_error.get_or_insert(IngestError::Task(error.to_string()));
                return;
            }
        };
        for (claim_id, name, command, outcome) in outcomes {
            match outcome {
                Ok(Outcome::Accepted { events_appended, .. }) => {
                    report.events_appended += events_appended;
                    report.applied += usize::from(events_appended > 0);
                    match command {
                        ClaimCommand::Reject { source, .. } if events_appended > 0 => {
                            report.returned_to_draft.push((claim_id, source))
                        }
                        ClaimCommand::Accept { .. } if events_appended > 0 => report.accepted.push(claim_id),
                        _ => {}
                    }
                }
                Ok(Outcome::Rejected { rejection, .. }) => {
                    let reason = rejection.to_string();
                    if let ClaimCommand::PostRemittance { posting } = command {
                        self.refused_postings.push(RefusedPosting {
                            claim_id,
                            posting: *posting,
                            reason: reason.clone(),
                        });
                    }
                    report.refused.push(RefusedCommand { claim_id, command: name, reason })
                }
                Err(error) => {
                    self.first_error.get_or_insert(IngestError::Send { claim: claim_id, error });
                }
            }
        }
    }
}
