//! The outbound log: which submissions have left (or are leaving) in which batch, so a claim is
//! sent once per submission and nothing staged is lost in a crash.
//!
//! A small sled database of its own (`<data dir>/outbound`). A batch is *staged* — its bytes,
//! its registry records and the mark of every submission in it, in one atomic batch, flushed —
//! before it is recorded in the batch registry and handed to the connector; it is *delivered*
//! (unstaged) after the connector took it. A restart hands every staged batch over again, which
//! the registry and both connectors take as a no-op when it already arrived.
//!
//! Keys: `n` → the next control number (u32 big-endian); `s` + org + claim + submission number
//! → the control number it left in; `p` + control number → the staged batch.

use practice_actors::ingest::registry::SentBatch;
use practice_protocol::codec::{decode, encode};
use practice_protocol::ids::{ClaimId, OrgId};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;

/// Control numbers are 9 digits (ISA13); after 999,999,999 they wrap to 1, as X12 allows.
const LAST_CONTROL: u32 = 999_999_999;

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

/// One claim submission: the claim and its submission count (`ClaimState::submissions`), so a
/// resubmission after a rejection or an appeal is a new key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Submission {
    pub claim_id: ClaimId,
    pub number: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundLogError {
    #[error("outbound log {action}: {source}")]
    Store { action: &'static str, source: sled::Error },
    #[error("outbound log entry {key} does not decode: {detail}")]
    Corrupt { key: String, detail: String },
}

fn store(action: &'static str) -> impl FnOnce(sled::Error) -> OutboundLogError {
    move |source| OutboundLogError::Store { action, source }
}

pub struct OutboundLog {
    db: sled::Db,
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

impl OutboundLog {
    pub fn open(dir: &Path) -> Result<Self, OutboundLogError> {
        let db = sled::Config::new().path(dir).cache_capacity(8 << 20).open().map_err(store("open"))?;
        Ok(OutboundLog { db, write: Mutex::new(()) })
    }

    /// Whether this submission already left (or is staged to).
    pub fn is_sent(&self, org: OrgId, submission: Submission) -> Result<bool, OutboundLogError> {
        self.db.contains_key(mark_key(org, submission)).map_err(store("read"))
    }

    /// Stage a batch under the next control number, built by `build` from that number; the
    /// batch and the marks of `submissions` are stored together and flushed before this returns.
    pub fn stage<E>(
        &self,
        org: OrgId,
        submissions: &[Submission],
        build: impl FnOnce(u32) -> Result<StagedBatch, E>,
    ) -> Result<Result<StagedBatch, E>, OutboundLogError> {
        let _guard = self.write.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let control = match self.db.get(b"n").map_err(store("read"))? {
            Some(bytes) if bytes.len() == 4 => u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            Some(_) => return Err(OutboundLogError::Corrupt { key: "n".into(), detail: "not 4 bytes".into() }),
            None => 1,
        };
        let staged = match build(control) {
            Ok(staged) => staged,
            Err(error) => return Ok(Err(error)),
        };
        let encoded = encode(&staged)
            .map_err(|error| OutboundLogError::Corrupt { key: staged.id(), detail: error.to_string() })?;
        let next = if control >= LAST_CONTROL { 1 } else { control + 1 };
        let mut batch = sled::Batch::default();
        batch.insert(b"n".as_slice(), next.to_be_bytes().as_slice());
        batch.insert(staged_key(control), encoded);
        for submission in submissions {
            batch.insert(mark_key(org, *submission), control.to_be_bytes().as_slice());
        }
        self.db.apply_batch(batch).map_err(store("stage"))?;
        self.db.flush().map_err(store("flush"))?;
        Ok(Ok(staged))
    }

    /// Every batch staged and not yet delivered, oldest first.
    pub fn staged(&self) -> Result<Vec<StagedBatch>, OutboundLogError> {
        let mut batches = Vec::new();
        for entry in self.db.scan_prefix(b"p") {
            let (key, value) = entry.map_err(store("scan"))?;
            let batch: StagedBatch = decode(&value)
                .map_err(|error| OutboundLogError::Corrupt { key: format!("{key:?}"), detail: error.to_string() })?;
            batches.push(batch);
        }
        Ok(batches)
    }

    /// The connector took the batch: forget its bytes (the marks stay).
    pub fn delivered(&self, control: u32) -> Result<(), OutboundLogError> {
        let _guard = self.write.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.db.remove(staged_key(control)).map_err(store("unstage"))?;
        self.db.flush().map_err(store("flush"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(org: OrgId, control: u32) -> StagedBatch {
        StagedBatch { org, control, institutional: false, bytes: b"ISA*".to_vec(), sent: vec![] }
    }

    #[test]
    fn staging_marks_allocates_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let org = OrgId::new_v4();
        let first = Submission { claim_id: ClaimId::new_v4(), number: 1 };
        let again = Submission { number: 2, ..first };
        {
            let log = OutboundLog::open(dir.path()).unwrap();
            assert!(!log.is_sent(org, first).unwrap());
            let batch = log.stage(org, &[first], |control| Ok::<_, ()>(staged(org, control))).unwrap().unwrap();
            assert_eq!(batch.id(), "000000001");
            // A build that fails stages nothing and uses no number.
            assert_eq!(log.stage(org, &[again], |_| Err("no")).unwrap(), Err("no"));
            assert!(log.is_sent(org, first).unwrap());
            assert!(!log.is_sent(org, again).unwrap());
        }
        let log = OutboundLog::open(dir.path()).unwrap();
        assert_eq!(log.staged().unwrap(), vec![staged(org, 1)]);
        let second = log.stage(org, &[again], |control| Ok::<_, ()>(staged(org, control))).unwrap().unwrap();
        assert_eq!(second.control, 2);
        log.delivered(1).unwrap();
        assert_eq!(log.staged().unwrap(), vec![staged(org, 2)]);
        assert!(log.is_sent(org, first).unwrap(), "a delivered batch's marks stay");
        assert!(!log.is_sent(OrgId::new_v4(), first).unwrap(), "marks are per organization");
    }
}
