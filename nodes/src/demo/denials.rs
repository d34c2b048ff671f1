//! Denials the day's 835s brought: appealed with documentation when the CARC is one a billing
//! office appeals (once per claim), written off otherwise (the practice admin approving what is
//! above the billing manager's threshold).

use super::flow::{command_id, rejection, send, Cast};
use super::submission::submission_of;
use super::summary::Tally;
use anyhow::Context;
use futures::stream::{self, StreamExt};
use practice_actors::entity::EntityRejection;
use practice_actors::Node;
use practice_protocol::claim::{ClaimCommand, ClaimState, ClaimStatus};
use practice_protocol::domain::Claim;
use practice_protocol::ids::ClaimId;
use practice_protocol::shard::claim_ref;
use std::collections::{BTreeMap, HashMap};

/// CARCs a billing office appeals with documentation; other denials are written off.
const APPEALABLE: [&str; 5] = ["197", "16", "50", "252", "11"];

/// What working one denial did.
enum Worked {
    /// Not Denied (any more): nothing to do.
    Skipped,
    /// Appealed: the replacement claim refers to this payer claim number.
    Appealed(Option<String>),
    WrittenOff,
    /// The command was refused; logged by the node.
    Refused,
}

/// Denied claims not yet worked: appeal (with records) or write off, per the CARC. Claims are
/// worked concurrently; their results are applied in the order they were denied.
pub(super) async fn work_denials(
    node: &Node,
    cast: &Cast,
    denied: &[ClaimId],
    by_id: &mut HashMap<ClaimId, Claim>,
    tally: &mut Tally,
    resubmissions: &BTreeMap<ClaimId, u32>,
    concurrency: usize,
) -> anyhow::Result<Vec<ClaimId>> {
    let worked = stream::iter(denied)
        .map(|&claim_id| work_denial(node, cast, claim_id, submission_of(resubmissions, claim_id)))
        .buffered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let mut appealed = Vec::new();
    for (&claim_id, worked) in denied.iter().zip(worked) {
        match worked? {
            Worked::Appealed(payer_claim_control_number) => {
                tally.appeals += 1;
                if let Some(claim) = by_id.get_mut(&claim_id) {
                    // What the replacement claim carries: frequency 7 and the payer's number.
                    claim.frequency = practice_protocol::domain::ClaimFrequency::Replacement;
                    claim.original_reference = Some(
                        payer_claim_control_number
                            .map(Into::into)
                            .unwrap_or_else(|| claim.patient_control_number.clone()),
                    );
                }
                appealed.push(claim_id);
            }
            Worked::WrittenOff => tally.write_offs += 1,
            Worked::Skipped | Worked::Refused => {}
        }
    }
    Ok(appealed)
}

async fn work_denial(node: &Node, cast: &Cast, claim_id: ClaimId, submission: u32) -> anyhow::Result<Worked> {
    let inspection =
        node.inspect(claim_ref(cast.org, claim_id)).await.map_err(|error| anyhow::anyhow!("inspect: {error}"))?;
    let state: ClaimState = practice_protocol::codec::decode(&inspection.state).context("claim state")?;
    if state.status != Some(ClaimStatus::Denied) {
        return Ok(Worked::Skipped);
    }
    let carc =
        state.denials.last().map(|notice| notice.code.rsplit('-').next().unwrap_or("").to_string()).unwrap_or_default();
    if APPEALABLE.contains(&carc.as_str()) && !appealed_before(&state) {
        let id = command_id(&[b"appeal", claim_id.0.as_bytes(), &submission.to_be_bytes()]);
        let note = format!("appeal of CARC {carc}: documentation attached");
        let command = ClaimCommand::Appeal { corrected_lines: None, payer_claim_control_number: None, note };
        return Ok(match rejection(&send(node, claim_id, cast.org, &cast.manager, id, command).await?) {
            None => Worked::Appealed(state.payer_claim_control_number),
            Some(_) => Worked::Refused,
        });
    }
    let id = command_id(&[b"write-off", claim_id.0.as_bytes()]);
    let reason = format!("CARC {carc}: not appealable");
    let mut outcome =
        send(node, claim_id, cast.org, &cast.manager, id, ClaimCommand::WriteOff { reason: reason.clone() }).await?;
    if matches!(
        rejection(&outcome),
        Some(EntityRejection::Claim(practice_protocol::claim::Rejection::NeedsApproval { .. }))
    ) {
        // Above the manager's threshold: the practice admin approves.
        let id = command_id(&[b"write-off-approved", claim_id.0.as_bytes()]);
        outcome = send(node, claim_id, cast.org, &cast.admin, id, ClaimCommand::WriteOff { reason }).await?;
    }
    Ok(if rejection(&outcome).is_none() { Worked::WrittenOff } else { Worked::Refused })
}

/// One appeal per claim: a second denial of the same claim is written off.
fn appealed_before(state: &ClaimState) -> bool {
    state.denials.len() > 1
}
