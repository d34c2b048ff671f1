//! Claims leaving the practice: a billing manager's submissions, their 837 batches written to
//! the outbox and recorded as sent, and handed to the simulated clearinghouse.
//!
//! The first day's encounters go a chunk at a time (`first_day`): a task drafts, signs off,
//! scrubs and submits one chunk on the runtime's workers (each claim's four commands in one
//! journal write) while the driver writes the chunk before it into 837s and the simulator
//! reads them, work that would otherwise leave the actors idle and then the driver.

use super::flow::{draft_and_submit, rejection, send, submission, Cast};
use super::latency::LatencyLog;
use super::outbox::{write_batches, Batch};
use super::summary::Tally;
use anyhow::Context;
use chrono::NaiveDate;
use futures::stream::{self, StreamExt};
use practice_actors::entity::EntityRejection;
use practice_actors::ingest::registry::BatchRegistry;
use practice_actors::Node;
use practice_nodes::sim::Simulator;
use practice_protocol::claim::{ClaimStatus, Rejection};
use practice_protocol::domain::Claim;
use practice_protocol::ids::{ClaimId, OrgId};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinHandle;

/// Encounters per chunk of the first day: small enough that the last chunk's 837s, written
/// after every draft is done, are a short tail; large enough that a chunk's drain (its last
/// few commands in flight) is rare.
const FIRST_DAY_CHUNK: usize = 2_048;

/// One chunk of the first day, drafted and submitted: the claims ready and submitted (sorted,
/// so the same run writes the same 837s), how many failed their scrub, and when its drafting
/// and submission started.
pub(super) struct Chunk {
    pub(super) ready: Vec<ClaimId>,
    pub(super) scrub_failures: u64,
    pub(super) drafted: usize,
    pub(super) submitted_at: Instant,
}

/// The first day's chunks, each drafted and submitted on the runtime while the driver works
/// the one before, handed out in the claims' order. At most two chunks are in the actors at
/// once, so the commands in flight stay near `concurrency` per chunk.
pub(super) struct FirstDay {
    node: Node,
    cast: Arc<Cast>,
    claims: Arc<[Claim]>,
    today: NaiveDate,
    concurrency: usize,
    waiting: VecDeque<Range<usize>>,
    running: VecDeque<JoinHandle<anyhow::Result<Chunk>>>,
}

impl FirstDay {
    pub(super) fn new(node: &Node, cast: &Cast, claims: Arc<[Claim]>, today: NaiveDate, concurrency: usize) -> Self {
        let total = claims.len();
        let waiting =
            (0..total).step_by(FIRST_DAY_CHUNK).map(|start| start..(start + FIRST_DAY_CHUNK).min(total)).collect();
        Self {
            node: node.clone(),
            cast: Arc::new(cast.clone()),
            claims,
            today,
            concurrency,
            waiting,
            running: VecDeque::new(),
        }
    }

    /// The next chunk once it is submitted, the one after it already started; `None` after
    /// the last.
    pub(super) async fn next(&mut self) -> Option<anyhow::Result<Chunk>> {
        while self.running.len() < 2 {
            let Some(range) = self.waiting.pop_front() else { break };
            let (node, cast, claims) = (self.node.clone(), self.cast.clone(), self.claims.clone());
            let (today, concurrency) = (self.today, self.concurrency);
            self.running.push_back(tokio::spawn(async move {
                work_chunk(&node, &cast, (&claims, range), today, concurrency).await
            }));
        }
        let current = self.running.pop_front()?;
        Some(current.await.context("a drafting task stopped").and_then(|chunk| chunk))
    }
}

/// Each claim of the chunk drafted and submitted in one write (`flow::draft_and_submit`).
async fn work_chunk(
    node: &Node,
    cast: &Cast,
    (claims, range): (&Arc<[Claim]>, Range<usize>),
    today: NaiveDate,
    concurrency: usize,
) -> anyhow::Result<Chunk> {
    let count = range.len();
    let submitted_at = Instant::now();
    // By index: a spawned task's stream mapping borrowed claims does not type-check
    // (rust-lang/rust#102211).
    let drafted = stream::iter(range)
        .map(|index| async move {
            let claim = &claims[index];
            draft_and_submit(node, cast, claim, today).await.map(|submitted| (claim.id, submitted))
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let (mut ready, mut scrub_failures) = (Vec::new(), 0);
    for result in drafted {
        match result? {
            (claim_id, true) => ready.push(claim_id),
            (_, false) => scrub_failures += 1,
        }
    }
    ready.sort_unstable();
    Ok(Chunk { ready, scrub_failures, drafted: count, submitted_at })
}

/// Submit `claims` concurrently as the billing manager.
pub(super) async fn submit(
    node: &Node,
    cast: &Cast,
    claims: &[ClaimId],
    concurrency: usize,
    resubmissions: &BTreeMap<ClaimId, u32>,
) -> anyhow::Result<()> {
    let outcomes = stream::iter(claims.iter().copied())
        .map(|claim_id| async move {
            let (id, submit) = submission(claim_id, submission_of(resubmissions, claim_id));
            (claim_id, send(node, claim_id, cast.org, &cast.manager, id, submit).await)
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    for (claim_id, outcome) in outcomes {
        let outcome = outcome?;
        if let Some(rejection) = rejection(&outcome) {
            // An appeal resubmits by itself (Denied → Submitted): nothing to do here.
            if !matches!(
                rejection,
                EntityRejection::Claim(Rejection::InvalidTransition { status: ClaimStatus::Submitted, .. })
            ) {
                tracing::warn!(%claim_id, %rejection, "submission refused");
            }
        }
    }
    Ok(())
}

pub(super) fn submission_of(resubmissions: &BTreeMap<ClaimId, u32>, claim_id: ClaimId) -> u32 {
    resubmissions.get(&claim_id).copied().unwrap_or(0)
}

/// The outbox side of the file-drop connector: 837s written, recorded in the batch registry
/// for the 999s to come, and handed to the simulated clearinghouse.
pub(super) struct Outbound {
    pub(super) dir: PathBuf,
    pub(super) org: OrgId,
    pub(super) registry: Arc<dyn BatchRegistry>,
    /// Each batch's file, by batch id, for its 999.
    pub(super) files: HashMap<String, PathBuf>,
}

impl Outbound {
    /// The claims `submitted` (found in `by_id`), submitted from `started` on, leave as the
    /// day's 837 batches.
    pub(super) async fn send(
        &mut self,
        (submitted, by_id): (&[ClaimId], &HashMap<ClaimId, Claim>),
        (today, control): (NaiveDate, &mut u32),
        simulator: &mut Simulator,
        (tally, latency): (&mut Tally, &mut LatencyLog),
        started: Instant,
    ) -> anyhow::Result<()> {
        let claims: Vec<Claim> = submitted.iter().filter_map(|id| by_id.get(id).cloned()).collect();
        let mut batches = write_batches(&self.dir, claims, today, control)?;
        // Each batch its own group control number: recorded at once, they share the syncs.
        let sent = batches.iter_mut().flat_map(|batch| std::mem::take(&mut batch.sent));
        let recorded = sent.map(|sent| self.registry.record_sent(self.org, sent));
        futures::future::try_join_all(recorded).await.context("recording a sent batch")?;
        for Batch { id, path, bytes, claims, .. } in batches {
            self.files.insert(id.clone(), path);
            tally.files_837 += 1;
            tally.bytes_837 += bytes as u64;
            simulator.receive(&id, &claims).map_err(|error| anyhow::anyhow!("simulator: {error}"))?;
            latency.submitted(claims.iter().map(|claim| claim.id), started);
        }
        Ok(())
    }
}
