//! A 999 taken back to claims. `verdicts` reads one 999 transaction set as a verdict per 837
//! set we sent (AK2/IK5), with its errors in words (IK3 segment, IK4 element, IK5 and AK9
//! codes); a group rejected as a whole (AK9 R with no AK2) is one verdict for every set.
//! `plan_999` looks each verdict's batch up in what the registry returned: every claim of a
//! rejected set gets a `Reject` (Submitted → Draft) with the 999's reason; an accepted set is
//! only recorded; a 999 about a batch we never sent is a suspense item, never dropped.
//!
//! Command ids come from (claim, ISA13, GS06, ST02) of the batch, not from the 999 file: the
//! same verdict received twice, even in two different files, rejects each claim once.

use super::inbound::{InboundSuspense, PlannedCommand, SetVerdict};
use super::registry::{control_key, RegisteredBatch, SetOutcome};
use practice_protocol::claim::{ClaimCommand, RejectionSource};
use practice_protocol::ids::CommandId;
use practice_protocol::x12::read::ack::{AckStatus, Acknowledgment, SegmentError, SetAcknowledgment};
use std::collections::HashMap;
use std::fmt::Write as _;

fn accepted(status: AckStatus) -> bool {
    matches!(status, AckStatus::Accepted | AckStatus::AcceptedWithErrors)
}

/// One verdict per set the 999 names, or one for the whole group (AK9 without AK2).
pub fn verdicts(ack: &Acknowledgment) -> Vec<SetVerdict> {
    let group = ack.group_control_number.as_str().trim().to_string();
    let group_status = ack.group.as_ref().map(|group| group.status);
    let group_text = ack.group.as_ref().map(|group| {
        let mut text = format!("AK9 {}", group.status_code.as_str().trim());
        for code in &group.errors {
            let _ = write!(text, " AK905 {}", code.as_str().trim());
        }
        text
    });
    if ack.sets.is_empty() {
        let Some(status) = group_status else { return Vec::new() };
        return vec![SetVerdict {
            group_control_number: group,
            set_control_number: None,
            accepted: accepted(status),
            partial: status == AckStatus::PartiallyAccepted,
            status_code: ack
                .group
                .as_ref()
                .map(|group| group.status_code.as_str().trim().to_string())
                .unwrap_or_default(),
            reason: format!("999 rejected functional group: {}", group_text.unwrap_or_default()),
        }];
    }
    let group_rejected = group_status == Some(AckStatus::Rejected);
    ack.sets
        .iter()
        .map(|set| {
            let mut reason = describe_set(set);
            if let Some(text) = &group_text {
                let _ = write!(reason, "; {text}");
            }
            SetVerdict {
                group_control_number: group.clone(),
                set_control_number: Some(set.control_number.as_str().trim().to_string()),
                accepted: accepted(set.status) && !group_rejected,
                partial: false,
                status_code: set.status_code.as_str().trim().to_string(),
                reason,
            }
        })
        .collect()
}

/// `999 IK5 R (IK502 5): IK3 CLM at 12 in loop 2300 (IK304 8): IK4 element 1 (ref 1028, IK403 7, value "X")`.
fn describe_set(set: &SetAcknowledgment) -> String {
    let mut text = format!("999 IK5 {}", set.status_code.as_str().trim());
    for code in &set.errors {
        let _ = write!(text, " (IK502 {})", code.as_str().trim());
    }
    for segment in &set.segment_errors {
        describe_segment(&mut text, segment);
    }
    text
}

fn describe_segment(text: &mut String, segment: &SegmentError) {
    let _ = write!(text, "; IK3 {}", segment.segment_id.as_str().trim());
    if let Some(position) = &segment.position {
        let _ = write!(text, " at segment {}", position.as_str().trim());
    }
    if let Some(loop_id) = &segment.loop_id {
        let _ = write!(text, " in loop {}", loop_id.as_str().trim());
    }
    if let Some(code) = &segment.code {
        let _ = write!(text, " (IK304 {})", code.as_str().trim());
    }
    for element in &segment.elements {
        let _ = write!(text, ": IK4 element {}", element.position.as_str().trim());
        if let Some(component) = &element.component {
            let _ = write!(text, "-{}", component.as_str().trim());
        }
        if let Some(reference) = &element.reference {
            let _ = write!(text, " (ref {})", reference.as_str().trim());
        }
        let _ = write!(text, " IK403 {}", element.code.as_str().trim());
        if let Some(value) = &element.bad_value {
            let _ = write!(text, " value {:?}", value.as_str());
        }
    }
}

/// What a 999 file implies once its batches are known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan999 {
    /// `Reject` for every claim of every rejected set, in batch order.
    pub commands: Vec<PlannedCommand>,
    /// (GS06, ST02, outcome) to record in the registry.
    pub outcomes: Vec<(String, String, SetOutcome)>,
    pub suspense: Vec<InboundSuspense>,
}

/// `batches`: what the registry returned, keyed by `control_key` of the GS06.
pub fn plan_999(verdicts: &[SetVerdict], batches: &HashMap<String, RegisteredBatch>, file_id: &str) -> Plan999 {
    let mut plan = Plan999::default();
    for verdict in verdicts {
        let suspend = |why: String| InboundSuspense::Acknowledgment999 {
            group_control_number: verdict.group_control_number.clone(),
            set_control_number: verdict.set_control_number.clone(),
            status_code: verdict.status_code.clone(),
            why,
        };
        let Some(registered) = batches.get(&control_key(&verdict.group_control_number)) else {
            plan.suspense.push(suspend(format!(
                "no batch was sent with group control number {} (999 {})",
                verdict.group_control_number,
                if verdict.accepted { "accepted" } else { "rejected" }
            )));
            continue;
        };
        if verdict.partial {
            plan.suspense.push(suspend("999 accepted the group in part without naming its sets".to_string()));
            continue;
        }
        let batch = &registered.batch;
        let sets: Vec<_> = match &verdict.set_control_number {
            None => batch.sets.iter().collect(),
            Some(number) => {
                batch.sets.iter().filter(|set| control_key(&set.control_number) == control_key(number)).collect()
            }
        };
        if sets.is_empty() {
            plan.suspense.push(suspend(format!(
                "group {} was sent without transaction set {}",
                verdict.group_control_number,
                verdict.set_control_number.as_deref().unwrap_or("")
            )));
            continue;
        }
        for set in sets {
            let outcome = SetOutcome {
                accepted: verdict.accepted,
                status_code: verdict.status_code.clone(),
                reason: verdict.reason.clone(),
                file_id: file_id.to_string(),
            };
            plan.outcomes.push((batch.group_control_number.clone(), set.control_number.clone(), outcome));
            if verdict.accepted {
                continue;
            }
            for sent in &set.claims {
                let command_id = CommandId::derived(&[
                    b"999-reject",
                    sent.claim_id.0.as_bytes(),
                    batch.interchange_control_number.as_bytes(),
                    control_key(&batch.group_control_number).as_bytes(),
                    control_key(&set.control_number).as_bytes(),
                ]);
                let command =
                    ClaimCommand::Reject { source: RejectionSource::Syntax999, reason: verdict.reason.clone() };
                plan.commands.push(PlannedCommand { claim_id: sent.claim_id, command_id, command });
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::era::ClaimIndex;
    use crate::ingest::inbound::{parse_inbound, plan_inbound};
    use crate::ingest::registry::{SentBatch, SentClaim, SentSet};
    use crate::ingest::sample::envelope;
    use practice_protocol::ids::ClaimId;
    use practice_protocol::x12::write::{
        write_999, ElementError, ReceivedGroup, SegmentError as WrittenSegmentError, SetAcknowledgment as Written,
        SetStatus,
    };
    use practice_protocol::Currency;

    fn claim(n: u128) -> SentClaim {
        SentClaim { claim_id: ClaimId(uuid::Uuid::from_u128(n)), patient_control_number: format!("PCN{n}") }
    }

    fn registered() -> HashMap<String, RegisteredBatch> {
        let batch = SentBatch {
            interchange_control_number: "000000031".into(),
            group_control_number: "31".into(),
            sets: vec![
                SentSet { control_number: "0001".into(), claims: vec![claim(1), claim(2)] },
                SentSet { control_number: "0002".into(), claims: vec![claim(3)] },
            ],
        };
        HashMap::from([("31".to_string(), RegisteredBatch { batch, verdicts: Default::default() })])
    }

    fn written(control_number: &str, status: SetStatus) -> Written {
        let rejected = status == SetStatus::Rejected;
        Written {
            set_id: "837".into(),
            control_number: control_number.into(),
            version: Some("005010X222A1".into()),
            status,
            syntax_errors: if rejected { vec!["5".into()] } else { vec![] },
            segment_errors: if rejected {
                vec![WrittenSegmentError {
                    segment_id: "NM1".into(),
                    position: 23,
                    loop_id: Some("2010BA".into()),
                    code: "8".into(),
                    element_errors: vec![ElementError {
                        position: 9,
                        component: None,
                        reference_number: Some("67".into()),
                        code: "1".into(),
                        bad_value: None,
                    }],
                }]
            } else {
                vec![]
            },
        }
    }

    fn verdicts_of(group: u32, sets: Vec<Written>) -> Vec<SetVerdict> {
        let group =
            ReceivedGroup { functional_id: "HC".into(), control_number: group, version: "005010X222A1".into(), sets };
        let parsed = parse_inbound(&write_999(&envelope(900), &group).unwrap()).unwrap();
        plan_inbound(&parsed, &ClaimIndex::default(), Currency::USD).set_verdicts
    }

    #[test]
    fn a_rejected_set_returns_exactly_its_claims_with_the_999s_errors() {
        let verdicts =
            verdicts_of(31, vec![written("0001", SetStatus::Rejected), written("0002", SetStatus::Accepted)]);
        let plan = plan_999(&verdicts, &registered(), "x12:f");
        let claims: Vec<_> = plan.commands.iter().map(|command| command.claim_id).collect();
        assert_eq!(claims, [claim(1).claim_id, claim(2).claim_id]);
        let ClaimCommand::Reject { source, reason } = &plan.commands[0].command else { panic!() };
        assert_eq!(*source, RejectionSource::Syntax999);
        for part in ["IK5 R", "IK502 5", "IK3 NM1", "loop 2010BA", "IK304 8", "IK4 element 9", "ref 67", "IK403 1"] {
            assert!(reason.contains(part), "{part} missing from {reason}");
        }
        let recorded: Vec<_> = plan
            .outcomes
            .iter()
            .map(|(group, set, outcome)| (group.as_str(), set.as_str(), outcome.accepted))
            .collect();
        assert_eq!(recorded, [("31", "0001", false), ("31", "0002", true)]);
        assert!(plan.suspense.is_empty());
        // The same verdict from another file: the same command ids.
        assert_eq!(plan_999(&verdicts, &registered(), "x12:g").commands, plan.commands);
    }

    #[test]
    fn an_unknown_batch_or_set_is_suspense() {
        let verdicts = verdicts_of(32, vec![written("0001", SetStatus::Rejected)]);
        let plan = plan_999(&verdicts, &registered(), "x12:f");
        assert!(plan.commands.is_empty());
        assert!(matches!(
            plan.suspense.as_slice(),
            [InboundSuspense::Acknowledgment999 { group_control_number, .. }] if group_control_number == "32"
        ));
        let verdicts = verdicts_of(31, vec![written("0009", SetStatus::Rejected)]);
        let plan = plan_999(&verdicts, &registered(), "x12:f");
        assert!(plan.commands.is_empty() && plan.suspense.len() == 1, "{plan:?}");
    }

    #[test]
    fn a_group_rejected_as_a_whole_rejects_every_set() {
        let verdict = SetVerdict {
            group_control_number: "000000031".into(),
            set_control_number: None,
            accepted: false,
            partial: false,
            status_code: "R".into(),
            reason: "999 rejected functional group: AK9 R".into(),
        };
        let plan = plan_999(&[verdict], &registered(), "x12:f");
        assert_eq!(plan.commands.len(), 3);
        assert_eq!(plan.outcomes.len(), 2);
    }
}
