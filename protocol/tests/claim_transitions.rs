//! Every transition of the seed's diagram through `decide`, and every forbidden one refused
//! with a reason. One table: status × command → expected outcome.

mod claims;

use claims::*;
use practice_protocol::claim::{
    ClaimCommand, ClaimEvent, ClaimStatus, ClaimStatus::*, Rejection, RejectionSource, ALLOWED_TRANSITIONS,
};
use practice_protocol::roles::{Actor, Role};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    To(ClaimStatus),
    /// Accepted, no status change (no events, or only a non-status event).
    Stays,
    InvalidTransition,
    PostingRefused,
}
use Expect::*;

fn commands() -> Vec<(&'static str, ClaimCommand, Actor)> {
    let manager = user(Role::BillingManager);
    let claim = claim();
    vec![
        (
            "amend",
            ClaimCommand::AmendCoding { diagnoses: claim.diagnoses.clone(), lines: claim.lines.clone() },
            manager.clone(),
        ),
        ("sign_off", ClaimCommand::SignOff, user(Role::Clinician)),
        ("scrub", ClaimCommand::Scrub { findings: vec![] }, manager.clone()),
        ("submit", ClaimCommand::Submit { tracking_id: "ISA000000002".into() }, manager.clone()),
        ("reject", ClaimCommand::Reject { source: RejectionSource::Syntax999, reason: "IK5*R".into() }, ingestion()),
        ("accept", ClaimCommand::Accept { payer_claim_control_number: Some("PCCN9".into()) }, ingestion()),
        ("pay", ClaimCommand::PostRemittance { posting: Box::new(full_payment("table-pay")) }, ingestion()),
        ("deny", ClaimCommand::RecordDenial { notice: denial_notice() }, ingestion()),
        (
            "appeal",
            ClaimCommand::Appeal {
                corrected_lines: None,
                payer_claim_control_number: None,
                note: "auth on file".into(),
            },
            manager.clone(),
        ),
        ("write_off", ClaimCommand::WriteOff { reason: "small balance".into() }, manager.clone()),
        ("void", ClaimCommand::Void { reason: "entered in error".into() }, manager.clone()),
        (
            "reverse",
            ClaimCommand::PostRemittance { posting: Box::new(reversal_of(&full_payment("setup"), "table-rev")) },
            ingestion(),
        ),
    ]
}

fn denial_notice() -> practice_protocol::claim::DenialNotice {
    practice_protocol::claim::DenialNotice {
        code: "CO-27".into(),
        rarcs: vec![],
        reason: "coverage ended".into(),
        category: practice_protocol::domain::DenialCategory::Administrative,
        root_cause: Some(practice_protocol::domain::RootCause::Eligibility),
        appeal_deadline: None,
    }
}

/// Rows: statuses; columns: the commands above in order.
fn expected(status: ClaimStatus) -> [Expect; 12] {
    //        amend        sign_off            scrub              submit             reject             accept             pay                deny               appeal             write_off          void               reverse
    match status {
        Draft => [
            To(Draft),
            Stays,
            To(Scrubbed),
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            PostingRefused,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            To(Voided),
            PostingRefused,
        ],
        Scrubbed => [
            To(Draft),
            Stays,
            InvalidTransition,
            To(Submitted),
            InvalidTransition,
            InvalidTransition,
            PostingRefused,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            To(Voided),
            PostingRefused,
        ],
        Submitted => [
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            To(Draft),
            To(Accepted),
            To(Paid),
            To(Denied),
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            PostingRefused,
        ],
        Accepted => [
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            Stays,
            To(Paid),
            To(Denied),
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            To(Accepted),
        ],
        Denied => [
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            PostingRefused,
            InvalidTransition,
            To(Submitted),
            To(WrittenOff),
            InvalidTransition,
            To(Accepted),
        ],
        Paid => [
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            Stays,
            PostingRefused,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            To(Accepted),
        ],
        PartiallyPaid => [
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            Stays,
            To(Paid),
            InvalidTransition,
            InvalidTransition,
            To(WrittenOff),
            InvalidTransition,
            To(Accepted),
        ],
        WrittenOff => [
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            PostingRefused,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            PostingRefused,
        ],
        Voided => [
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            PostingRefused,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            InvalidTransition,
            PostingRefused,
        ],
    }
}

#[test]
fn every_status_times_every_command() {
    let mut checked = 0;
    for status in ClaimStatus::ALL {
        for ((name, command, actor), expect) in commands().into_iter().zip(expected(status)) {
            let mut state = state_in(status);
            let before = state.clone();
            let outcome = run(&mut state, command, &actor);
            let label = format!("{name} from {status}");
            match (expect, outcome) {
                (To(target), Ok(events)) => {
                    assert!(!events.is_empty(), "{label}: no events");
                    assert_eq!(state.status, Some(target), "{label}");
                    assert!(state.ledger.as_ref().is_some_and(|l| l.conservation_holds()), "{label}: G7");
                }
                (Stays, Ok(_)) => assert_eq!(state.status, Some(status), "{label}"),
                (InvalidTransition, Err(Rejection::InvalidTransition { status: reported, .. })) => {
                    assert_eq!(reported, status, "{label}");
                    assert_eq!(state, before, "{label}: a refusal changed the state");
                }
                (PostingRefused, Err(Rejection::Posting(reason))) => {
                    assert!(!reason.is_empty(), "{label}");
                    assert_eq!(state, before, "{label}: a refusal changed the state");
                }
                (expect, outcome) => panic!("{label}: expected {expect:?}, got {outcome:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 9 * 12);
}

#[test]
fn every_diagram_edge_is_exercised_and_each_event_names_its_transition() {
    // Each allowed edge is produced by some command in the table above.
    let mut seen = std::collections::BTreeSet::new();
    for status in ClaimStatus::ALL {
        for ((_, command, actor), expect) in commands().into_iter().zip(expected(status)) {
            if let To(target) = expect {
                let mut state = state_in(status);
                run(&mut state, command, &actor).expect("allowed by the table");
                seen.insert((status, target));
            }
        }
    }
    // PartiallyPaid→Paid and Submitted→Accepted come from the table; Accepted→PartiallyPaid
    // from a partial remittance: exercise it directly.
    let mut state = state_in(Accepted);
    run(&mut state, ClaimCommand::PostRemittance { posting: Box::new(partial_payment("edge")) }, &ingestion()).unwrap();
    assert_eq!(state.status, Some(PartiallyPaid));
    seen.insert((Accepted, PartiallyPaid));
    for edge in ALLOWED_TRANSITIONS {
        assert!(seen.contains(&edge), "edge {edge:?} never exercised");
    }
}

#[test]
fn submit_needs_sign_off_and_level_70() {
    let manager = user(Role::BillingManager);
    let mut state = state_in(Draft);
    run(&mut state, ClaimCommand::Scrub { findings: vec![] }, &manager).unwrap();
    let refused = run(&mut state, ClaimCommand::Submit { tracking_id: "T".into() }, &manager).unwrap_err();
    assert_eq!(refused, Rejection::NotSignedOff);

    let mut state = state_in(Scrubbed);
    for role in [Role::CoderBiller, Role::Clinician, Role::FrontDesk, Role::MaRn, Role::ComplianceOfficer] {
        let refused = run(&mut state, ClaimCommand::Submit { tracking_id: "T".into() }, &user(role)).unwrap_err();
        assert!(matches!(refused, Rejection::Forbidden { needs_level: 70, .. }), "{role}: {refused:?}");
    }
    for role in [Role::BillingManager, Role::PracticeAdmin] {
        let mut state = state_in(Scrubbed);
        assert!(run(&mut state, ClaimCommand::Submit { tracking_id: "T".into() }, &user(role)).is_ok(), "{role}");
    }
}

#[test]
fn coders_cannot_submit_and_front_desk_cannot_write_off() {
    let mut scrubbed = state_in(Scrubbed);
    let refused = run(&mut scrubbed, ClaimCommand::Submit { tracking_id: "T".into() }, &user(Role::CoderBiller));
    assert!(matches!(refused, Err(Rejection::Forbidden { .. })));
    let mut partial = state_in(PartiallyPaid);
    let refused = run(&mut partial, ClaimCommand::WriteOff { reason: "x".into() }, &user(Role::FrontDesk)).unwrap_err();
    assert!(refused.to_string().contains("WriteOff"), "{refused}");
}

#[test]
fn only_the_clinician_signs_off_and_amending_voids_the_sign_off() {
    let mut state = state_in(Draft);
    let refused = run(&mut state, ClaimCommand::SignOff, &user(Role::BillingManager)).unwrap_err();
    assert!(matches!(refused, Rejection::Forbidden { .. }));
    run(&mut state, ClaimCommand::SignOff, &user(Role::Clinician)).unwrap();
    assert!(state.signed_off);
    let claim = claim();
    let events = run(
        &mut state,
        ClaimCommand::AmendCoding { diagnoses: claim.diagnoses.clone(), lines: claim.lines.clone() },
        &user(Role::CoderBiller),
    )
    .unwrap();
    assert!(matches!(&events[0], ClaimEvent::CodingAmended { voided_sign_off: true, .. }));
    assert!(!state.signed_off);
}

#[test]
fn write_off_above_the_threshold_needs_a_practice_admin() {
    let mut state = state_in(Denied);
    let mut context = context();
    context.write_off_threshold = rust_decimal::Decimal::from(100);
    let command = ClaimCommand::WriteOff { reason: "not worth appealing".into() };
    let id = practice_protocol::ids::CommandId::new_v4();
    let refused =
        practice_protocol::claim::decide(&state, id, &command, &user(Role::BillingManager), &context).unwrap_err();
    assert!(matches!(refused, Rejection::NeedsApproval { .. }), "{refused:?}");
    let events = practice_protocol::claim::decide(&state, id, &command, &user(Role::PracticeAdmin), &context).unwrap();
    for event in &events {
        state.apply(event);
    }
    assert_eq!(state.status, Some(WrittenOff));
    let ledger = state.ledger.unwrap();
    assert_eq!(ledger.open_balance(), rust_decimal::Decimal::ZERO);
    assert_eq!(ledger.written_off, rust_decimal::Decimal::new(19500, 2));
}

#[test]
fn a_reversal_then_a_correction_ends_at_the_corrected_amounts() {
    let mut state = state_in(Paid);
    let original = full_payment("setup");
    run(&mut state, ClaimCommand::PostRemittance { posting: Box::new(reversal_of(&original, "rev")) }, &ingestion())
        .unwrap();
    assert_eq!(state.status, Some(Accepted));
    let ledger = state.ledger.as_ref().unwrap();
    assert_eq!(ledger.totals.paid, rust_decimal::Decimal::ZERO);
    assert_eq!(ledger.open_balance(), ledger.charge);
    run(
        &mut state,
        ClaimCommand::PostRemittance { posting: Box::new(correction(partial_payment("x"), "corr")) },
        &ingestion(),
    )
    .unwrap();
    assert_eq!(state.status, Some(PartiallyPaid));
    let ledger = state.ledger.as_ref().unwrap();
    assert_eq!(ledger.totals.paid, rust_decimal::Decimal::new(6000, 2));
    assert_eq!(ledger.open_balance(), rust_decimal::Decimal::new(4500, 2));
    assert!(ledger.conservation_holds());
}

#[test]
fn the_same_command_or_remittance_twice_has_one_effect() {
    let mut state = state_in(Accepted);
    let command = ClaimCommand::PostRemittance { posting: Box::new(full_payment("once")) };
    let id = practice_protocol::ids::CommandId::new_v4();
    let events = practice_protocol::claim::decide(&state, id, &command, &ingestion(), &context()).unwrap();
    let envelope = practice_protocol::envelope::EventEnvelope::new(
        practice_protocol::shard::claim_ref(org(), claim().id),
        state.version + 1,
        now(),
        ingestion(),
        Some(id),
        events[0].clone(),
    );
    state.apply_envelope(&envelope);
    // Same command id: nothing.
    assert!(practice_protocol::claim::decide(&state, id, &command, &ingestion(), &context()).unwrap().is_empty());
    // Same remittance under a new command id (an 835 received again): nothing.
    let again = practice_protocol::ids::CommandId::new_v4();
    assert!(practice_protocol::claim::decide(&state, again, &command, &ingestion(), &context()).unwrap().is_empty());
}

#[test]
fn another_organization_cannot_touch_the_claim() {
    let state = state_in(Draft);
    let stranger =
        Actor::User { org: other_org(), user: practice_protocol::ids::UserId::new_v4(), role: Role::PracticeAdmin };
    let refused = practice_protocol::claim::decide(
        &state,
        practice_protocol::ids::CommandId::new_v4(),
        &ClaimCommand::Void { reason: "x".into() },
        &stranger,
        &context(),
    )
    .unwrap_err();
    assert_eq!(refused, Rejection::WrongOrganization);
}

#[test]
fn a_denial_remittance_records_category_root_cause_and_deadline() {
    let mut state = state_in(Submitted);
    let events =
        run(&mut state, ClaimCommand::PostRemittance { posting: Box::new(denial("d")) }, &ingestion()).unwrap();
    let names: Vec<&str> = events.iter().map(|event| event.name()).collect();
    // An outright denial with no 277CA before it is the seed's Submitted → Denied: no acceptance.
    assert_eq!(names, ["ClaimRemittancePosted", "ClaimDenied"]);
    assert_eq!(state.status, Some(Denied));
    let notice = &state.denials[0];
    assert_eq!(notice.code, "CO-197");
    assert_eq!(notice.root_cause, Some(practice_protocol::domain::RootCause::MissingAuth));
    assert_eq!(notice.appeal_deadline, Some(now() + chrono::Duration::days(180)));
    assert_eq!(state.ledger.unwrap().open_balance(), rust_decimal::Decimal::new(19500, 2));
    // A payment on a Submitted claim is still its acceptance first (no Submitted → Paid).
    let mut paid = state_in(Submitted);
    let events =
        run(&mut paid, ClaimCommand::PostRemittance { posting: Box::new(full_payment("p")) }, &ingestion()).unwrap();
    let names: Vec<&str> = events.iter().map(|event| event.name()).collect();
    assert_eq!(names, ["ClaimAccepted", "ClaimRemittancePosted"]);
}

/// A 277 status reply is history, not a transition: recorded on every claim the payer has
/// (with the payer's claim number kept), refused on one never sent or voided, and never by a
/// front-desk user.
#[test]
fn a_payer_status_reply_is_recorded_only_on_a_claim_the_payer_has() {
    use practice_protocol::claim::PayerStatusReport;
    let report = PayerStatusReport {
        category: "P3".into(),
        code: "317".into(),
        entity: None,
        effective_date: Some("20261130".into()),
        charge: None,
        paid: None,
        payer_claim_control_number: Some("PCCN77".into()),
        message: None,
    };
    let command = || ClaimCommand::RecordStatus { report: Box::new(report.clone()) };
    for status in ClaimStatus::ALL {
        let mut state = state_in(status);
        let outcome = run(&mut state, command(), &ingestion());
        match status {
            Draft | Scrubbed | Voided => {
                assert!(matches!(outcome, Err(Rejection::InvalidTransition { .. })), "{status}: {outcome:?}")
            }
            _ => {
                assert_eq!(
                    outcome,
                    Ok(vec![ClaimEvent::StatusReported { report: Box::new(report.clone()) }]),
                    "{status}"
                );
                assert_eq!(state.status, Some(status), "a status reply moves nothing");
                assert_eq!(state.payer_claim_control_number.as_deref(), Some("PCCN77"));
            }
        }
    }
    let mut state = state_in(Submitted);
    let refused = run(&mut state, command(), &user(Role::FrontDesk));
    assert!(matches!(refused, Err(Rejection::Forbidden { .. })), "{refused:?}");
}

/// A biller may ask for the payer's status of a claim the payer has and has not finally
/// answered; the request is history (`ClaimStatusRequested`), counted for the exchange, and
/// moves nothing. A front-desk user may not.
#[test]
fn a_status_request_is_for_a_claim_with_the_payer() {
    for status in ClaimStatus::ALL {
        let mut state = state_in(status);
        let outcome = run(&mut state, ClaimCommand::RequestStatus, &user(Role::CoderBiller));
        match status {
            Submitted | Accepted => {
                assert_eq!(outcome, Ok(vec![ClaimEvent::StatusRequested]), "{status}");
                assert_eq!((state.status, state.status_requests), (Some(status), 1));
            }
            _ => assert!(matches!(outcome, Err(Rejection::InvalidTransition { .. })), "{status}: {outcome:?}"),
        }
    }
    let mut state = state_in(Accepted);
    let refused = run(&mut state, ClaimCommand::RequestStatus, &user(Role::FrontDesk));
    assert!(matches!(refused, Err(Rejection::Forbidden { .. })), "{refused:?}");
    assert_eq!(state.status_requests, 0);
}
