//! The seed's RBAC matrix, every role × entity × action, through the real server: allowed
//! answers 2xx, refused answers 403, and the same request on another organization's id
//! answers 404 when the role may act (it may not know the id exists) and 403 when it may not.

use super::{usd, TestServer};
use crate::auth::rbac::{self, Action, Entity, Scope, MATRIX};
use hyper::http::{Method, StatusCode};
use practice_protocol::ids::{OrgId, PatientId};
use practice_protocol::roles::Role;
use serde_json::json;

/// The state an operation needs, prepared in an organization.
#[derive(Clone, Copy, Debug)]
enum Needs {
    Nothing,
    Draft,
    ReadyToSubmit,
    Submitted,
    Denied,
    Statement,
}

/// Every (entity, action) the API exposes, with the request that performs it.
const OPERATIONS: &[(Entity, Action, Needs)] = &[
    (Entity::Claim, Action::Read, Needs::Draft),
    (Entity::Claim, Action::Create, Needs::Nothing),
    (Entity::Claim, Action::Scrub, Needs::Draft),
    (Entity::Claim, Action::SignOff, Needs::Draft),
    (Entity::Claim, Action::Submit, Needs::ReadyToSubmit),
    (Entity::Claim, Action::Void, Needs::Draft),
    (Entity::Claim, Action::WriteOff, Needs::Denied),
    (Entity::Claim, Action::RequestStatus, Needs::Submitted),
    (Entity::ClaimLine, Action::Read, Needs::Draft),
    (Entity::ClaimLine, Action::EditLines, Needs::Draft),
    (Entity::Payment, Action::Read, Needs::Nothing),
    (Entity::Payment, Action::PostRemittance, Needs::Submitted),
    (Entity::Denial, Action::Read, Needs::Nothing),
    (Entity::Denial, Action::Appeal, Needs::Denied),
    (Entity::Statement, Action::Read, Needs::Statement),
    (Entity::Statement, Action::GenerateStatement, Needs::Nothing),
    (Entity::Statement, Action::CollectPayment, Needs::Statement),
    (Entity::Statement, Action::PayOnline, Needs::Statement),
    (Entity::Report, Action::Read, Needs::Nothing),
];

async fn prepare(server: &TestServer, org: OrgId, patient: PatientId, needs: Needs) -> String {
    match needs {
        Needs::Nothing => String::new(),
        Needs::Draft => server.draft(org, patient).await,
        Needs::ReadyToSubmit => server.ready_to_submit(org, patient).await,
        Needs::Submitted => server.submitted(org, patient).await,
        Needs::Denied => server.denied(org, patient).await,
        Needs::Statement => server.statement(org, patient).await,
    }
}

/// Perform `action` on `entity` with `id` (prepared as `needs`); the status.
async fn perform(
    server: &TestServer,
    token: &str,
    org: OrgId,
    patient: PatientId,
    entity: Entity,
    action: Action,
    id: &str,
) -> StatusCode {
    let (method, path, body) = match (entity, action) {
        (Entity::Claim, Action::Read) => (Method::GET, format!("/api/v1/claims/{id}"), None),
        (Entity::Claim, Action::Create) => (
            Method::POST,
            "/api/v1/encounters".to_string(),
            Some(serde_json::to_value(crate::api::sample::encounter(org, patient)).expect("json")),
        ),
        (Entity::Claim, Action::Scrub) => (Method::POST, format!("/api/v1/claims/{id}/scrub"), Some(json!({}))),
        (Entity::Claim, Action::SignOff) => (Method::POST, format!("/api/v1/claims/{id}/sign-off"), None),
        (Entity::Claim, Action::Submit) => {
            (Method::POST, format!("/api/v1/claims/{id}/submit"), Some(json!({"tracking_id": "ISA1"})))
        }
        (Entity::Claim, Action::Void) => {
            (Method::POST, format!("/api/v1/claims/{id}/void"), Some(json!({"reason": "duplicate"})))
        }
        (Entity::Claim, Action::WriteOff) => {
            (Method::POST, format!("/api/v1/claims/{id}/write-off"), Some(json!({"reason": "small balance"})))
        }
        (Entity::Claim, Action::RequestStatus) => (Method::POST, format!("/api/v1/claims/{id}/status-request"), None),
        (Entity::ClaimLine, Action::Read) => (Method::GET, format!("/api/v1/claims/{id}/lines"), None),
        (Entity::ClaimLine, Action::EditLines) => {
            let encounter = crate::api::sample::encounter(org, patient);
            let claim = encounter.to_primary_claim(practice_protocol::money::Currency::USD).expect("claim");
            (
                Method::PUT,
                format!("/api/v1/claims/{id}/lines"),
                Some(json!({"diagnoses": claim.diagnoses, "lines": claim.lines})),
            )
        }
        (Entity::Payment, Action::Read) => (Method::GET, "/api/v1/payments".to_string(), None),
        (Entity::Payment, Action::PostRemittance) => {
            (Method::POST, "/api/v1/payments".to_string(), Some(super::paid_payment(id, "140.00", "PR", "2", "35.00")))
        }
        (Entity::Denial, Action::Read) => (Method::GET, "/api/v1/denials".to_string(), None),
        (Entity::Denial, Action::Appeal) => {
            (Method::POST, format!("/api/v1/claims/{id}/appeal"), Some(json!({"note": "auth was on file"})))
        }
        (Entity::Statement, Action::Read) => (Method::GET, format!("/api/v1/statements/{id}"), None),
        (Entity::Statement, Action::GenerateStatement) => {
            // A second paid claim for the patient, so there is something new to bill.
            server.paid_with_patient_share(org, patient).await;
            (Method::POST, "/api/v1/statements".to_string(), Some(json!({"patient_id": patient})))
        }
        (Entity::Statement, Action::CollectPayment) => (
            Method::POST,
            format!("/api/v1/statements/{id}/payments"),
            Some(json!({"amount": usd("10.00"), "method": "cash"})),
        ),
        (Entity::Statement, Action::PayOnline) => (
            Method::POST,
            format!("/api/v1/statements/{id}/pay"),
            Some(json!({"amount": usd("10.00"), "payment_token": "tok_test_ok_1"})),
        ),
        (Entity::Report, Action::Read) => (Method::GET, "/api/v1/reports/aging".to_string(), None),
        other => panic!("no request for {other:?}"),
    };
    server.call(method, &path, token, body).await.status
}

fn token_for(server: &TestServer, org: OrgId, role: Role, patient: PatientId) -> String {
    if role == Role::Patient {
        server.patient_token(org, patient)
    } else {
        server.token(org, role)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_entity_and_action_gets_the_seed_answer() {
    check_matrix(&TestServer::start().await).await;
}

/// The same matrix through the claim actors of an embedded node: the role checks in command
/// handling there give the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_holds_through_the_claim_actors() {
    check_matrix(&TestServer::start_node().await).await;
}

async fn check_matrix(server: &TestServer) {
    let (home, foreign) = (OrgId::new_v4(), OrgId::new_v4());
    let mut checked = 0;
    for role in Role::ALL {
        for (entity, action, needs) in OPERATIONS {
            let patient = PatientId::new_v4();
            let token = token_for(server, home, role, patient);
            let allowed = rbac::allows(role, *entity, *action);
            // In its own organization.
            let id = prepare(server, home, patient, *needs).await;
            let status = perform(server, &token, home, patient, *entity, *action, &id).await;
            if allowed {
                assert!(status.is_success(), "{role} {entity:?} {action:?}: expected success, got {status}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} {entity:?} {action:?}");
            }
            // The same request naming another organization's entity.
            if !matches!(needs, Needs::Nothing) {
                let foreign_id = prepare(server, foreign, patient, *needs).await;
                let status = perform(server, &token, home, patient, *entity, *action, &foreign_id).await;
                let expected = if allowed { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
                assert_eq!(status, expected, "foreign {role} {entity:?} {action:?}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, Role::ALL.len() * OPERATIONS.len());
}

#[test]
fn every_action_in_the_matrix_is_exercised() {
    for (_, entity, _, actions) in MATRIX {
        for action in *actions {
            assert!(
                OPERATIONS.iter().any(|(e, a, _)| e == entity && a == action),
                "{entity:?} {action:?} is in the matrix but not tested"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_sees_only_their_own_claims_and_statements() {
    let server = TestServer::start().await;
    let org = OrgId::new_v4();
    let (me, other) = (PatientId::new_v4(), PatientId::new_v4());
    let mine = server.draft(org, me).await;
    let theirs = server.draft(org, other).await;
    let their_statement = server.statement(org, other).await;
    let token = server.patient_token(org, me);
    assert_eq!(rbac::read_scope(Role::Patient, Entity::Claim), Scope::Own);
    assert_eq!(server.call(Method::GET, &format!("/api/v1/claims/{mine}"), &token, None).await.status, StatusCode::OK);
    let refused = server.call(Method::GET, &format!("/api/v1/claims/{theirs}"), &token, None).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let list = server.call(Method::GET, "/api/v1/claims", &token, None).await.json();
    let ids: Vec<&str> = list["claims"].as_array().unwrap().iter().map(|claim| claim["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [mine.as_str()]);
    // Asking for someone else's claims by filter changes nothing.
    let filtered = server.call(Method::GET, &format!("/api/v1/claims?patient_id={other}"), &token, None).await.json();
    assert_eq!(filtered["claims"].as_array().unwrap().len(), 1);
    let statement = server.call(Method::GET, &format!("/api/v1/statements/{their_statement}"), &token, None).await;
    assert_eq!(statement.status, StatusCode::NOT_FOUND);
    let pay = json!({"amount": usd("1.00"), "payment_token": "tok_test_ok"});
    let paid = server.call(Method::POST, &format!("/api/v1/statements/{their_statement}/pay"), &token, Some(pay)).await;
    assert_eq!(paid.status, StatusCode::NOT_FOUND);
    let statements = server.call(Method::GET, "/api/v1/statements", &token, None).await.json();
    assert_eq!(statements["statements"].as_array().unwrap().len(), 0);
}
