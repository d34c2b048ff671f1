//! What the API returns: JSON views built from claim state and history. Money is always a
//! decimal string with its currency (`Money`'s own serialization).

use super::service::{ClaimRecord, ClaimSnapshot};
use chrono::{DateTime, Utc};
use practice_protocol::claim::{ClaimEvent, ClaimState, ClaimStatus, DenialNotice, ScrubFinding};
use practice_protocol::domain::{AppealStatus, ClaimLine, DenialCategory, PaymentMethod, RootCause};
use practice_protocol::envelope::EventEnvelope;
use practice_protocol::ids::{ClaimId, EncounterId, PatientId, PaymentId};
use practice_protocol::money::{at_least_cents, Money};
use practice_protocol::roles::Actor;
use rust_decimal::Decimal;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct ClaimMoney {
    pub charge: Money,
    pub paid: Money,
    pub contractual: Money,
    pub patient_responsibility: Money,
    pub other_adjustments: Money,
    pub written_off: Money,
    pub open_balance: Money,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClaimView {
    pub id: ClaimId,
    pub status: ClaimStatus,
    /// What the status pill shows: the status, or "Rejected" while a claim sent back by a
    /// 999/277CA rejection waits in Draft to be fixed (the seed's pill has that state).
    pub pill: &'static str,
    pub claim_type: practice_protocol::domain::ClaimType,
    pub encounter_id: EncounterId,
    pub patient_id: PatientId,
    pub payer_id: Option<String>,
    pub payer_name: Option<String>,
    pub money: ClaimMoney,
    pub signed_off: bool,
    pub submissions: u32,
    pub tracking_id: Option<String>,
    pub last_scrub: Vec<ScrubFinding>,
    pub denials: Vec<DenialView>,
    pub lines: Vec<ClaimLine>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Days since the claim was created: the aging the status pill shows.
    pub age_days: i64,
    pub version: u64,
}

impl ClaimView {
    pub fn from_state(
        state: &ClaimState,
        created_at: DateTime<Utc>,
        last_event: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<ClaimView> {
        let claim = state.claim.as_ref()?;
        let status = state.status?;
        let currency = claim.currency;
        let money = |amount: Decimal| Money::new(at_least_cents(amount), currency);
        let ledger = state.ledger.as_ref();
        let totals = ledger.map(|ledger| ledger.totals.clone()).unwrap_or_default();
        let coverage = claim.coverage();
        Some(ClaimView {
            id: claim.id,
            status,
            pill: pill_of(status, last_event),
            claim_type: claim.claim_type,
            encounter_id: claim.encounter_id,
            patient_id: claim.patient.id,
            payer_id: coverage.map(|coverage| coverage.payer.payer_id.to_string()),
            payer_name: coverage.map(|coverage| coverage.payer.name.clone()).map(Into::into),
            money: ClaimMoney {
                charge: money(ledger.map(|ledger| ledger.charge).unwrap_or_default()),
                paid: money(totals.paid),
                contractual: money(totals.contractual),
                patient_responsibility: money(totals.patient_responsibility),
                other_adjustments: money(totals.other_adjustments),
                written_off: money(ledger.map(|ledger| ledger.written_off).unwrap_or_default()),
                open_balance: money(ledger.map(|ledger| ledger.open_balance()).unwrap_or_default()),
            },
            signed_off: state.signed_off,
            submissions: state.submissions,
            tracking_id: state.tracking_id.clone(),
            last_scrub: state.last_scrub.clone(),
            denials: state.denials.iter().map(|notice| DenialView::new(claim.id, status, notice, now)).collect(),
            lines: claim.lines.clone(),
            created_at,
            updated_at: state.updated_at,
            age_days: (now - created_at).num_days(),
            version: state.version,
        })
    }

    pub fn from_snapshot(snapshot: &ClaimSnapshot, now: DateTime<Utc>) -> Option<ClaimView> {
        Self::from_state(&snapshot.state, snapshot.created_at, snapshot.last_event, now)
    }

    pub fn from_record(record: &ClaimRecord, now: DateTime<Utc>) -> Option<ClaimView> {
        let created_at = record.history.first().map(|event| event.recorded_at).unwrap_or(now);
        let last_event = record.history.last().map(|event| event.event.name());
        Self::from_state(&record.state, created_at, last_event, now)
    }
}

/// The pill's text: "Rejected" for a Draft whose latest event is the rejection.
pub fn pill_of(status: ClaimStatus, last_event: Option<&str>) -> &'static str {
    if status == ClaimStatus::Draft && last_event == Some("ClaimRejected") {
        "Rejected"
    } else {
        status.as_str()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct DenialView {
    pub claim_id: ClaimId,
    pub code: String,
    pub carc: String,
    pub rarcs: Vec<String>,
    pub reason: String,
    pub category: DenialCategory,
    pub root_cause: Option<RootCause>,
    pub appeal_deadline: Option<DateTime<Utc>>,
    pub days_to_deadline: Option<i64>,
    pub appeal_status: AppealStatus,
}

impl DenialView {
    pub fn new(claim_id: ClaimId, status: ClaimStatus, notice: &DenialNotice, now: DateTime<Utc>) -> DenialView {
        let expired = notice.appeal_deadline.is_some_and(|deadline| deadline < now);
        // The claim's status after the denial tells where the appeal stands.
        let appeal_status = match status {
            ClaimStatus::Denied if expired => AppealStatus::Expired,
            ClaimStatus::Denied => AppealStatus::NotAppealed,
            ClaimStatus::Submitted | ClaimStatus::Accepted => AppealStatus::Pending,
            ClaimStatus::Paid | ClaimStatus::PartiallyPaid => AppealStatus::Won,
            _ => AppealStatus::Lost,
        };
        DenialView {
            claim_id,
            code: notice.code.clone(),
            carc: notice.code.rsplit('-').next().unwrap_or_default().to_string(),
            rarcs: notice.rarcs.clone(),
            reason: notice.reason.clone(),
            category: notice.category,
            root_cause: notice.root_cause,
            appeal_deadline: notice.appeal_deadline,
            days_to_deadline: notice.appeal_deadline.map(|deadline| (deadline - now).num_days()),
            appeal_status,
        }
    }
}

/// One event of a claim's timeline: what, who, when.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEntry {
    pub sequence: u64,
    pub event: &'static str,
    pub at: DateTime<Utc>,
    pub by: String,
    pub detail: ClaimEvent,
}

pub fn timeline(history: &[EventEnvelope<ClaimEvent>]) -> Vec<TimelineEntry> {
    history
        .iter()
        .map(|envelope| TimelineEntry {
            sequence: envelope.sequence,
            event: envelope.event.name(),
            at: envelope.recorded_at,
            by: who(&envelope.actor),
            detail: envelope.event.clone(),
        })
        .collect()
}

/// Who acted, as the timeline shows it: role and user id, never a name.
pub fn who(actor: &Actor) -> String {
    match actor {
        Actor::User { user, role, .. } => format!("{role:?} {user}"),
        Actor::Patient { user, .. } => format!("Patient {user}"),
        Actor::System { component, .. } => format!("system:{component:?}"),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PaymentView {
    pub payment_id: PaymentId,
    pub claim_id: ClaimId,
    pub patient_id: PatientId,
    pub payer_name: String,
    pub method: PaymentMethod,
    pub paid: Money,
    pub era_trace_number: Option<String>,
    pub kind: practice_protocol::claim::PostingKind,
    pub paid_on: chrono::NaiveDate,
    pub posted_at: DateTime<Utc>,
    pub posted_by: String,
}

pub fn payments_of(record: &ClaimRecord) -> Vec<PaymentView> {
    let Some(claim) = record.state.claim.as_ref() else { return Vec::new() };
    record
        .history
        .iter()
        .filter_map(|envelope| match &envelope.event {
            ClaimEvent::RemittancePosted { posting } => Some(PaymentView {
                payment_id: posting.payment_id,
                claim_id: claim.id,
                patient_id: claim.patient.id,
                payer_name: posting.payer_name.clone(),
                method: posting.method,
                paid: posting.paid,
                era_trace_number: posting.era_trace_number.clone(),
                kind: posting.kind,
                paid_on: posting.paid_on,
                posted_at: envelope.recorded_at,
                posted_by: who(&envelope.actor),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pill_says_rejected_only_for_a_rejected_draft() {
        assert_eq!(pill_of(ClaimStatus::Draft, Some("ClaimRejected")), "Rejected");
        assert_eq!(pill_of(ClaimStatus::Draft, Some("ClaimCreated")), "Draft");
        assert_eq!(pill_of(ClaimStatus::Scrubbed, Some("ClaimRejected")), "Scrubbed");
        assert_eq!(pill_of(ClaimStatus::PartiallyPaid, None), "PartiallyPaid");
        assert_eq!(at_least_cents(Decimal::ZERO).to_string(), "0.00");
        assert_eq!(at_least_cents(Decimal::new(12345, 3)).to_string(), "12.345");
    }
}
