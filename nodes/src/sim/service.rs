//! `practice sim` without its transports: the clearinghouse and payers as a long-lived service
//! that takes 837 files and 276 status requests, keeps a simulated clock and hands back every
//! answer as a named X12 file, surviving restarts.
//!
//! Restarts are exact by replay. The state folder keeps a copy of every batch received and the
//! simulated day it arrived on, how far the clock ran, and how many answer files were already
//! delivered. Opening the service replays the batches into a fresh `Simulator` with the same
//! seed; the engine is deterministic, so the answers come out again byte for byte, and the ones
//! already delivered are skipped. A batch whose content was received before is settled without
//! a second answer.
//!
//! Replay is exact because answers are only produced by `advance_to`, which the service also
//! calls before each batch is taken in (the replay does the same), so answers are cut into files
//! at the same points. An answer is delivered at least once: a crash between delivering a file
//! and recording it delivers the same bytes again (receivers de-duplicate by content, G3).

use super::engine::{SimError, SimOutput, Simulator};
use super::fault::rejected_group;
use super::from837::claims_from_837;
use super::profile::PayerProfile;
use super::status::read_requests;
use super::truth::SubmissionTruth;
use super::x12::{render_277, render_277ca, render_835, render_999, Recipient};
use crate::connector::{content_id, sniff, InboundKind};
use chrono::NaiveDate;
use practice_actors::ingest::sent::sent_batches;
use practice_protocol::domain::Claim;
use practice_protocol::ids::{ClaimId, OrgId};
use practice_protocol::x12::read837::read_837;
use practice_protocol::x12::write::{acknowledge, ReceivedGroup, SetStatus};
use practice_protocol::x12::Severity;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What can stop the service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: String, source: std::io::Error },
    #[error("state {path} is not readable: {detail}")]
    State { path: String, detail: String },
    #[error("the state in {path} was made with seed {found} and start {found_start}; this run asks for seed {seed} and start {start:?}")]
    Mismatch { path: String, found: u64, found_start: NaiveDate, seed: u64, start: Option<NaiveDate> },
    #[error(transparent)]
    Sim(#[from] SimError),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ServiceError + 'a {
    move |source| ServiceError::Io { action, path: path.display().to_string(), source }
}

/// One received batch as the state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct BatchRecord {
    batch_id: String,
    content_id: String,
    day: NaiveDate,
    /// The copy under `received/`.
    file: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    seed: u64,
    start: NaiveDate,
    today: NaiveDate,
    batches: Vec<BatchRecord>,
    /// Answer files delivered so far (they are numbered from 0).
    delivered: u64,
}

/// How a batch was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// Recorded and adjudicated (or rejected by a 999) under this batch id.
    Received { batch_id: String, claims: usize, rejected: Option<String> },
    /// The same content was received before: answered then, not again.
    Duplicate { batch_id: String },
    /// A 276 status request: answered with one 277 (`refused` says why not).
    Request { batch_id: String, claims: usize, refused: Option<String> },
    /// Not an interchange a 999 can answer (no ISA/GS/ST to acknowledge): set aside.
    Unreadable(String),
}

/// The claims read from an 837 of several functional groups, per group (GS06), in file order:
/// the bytes are read once more to see which group each claim was in.
fn claims_by_group(bytes: &[u8], claims: Vec<Claim>) -> Result<HashMap<u32, Vec<Claim>>, String> {
    let groups = sent_batches(bytes, &claims).map_err(|error| format!("837 unreadable: {error}"))?;
    let mut by_id: HashMap<ClaimId, Claim> = claims.into_iter().map(|claim| (claim.id, claim)).collect();
    let mut by_group = HashMap::new();
    for group in groups {
        let number =
            group.group_control_number.trim().parse::<u32>().map_err(|_| "GS06 is not a number".to_string())?;
        let claims: Vec<Claim> = group.claims().filter_map(|sent| by_id.remove(&sent.claim_id)).collect();
        by_group.entry(number).or_insert_with(Vec::new).extend(claims);
    }
    Ok(by_group)
}

/// One answer file, ready to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Delivery order, from 0 over the whole life of the state.
    pub index: u64,
    /// `NNNNNNNN-YYYYMMDD.<999|277CA|835>.x12`: sorting by name is delivery order.
    pub name: String,
    pub bytes: Vec<u8>,
}

pub struct SimService {
    dir: PathBuf,
    org: OrgId,
    sim: Simulator,
    state: State,
    groups: HashMap<String, ReceivedGroup>,
    pcns: HashMap<ClaimId, String>,
    recipient: Option<Recipient>,
    /// Answers produced so far in this process's life (replay included).
    produced: u64,
    /// Answers produced by `receive` (what was due before the batch), for the next `advance_to`.
    pending: Vec<Answer>,
    seen: HashSet<String>,
    /// Content id → batch id of every batch taken.
    contents: HashMap<String, String>,
}

impl SimService {
    /// Open (or create) the state in `dir` and replay it. `org` stamps the claims read; `start`
    /// is the first simulated day (a new state without one starts on `today`; an existing state
    /// keeps its own and refuses a different one).
    pub fn open(
        dir: &Path,
        org: OrgId,
        seed: u64,
        start: Option<NaiveDate>,
        today: NaiveDate,
        profiles: Vec<PayerProfile>,
    ) -> Result<SimService, ServiceError> {
        let received = dir.join("received");
        std::fs::create_dir_all(&received).map_err(io("cannot create", &received))?;
        let path = dir.join("state.json");
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let state: State = serde_json::from_slice(&bytes).map_err(|error| ServiceError::State {
                    path: path.display().to_string(),
                    detail: error.to_string(),
                })?;
                if state.seed != seed || start.is_some_and(|start| start != state.start) {
                    return Err(ServiceError::Mismatch {
                        path: path.display().to_string(),
                        found: state.seed,
                        found_start: state.start,
                        seed,
                        start,
                    });
                }
                state
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let start = start.unwrap_or(today);
                State { seed, start, today: start, batches: Vec::new(), delivered: 0 }
            }
            Err(error) => return Err(io("cannot read", &path)(error)),
        };
        let mut service = SimService {
            dir: dir.to_path_buf(),
            org,
            sim: Simulator::new(seed, state.start, profiles),
            state: State { batches: Vec::new(), today: state.start, ..state.clone() },
            groups: HashMap::new(),
            pcns: HashMap::new(),
            recipient: None,
            produced: 0,
            pending: Vec::new(),
            seen: HashSet::new(),
            contents: HashMap::new(),
        };
        // Replay. The answers produced again were delivered, except those the last run made
        // but was stopped before delivering: they are handed out by the next `advance_to`.
        for record in &state.batches {
            let file = received.join(&record.file);
            let bytes = std::fs::read(&file).map_err(io("cannot read", &file))?;
            let due = service.produce(record.day)?;
            service.pending.extend(due);
            service.take(record.clone(), &bytes, acknowledge(&bytes).unwrap_or_default())?;
        }
        let due = service.produce(state.today)?;
        service.pending.extend(due);
        service.pending.retain(|answer| answer.index >= state.delivered);
        service.state = state;
        Ok(service)
    }

    pub fn today(&self) -> NaiveDate {
        self.sim.today()
    }

    /// Nothing scheduled: every batch received has been answered in full.
    pub fn is_idle(&self) -> bool {
        self.sim.is_idle()
    }

    /// The next day something is due, if any.
    pub fn next_due(&self) -> Option<NaiveDate> {
        self.sim.next_scheduled()
    }

    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// Take one 837 or 276 file received under `name` (a file name or the practice's batch id) today.
    /// What was due before it is produced first (the replay does the same) and handed out by
    /// the next [`SimService::advance_to`].
    pub fn receive(&mut self, name: &str, bytes: &[u8]) -> Result<Taken, ServiceError> {
        let content = content_id(bytes);
        if let Some(batch_id) = self.contents.get(&content) {
            return Ok(Taken::Duplicate { batch_id: batch_id.clone() });
        }
        let due = self.produce(self.sim.today())?;
        self.pending.extend(due);
        let groups = match acknowledge(bytes) {
            Ok(groups) if groups.iter().any(|group| !group.sets.is_empty()) => groups,
            Ok(_) => return Ok(Taken::Unreadable("no transaction set to acknowledge".into())),
            Err(error) => return Ok(Taken::Unreadable(format!("not an X12 interchange: {error}"))),
        };
        let batch_id = self.batch_id(name);
        let file = format!("{:08}.x12", self.state.batches.len());
        let record = BatchRecord { batch_id: batch_id.clone(), content_id: content, day: self.sim.today(), file };
        write_atomic(&self.dir.join("received").join(&record.file), bytes)?;
        let taken = self.take(record.clone(), bytes, groups)?;
        self.state.batches.push(record);
        self.save()?;
        Ok(taken)
    }

    /// A batch id from the name: its stem, made unique and safe for file names and logs.
    fn batch_id(&self, name: &str) -> String {
        let base = name.rsplit('/').next().unwrap_or(name);
        let stem = base.split('.').next().unwrap_or(base);
        let clean: String =
            stem.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(40).collect();
        let clean = if clean.is_empty() { "batch".to_string() } else { clean };
        if self.seen.contains(&clean) {
            format!("{clean}-{}", self.state.batches.len())
        } else {
            clean
        }
    }

    /// Adjudicate (or reject) one recorded batch, or answer one status request: the same on
    /// first receipt and on replay. `groups` is what `acknowledge` found in `bytes`.
    fn take(
        &mut self,
        record: BatchRecord,
        bytes: &[u8],
        mut groups: Vec<ReceivedGroup>,
    ) -> Result<Taken, ServiceError> {
        self.seen.insert(record.batch_id.clone());
        self.contents.insert(record.content_id.clone(), record.batch_id.clone());
        if self.recipient.is_none() {
            self.recipient = isa_sender(bytes).map(|id| Recipient { name: id.clone(), id });
        }
        if sniff(bytes) == Ok(InboundKind::StatusRequest276) {
            return Ok(self.answer_request(record.batch_id, bytes));
        }
        groups.retain(|group| !group.sets.is_empty());
        if groups.is_empty() {
            return Ok(Taken::Unreadable("no transaction set to acknowledge".into()));
        }
        let claims = match read_837(bytes) {
            Ok((claims, diagnostics)) => match diagnostics.iter().find(|d| d.severity == Severity::Error) {
                Some(diagnostic) => Err(format!("837 error at segment {}", diagnostic.position.segment)),
                None => claims_from_837(self.org, &claims).map_err(|error| error.to_string()),
            },
            Err(error) => Err(format!("837 unreadable: {error}")),
        };
        // Each functional group is its own batch to the clearinghouse, with its own 999; an
        // interchange of one group keeps the interchange's batch id.
        let mut by_group = claims.and_then(|claims| match groups.as_slice() {
            [only] => Ok(HashMap::from([(only.control_number, claims)])),
            _ => claims_by_group(bytes, claims),
        });
        let single = groups.len() == 1;
        let mut taken_claims = 0;
        let mut rejections = Vec::new();
        for group in groups {
            let batch_id =
                if single { record.batch_id.clone() } else { format!("{}-{}", record.batch_id, group.control_number) };
            let claims = match &mut by_group {
                _ if group.sets.iter().any(|set| set.status == SetStatus::Rejected) => {
                    Err("the 999 rejects a transaction set".to_string())
                }
                Ok(by_group) => match by_group.remove(&group.control_number) {
                    Some(claims) if !claims.is_empty() => Ok(claims),
                    _ => Err("no claims in the functional group".to_string()),
                },
                Err(reason) => Err(reason.clone()),
            };
            let control = group.control_number;
            self.groups.insert(batch_id.clone(), group);
            let received = claims.and_then(|claims| {
                let rejected = self.sim.receive(&batch_id, &claims).map_err(|error| error.to_string())?;
                Ok((claims, rejected))
            });
            // A group the front end rejects is acknowledged as read with a fault in it.
            let received = received.map(|(claims, rejected)| {
                if let Some(faulted) = rejected.then(|| rejected_group(bytes, control)).flatten() {
                    self.groups.insert(batch_id.clone(), faulted);
                }
                claims
            });
            match received {
                Ok(claims) => {
                    for claim in &claims {
                        self.pcns.insert(claim.id, claim.patient_control_number.to_string());
                    }
                    taken_claims += claims.len();
                }
                Err(reason) => {
                    self.sim.reject_batch(&batch_id);
                    rejections.push(if single { reason } else { format!("group {batch_id}: {reason}") });
                }
            }
        }
        let rejected = (!rejections.is_empty()).then(|| rejections.join("; "));
        Ok(Taken::Received { batch_id: record.batch_id, claims: taken_claims, rejected })
    }

    /// A 276 is answered at once, on today's status of each claim, with one 277; a request the
    /// readers refuse is answered with nothing (a clearinghouse would send a rejecting 999 —
    /// not modelled for 276s, whose 999s the practice has no batch to match against).
    fn answer_request(&mut self, batch_id: String, bytes: &[u8]) -> Taken {
        let requests = match read_requests(bytes) {
            Ok(requests) => requests,
            Err(reason) => return Taken::Request { batch_id, claims: 0, refused: Some(reason) },
        };
        let claims = requests.iter().map(|request| request.inquiries.len()).sum();
        let recipient = self.recipient();
        let control = self.next_control();
        match render_277(&self.sim, &requests, &recipient, control) {
            Ok(bytes) => {
                let on = self.sim.today();
                self.push_answer("277", on, bytes);
                Taken::Request { batch_id, claims, refused: None }
            }
            Err(error) => Taken::Request { batch_id, claims, refused: Some(format!("cannot answer: {error}")) },
        }
    }

    fn recipient(&self) -> Recipient {
        self.recipient.clone().unwrap_or(Recipient { name: "PRACTICE".into(), id: "PRACTICE".into() })
    }

    /// ISA13/GS06 of the next answer.
    fn next_control(&self) -> u32 {
        u32::try_from(self.produced % 999_999_999 + 1).unwrap_or(1)
    }

    /// Name and number an answer made outside `advance_to` and queue it for delivery.
    fn push_answer(&mut self, kind: &str, on: NaiveDate, bytes: Vec<u8>) {
        let name = format!("{:08}-{}.{kind}.x12", self.produced, on.format("%Y%m%d"));
        self.pending.push(Answer { index: self.produced, name, bytes });
        self.produced += 1;
    }

    /// Run the clock to `day` and return the answers not yet delivered, in delivery order.
    pub fn advance_to(&mut self, day: NaiveDate) -> Result<Vec<Answer>, ServiceError> {
        let mut answers = std::mem::take(&mut self.pending);
        answers.extend(self.produce(day)?);
        if day > self.state.today {
            self.state.today = day;
            self.save()?;
        }
        Ok(answers.into_iter().filter(|answer| answer.index >= self.state.delivered).collect())
    }

    /// Record that `answer` was delivered (call in order).
    pub fn delivered(&mut self, answer: &Answer) -> Result<(), ServiceError> {
        self.state.delivered = self.state.delivered.max(answer.index + 1);
        self.save()
    }

    fn produce(&mut self, day: NaiveDate) -> Result<Vec<Answer>, ServiceError> {
        let outputs = self.sim.advance_to(day.max(self.sim.today()))?;
        let recipient = self.recipient();
        let mut answers = Vec::new();
        let mut index = 0;
        while index < outputs.len() {
            let output = &outputs[index];
            let control = self.next_control();
            let (kind, rendered, used) = match output {
                SimOutput::Ack999 { batch_id, .. } => {
                    let Some(group) = self.groups.get(batch_id) else {
                        index += 1;
                        continue;
                    };
                    ("999", render_999(output, group, &recipient, control), 1)
                }
                SimOutput::Ack277 { on, .. } => {
                    let same_day = outputs[index..]
                        .iter()
                        .take_while(|next| matches!(next, SimOutput::Ack277 { on: other, .. } if other == on))
                        .count();
                    ("277CA", render_277ca(&self.sim, &outputs[index..index + same_day], &recipient, control), same_day)
                }
                SimOutput::Remit { .. } => ("835", render_835(&self.sim, output, &recipient, control), 1),
            };
            index += used;
            // An answer our writers refuse is logged and skipped, the same way on replay: one
            // odd claim must not stop the clearinghouse.
            let bytes = match rendered {
                Ok(bytes) => bytes,
                Err(error) => {
                    tracing::error!(kind, day = %output.on(), %error, "cannot write an answer; skipped");
                    continue;
                }
            };
            let name = format!("{:08}-{}.{kind}.x12", self.produced, output.on().format("%Y%m%d"));
            answers.push(Answer { index: self.produced, name, bytes });
            self.produced += 1;
        }
        Ok(answers)
    }

    fn save(&self) -> Result<(), ServiceError> {
        let bytes = serde_json::to_vec_pretty(&self.state)
            .map_err(|error| ServiceError::State { path: self.dir.display().to_string(), detail: error.to_string() })?;
        write_atomic(&self.dir.join("state.json"), &bytes)
    }

    /// The ground truth as JSON, keyed by patient control number (the only id the files carry).
    pub fn truth_json(&self) -> serde_json::Value {
        let truth = self.sim.truth();
        let mut claims = BTreeMap::new();
        for (claim_id, submissions) in &truth.claims {
            let pcn = self.pcns.get(claim_id).cloned().unwrap_or_else(|| claim_id.to_string());
            let lines: BTreeMap<String, Decimal> =
                truth.paid_by_line(claim_id).into_iter().map(|(line, paid)| (line.to_string(), paid)).collect();
            let adjudicated = submissions.iter().filter(|s| matches!(s, SubmissionTruth::Adjudicated { .. })).count();
            claims.insert(
                pcn,
                serde_json::json!({
                    "paid": truth.paid(claim_id),
                    "patient_responsibility": truth.patient_responsibility(claim_id),
                    "paid_by_line": lines,
                    "adjudicated": adjudicated,
                    "submissions": submissions,
                }),
            );
        }
        serde_json::json!({
            "today": self.sim.today(),
            "paid_total": truth.paid_total(),
            "plb_total": truth.plb_total(),
            "claims": claims,
            "plb": truth.plb,
            "rejected_batches": truth.rejected_batches,
        })
    }

    /// Write the truth file atomically.
    pub fn write_truth(&self, path: &Path) -> Result<(), ServiceError> {
        let bytes = serde_json::to_vec_pretty(&self.truth_json())
            .map_err(|error| ServiceError::State { path: path.display().to_string(), detail: error.to_string() })?;
        write_atomic(path, &bytes)
    }
}

/// ISA06, the interchange sender: the answers go back to it.
fn isa_sender(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes.get(..106.min(bytes.len()))?).ok()?;
    let text = text.trim_start();
    let separator = text.get(3..4)?;
    let sender = text.split(separator).nth(6)?.trim();
    (!sender.is_empty()).then(|| sender.chars().take(15).collect())
}

/// Write a file as a hidden `.part` next to it, sync, then rename into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ServiceError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let part = dir.join(format!(".{name}.part"));
    let mut file = std::fs::File::create(&part).map_err(io("cannot create", &part))?;
    file.write_all(bytes).map_err(io("cannot write", &part))?;
    file.sync_all().map_err(io("cannot sync", &part))?;
    drop(file);
    std::fs::rename(&part, path).map_err(io("cannot rename into place", path))?;
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}
