//! The demo's orchestration: one simulated day at a time, every step a command to a claim
//! actor through the node.

use super::acks::{ingest_277ca, ingest_999s};
use super::denials::work_denials;
use super::latency::LatencyLog;
use super::parallel::in_parallel;
use super::remits::{post, read_835_file, ByControlNumber};
use super::status::{inquire, Awaiting};
use super::submission::{submission_of, submit, FirstDay, Outbound};
use super::summary::{DemoSummary, Tally};
use anyhow::{bail, Context};
use chrono::NaiveDate;
use futures::stream::{self, StreamExt};
use practice_actors::billing::next_payer_claim;
use practice_actors::entity::{EntityCommand, EntityRejection, Outcome, SendError, Summary};
use practice_actors::ingest::pipeline::{Ingestor, MemoryDirectory};
use practice_actors::ingest::registry::{BatchRegistry, SledBatchRegistry};
use practice_actors::runtime::PolicyBook;
use practice_actors::sentry::scrub::scrub;
use practice_actors::Node;
use practice_nodes::sim::generate::generate_claims;
use practice_nodes::sim::x12::{render_835, Recipient};
use practice_nodes::sim::{SimOutput, Simulator};
use practice_protocol::claim::{ClaimCommand, ClaimState, ClaimStatus, RemittancePosting};
use practice_protocol::domain::Claim;
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::ids::{ClaimId, CommandId, OrgId, PayerId, UserId};
use practice_protocol::practice::PracticeState;
use practice_protocol::roles::{Actor, Role, SystemComponent};
use practice_protocol::shard::claim_ref;
use practice_protocol::Currency;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct DemoConfig {
    pub claims: u64,
    pub seed: u64,
    pub data_dir: PathBuf,
    /// Commands in flight at once.
    pub concurrency: usize,
    /// Simulated days to run at most before stopping the clock.
    pub max_days: i64,
    /// Where sent batches are recorded; `None`: a sled database in `data_dir` (`batches`).
    pub batch_registry: Option<Arc<dyn BatchRegistry>>,
}

/// Encounters generated per piece of work, spread over the cores.
const GENERATE_CHUNK: u64 = 4_096;

/// Progress callback: (stage, done, total).
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

#[derive(Clone)]
pub(super) struct Cast {
    pub(super) org: OrgId,
    pub(super) manager: Actor,
    pub(super) admin: Actor,
    pub(super) clinician: Actor,
    pub(super) ingestion: Actor,
}

impl Cast {
    fn new(org: OrgId) -> Cast {
        let user = |role: Role| Actor::User { org, user: UserId::derived(&[b"demo-user", &[role.level()]]), role };
        Cast {
            org,
            manager: user(Role::BillingManager),
            admin: user(Role::PracticeAdmin),
            clinician: user(Role::Clinician),
            ingestion: Actor::System { org, component: SystemComponent::Ingestion },
        }
    }
}

/// One command with a stable id; the answer, or an error when no outcome came.
pub(super) async fn send(
    node: &Node,
    claim: ClaimId,
    org: OrgId,
    actor: &Actor,
    id: CommandId,
    command: ClaimCommand,
) -> anyhow::Result<Outcome> {
    let envelope = enveloped(claim, org, actor, id, command);
    retrying(claim, || node.send(envelope.clone())).await
}

/// Several commands for one claim, decided in order and journaled in one write; their answers
/// in order, or an error when any got none (then all are sent again: their ids make that safe).
pub(super) async fn send_together(
    node: &Node,
    claim: ClaimId,
    org: OrgId,
    commands: Vec<(&Actor, CommandId, ClaimCommand)>,
) -> anyhow::Result<Vec<Outcome>> {
    let envelopes: Vec<_> =
        commands.into_iter().map(|(actor, id, command)| enveloped(claim, org, actor, id, command)).collect();
    let entity = claim_ref(org, claim);
    retrying(claim, || async { node.send_batch(entity, envelopes.clone()).await.into_iter().collect() }).await
}

fn enveloped(
    claim: ClaimId,
    org: OrgId,
    actor: &Actor,
    id: CommandId,
    command: ClaimCommand,
) -> CommandEnvelope<EntityCommand> {
    CommandEnvelope {
        command_id: id,
        entity: claim_ref(org, claim),
        issued_at: chrono::Utc::now(),
        actor: actor.clone(),
        command: EntityCommand::Claim(command),
    }
}

/// Retry what may be retried: idempotency (G3) makes a resend with the same ids safe.
async fn retrying<T, F: std::future::Future<Output = Result<T, SendError>>>(
    claim: ClaimId,
    mut attempt_once: impl FnMut() -> F,
) -> anyhow::Result<T> {
    let mut attempt = 0;
    loop {
        match attempt_once().await {
            Ok(answer) => return Ok(answer),
            Err(error) if attempt < 5 => {
                attempt += 1;
                tracing::warn!(%claim, %error, attempt, "command retried");
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
            Err(error) => bail!("command for claim {claim} got no outcome: {error}"),
        }
    }
}

pub(super) fn rejection(outcome: &Outcome) -> Option<&EntityRejection> {
    match outcome {
        Outcome::Rejected { rejection, .. } => Some(rejection),
        Outcome::Accepted { .. } => None,
    }
}

/// A command id derived from what it is about, so the demo's own retries are idempotent.
pub(super) fn command_id(parts: &[&[u8]]) -> CommandId {
    CommandId::derived(parts)
}

pub async fn run(node: &Node, config: &DemoConfig, progress: Progress<'_>) -> anyhow::Result<DemoSummary> {
    let started = Instant::now();
    let mut stages = Stages::new(started);
    let profiles = practice_nodes::sim::profile::demo_payers();
    let service_start = NaiveDate::from_ymd_opt(2026, 1, 5).context("date")?;
    let mut today = NaiveDate::from_ymd_opt(2026, 3, 2).context("date")?;
    // Each claim derives from its number alone, so ranges generate apart, on every core.
    let ranges: Vec<(u64, u64)> = (0..config.claims)
        .step_by(GENERATE_CHUNK as usize)
        .map(|first| (first, GENERATE_CHUNK.min(config.claims - first)))
        .collect();
    let generated = in_parallel(&ranges, |(first, count)| {
        generate_claims(config.seed, *first, *count, &profiles, service_start, 50)
            .map_err(|error| anyhow::anyhow!("cannot generate claims: {error}"))
    })?;
    let mut claims: Vec<Claim> = generated.into_iter().flatten().collect();
    add_medicaid_crossovers(&mut claims)?;
    let (org, practice_number) = unused_practice(node, claims.first().map(|claim| claim.id)).await?;
    claims.iter_mut().for_each(|claim| claim.org = org);
    let cast = Cast::new(org);
    let mut simulator = Simulator::new(config.seed, today, profiles);
    let mut tally = Tally::default();
    let mut by_id: HashMap<ClaimId, Claim> = claims.iter().map(|claim| (claim.id, claim.clone())).collect();
    let mut by_pcn = ByControlNumber::default();
    claims.iter().for_each(|claim| by_pcn.add(claim));
    let mut latency = LatencyLog::default();
    let total = claims.len() as u64;
    let claims: Arc<[Claim]> = claims.into();

    let mut control = 1u32;
    let mut resubmissions: BTreeMap<ClaimId, u32> = BTreeMap::new();
    let mut inbound_835: Vec<PathBuf> = Vec::new();
    let mut postings_by_claim: HashMap<ClaimId, Vec<RemittancePosting>> = HashMap::new();
    let mut secondaries: HashMap<ClaimId, ClaimId> = HashMap::new();
    let inbox = config.data_dir.join("inbox");
    std::fs::create_dir_all(&inbox).with_context(|| format!("cannot create {}", inbox.display()))?;
    let recipient = Recipient { name: "Simulated Family Practice".into(), id: "PRACTICEOS".into() };
    // Which claims left in which batch, for the 999s: the given registry (JetStream KV on a
    // cluster), else a small sled database next to the journal.
    let registry: Arc<dyn BatchRegistry> = match &config.batch_registry {
        Some(registry) => registry.clone(),
        None => Arc::new(
            SledBatchRegistry::open(&config.data_dir.join("batches")).context("cannot open the batch registry")?,
        ),
    };
    let acks_ingestor = Ingestor::new(node.clone(), Arc::new(MemoryDirectory::default()), Currency::USD)
        .with_registry(registry.clone());
    let outbox = config.data_dir.join("outbox");
    let mut outbound = Outbound { dir: outbox.clone(), org, registry, files: HashMap::new() };
    let mut awaiting = Awaiting::default();

    // 1. The first day: draft, sign off, scrub and submit every encounter, a chunk at a time;
    //    each chunk's 837s go out while the next chunk is drafted.
    let mut first_day = FirstDay::new(node, &cast, claims.clone(), today, config.concurrency);
    let mut drafted = 0;
    while let Some(chunk) = first_day.next().await {
        let chunk = chunk?;
        tally.scrub_failures += chunk.scrub_failures;
        drafted += chunk.drafted as u64;
        progress("draft, sign off, scrub, submit", drafted, total);
        awaiting.sent(chunk.ready.iter().copied(), today);
        let (day, tallies) = ((today, &mut control), (&mut tally, &mut latency));
        outbound.send((&chunk.ready, &by_id), day, &mut simulator, tallies, chunk.submitted_at).await?;
    }

    stages.ended("first day");
    // 2. Run the simulated clock until nothing is pending.
    let mut to_submit: Vec<ClaimId> = Vec::new();
    let mut days = 0;
    loop {
        if !to_submit.is_empty() {
            // Claims come back from concurrent work in completion order; sorted, the same run
            // writes the same 837s (which claims share a batch, and so its HL loops).
            to_submit.sort_unstable();
            let submission_run = Instant::now();
            submit(node, &cast, &to_submit, config.concurrency, &resubmissions).await?;
            awaiting.sent(to_submit.iter().copied(), today);
            let (day, tallies) = ((today, &mut control), (&mut tally, &mut latency));
            outbound.send((&to_submit, &by_id), day, &mut simulator, tallies, submission_run).await?;
            to_submit = Vec::new();
        }
        if simulator.is_idle() || days >= config.max_days {
            break;
        }
        today += chrono::Duration::days(1);
        days += 1;
        let mut newly_denied = Vec::new();
        let outputs = simulator.advance_to(today).map_err(|error| anyhow::anyhow!("simulator: {error}"))?;
        let mut settled = Vec::new();
        // The clearinghouse's answers as files: each batch's 999, then one 277CA for the day's
        // claim acknowledgments, then the 835s (the simulator's own order within a day).
        let (mut acks_999, mut acks_277, mut remits) = (Vec::new(), Vec::new(), Vec::new());
        for output in outputs {
            match &output {
                SimOutput::Ack999 { .. } => acks_999.push(output),
                SimOutput::Ack277 { .. } => acks_277.push(output),
                SimOutput::Remit { .. } => remits.push(output),
            }
        }
        if !acks_999.is_empty() {
            tally.acks_999 += acks_999.len() as u64;
            let files = &outbound.files;
            let reports =
                ingest_999s(&acks_ingestor, org, &acks_999, files, &inbox, &recipient, &mut control, today).await?;
            let mut returned = Vec::new();
            for report in reports {
                tally.syntax_rejections += report.returned_to_draft.len() as u64;
                returned.extend(report.returned_to_draft.into_iter().map(|(id, _)| id));
            }
            for (claim_id, scrubbed) in rescrub_all(node, &cast, returned, &resubmissions, config).await? {
                awaiting.answered(&claim_id);
                if scrubbed && resubmit_again(&mut resubmissions, claim_id) {
                    to_submit.push(claim_id);
                }
            }
        }
        if !acks_277.is_empty() {
            tally.acks_277ca += acks_277.len() as u64;
            tally.files_277ca += 1;
            let named: Vec<Claim> = acks_277
                .iter()
                .filter_map(|ack| match ack {
                    SimOutput::Ack277 { claim_id, .. } => by_id.get(claim_id).cloned(),
                    _ => None,
                })
                .collect();
            let report =
                ingest_277ca(node, org, &simulator, &acks_277, named, &inbox, &recipient, control, today).await?;
            control += 1;
            for refused in &report.refused {
                tracing::debug!(claim = %refused.claim_id, reason = %refused.reason, "277CA command refused");
            }
            let returned: Vec<ClaimId> = report.returned_to_draft.into_iter().map(|(id, _)| id).collect();
            for (claim_id, scrubbed) in rescrub_all(node, &cast, returned, &resubmissions, config).await? {
                awaiting.answered(&claim_id);
                tally.front_end_rejections += 1;
                if scrubbed && resubmit_again(&mut resubmissions, claim_id) {
                    to_submit.push(claim_id);
                }
            }
        }
        // The day's 835s as real files in the inbox, read back by our X12 reader, then posted
        // together.
        let mut outcomes = Vec::new();
        let arrived = Instant::now();
        let numbered: Vec<(&SimOutput, u32)> = remits.iter().zip(control..).collect();
        control += remits.len() as u32;
        let read = in_parallel(&numbered, |(output, control)| {
            let bytes = render_835(&simulator, output, &recipient, *control)
                .map_err(|error| anyhow::anyhow!("simulator 835: {error}"))?;
            let path = inbox.join(format!("{today}-{control:09}.835.x12"));
            std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
            let read = read_835_file(&path, (&by_pcn, &by_id))?;
            Ok((path, read))
        })?;
        for (path, read) in read {
            tally.remittances += 1;
            match read {
                Some(read) => outcomes.extend(read),
                None => tally.inbound_rejected += 1,
            }
            inbound_835.push(path);
        }
        if !outcomes.is_empty() {
            let posted = post(node, &cast, &outcomes, &mut tally, (&mut latency, arrived)).await?;
            for claim_id in posted.denied.iter().chain(posted.accepted.iter().map(|(id, _)| id)) {
                awaiting.answered(claim_id);
            }
            newly_denied.extend(posted.denied);
            for (claim_id, posting) in posted.accepted {
                postings_by_claim.entry(claim_id).or_default().push(posting);
                settled.push(claim_id);
            }
        }
        // Primaries settled today with a next coverage: their secondary claims go out (COB).
        let mut nexts = Vec::new();
        for claim_id in settled {
            let Some(claim) = by_id.get(&claim_id) else { continue };
            if secondaries.contains_key(&claim_id) {
                continue;
            }
            let postings = postings_by_claim.get(&claim_id).map(Vec::as_slice).unwrap_or_default();
            let Ok(Some(next)) = next_payer_claim(claim, postings) else { continue };
            secondaries.insert(claim_id, next.id);
            nexts.push(next);
        }
        // The secondaries are drafted while the claims the payers have been quiet on are asked
        // about (276 → 277): new claims are never among those. Drafted concurrently, kept in
        // order: what goes out next does not depend on timing.
        let drafting =
            stream::iter(&nexts).map(|next| draft(node, &cast, next, today)).buffered(config.concurrency).collect();
        let dirs = (outbox.as_path(), inbox.as_path());
        let inquiry = inquire(node, org, &mut awaiting, &by_id, &simulator, dirs, &recipient, &mut control, today);
        let (asked, drafted): (_, Vec<_>) = futures::future::join(inquiry, drafting).await;
        if let Some(asked) = asked? {
            tally.status_requests += 1;
            tally.status_claims += asked.claims;
            tally.status_recorded += asked.report.events_appended as u64;
        }
        for (next, drafted) in nexts.into_iter().zip(drafted) {
            if drafted? {
                tally.secondary_claims += 1;
                to_submit.push(next.id);
            }
            by_pcn.add(&next);
            by_id.insert(next.id, next);
        }
        // Work the denials that arrived today: appeal what documentation fixes, write off the rest.
        let denied =
            work_denials(node, &cast, &newly_denied, &mut by_id, &mut tally, &resubmissions, config.concurrency)
                .await?;
        for claim_id in denied {
            *resubmissions.entry(claim_id).or_insert(0) += 1;
            to_submit.push(claim_id);
        }
        progress("simulated days", days as u64, config.max_days as u64);
    }
    tally.simulated_days = days;

    stages.ended("simulated days");
    // 3. Every 835 again: nothing may post twice (G3).
    let events_before = tally.events_posted;
    let mut replay = Tally::default();
    let mut outcomes = Vec::new();
    for read in in_parallel(&inbound_835, |path| read_835_file(path, (&by_pcn, &by_id)))? {
        match read {
            Some(read) => outcomes.extend(read),
            None => replay.inbound_rejected += 1,
        }
    }
    // A replay posts nothing, so it has no latency to record.
    let _ = post(node, &cast, &outcomes, &mut replay, (&mut LatencyLog::default(), Instant::now())).await?;
    tally.reingested_events += replay.events_posted;
    debug_assert_eq!(events_before, tally.events_posted);

    stages.ended("every 835 again");
    // 4. Read every claim's state back and summarize.
    let read = std::sync::atomic::AtomicU64::new(0);
    let total_claims = by_id.len() as u64;
    let states = stream::iter(by_id.keys())
        .map(|claim_id| {
            let read = &read;
            async move {
                // A copy of the actor's state: no encoding there and decoding here per claim.
                let (_, state) = node
                    .read::<ClaimState>(claim_ref(org, *claim_id))
                    .await
                    .map_err(|error| anyhow::anyhow!("read claim {claim_id}: {error}"))?;
                let done = read.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress("summarize", done, total_claims);
                anyhow::Ok(state)
            }
        })
        .buffered(config.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<ClaimState>>>()?;
    // Suspense and PLB figures come from the journal: the practice's own fold of its events.
    let inspection = node
        .inspect(PolicyBook::practice_ref(org))
        .await
        .map_err(|error| anyhow::anyhow!("inspect the practice: {error}"))?;
    let practice: PracticeState = practice_protocol::codec::decode(&inspection.state).context("practice state")?;
    stages.ended("reading every claim back");
    let elapsed = started.elapsed();
    let truth = simulator.truth();
    let run = DemoRun { org, practice_number, today, elapsed, stages: stages.seconds };
    DemoSummary::build(&states, &practice, &tally, truth, &run, &latency, &config.data_dir)
}

/// Which practice a run bills as, and when it ended.
pub struct DemoRun {
    pub(super) org: OrgId,
    /// 1 for the first run on a journal, 2 for the second, ...
    pub(super) practice_number: u32,
    pub(super) today: NaiveDate,
    pub(super) elapsed: Duration,
    /// Wall-clock seconds per stage of the run, in order.
    pub(super) stages: Vec<(String, f64)>,
}

/// Where a run's wall clock went, stage by stage (the first day, the simulated days, the
/// checks): what the benchmark's claims/s is made of.
struct Stages {
    last: Instant,
    seconds: Vec<(String, f64)>,
}

impl Stages {
    fn new(started: Instant) -> Self {
        Self { last: started, seconds: Vec::new() }
    }

    fn ended(&mut self, stage: &str) {
        let now = Instant::now();
        self.seconds.push((stage.to_string(), (now - self.last).as_secs_f64()));
        self.last = now;
    }
}

/// Numbered practices a journal may hold before the demo gives up looking for an unused one.
const MAX_PRACTICES: u32 = 1_000;

/// The first demo practice this journal has not seen, and its number. A run's claims, commands
/// and files derive from the seed alone (two runs write the same files), so on a journal that
/// already holds a run — a NATS server, a reused `--data-dir` — the same practice would find its
/// claims settled and fail against a fresh simulator's truth. A new practice is a new tenant,
/// with its own claims, batch registry entries and practice-level ledger.
async fn unused_practice(node: &Node, first_claim: Option<ClaimId>) -> anyhow::Result<(OrgId, u32)> {
    for number in 1..=MAX_PRACTICES {
        let org = demo_org(number);
        let mut entities = vec![PolicyBook::practice_ref(org)];
        entities.extend(first_claim.map(|claim| claim_ref(org, claim)));
        let mut used = false;
        for entity in entities {
            let inspection =
                node.inspect(entity).await.map_err(|error| anyhow::anyhow!("inspect {entity:?}: {error}"))?;
            used |= inspection.version > 0;
        }
        if !used {
            return Ok((org, number));
        }
    }
    bail!("this journal already holds {MAX_PRACTICES} demo practices: run the demo on a new --data-dir or server")
}

/// The n-th demo practice's organization id; the first is the one every earlier build used.
fn demo_org(number: u32) -> OrgId {
    match number {
        1 => OrgId::derived(&[b"sim-org"]),
        n => OrgId::derived(&[b"sim-org", &n.to_be_bytes()]),
    }
}

/// A claim returned to Draft is fixed and resubmitted, at most twice; each resubmission is a
/// new submission number, so its commands have new ids.
fn resubmit_again(resubmissions: &mut BTreeMap<ClaimId, u32>, claim_id: ClaimId) -> bool {
    let count = resubmissions.entry(claim_id).or_insert(0);
    *count += 1;
    *count <= 2
}

/// Claims a 999 or 277CA returned to Draft, scrubbed again concurrently; in their order, each
/// with whether it is ready to resubmit.
async fn rescrub_all(
    node: &Node,
    cast: &Cast,
    claims: Vec<ClaimId>,
    resubmissions: &BTreeMap<ClaimId, u32>,
    config: &DemoConfig,
) -> anyhow::Result<Vec<(ClaimId, bool)>> {
    let scrubbed = stream::iter(&claims)
        .map(|claim_id| rescrub(node, cast, *claim_id, resubmissions))
        .buffered(config.concurrency)
        .collect::<Vec<_>>()
        .await;
    claims.into_iter().zip(scrubbed).map(|(claim_id, scrubbed)| Ok((claim_id, scrubbed?))).collect()
}

/// A claim a 999 or 277CA returned to Draft is fixed and scrubbed again: ready to resubmit.
async fn rescrub(
    node: &Node,
    cast: &Cast,
    claim_id: ClaimId,
    resubmissions: &BTreeMap<ClaimId, u32>,
) -> anyhow::Result<bool> {
    let submission = submission_of(resubmissions, claim_id).to_be_bytes();
    let id = command_id(&[b"rescrub", claim_id.0.as_bytes(), &submission]);
    let outcome = send(node, claim_id, cast.org, &cast.manager, id, ClaimCommand::Scrub { findings: vec![] }).await?;
    Ok(rejection(&outcome).is_none())
}

/// Create, clinician sign-off, scrub: true when the claim is Scrubbed and ready to submit. The
/// three travel together, decided in order and journaled in one write: the same events, and
/// the same answers, as sent one by one.
pub(super) async fn draft(node: &Node, cast: &Cast, claim: &Claim, today: NaiveDate) -> anyhow::Result<bool> {
    let outcomes = send_together(node, claim.id, cast.org, drafting(cast, claim, today)).await?;
    drafted(claim, &outcomes)
}

/// `draft`, and the billing manager's submission in the same write when the scrub passed
/// (refused, as sent alone, when it did not): true when the claim is Scrubbed and submitted.
pub(super) async fn draft_and_submit(
    node: &Node,
    cast: &Cast,
    claim: &Claim,
    today: NaiveDate,
) -> anyhow::Result<bool> {
    let mut commands = drafting(cast, claim, today);
    let drafts = commands.len();
    let (id, submit) = submission(claim.id, 0);
    commands.push((&cast.manager, id, submit));
    let outcomes = send_together(node, claim.id, cast.org, commands).await?;
    if !drafted(claim, &outcomes[..drafts])? {
        return Ok(false);
    }
    match outcomes.last().and_then(rejection) {
        Some(rejection) => bail!("claim {} was scrubbed but not submitted: {rejection}", claim.id),
        None => Ok(true),
    }
}

fn drafting<'a>(cast: &'a Cast, claim: &Claim, today: NaiveDate) -> Vec<(&'a Actor, CommandId, ClaimCommand)> {
    let id = claim.id.0;
    vec![
        (
            &cast.manager,
            command_id(&[b"create", id.as_bytes()]),
            ClaimCommand::Create { claim: Box::new(claim.clone()) },
        ),
        (&cast.clinician, command_id(&[b"sign-off", id.as_bytes()]), ClaimCommand::SignOff),
        (
            &cast.manager,
            command_id(&[b"scrub", id.as_bytes()]),
            ClaimCommand::Scrub { findings: scrub(claim, None, today) },
        ),
    ]
}

/// Whether the drafting commands' answers leave the claim Scrubbed (an error if it was not
/// even created).
fn drafted(claim: &Claim, outcomes: &[Outcome]) -> anyhow::Result<bool> {
    if let Some(rejection) = outcomes.first().and_then(rejection) {
        bail!("claim {} was not created: {rejection}", claim.id);
    }
    Ok(matches!(
        outcomes.last(),
        Some(Outcome::Accepted { summary: Summary::Claim { status: Some(ClaimStatus::Scrubbed), .. }, .. })
    ))
}

/// The billing manager's `submission`-th submission of a claim (0 the first): its stable id
/// and command.
pub(super) fn submission(claim_id: ClaimId, submission: u32) -> (CommandId, ClaimCommand) {
    let tracking = format!("SUB-{}-{submission}", &claim_id.0.simple().to_string()[..12]);
    let id = command_id(&[b"submit", claim_id.0.as_bytes(), &submission.to_be_bytes()]);
    (id, ClaimCommand::Submit { tracking_id: tracking })
}

/// About a third of the Medicare patients also have Medicaid: their claims cross over to it
/// as secondary claims once Medicare has paid (coordination of benefits).
fn add_medicaid_crossovers(claims: &mut [Claim]) -> anyhow::Result<()> {
    let medicare = PayerId::parse("00430").map_err(|error| anyhow::anyhow!("{error}"))?;
    let medicaid = practice_protocol::domain::Payer {
        payer_id: PayerId::parse("MCD01").map_err(|error| anyhow::anyhow!("{error}"))?,
        name: "State Medicaid MCO (demo)".into(),
        address: None,
        filing_indicator: "MC".into(),
    };
    for claim in claims.iter_mut() {
        let Some(primary) = claim.coverages.first().cloned() else { continue };
        if primary.payer.payer_id != medicare || claim.patient.id.0.as_bytes()[0] % 3 != 0 {
            continue;
        }
        let mut secondary = primary;
        secondary.order = practice_protocol::domain::CoverageOrder::Secondary;
        secondary.payer = medicaid.clone();
        secondary.subscriber.member_id = format!("MCD{}", &claim.patient.id.0.simple().to_string()[..9]).into();
        claim.coverages.push(secondary);
    }
    Ok(())
}
