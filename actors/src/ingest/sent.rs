//! What an 837 we wrote actually holds, read back from its bytes: per functional group (GS06)
//! of the interchange (ISA13), each transaction set's ST02 and the CLM01 of every claim in it,
//! tied to the claims handed to the writer. Reading the bytes, not re-deriving the writer's
//! batching rules, keeps the registry true to what left, whatever the writer decides.

use super::registry::{SentBatch, SentClaim, SentSet};
use practice_protocol::domain::Claim;
use practice_protocol::x12::{SegmentReader, X12Error};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum SentBatchError {
    #[error("the 837 is not readable: {0}")]
    Unreadable(#[from] X12Error),
    #[error("segment {segment}: {what}")]
    Structure { segment: u64, what: String },
    #[error("segment {segment}: CLM01 {patient_control_number} names none of the claims written")]
    UnknownClaim { segment: u64, patient_control_number: String },
    #[error("the 837 holds no transaction set")]
    Empty,
}

/// The groups of one written 837, each with its sets and claims. `claims` are the claims the
/// writer was given; a CLM01 shared by several of them records each.
pub fn sent_batches(raw: &[u8], claims: &[Claim]) -> Result<Vec<SentBatch>, SentBatchError> {
    let mut by_pcn: HashMap<&str, Vec<&Claim>> = HashMap::new();
    for claim in claims {
        by_pcn.entry(claim.patient_control_number.trim()).or_default().push(claim);
    }
    let mut reader = SegmentReader::new(raw);
    let mut interchange: Option<String> = None;
    let mut batches: Vec<SentBatch> = Vec::new();
    while let Some(segment) = reader.next_segment() {
        let segment = segment?;
        let number = segment.number();
        let text = |n: usize| segment.text(n).unwrap_or_default().trim().to_string();
        let structure = |what: &str| SentBatchError::Structure { segment: number, what: what.to_string() };
        match segment.id() {
            b"ISA" => interchange = Some(text(13)),
            b"GS" => batches.push(SentBatch {
                interchange_control_number: interchange.clone().ok_or_else(|| structure("GS before ISA"))?,
                group_control_number: text(6),
                sets: Vec::new(),
            }),
            b"ST" => {
                let batch = batches.last_mut().ok_or_else(|| structure("ST outside a functional group"))?;
                batch.sets.push(SentSet { control_number: text(2), claims: Vec::new() });
            }
            b"CLM" => {
                let set = batches
                    .last_mut()
                    .and_then(|batch| batch.sets.last_mut())
                    .ok_or_else(|| structure("CLM outside a transaction set"))?;
                let pcn = text(1);
                let Some(found) = by_pcn.get(pcn.as_str()) else {
                    return Err(SentBatchError::UnknownClaim { segment: number, patient_control_number: pcn });
                };
                set.claims.extend(
                    found.iter().map(|claim| SentClaim { claim_id: claim.id, patient_control_number: pcn.clone() }),
                );
            }
            _ => {}
        }
    }
    if batches.iter().all(|batch| batch.sets.is_empty()) {
        return Err(SentBatchError::Empty);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::sample::submission;
    use practice_protocol::domain::ClaimType;
    use practice_protocol::fixtures::office_visit_claim;
    use practice_protocol::ids::OrgId;
    use practice_protocol::x12::write::claim837::write_837;

    #[test]
    fn every_claim_written_is_found_in_its_set() {
        let org = OrgId::new_v4();
        let claims: Vec<Claim> = (1..=3).map(|n| office_visit_claim(org, n)).collect();
        let raw = write_837(&submission(77), ClaimType::Professional, &claims).unwrap();
        let batches = sent_batches(&raw, &claims).unwrap();
        let [batch] = batches.as_slice() else { panic!("{batches:?}") };
        assert_eq!(batch.group_control_number.trim_start_matches('0'), "77");
        let ids: Vec<_> = batch.claims().map(|sent| sent.claim_id).collect();
        assert_eq!(ids, claims.iter().map(|claim| claim.id).collect::<Vec<_>>());
        assert!(batch.sets.iter().all(|set| !set.control_number.is_empty()));
    }

    #[test]
    fn a_claim_not_handed_to_the_writer_is_an_error() {
        let org = OrgId::new_v4();
        let claims: Vec<Claim> = (1..=2).map(|n| office_visit_claim(org, n)).collect();
        let raw = write_837(&submission(5), ClaimType::Professional, &claims).unwrap();
        let error = sent_batches(&raw, &claims[..1]).unwrap_err();
        assert!(matches!(error, SentBatchError::UnknownClaim { .. }), "{error}");
        let empty = sent_batches(b"", &claims);
        assert!(matches!(empty, Err(SentBatchError::Empty | SentBatchError::Unreadable(_))), "{empty:?}");
    }
}
