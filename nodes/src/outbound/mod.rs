//! The outbound log: which claim submissions have left (or are leaving) in which 837 batch, and
//! which 276 status requests, so a claim is sent once per submission and nothing staged is lost
//! in a crash.
//!
//! A batch is *staged* — its bytes, its registry records, the mark of every submission in it
//! and the next control number, durably and all at once — before it is recorded in the batch
//! registry and handed to the connector; it is *delivered* (unstaged) after the connector took
//! it. A restart hands every staged batch over again, which the registry, both connectors and
//! the simulator take as a no-op when it already arrived. 276s are staged the same way, with
//! the inquiry clock of each submission they ask about.
//!
//! Two stores: [`sled_log`] (the embedded node's own database) and [`jetstream_log`] (a cluster's:
//! one subject per organization in the `OUTLOG` stream, every staging a compare-and-set on
//! that subject's last sequence, so of two nodes that both believe they send for a practice,
//! only one stages any given claim submission — the other's write is refused and it reads
//! what the first did).

pub mod jetstream_log;
pub mod sled_log;
pub mod state;

use jetstream_log::JetStreamOutboundLog;
use practice_actors::ingest::registry::SentBatch;
use practice_protocol::claim::ClaimState;
use practice_protocol::ids::{ClaimId, OrgId};
use serde::{Deserialize, Serialize};
use sled_log::SledOutboundLog;

/// Control numbers are 9 digits (ISA13); after 999,999,999 they wrap to 1, as X12 allows.
const LAST_CONTROL: u32 = 999_999_999;

/// The control number after `control`.
pub(crate) fn next_after(control: u32) -> u32 {
    if control >= LAST_CONTROL {
        1
    } else {
        control + 1
    }
}

/// One batch between staging and delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedBatch {
    pub org: OrgId,
    /// ISA13 = GS06.
    pub control: u32,
    /// `837P` or `837I`.
    pub institutional: bool,
    pub bytes: Vec<u8>,
    /// What the batch registry records of it.
    pub sent: Vec<SentBatch>,
}

impl StagedBatch {
    /// The connector's batch id: the control number, zero-padded like ISA13.
    pub fn id(&self) -> String {
        format!("{:09}", self.control)
    }
}

/// One 276 interchange between staging and delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedRequest {
    pub org: OrgId,
    /// ISA13 = GS06 = BHT03.
    pub control: u32,
    pub bytes: Vec<u8>,
    /// How many claims it asks about (for the log line).
    pub claims: usize,
}

impl StagedRequest {
    pub fn id(&self) -> String {
        format!("{:09}", self.control)
    }
}

/// One claim submission: the claim and its submission count (`ClaimState::submissions`), so a
/// resubmission after a rejection or an appeal is a new key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Submission {
    pub claim_id: ClaimId,
    pub number: u32,
}

impl Submission {
    /// The claim's current submission (`None` before it was created).
    pub fn current(state: &ClaimState) -> Option<Submission> {
        state.claim.as_ref().map(|claim| Submission { claim_id: claim.id, number: state.submissions })
    }
}

/// When a submission last left or was asked about, and how often it was asked: a 276 is due
/// once the payer has been quiet for the configured interval since `since_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InquiryClock {
    /// Unix milliseconds.
    pub since_ms: u64,
    pub asked: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundLogError {
    #[error("outbound log {action}: {source}")]
    Store { action: &'static str, source: sled::Error },
    #[error("outbound log entry {key} does not decode: {detail}")]
    Corrupt { key: String, detail: String },
    #[error("outbound log on NATS: {0}")]
    Unavailable(String),
    /// Another sender wrote the log since this one last read it: nothing was staged, and the
    /// log now holds what the other wrote (a next pass decides again).
    #[error("another node wrote the outbound log of this practice meanwhile; nothing staged")]
    Contended,
}

/// A sled write of the embedded log: the batch's build (an 837 of up to a few thousand
/// claims) and the sync that makes it durable. On a multi-threaded runtime the worker hands
/// its other tasks to another thread meanwhile (`block_in_place`), so the node's actors do not
/// wait on the device; on a current-thread runtime, which has no other thread, it runs inline.
fn off_the_runtime<T>(write: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(write)
        }
        _ => write(),
    }
}

/// One practice's outbound log, in either store.
pub enum OutboundLog {
    /// One practice's view of the node's database (several practices may share it).
    Sled {
        org: OrgId,
        log: std::sync::Arc<SledOutboundLog>,
    },
    JetStream(Box<JetStreamOutboundLog>),
}

impl OutboundLog {
    /// Read what other writers added (the JetStream store); a pass starts with this.
    pub async fn refresh(&self) -> Result<(), OutboundLogError> {
        match self {
            OutboundLog::Sled { .. } => Ok(()),
            OutboundLog::JetStream(log) => log.refresh().await,
        }
    }

    /// Whether this submission already left (or is staged to).
    pub async fn is_sent(&self, submission: Submission) -> Result<bool, OutboundLogError> {
        match self {
            OutboundLog::Sled { org, log } => log.is_sent(*org, submission),
            OutboundLog::JetStream(log) => Ok(log.is_sent(submission).await),
        }
    }

    /// Stage a batch under the next control number, built by `build` from that number. The
    /// batch and the marks of `submissions` (with their inquiry clocks started at `now_ms`)
    /// are stored together, durably, before this returns. A failed build stores nothing and
    /// uses no number.
    pub async fn stage<E>(
        &self,
        submissions: &[Submission],
        now_ms: u64,
        build: impl FnOnce(u32) -> Result<StagedBatch, E>,
    ) -> Result<Result<StagedBatch, E>, OutboundLogError> {
        match self {
            OutboundLog::Sled { org, log } => off_the_runtime(|| log.stage(*org, submissions, now_ms, build)),
            OutboundLog::JetStream(log) => log.stage(submissions, now_ms, build).await,
        }
    }

    /// Stage a 276 under the next control number; the inquiry clocks of `submissions` restart
    /// at `now_ms` with one more request counted, and each claim's user requests (the count
    /// given with it) are answered, in the same durable write.
    pub async fn stage_request<E>(
        &self,
        submissions: &[(Submission, u32)],
        now_ms: u64,
        build: impl FnOnce(u32) -> Result<StagedRequest, E>,
    ) -> Result<Result<StagedRequest, E>, OutboundLogError> {
        match self {
            OutboundLog::Sled { org, log } => off_the_runtime(|| log.stage_request(*org, submissions, now_ms, build)),
            OutboundLog::JetStream(log) => log.stage_request(submissions, now_ms, build).await,
        }
    }

    /// How many of a claim's user status requests the last 276 about it answered (0 if none).
    pub async fn requests_answered(&self, claim: ClaimId) -> Result<u32, OutboundLogError> {
        match self {
            OutboundLog::Sled { org, log } => log.requests_answered(*org, claim),
            OutboundLog::JetStream(log) => Ok(log.requests_answered(claim).await),
        }
    }

    /// The inquiry clock of a submission that left. A submission sent before the log kept
    /// clocks gets one starting at `now_ms`.
    pub async fn inquiry_clock(&self, submission: Submission, now_ms: u64) -> Result<InquiryClock, OutboundLogError> {
        match self {
            OutboundLog::Sled { org, log } => log.inquiry_clock(*org, submission, now_ms),
            OutboundLog::JetStream(log) => log.inquiry_clock(submission, now_ms).await,
        }
    }

    /// Every batch staged and not yet delivered, oldest first.
    pub async fn staged(&self) -> Result<Vec<StagedBatch>, OutboundLogError> {
        match self {
            OutboundLog::Sled { org, log } => Ok(log.staged()?.into_iter().filter(|batch| batch.org == *org).collect()),
            OutboundLog::JetStream(log) => log.staged().await,
        }
    }

    /// Every status request staged and not yet delivered, oldest first.
    pub async fn staged_requests(&self) -> Result<Vec<StagedRequest>, OutboundLogError> {
        match self {
            OutboundLog::Sled { org, log } => {
                Ok(log.staged_requests()?.into_iter().filter(|request| request.org == *org).collect())
            }
            OutboundLog::JetStream(log) => log.staged_requests().await,
        }
    }

    /// The connector took the batch: forget its bytes (the marks stay).
    pub async fn delivered(&self, control: u32) -> Result<(), OutboundLogError> {
        match self {
            OutboundLog::Sled { log, .. } => off_the_runtime(|| log.delivered(control)),
            OutboundLog::JetStream(log) => log.delivered(control).await,
        }
    }

    /// The connector took the status request: forget its bytes (the clocks stay).
    pub async fn request_delivered(&self, control: u32) -> Result<(), OutboundLogError> {
        match self {
            OutboundLog::Sled { log, .. } => off_the_runtime(|| log.request_delivered(control)),
            OutboundLog::JetStream(log) => log.delivered(control).await,
        }
    }
}
