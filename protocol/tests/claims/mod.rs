//! Builders shared by the protocol's integration tests: actors of each role, canonical
//! postings, and a claim driven into each status.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use practice_protocol::claim::{
    decide, Adjustment, AdjustmentGroup, ClaimCommand, ClaimEvent, ClaimState, ClaimStatus, DecideContext, LinePosting,
    PostingKind, Rejection, RemittancePosting,
};
use practice_protocol::domain::{Claim, PaymentMethod};
use practice_protocol::fixtures;
use practice_protocol::ids::{CommandId, OrgId, PaymentId, UserId};
use practice_protocol::roles::{Actor, Role, SystemComponent};
use practice_protocol::Money;
use rust_decimal::Decimal;
use uuid::Uuid;

pub fn org() -> OrgId {
    OrgId(Uuid::from_u128(0xA))
}

pub fn other_org() -> OrgId {
    OrgId(Uuid::from_u128(0xB))
}

pub fn user(role: Role) -> Actor {
    Actor::User { org: org(), user: UserId(Uuid::from_u128(role.level() as u128)), role }
}

pub fn ingestion() -> Actor {
    Actor::System { org: org(), component: SystemComponent::Ingestion }
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).single().expect("valid time")
}

pub fn context() -> DecideContext {
    DecideContext::at(now())
}

pub fn claim() -> Claim {
    fixtures::office_visit_claim(org(), 1)
}

/// Decide and fold: the events on success.
pub fn run(state: &mut ClaimState, command: ClaimCommand, actor: &Actor) -> Result<Vec<ClaimEvent>, Rejection> {
    let events = decide(state, CommandId::new_v4(), &command, actor, &context())?;
    for event in &events {
        state.apply(event);
    }
    Ok(events)
}

fn usd(cents: i64) -> Money {
    Money::usd(Decimal::new(cents, 2))
}

fn adjustment(group: AdjustmentGroup, reason: &str, cents: i64) -> Adjustment {
    Adjustment { group, reason: reason.into(), amount: usd(cents), quantity: None }
}

fn posting(kind: PostingKind, status_code: &str, paid: i64, lines: Vec<LinePosting>, tag: &str) -> RemittancePosting {
    RemittancePosting {
        payment_id: PaymentId::derived(&[tag.as_bytes()]),
        kind,
        payer_name: "Acme Health Plan".into(),
        method: PaymentMethod::Eft,
        era_trace_number: Some(format!("TRN-{tag}")),
        payer_claim_control_number: Some("PCCN1".into()),
        claim_status_code: status_code.into(),
        paid: usd(paid),
        claim_adjustments: Vec::new(),
        lines,
        remark_codes: Vec::new(),
        paid_on: NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
    }
}

fn line(number: u32, charge: i64, paid: i64, adjustments: Vec<Adjustment>) -> LinePosting {
    LinePosting {
        line_number: number,
        paid: usd(paid),
        charge: usd(charge),
        allowed: None,
        adjustments,
        remark_codes: vec![],
    }
}

/// Pays both lines of the office-visit claim ($150 + $45): CO-45 and a PR-2 coinsurance.
pub fn full_payment(tag: &str) -> RemittancePosting {
    posting(
        PostingKind::Original,
        "1",
        9000,
        vec![
            line(
                1,
                15000,
                6000,
                vec![adjustment(AdjustmentGroup::CO, "45", 7000), adjustment(AdjustmentGroup::PR, "2", 2000)],
            ),
            line(2, 4500, 3000, vec![adjustment(AdjustmentGroup::CO, "45", 1500)]),
        ],
        tag,
    )
}

/// Pays line 1, denies line 2 as bundled (CO-97): the $45 stays open.
pub fn partial_payment(tag: &str) -> RemittancePosting {
    posting(
        PostingKind::Original,
        "1",
        6000,
        vec![
            line(
                1,
                15000,
                6000,
                vec![adjustment(AdjustmentGroup::CO, "45", 7000), adjustment(AdjustmentGroup::PR, "2", 2000)],
            ),
            line(2, 4500, 0, vec![adjustment(AdjustmentGroup::CO, "97", 4500)]),
        ],
        tag,
    )
}

/// Denies everything for missing authorization (CO-197).
pub fn denial(tag: &str) -> RemittancePosting {
    posting(
        PostingKind::Original,
        "4",
        0,
        vec![
            line(1, 15000, 0, vec![adjustment(AdjustmentGroup::CO, "197", 15000)]),
            line(2, 4500, 0, vec![adjustment(AdjustmentGroup::CO, "197", 4500)]),
        ],
        tag,
    )
}

/// The exact negation of `original` (CLP02 = 22).
pub fn reversal_of(original: &RemittancePosting, tag: &str) -> RemittancePosting {
    let negate = |money: Money| money.negate();
    let mut reversal = original.clone();
    reversal.payment_id = PaymentId::derived(&[tag.as_bytes()]);
    reversal.kind = PostingKind::Reversal;
    reversal.claim_status_code = "22".into();
    reversal.paid = negate(original.paid);
    for adjustment in &mut reversal.claim_adjustments {
        adjustment.amount = negate(adjustment.amount);
    }
    for line in &mut reversal.lines {
        line.paid = negate(line.paid);
        for adjustment in &mut line.adjustments {
            adjustment.amount = negate(adjustment.amount);
        }
    }
    reversal
}

pub fn correction(mut posting: RemittancePosting, tag: &str) -> RemittancePosting {
    posting.payment_id = PaymentId::derived(&[tag.as_bytes()]);
    posting.kind = PostingKind::Correction;
    posting
}

/// A state in `status`, reached through the real commands.
pub fn state_in(status: ClaimStatus) -> ClaimState {
    let manager = user(Role::BillingManager);
    let mut state = ClaimState::default();
    let step = |state: &mut ClaimState, command: ClaimCommand, actor: &Actor| {
        run(state, command, actor).unwrap_or_else(|rejection| panic!("setup for {status} failed: {rejection}"));
    };
    step(&mut state, ClaimCommand::Create { claim: Box::new(claim()) }, &manager);
    if status == ClaimStatus::Draft {
        return state;
    }
    if status == ClaimStatus::Voided {
        step(&mut state, ClaimCommand::Void { reason: "duplicate encounter".into() }, &manager);
        return state;
    }
    step(&mut state, ClaimCommand::SignOff, &user(Role::Clinician));
    step(&mut state, ClaimCommand::Scrub { findings: vec![] }, &manager);
    if status == ClaimStatus::Scrubbed {
        return state;
    }
    step(&mut state, ClaimCommand::Submit { tracking_id: "ISA000000001".into() }, &manager);
    match status {
        ClaimStatus::Submitted => {}
        ClaimStatus::Accepted => {
            step(&mut state, ClaimCommand::Accept { payer_claim_control_number: None }, &ingestion())
        }
        ClaimStatus::Denied => {
            step(&mut state, ClaimCommand::PostRemittance { posting: Box::new(denial("setup")) }, &ingestion())
        }
        ClaimStatus::Paid => {
            step(&mut state, ClaimCommand::PostRemittance { posting: Box::new(full_payment("setup")) }, &ingestion())
        }
        ClaimStatus::PartiallyPaid | ClaimStatus::WrittenOff => {
            step(
                &mut state,
                ClaimCommand::PostRemittance { posting: Box::new(partial_payment("setup")) },
                &ingestion(),
            );
            if status == ClaimStatus::WrittenOff {
                step(&mut state, ClaimCommand::WriteOff { reason: "bundled, not appealable".into() }, &manager);
            }
        }
        _ => unreachable!("handled above"),
    }
    assert_eq!(state.status, Some(status), "setup reached the wrong status");
    state
}
