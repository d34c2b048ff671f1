//! `practice sim`: the payer and clearinghouse simulator as a separate process. It takes the
//! practice's 837 batches and 276 status requests the way a clearinghouse does — from the
//! practice's outbox folder (`--outbox DIR --inbox DIR`) or from `out.<org>.837` and
//! `out.<org>.276` on JetStream (`--nats URL --org ORG`) — and answers with real 999, 277CA
//! and 835 files on a simulated clock, and a 277 for each 276 at once, into the practice's
//! inbox or onto `in.<org>.<txn>`.
//!
//! The clock: with `--day-ms N` one simulated day passes every N real milliseconds; without it
//! the clock jumps to the next day something is due whenever no batch is waiting.
//! `--until-idle` exits once nothing is waiting and everything received has been answered.
//! State (`--state`, by default `<truth>.state`) makes restarts exact (see `sim::service`).
//! Logs name batches and counts only, never PHI.

use anyhow::Context;
use chrono::NaiveDate;
use futures::StreamExt;
use practice_nodes::connector::file_drop::FileDrop;
use practice_nodes::connector::nats::{ensure_streams, publish_file, HEADER_BATCH, OUTBOUND_STREAM};
use practice_nodes::connector::{sniff, Clearinghouse, InboundKind, Settlement, SniffError};
use practice_nodes::jetstream::JetStreamSettings;
use practice_nodes::sim::profile::demo_payers;
use practice_nodes::sim::service::{write_atomic, Answer, SimService, Taken};
use practice_nodes::sim::{PayerKind, PayerProfile};
use practice_protocol::ids::{OrgId, PayerId};
use practice_protocol::shard::outbound_subject;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// The practice's outbox: 837 batches are picked up from here (file-drop transport).
    #[arg(long, requires = "inbox", conflicts_with = "nats")]
    outbox: Option<PathBuf>,
    /// The practice's inbox: 999, 277CA and 835 files are written here.
    #[arg(long, requires = "outbox")]
    inbox: Option<PathBuf>,
    /// NATS server URL: take batches from out.<org>.837, answer on in.<org>.<txn>.
    #[arg(long, requires = "org")]
    nats: Option<String>,
    /// The practice's org id (required with --nats; stamps the claims read).
    #[arg(long)]
    org: Option<OrgId>,
    /// Where the ground truth is written as JSON after every step.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// State folder (received batches, clock, answers delivered); default `<truth>.state`.
    #[arg(long)]
    state: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First simulated day (YYYY-MM-DD); default today (UTC) for a new state, the state's own
    /// after a restart.
    #[arg(long)]
    start: Option<NaiveDate>,
    /// Payer profiles as a JSON array: full profiles, or {"payer_id","name","kind"} for a
    /// payer type's defaults. Default: the demo's five payers.
    #[arg(long)]
    payers: Option<PathBuf>,
    /// One simulated day per this many real milliseconds.
    #[arg(long)]
    day_ms: Option<u64>,
    /// Exit once nothing is waiting and every batch received has been answered in full.
    #[arg(long)]
    until_idle: bool,
    /// Outbox files younger than this are left for the next poll (a writer may still be at it).
    #[arg(long, default_value_t = 1000)]
    min_age_ms: u64,
    /// Milliseconds between polls.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum PayerEntry {
    Full(Box<PayerProfile>),
    Short { payer_id: PayerId, name: String, kind: PayerKind },
}

fn load_payers(path: Option<&Path>) -> anyhow::Result<Vec<PayerProfile>> {
    let Some(path) = path else { return Ok(demo_payers()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let entries: Vec<PayerEntry> =
        serde_json::from_str(&text).with_context(|| format!("{} is not a JSON array of payers", path.display()))?;
    Ok(entries
        .into_iter()
        .map(|entry| match entry {
            PayerEntry::Full(profile) => *profile,
            PayerEntry::Short { payer_id, name, kind } => PayerProfile::new(payer_id, &name, kind),
        })
        .collect())
}

/// Where batches come from and answers go.
enum Transport {
    Files { drop: FileDrop, inbox: PathBuf },
    Nats { client: async_nats::Client, org: OrgId, batches: Box<async_nats::jetstream::consumer::PullConsumer> },
}

impl Transport {
    async fn open(args: &SimArgs) -> anyhow::Result<Transport> {
        if let (Some(outbox), Some(inbox)) = (&args.outbox, &args.inbox) {
            // The clearinghouse's side of the folders: it reads the practice's outbox.
            let drop = FileDrop::open(inbox, outbox, Duration::from_millis(args.min_age_ms))?;
            return Ok(Transport::Files { drop, inbox: inbox.clone() });
        }
        let (Some(url), Some(org)) = (&args.nats, args.org) else {
            anyhow::bail!("give --outbox DIR --inbox DIR, or --nats URL --org ORG");
        };
        let client = practice_nodes::jetstream::connect(url, "practice-sim").await?;
        let context = async_nats::jetstream::new(client.clone());
        ensure_streams(&context, &JetStreamSettings::default()).await?;
        let stream = context.get_stream(OUTBOUND_STREAM).await.context("opening OUTBOUND")?;
        let name = format!("sim_{}", org.0.simple());
        // Create or update: a consumer made before 276s went out filtered on `out.<org>.837`.
        let batches = stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: outbound_subject(org, "*"),
                ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .context("creating the simulator's consumer")?;
        Ok(Transport::Nats { client, org, batches: Box::new(batches) })
    }

    /// Take every waiting batch into the service; returns how many items were taken.
    async fn take(&self, service: &mut SimService) -> anyhow::Result<usize> {
        match self {
            Transport::Files { drop, .. } => {
                let items = drop.receive(100).await?;
                let count = items.len();
                for item in items {
                    let settlement = take_one(service, &item.name, item.kind, &item.bytes)?;
                    drop.settle(item.receipt, settlement).await?;
                }
                Ok(count)
            }
            Transport::Nats { batches, .. } => {
                let mut messages = batches
                    .fetch()
                    .max_messages(100)
                    .expires(Duration::from_millis(200))
                    .messages()
                    .await
                    .context("fetching batches")?;
                let mut count = 0;
                while let Some(message) = messages.next().await {
                    let message = message.map_err(|error| anyhow::anyhow!("fetching batches: {error}"))?;
                    count += 1;
                    let header =
                        |name: &str| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_string());
                    let sequence = message.info().map(|info| info.stream_sequence).unwrap_or_default();
                    let name = header(HEADER_BATCH).unwrap_or_else(|| format!("seq{sequence}"));
                    let settled = take_one(service, &name, sniff(&message.payload), &message.payload)?;
                    let result = match settled {
                        Settlement::Rejected(_) => message.ack_with(async_nats::jetstream::AckKind::Term).await,
                        _ => message.double_ack().await,
                    };
                    result.map_err(|error| anyhow::anyhow!("acknowledging batch {name}: {error}"))?;
                }
                Ok(count)
            }
        }
    }

    /// Run the clock to `day` and deliver the answers due; they are recorded as delivered once
    /// all are out (a crash before that delivers the same files again: at least once).
    async fn advance(&self, service: &mut SimService, day: NaiveDate) -> anyhow::Result<usize> {
        let answers = service_advance(service, day)?;
        for answer in &answers {
            match self {
                Transport::Files { inbox, .. } => write_atomic(&inbox.join(&answer.name), &answer.bytes)?,
                Transport::Nats { client, org, .. } => {
                    publish_file(client, *org, answer.bytes.clone().into()).await?;
                }
            }
        }
        if let Some(last) = answers.last() {
            service.delivered(last)?;
        }
        Ok(answers.len())
    }
}

/// One item from the practice: what it sends (837s, 276s) goes to the service; anything else
/// is set aside.
fn take_one(
    service: &mut SimService,
    name: &str,
    kind: Result<InboundKind, SniffError>,
    bytes: &[u8],
) -> anyhow::Result<Settlement> {
    Ok(match kind {
        Ok(kind) if kind.is_outbound() => settlement(service.receive(name, bytes)?),
        Ok(other) => refuse(name, format!("{other} is not a claim batch")),
        Err(error) => refuse(name, error.to_string()),
    })
}

fn settlement(taken: Taken) -> Settlement {
    match taken {
        Taken::Received { batch_id, claims, rejected: None } => {
            println!("received batch {batch_id}: {claims} claims");
            Settlement::Accepted
        }
        Taken::Received { batch_id, rejected: Some(reason), .. } => {
            println!("rejected batch {batch_id} with a 999: {reason}");
            Settlement::Accepted
        }
        Taken::Duplicate { batch_id } => {
            println!("batch {batch_id} was received before; not answered again");
            Settlement::Accepted
        }
        Taken::Request { batch_id, claims, refused: None } => {
            println!("answered status request {batch_id}: {claims} claims");
            Settlement::Accepted
        }
        Taken::Request { batch_id, refused: Some(reason), .. } => refuse(&batch_id, reason),
        Taken::Unreadable(reason) => Settlement::Rejected(reason),
    }
}

fn refuse(name: &str, reason: String) -> Settlement {
    println!("set aside {name}: {reason}");
    Settlement::Rejected(reason)
}

pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let state_dir = match (&args.state, &args.truth) {
        (Some(dir), _) => dir.clone(),
        (None, Some(truth)) => PathBuf::from(format!("{}.state", truth.display())),
        (None, None) => anyhow::bail!("give --truth FILE or --state DIR: the simulator keeps its state there"),
    };
    let profiles = load_payers(args.payers.as_deref())?;
    let today = chrono::Utc::now().date_naive();
    let org = args.org.unwrap_or_else(|| OrgId::derived(&[b"practice-sim"]));
    let mut service = SimService::open(&state_dir, org, args.seed, args.start, today, profiles)
        .with_context(|| format!("opening the simulator's state in {}", state_dir.display()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let transport = Transport::open(&args).await?;
        // Watched at every await of a pass, not only between passes: with the server gone a
        // pass can wait on it for good, and SIGTERM must still stop the process.
        let shutdown = super::signals::shutdown()?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let (began, first_day) = (Instant::now(), service.today());
        println!("simulator on {}: seed {}", first_day, args.seed);
        let (mut stale, mut last_truth) = (true, Instant::now());
        loop {
            let day = match args.day_ms {
                Some(ms) => {
                    let days = began.elapsed().as_millis() / u128::from(ms.max(1));
                    first_day + chrono::Duration::days(i64::try_from(days).unwrap_or(i64::MAX / 2).min(365_000))
                }
                None => service.today(),
            };
            let pass = async {
                let mut moved = transport.advance(&mut service, day).await?;
                let taken = transport.take(&mut service).await?;
                let today = service.today();
                moved += transport.advance(&mut service, today).await?;
                let mut jumped = false;
                if taken == 0 && args.day_ms.is_none() {
                    if let Some(next) = service.next_due() {
                        moved += transport.advance(&mut service, next).await?;
                        jumped = true;
                    }
                }
                anyhow::Ok((moved, taken, jumped))
            };
            let passed = tokio::select! {
                passed = pass => Some(passed?),
                _ = stopped.wait_for(|stopped| *stopped) => None,
            };
            let Some((moved, taken, jumped)) = passed else {
                if let (true, Some(truth)) = (stale, &args.truth) {
                    service.write_truth(truth)?;
                }
                return Ok(ExitCode::SUCCESS);
            };
            stale |= moved > 0 || taken > 0;
            let idle = taken == 0 && !jumped && service.is_idle();
            // The truth is rewritten at most once a second while busy, and whenever idle.
            if stale && (idle || last_truth.elapsed() >= Duration::from_secs(1)) {
                if let Some(truth) = &args.truth {
                    service.write_truth(truth)?;
                }
                (stale, last_truth) = (false, Instant::now());
            }
            if idle && args.until_idle {
                println!("idle on {}: every batch answered", service.today());
                return Ok(ExitCode::SUCCESS);
            }
            if jumped {
                continue;
            }
            tokio::select! {
                _ = stopped.wait_for(|stopped| *stopped) => {
                    if let (true, Some(truth)) = (stale, &args.truth) {
                        service.write_truth(truth)?;
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                _ = tokio::time::sleep(Duration::from_millis(args.poll_ms)) => {}
            }
        }
    })
}

fn service_advance(service: &mut SimService, day: NaiveDate) -> anyhow::Result<Vec<Answer>> {
    let answers = service.advance_to(day)?;
    if !answers.is_empty() {
        let days: Vec<String> = answers.iter().map(|answer| answer.name.clone()).collect();
        println!("answered {} files up to {day}: {}", answers.len(), days.join(" "));
    }
    Ok(answers)
}
