//! The API over the backbone: an embedded node (sled journal, claim actors) behind
//! `NodeClaimService`, through the same HTTP tests as the local service.

use super::{usd, TestServer};
use crate::api::client::{next_claim_event, Reply};
use hyper::http::{Method, StatusCode};
use practice_protocol::ids::{OrgId, PatientId};
use practice_protocol::roles::Role;
use serde_json::{json, Value};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_plans_and_patient_payments_are_journaled_and_survive_a_restart() {
    let server = TestServer::start_node().await;
    let (org, patient) = (OrgId::new_v4(), PatientId::new_v4());
    let front_desk = server.token(org, Role::FrontDesk);
    server.paid_with_patient_share(org, patient).await;
    // Two statement runs at once for one patient: the practice actor bills each claim once.
    let generate =
        || server.call(Method::POST, "/api/v1/statements", &front_desk, Some(json!({"patient_id": patient})));
    let (first, second) = tokio::join!(generate(), generate());
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY],
        "{} / {}",
        first.text(),
        second.text()
    );
    let created = if first.status == StatusCode::CREATED { first } else { second };
    let id = created.json()["statement"]["id"].as_str().unwrap().to_string();

    // Due dates from today, so the plan's standing reads the same whenever the test runs.
    let first_due = chrono::Utc::now().date_naive() + chrono::Duration::days(40);
    let second_due = first_due.checked_add_months(chrono::Months::new(1)).unwrap();
    let collected = server
        .call(
            Method::POST,
            &format!("/api/v1/statements/{id}/payments"),
            &front_desk,
            Some(json!({"amount": usd("5.00"), "method": "cash"})),
        )
        .await;
    assert_eq!(collected.status, StatusCode::CREATED, "{}", collected.text());
    assert_eq!(collected.json()["balance"], usd("30.00"));
    let plan = server
        .call(
            Method::POST,
            &format!("/api/v1/statements/{id}/plan"),
            &front_desk,
            Some(json!({"installments": 3, "first_due": first_due})),
        )
        .await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text());
    let patient_token = server.patient_token(org, patient);
    let pay_path = format!("/api/v1/statements/{id}/pay");
    let paid = pay_online(&server, &pay_path, &patient_token, "12.00", "tok_test_ok").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text());
    // The payment lands on the oldest installments first.
    let paid_on: Vec<Value> =
        paid.json()["plan"]["installments"].as_array().unwrap().iter().map(|i| i["paid"]["amount"].clone()).collect();
    assert_eq!(paid_on, [json!("10.00"), json!("2.00"), json!("0.00")]);
    let standing = &paid.json()["plan_status"];
    assert_eq!((&standing["paid"], &standing["remaining"]), (&usd("12.00"), &usd("18.00")));
    assert_eq!(standing["next_due"], json!([second_due, usd("8.00")]), "{standing}");
    assert_eq!((&standing["overdue_amount"], &standing["in_default"]), (&usd("0.00"), &json!(false)));
    let too_much = pay_online(&server, &pay_path, &patient_token, "18.01", "tok_test_ok").await;
    assert_eq!((too_much.status, too_much.code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let before = server.call(Method::GET, &format!("/api/v1/statements/{id}"), &front_desk, None).await.json();
    assert_eq!(before["balance"], usd("18.00"));
    assert_eq!(before["payments"].as_array().unwrap().len(), 2);

    // Everything above is in the journal: a restarted node answers the same.
    let server = server.restart_node().await;
    let after = server.call(Method::GET, &format!("/api/v1/statements/{id}"), &front_desk, None).await.json();
    assert_eq!(after, before);
    let again =
        server.call(Method::POST, "/api/v1/statements", &front_desk, Some(json!({"patient_id": patient}))).await;
    assert_eq!(again.code(), "nothing_due", "{}", again.text());
    let rest = pay_online(&server, &pay_path, &patient_token, "18.00", "tok_test_ok2").await;
    assert_eq!(rest.status, StatusCode::CREATED, "{}", rest.text());
    assert_eq!(
        (rest.json()["statement"]["is_paid"].clone(), rest.json()["balance"].clone()),
        (json!(true), usd("0.00"))
    );
    // Replayed from the journal, the practice's statement book holds together (G7, G3).
    let (node, journal) = server.backbone.as_ref().expect("a node-backed server");
    let report = practice_actors::verify::verify(journal.as_ref(), Some(node)).await.expect("verify");
    assert!(report.ok(), "{report}");
    assert_eq!(report.entities.get("practice"), Some(&1));
}

/// A patient's online payment of `amount` with the processor's `payment_token`.
async fn pay_online(server: &TestServer, path: &str, token: &str, amount: &str, payment_token: &str) -> Reply {
    let body = json!({"amount": usd(amount), "payment_token": payment_token});
    server.call(Method::POST, path, token, Some(body)).await
}
