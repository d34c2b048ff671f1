//! G8 through the API: a token of org A cannot read, list, stream or modify org B's data, and
//! B's ids answer exactly like ids that do not exist.

use super::{usd, TestServer};
use crate::api::client::next_claim_event;
use hyper::http::{Method, StatusCode};
use practice_protocol::ids::{OrgId, PatientId};
use practice_protocol::roles::Role;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_ids_are_indistinguishable_from_unknown_ids() {
    check_isolation(&TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_ids_are_hidden_through_the_claim_actors_too() {
    check_isolation(&TestServer::start_node().await).await;
}

async fn check_isolation(server: &TestServer) {
    let (a, b) = (OrgId::new_v4(), OrgId::new_v4());
    let patient = PatientId::new_v4();
    let claim_b = server.denied(b, patient).await;
    let statement_b = server.statement(b, patient).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let admin_a = server.token(a, Role::PracticeAdmin);
    let before = server.claim_json(b, &claim_b).await;

    for suffix in ["", "/history", "/lines"] {
        let theirs = server.call(Method::GET, &format!("/api/v1/claims/{claim_b}{suffix}"), &admin_a, None).await;
        let nobody = server.call(Method::GET, &format!("/api/v1/claims/{unknown}{suffix}"), &admin_a, None).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
        assert_eq!((theirs.status, theirs.body.clone()), (nobody.status, nobody.body.clone()), "{suffix}");
    }
    let modifications = [
        ("scrub", json!({})),
        ("void", json!({"reason": "x"})),
        ("appeal", json!({"note": "x"})),
        ("write-off", json!({"reason": "x"})),
        ("submit", json!({"tracking_id": "x"})),
    ];
    for (step, body) in modifications {
        let theirs =
            server.call(Method::POST, &format!("/api/v1/claims/{claim_b}/{step}"), &admin_a, Some(body.clone())).await;
        let nobody = server.call(Method::POST, &format!("/api/v1/claims/{unknown}/{step}"), &admin_a, Some(body)).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{step}");
        assert_eq!(theirs.body, nobody.body, "{step}");
    }
    let payment = super::paid_payment(&claim_b, "10.00", "PR", "1", "1.00");
    assert_eq!(
        server.call(Method::POST, "/api/v1/payments", &admin_a, Some(payment)).await.status,
        StatusCode::NOT_FOUND
    );
    let statement = server.call(Method::GET, &format!("/api/v1/statements/{statement_b}"), &admin_a, None).await;
    assert_eq!(statement.status, StatusCode::NOT_FOUND);
    let collect = json!({"amount": usd("1.00"), "method": "cash"});
    let collected =
        server.call(Method::POST, &format!("/api/v1/statements/{statement_b}/payments"), &admin_a, Some(collect)).await;
    assert_eq!(collected.status, StatusCode::NOT_FOUND);
    // Generating a statement for B's patient from A finds nothing to bill.
    let generated =
        server.call(Method::POST, "/api/v1/statements", &admin_a, Some(json!({"patient_id": patient}))).await;
    assert_eq!(generated.code(), "nothing_due");

    // Lists and reports of A hold nothing of B.
    for path in ["/api/v1/claims", "/api/v1/payments", "/api/v1/denials", "/api/v1/statements"] {
        let reply = server.call(Method::GET, path, &admin_a, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(!reply.text().contains(&claim_b) && !reply.text().contains(&statement_b), "{path} leaks B");
    }
    let aging = server.call(Method::GET, "/api/v1/reports/aging", &admin_a, None).await.json();
    assert!(aging["buckets"].as_array().unwrap().iter().all(|bucket| bucket["claims"] == 0));

    // Nothing of B changed.
    assert_eq!(server.claim_json(b, &claim_b).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_carries_only_the_callers_org() {
    let server = TestServer::start().await;
    let (a, b) = (OrgId::new_v4(), OrgId::new_v4());
    let token_a = server.token(a, Role::BillingManager);
    let mut body = server.client.stream("/api/v1/stream/claims", &token_a).await.expect("stream").into_body();
    let mut buffer = String::new();
    // B's activity first, then A's: the first event A sees must be A's.
    let claim_b = server.draft(b, PatientId::new_v4()).await;
    let claim_a = server.draft(a, PatientId::new_v4()).await;
    let event = tokio::time::timeout(Duration::from_secs(10), next_claim_event(&mut body, &mut buffer))
        .await
        .expect("an event in time")
        .expect("an event");
    assert_eq!(event["claim_id"], claim_a);
    assert!(!buffer.contains(&claim_b));
    // A patient's stream carries only their own claims.
    let me = PatientId::new_v4();
    let patient_token = server.patient_token(a, me);
    let mut patient_body =
        server.client.stream("/api/v1/stream/claims", &patient_token).await.expect("stream").into_body();
    let mut patient_buffer = String::new();
    server.draft(a, PatientId::new_v4()).await;
    let mine = server.draft(a, me).await;
    let event = tokio::time::timeout(Duration::from_secs(10), next_claim_event(&mut patient_body, &mut patient_buffer))
        .await
        .expect("an event in time")
        .expect("an event");
    assert_eq!(event["claim_id"], mine);
    // The stream carries no PHI: ids, statuses and event names only.
    let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["at", "claim_id", "events", "previous", "sequence", "status"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_claim_access_cannot_open_the_stream() {
    let server = TestServer::start().await;
    let token = server.token(OrgId::new_v4(), Role::SchemaAdmin);
    let reply = server.call(Method::GET, "/api/v1/stream/claims", &token, None).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::FORBIDDEN, "forbidden"));
}
