//! 277 claim status replies (005010X212, the answer to a 276 request) into commands: every STC
//! of a claim we know becomes a `RecordStatus` in its history, with the payer's claim control
//! number (REF*1K); a status that names no single claim of ours is a suspense item. Unlike a
//! 277CA, a 277 never moves a claim's status: "pending" or "finalized" from a status line is
//! the payer's view, and the 835 is what posts.

use super::era::ClaimIndex;
use super::inbound::{claim_of, InboundPlan, PlannedCommand};
use practice_protocol::claim::{ClaimCommand, PayerStatusReport};
use practice_protocol::ids::CommandId;
use practice_protocol::x12::read::status::{ClaimStatus as StatusClaim, Status, StatusReport};
use practice_protocol::{Currency, Money};

fn trimmed(text: Option<&practice_protocol::x12::read::Text>) -> Option<String> {
    text.map(|text| text.as_str().trim().to_string()).filter(|text| !text.is_empty())
}

fn report_of(claim: &StatusClaim, status: &Status, currency: Currency) -> PayerStatusReport {
    PayerStatusReport {
        category: status.category.as_str().trim().to_string(),
        code: status.code.as_str().trim().to_string(),
        entity: trimmed(status.entity.as_ref()),
        effective_date: trimmed(status.effective_date.as_ref()),
        charge: status.charge.map(|amount| Money::new(amount, currency)),
        paid: status.paid.map(|amount| Money::new(amount, currency)),
        payer_claim_control_number: trimmed(claim.payer_claim_control_number.as_ref()),
        message: trimmed(status.message.as_ref()),
    }
}

/// Plan one 277's claim statuses into `plan`.
pub fn plan_277(report: &StatusReport, index: &ClaimIndex<'_>, currency: Currency, plan: &mut InboundPlan) {
    plan.status_replies += 1;
    let reference = report.reference.as_ref().map(|text| text.as_str()).unwrap_or_default();
    for status_claim in &report.claims {
        let Some((claim, _, _)) = claim_of(status_claim, index, &mut plan.suspense, |_| true) else { continue };
        for (position, status) in status_claim.statuses.iter().enumerate() {
            let report = report_of(status_claim, status, currency);
            // The same reply received twice records once (G3): the id is its content.
            let command_id = CommandId::derived(&[
                b"277",
                claim.id.0.as_bytes(),
                reference.as_bytes(),
                status_claim.hl_id.as_str().as_bytes(),
                &(position as u32).to_be_bytes(),
                report.category.as_bytes(),
                report.code.as_bytes(),
            ]);
            let command = ClaimCommand::RecordStatus { report: Box::new(report) };
            plan.commands.push(PlannedCommand { claim_id: claim.id, command_id, command });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::inbound::parse_inbound;
    use crate::ingest::inbound::{AckSuspenseReason, InboundSuspense};
    use crate::ingest::sample::status_reply_277;
    use practice_protocol::fixtures::office_visit_claim;
    use practice_protocol::ids::OrgId;
    use rust_decimal_macros::dec;

    #[test]
    fn a_277_records_each_status_on_its_claim_and_the_rest_goes_to_suspense() {
        let claim = office_visit_claim(OrgId::new_v4(), 1);
        let pcn = claim.patient_control_number.clone();
        let parsed = parse_inbound(&status_reply_277(&[&pcn, "NOTOURS000000000001"])).unwrap();
        let mut named = vec!["NOTOURS000000000001".to_string(), pcn.to_string()];
        named.sort();
        assert_eq!(parsed.patient_control_numbers(), named, "the claims to look up");
        let index = ClaimIndex::new([&claim]);
        let plan = crate::ingest::inbound::plan_inbound(&parsed, &index, Currency::USD);
        assert_eq!(plan.status_replies, 1);
        let reports: Vec<&PayerStatusReport> = plan
            .commands
            .iter()
            .map(|planned| match &planned.command {
                ClaimCommand::RecordStatus { report } => {
                    assert_eq!(planned.claim_id, claim.id);
                    report.as_ref()
                }
                other => panic!("a 277 planned {other:?}"),
            })
            .collect();
        assert_eq!(reports.len(), 2, "one command per STC");
        assert_eq!((reports[0].category.as_str(), reports[0].code.as_str()), ("P3", "317"));
        assert_eq!(reports[0].charge, Some(Money::new(dec!(150.00), Currency::USD)));
        assert_eq!(reports[0].effective_date.as_deref(), Some("20261130"));
        assert_eq!(reports[0].payer_claim_control_number.as_deref(), Some("PCCN0042"));
        assert_eq!((reports[1].category.as_str(), reports[1].code.as_str()), ("P1", "20"));
        assert_ne!(plan.commands[0].command_id, plan.commands[1].command_id);
        // Content-derived ids: the same file plans the same commands.
        let again = crate::ingest::inbound::plan_inbound(&parsed, &index, Currency::USD);
        assert_eq!(again.commands, plan.commands);
        let reasons: Vec<_> = plan
            .suspense
            .iter()
            .map(|item| match item {
                InboundSuspense::ClaimAcknowledgment { why, .. } => why.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(reasons, vec![AckSuspenseReason::UnknownPatientControlNumber]);
    }
}
