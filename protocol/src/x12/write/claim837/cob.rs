//! Coordination of benefits on a secondary or tertiary claim: loops 2320 (other subscriber
//! information with the prior payer's CAS and paid amount), 2330A/B (that subscriber and
//! payer) and, per line, 2430 (SVD, CAS, adjudication date).

use crate::claim::Adjustment;
use crate::domain::{Claim, ClaimLine, PriorAdjudication};
use crate::x12::write::parties;
use crate::x12::write::X12Writer;

/// 2320/2330A/2330B for every prior payer, in payer order.
pub(super) fn other_payers(writer: &mut X12Writer, claim: &Claim) {
    for prior in priors_in_order(claim) {
        writer
            .begin("SBR")
            .el(prior.order.x12_code())
            .el(prior.relationship.x12_code())
            .opt(prior.subscriber.group_number.as_deref())
            .skip(5)
            .el(&prior.payer.filing_indicator)
            .end();
        adjustments(writer, &prior.claim_adjustments);
        writer.begin("AMT").el("D").amount(prior.paid.amount).end();
        writer.begin("OI").skip(2).el("Y").skip(2).el("Y").end();
        parties::person(writer, "IL", &prior.subscriber.name, "MI", &prior.subscriber.member_id);
        parties::address(writer, &prior.subscriber.address);
        parties::organization(writer, "PR", &prior.payer.name, "PI", prior.payer.payer_id.as_str());
        // With line adjudications the date travels in 2430; without, it belongs here.
        if prior.lines.is_empty() {
            writer.begin("DTP").el("573").el("D8").date(prior.adjudicated_on).end();
        }
    }
}

/// 2430 for one of our lines: what each prior payer did with it.
pub(super) fn line_adjudications(writer: &mut X12Writer, claim: &Claim, line: &ClaimLine, institutional: bool) {
    for prior in priors_in_order(claim) {
        let Some(adjudicated) = prior.lines.iter().find(|entry| entry.line_number == line.line_number) else {
            continue;
        };
        let mut procedure = vec!["HC", adjudicated.procedure.as_str()];
        if adjudicated.procedure == line.procedure {
            procedure.extend(line.modifiers.iter().take(4).map(|modifier| modifier.as_str()));
        }
        writer
            .begin("SVD")
            .el(prior.payer.payer_id.as_str())
            .amount(adjudicated.paid.amount)
            .comp(&procedure)
            .el(if institutional { line.revenue_code.as_deref().unwrap_or("") } else { "" })
            .amount(line.units)
            .end();
        adjustments(writer, &adjudicated.adjustments);
        writer.begin("DTP").el("573").el("D8").date(prior.adjudicated_on).end();
    }
}

fn priors_in_order(claim: &Claim) -> Vec<&PriorAdjudication> {
    let mut priors: Vec<&PriorAdjudication> = claim.prior_adjudications.iter().collect();
    priors.sort_by_key(|prior| prior.order);
    priors
}

/// CAS segments: one per group code (first-seen order), six reason/amount/quantity triplets
/// each, continued in another CAS of the same group when there are more.
pub(crate) fn adjustments(writer: &mut X12Writer, adjustments: &[Adjustment]) {
    let mut groups: Vec<crate::claim::AdjustmentGroup> = Vec::new();
    for adjustment in adjustments {
        if !groups.contains(&adjustment.group) {
            groups.push(adjustment.group);
        }
    }
    for group in groups {
        let in_group: Vec<&Adjustment> = adjustments.iter().filter(|adjustment| adjustment.group == group).collect();
        for chunk in in_group.chunks(6) {
            writer.begin("CAS").el(group.as_str());
            for adjustment in chunk {
                writer.el(&adjustment.reason).amount(adjustment.amount.amount);
                match adjustment.quantity {
                    Some(quantity) => writer.amount(quantity),
                    None => writer.el(""),
                };
            }
            writer.end();
        }
    }
}
