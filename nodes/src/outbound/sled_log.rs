//! The outbound log in a sled database of its own (`<data dir>/outbound`), for the embedded
//! node. A batch is *staged* — its bytes, its registry records and the mark of every submission
//! in it, in one atomic batch, flushed — before it is recorded in the batch registry and handed
//! to the connector; it is *delivered* (unstaged) after the connector took it.
//!
//! Keys: `n` → the next control number (u32 big-endian), shared by 837s and 276s; `s` + org +
//! claim + submission number → the control number it left in; `p` + control number → the
//! staged batch; `q` + org + claim + submission number → its [`InquiryClock`]; `r` + control
//! number → a staged status request; `u` + org + claim → the claim's user status requests
//! (`ClaimState::status_requests`) the last 276 answered for.

use super::{next_after, InquiryClock, OutboundLogError, StagedBatch, StagedRequest, Submission};
use practice_actors::journal::sled_open::SyncedDb;
use practice_protocol::codec::{decode, encode};
use practice_protocol::ids::{ClaimId, OrgId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;

fn store(action: &'static str) -> impl FnOnce(sled::Error) -> OutboundLogError {
    move |source| OutboundLogError::Store { action, source }
}

pub struct SledOutboundLog {
    db: SyncedDb,
    /// Serializes control-number allocation with staging.
    write: Mutex<()>,
}

fn mark_key(org: OrgId, submission: Submission) -> Vec<u8> {
    let mut key = Vec::with_capacity(37);
    key.push(b's');
    key.extend_from_slice(org.0.as_bytes());
    key.extend_from_slice(submission.claim_id.0.as_bytes());
    key.extend_from_slice(&submission.number.to_be_bytes());
    key
}

fn staged_key(control: u32) -> Vec<u8> {
    let mut key = vec![b'p'];
    key.extend_from_slice(&control.to_be_bytes());
    key
}

fn request_key(control: u32) -> Vec<u8> {
    let mut key = vec![b'r'];
    key.extend_from_slice(&control.to_be_bytes());
    key
}

fn requested_key(org: OrgId, claim: ClaimId) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(b'u');
    key.extend_from_slice(org.0.as_bytes());
    key.extend_from_slice(claim.0.as_bytes());
    key
}

fn clock_key(org: OrgId, submission: Submission) -> Vec<u8> {
    let mut key = mark_key(org, submission);
    key[0] = b'q';
    key
}

/// An [`InquiryClock`] as stored: since (u64) then asked (u32), big-endian.
fn clock_bytes(clock: InquiryClock) -> [u8; 12] {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&clock.since_ms.to_be_bytes());
    bytes[8..].copy_from_slice(&clock.asked.to_be_bytes());
    bytes
}

fn clock_from_bytes(bytes: &[u8]) -> Option<InquiryClock> {
    let since: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    let asked: [u8; 4] = bytes.get(8..12)?.try_into().ok()?;
    Some(InquiryClock { since_ms: u64::from_be_bytes(since), asked: u32::from_be_bytes(asked) })
}

impl SledOutboundLog {
    pub fn open(dir: &Path) -> Result<Self, OutboundLogError> {
        let db = SyncedDb::open(dir, 8 << 20).map_err(store("open"))?;
        Ok(SledOutboundLog { db, write: Mutex::new(()) })
    }

    /// Whether this submission already left (or is staged to).
    pub fn is_sent(&self, org: OrgId, submission: Submission) -> Result<bool, OutboundLogError> {
        self.db.contains_key(mark_key(org, submission)).map_err(store("read"))
    }

    /// Stage a batch under the next control number, built by `build` from that number. The
    /// batch and the marks of `submissions` (with their inquiry clocks started at `now_ms`)
    /// are stored together and flushed before this returns.
    pub fn stage<E>(
        &self,
        org: OrgId,
        submissions: &[Submission],
        now_ms: u64,
        build: impl FnOnce(u32) -> Result<StagedBatch, E>,
    ) -> Result<Result<StagedBatch, E>, OutboundLogError> {
        self.stage_under(staged_key, StagedBatch::id, build, |batch, control| {
            let clock = InquiryClock { since_ms: now_ms, asked: 0 };
            for submission in submissions {
                batch.insert(mark_key(org, *submission), control.to_be_bytes().as_slice());
                batch.insert(clock_key(org, *submission), clock_bytes(clock).as_slice());
            }
            Ok(())
        })
    }

    /// Stage a 276 under the next control number; the inquiry clocks of `submissions` restart
    /// at `now_ms` with one more request counted, and each claim's user requests (the count
    /// given with it) are answered, in the same flushed batch.
    pub fn stage_request<E>(
        &self,
        org: OrgId,
        submissions: &[(Submission, u32)],
        now_ms: u64,
        build: impl FnOnce(u32) -> Result<StagedRequest, E>,
    ) -> Result<Result<StagedRequest, E>, OutboundLogError> {
        self.stage_under(request_key, StagedRequest::id, build, |batch, _| {
            for (submission, requested) in submissions {
                let asked = self.clock(org, *submission)?.map_or(0, |clock| clock.asked);
                let clock = InquiryClock { since_ms: now_ms, asked: asked.saturating_add(1) };
                batch.insert(clock_key(org, *submission), clock_bytes(clock).as_slice());
                batch.insert(requested_key(org, submission.claim_id), requested.to_be_bytes().as_slice());
            }
            Ok(())
        })
    }

    /// How many of a claim's user status requests the last 276 about it answered (0 if none).
    pub fn requests_answered(&self, org: OrgId, claim: ClaimId) -> Result<u32, OutboundLogError> {
        let key = requested_key(org, claim);
        match self.db.get(&key).map_err(store("read"))? {
            None => Ok(0),
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map(u32::from_be_bytes)
                .map_err(|_| OutboundLogError::Corrupt { key: format!("{key:?}"), detail: "not 4 bytes".into() }),
        }
    }

    /// The next control number, what `build` makes of it stored under `key(control)`, and
    /// the writes of `also`: one batch, flushed. A failed build stores nothing and uses no number.
    fn stage_under<T: Serialize, E>(
        &self,
        key: fn(u32) -> Vec<u8>,
        id: fn(&T) -> String,
        build: impl FnOnce(u32) -> Result<T, E>,
        also: impl FnOnce(&mut sled::Batch, u32) -> Result<(), OutboundLogError>,
    ) -> Result<Result<T, E>, OutboundLogError> {
        let _guard = self.write.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let control = self.next_control()?;
        let staged = match build(control) {
            Ok(staged) => staged,
            Err(error) => return Ok(Err(error)),
        };
        let encoded = encode(&staged)
            .map_err(|error| OutboundLogError::Corrupt { key: id(&staged), detail: error.to_string() })?;
        let next = next_after(control);
        let mut batch = sled::Batch::default();
        batch.insert(b"n".as_slice(), next.to_be_bytes().as_slice());
        batch.insert(key(control), encoded);
        also(&mut batch, control)?;
        self.db.apply_batch(batch).map_err(store("stage"))?;
        self.db.flush().map_err(store("flush"))?;
        Ok(Ok(staged))
    }

    /// The inquiry clock of a submission that left. A submission sent before the log kept
    /// clocks gets one starting at `now_ms`.
    pub fn inquiry_clock(
        &self,
        org: OrgId,
        submission: Submission,
        now_ms: u64,
    ) -> Result<InquiryClock, OutboundLogError> {
        if let Some(clock) = self.clock(org, submission)? {
            return Ok(clock);
        }
        let clock = InquiryClock { since_ms: now_ms, asked: 0 };
        let _guard = self.write.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.db.insert(clock_key(org, submission), clock_bytes(clock).as_slice()).map_err(store("write"))?;
        Ok(clock)
    }

    fn clock(&self, org: OrgId, submission: Submission) -> Result<Option<InquiryClock>, OutboundLogError> {
        let key = clock_key(org, submission);
        match self.db.get(&key).map_err(store("read"))? {
            None => Ok(None),
            Some(bytes) => clock_from_bytes(&bytes)
                .map(Some)
                .ok_or_else(|| OutboundLogError::Corrupt { key: format!("{key:?}"), detail: "not 12 bytes".into() }),
        }
    }

    fn next_control(&self) -> Result<u32, OutboundLogError> {
        match self.db.get(b"n").map_err(store("read"))? {
            Some(bytes) if bytes.len() == 4 => Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
            Some(_) => Err(OutboundLogError::Corrupt { key: "n".into(), detail: "not 4 bytes".into() }),
            None => Ok(1),
        }
    }

    /// Every batch staged and not yet delivered, oldest first.
    pub fn staged(&self) -> Result<Vec<StagedBatch>, OutboundLogError> {
        self.scan(b"p")
    }

    /// Every status request staged and not yet delivered, oldest first.
    pub fn staged_requests(&self) -> Result<Vec<StagedRequest>, OutboundLogError> {
        self.scan(b"r")
    }

    fn scan<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, OutboundLogError> {
        let mut found = Vec::new();
        for entry in self.db.scan_prefix(prefix) {
            let (key, value) = entry.map_err(store("scan"))?;
            let item = decode(&value)
                .map_err(|error| OutboundLogError::Corrupt { key: format!("{key:?}"), detail: error.to_string() })?;
            found.push(item);
        }
        Ok(found)
    }

    /// The connector took the batch: forget its bytes (the marks stay).
    pub fn delivered(&self, control: u32) -> Result<(), OutboundLogError> {
        self.unstage(staged_key(control))
    }

    /// The connector took the status request: forget its bytes (the clocks stay).
    pub fn request_delivered(&self, control: u32) -> Result<(), OutboundLogError> {
        self.unstage(request_key(control))
    }

    fn unstage(&self, key: Vec<u8>) -> Result<(), OutboundLogError> {
        let _guard = self.write.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.db.remove(key).map_err(store("unstage"))?;
        self.db.flush().map_err(store("flush"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // What both stores do alike is `nodes/tests/outbound_log.rs`; this is the sled store's own.
    #[test]
    fn a_submission_sent_before_clocks_were_kept_starts_one_when_first_seen() {
        let dir = tempfile::tempdir().unwrap();
        let org = OrgId::new_v4();
        let older = Submission { claim_id: ClaimId::new_v4(), number: 1 };
        let log = SledOutboundLog::open(dir.path()).unwrap();
        assert_eq!(log.inquiry_clock(org, older, 2_000).unwrap(), InquiryClock { since_ms: 2_000, asked: 0 });
        assert_eq!(log.inquiry_clock(org, older, 3_000).unwrap().since_ms, 2_000);
        assert!(!log.is_sent(OrgId::new_v4(), older).unwrap(), "marks are per organization");
    }
}
