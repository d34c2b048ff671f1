//! The API over the backbone: an embedded node (sled journal, claim actors) behind
//! `NodeClaimService`, through the same HTTP tests as the local service.

use super::{usd, TestServer};
use crate::api::client::next_claim_event;
use hyper::http::{Method, StatusCode};
use practice_protocol::ids::{OrgId, PatientId};
use practice_protocol::roles::Role;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_from_encounter_to_paid_through_the_claim_actors() {
    let server = TestServer::start_node().await;
    let org = OrgId::new_v4();
    let patient = PatientId::new_v4();
    let manager = server.token(org, Role::BillingManager);
    let mut stream = server.client.stream("/api/v1/stream/claims", &manager).await.unwrap().into_body();
    let mut buffer = String::new();
    let claim = server.submitted(org, patient).await;
    let reply = server.post_payment(org, super::paid_payment(&claim, "140.00", "PR", "1", "35.00")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let view = server.claim_json(org, &claim).await;
    assert_eq!((view["status"].as_str(), &view["money"]["paid"]), (Some("Paid"), &usd("140.00")));
    // The stream saw every step, ending with the payment.
    let mut last = serde_json::Value::Null;
    while last["status"] != "Paid" {
        last = tokio::time::timeout(Duration::from_secs(10), next_claim_event(&mut stream, &mut buffer))
            .await
            .expect("an event in time")
            .expect("an event");
    }
    // Lists and reports come from the journal-fed projection.
    let listed = server.call(Method::GET, "/api/v1/claims?status=Paid", &manager, None).await.json();
    assert_eq!(listed["claims"][0]["id"], claim);
    let statement =
        server.call(Method::POST, "/api/v1/statements", &manager, Some(json!({"patient_id": patient}))).await;
    assert_eq!(statement.json()["statement"]["total_due"], usd("35.00"));
    // Refusals come from the claim actor's decide: a coder cannot submit, a void after submission conflicts.
    let coder = server.token(org, Role::CoderBiller);
    let other = server.ready_to_submit(org, patient).await;
    let refused = server
        .call(Method::POST, &format!("/api/v1/claims/{other}/submit"), &coder, Some(json!({"tracking_id": "x"})))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let conflict = server
        .call(Method::POST, &format!("/api/v1/claims/{claim}/void"), &manager, Some(json!({"reason": "x"})))
        .await;
    assert_eq!(conflict.code(), "invalid_transition");
    // Another organization sees nothing.
    let stranger = server.token(OrgId::new_v4(), Role::PracticeAdmin);
    let hidden = server.call(Method::GET, &format!("/api/v1/claims/{claim}"), &stranger, None).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}
