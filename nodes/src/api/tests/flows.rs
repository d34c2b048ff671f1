//! End-to-end flows through the API: a claim from encounter to payment, a denial appealed,
//! a statement paid online, reports, the dashboard pages.

use super::{usd, TestServer};
use hyper::http::{Method, StatusCode};
use practice_protocol::ids::{OrgId, PatientId};
use practice_protocol::roles::Role;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encounter_to_paid_to_statement_paid_online() {
    let server = TestServer::start().await;
    let org = OrgId::new_v4();
    let patient = PatientId::new_v4();
    let claim = server.submitted(org, patient).await;
    let manager = server.token(org, Role::BillingManager);
    // Submission needs level 70: a coder is refused by the route and the protocol alike.
    let coder = server.token(org, Role::CoderBiller);
    let refused = server
        .call(Method::POST, &format!("/api/v1/claims/{claim}/submit"), &coder, Some(json!({"tracking_id": "x"})))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let payment = super::paid_payment(&claim, "140.00", "PR", "1", "35.00");
    for _ in 0..2 {
        let reply = server.post_payment(org, payment.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    }
    let view = server.claim_json(org, &claim).await;
    assert_eq!(view["status"], "Paid");
    assert_eq!(view["money"]["paid"], usd("140.00"));
    assert_eq!(view["money"]["patient_responsibility"], usd("35.00"));
    assert_eq!(view["money"]["open_balance"], usd("0.00"));
    // The same check, posted twice above, is one payment (G3).
    let payments = server.call(Method::GET, "/api/v1/payments", &manager, None).await.json();
    assert_eq!(payments["payments"].as_array().unwrap().len(), 1);

    let history = server.call(Method::GET, &format!("/api/v1/claims/{claim}/history"), &manager, None).await.json();
    let events: Vec<&str> =
        history["events"].as_array().unwrap().iter().map(|event| event["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "ClaimCreated",
            "ClaimScrubPassed",
            "ClaimSignedOff",
            "ClaimSubmitted",
            "ClaimAccepted",
            "ClaimRemittancePosted"
        ]
    );
    assert!(history["events"][2]["by"].as_str().unwrap().starts_with("Clinician "));

    let statement =
        server.call(Method::POST, "/api/v1/statements", &manager, Some(json!({"patient_id": patient}))).await;
    assert_eq!(statement.status, StatusCode::CREATED);
    assert_eq!(statement.json()["statement"]["total_due"], usd("35.00"));
    let statement_id = statement.json()["statement"]["id"].as_str().unwrap().to_string();
    let plan_path = format!("/api/v1/statements/{statement_id}/plan");
    let plan = server
        .call(Method::POST, &plan_path, &manager, Some(json!({"installments": 3, "first_due": "2026-12-31"})))
        .await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text());
    let plan = plan.json();
    let amounts: Vec<&str> = plan["plan"]["installments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["amount"]["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["11.67", "11.67", "11.66"]);
    let too_long = server
        .call(Method::POST, &plan_path, &manager, Some(json!({"installments": 600, "first_due": "2026-12-31"})))
        .await;
    assert_eq!(
        (too_long.code().as_str(), too_long.json()["error"]["field"].as_str()),
        ("validation_failed", Some("installments"))
    );
    let patient_token = server.patient_token(org, patient);
    let pay_path = format!("/api/v1/statements/{statement_id}/pay");
    let pay = |body: serde_json::Value| server.call(Method::POST, &pay_path, &patient_token, Some(body));
    let card = pay(json!({"amount": usd("10.00"), "payment_token": "4111 1111 1111 1111"})).await;
    assert_eq!(card.code(), "card_data_refused");
    let pan_field =
        pay(json!({"amount": usd("10.00"), "payment_token": "tok_test_ok", "card_number": "4111111111111111"})).await;
    assert_eq!(pan_field.code(), "unknown_field");
    let declined = pay(json!({"amount": usd("10.00"), "payment_token": "tok_test_decline"})).await;
    assert_eq!((declined.status, declined.code().as_str()), (StatusCode::PAYMENT_REQUIRED, "payment_declined"));
    let too_much = pay(json!({"amount": usd("50.00"), "payment_token": "tok_test_ok"})).await;
    assert_eq!(too_much.code(), "validation_failed");
    let paid = pay(json!({"amount": usd("35.00"), "payment_token": "tok_test_ok"})).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text());
    assert_eq!(paid.json()["statement"]["is_paid"], true);
    assert_eq!(paid.json()["balance"], usd("0.00"));
    assert!(!paid.text().contains("tok_test_ok"), "the processor token is not stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denial_appeal_and_write_off_with_reports() {
    let server = TestServer::start().await;
    let org = OrgId::new_v4();
    let denied = server.denied(org, PatientId::new_v4()).await;
    let manager = server.token(org, Role::BillingManager);
    let denials = server.call(Method::GET, "/api/v1/denials", &manager, None).await.json();
    let denial = &denials["denials"][0];
    assert_eq!((denial["code"].as_str(), denial["carc"].as_str()), (Some("CO-197"), Some("197")));
    assert_eq!(denial["appeal_status"], "NotAppealed");
    assert!(denial["appeal_deadline"].is_string() && denial["root_cause"].is_string());
    let report = server.call(Method::GET, "/api/v1/reports/denials", &manager, None).await.json();
    assert_eq!(
        report["by_category"].as_array().unwrap().iter().map(|row| row["denials"].as_u64().unwrap()).sum::<u64>(),
        1
    );

    let appealed = server
        .call(Method::POST, &format!("/api/v1/claims/{denied}/appeal"), &manager, Some(json!({"note": "auth on file"})))
        .await;
    assert_eq!(appealed.status, StatusCode::OK);
    assert_eq!(appealed.json()["claim"]["status"], "Submitted");
    assert_eq!(appealed.json()["claim"]["denials"][0]["appeal_status"], "Pending");

    let other = server.denied(org, PatientId::new_v4()).await;
    let written = server
        .call(
            Method::POST,
            &format!("/api/v1/claims/{other}/write-off"),
            &manager,
            Some(json!({"reason": "timely filing"})),
        )
        .await;
    assert_eq!(written.json()["claim"]["status"], "WrittenOff");
    let aging = server.call(Method::GET, "/api/v1/reports/aging", &manager, None).await.json();
    assert_eq!(aging["buckets"][0]["claims"], 1);
    assert_eq!(aging["buckets"][0]["open_balance"], "175.00");
    let balances = server.call(Method::GET, "/api/v1/reports/open-balances", &manager, None).await.json();
    assert_eq!(balances["payers"][0]["payer_id"], "87726");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams() {
    let server = TestServer::start().await;
    let token = server.token(OrgId::new_v4(), Role::BillingManager);
    let stream = server.client.stream("/api/v1/stream/claims", &token).await.expect("stream");
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(server.shutdown(std::time::Duration::from_secs(5)).await, "an open stream held the server up");
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_signs_in_with_a_token_once_then_a_cookie() {
    let server = TestServer::start().await;
    let org = OrgId::new_v4();
    let claim = server.denied(org, PatientId::new_v4()).await;
    let token = server.token(org, Role::BillingManager);
    let login = server.client.send(Method::GET, &format!("/dashboard?token={token}"), &[], None).await.unwrap();
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let cookie = login.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let cookie = cookie.split(';').next().unwrap().to_string();
    for (path, expect) in [
        ("/dashboard".to_string(), "data-column=\"Denied\""),
        (format!("/dashboard/claims/{claim}"), "ClaimDenied"),
        ("/dashboard/aging".to_string(), "120+"),
        ("/dashboard/denials".to_string(), "CO-197"),
        ("/dashboard/payments".to_string(), "Suspense"),
        ("/dashboard/modules/leverage".to_string(), "Reserved"),
    ] {
        let page = server.client.send(Method::GET, &path, &[("cookie", &cookie)], None).await.unwrap();
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.text().contains(expect), "{path} lacks {expect}");
        assert!(!page.text().contains("Sample, Pat") && !page.text().contains("SAMPLE0001"), "{path} shows PHI");
    }
    let page = server.client.send(Method::GET, "/dashboard", &[("cookie", &cookie)], None).await.unwrap();
    assert!(page.headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'self'"));
    assert_eq!(page.headers["cache-control"], "no-store");
    let anonymous = server.client.send(Method::GET, "/dashboard", &[], None).await.unwrap();
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.text().contains("practice token issue"));
    let script = server.client.send(Method::GET, "/dashboard/assets/app.js", &[], None).await.unwrap();
    assert!(script.text().contains("EventSource"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_claim_shows_the_rejected_pill_until_fixed() {
    use practice_protocol::claim::{ClaimCommand, RejectionSource};
    use practice_protocol::envelope::CommandEnvelope;
    use practice_protocol::roles::{Actor, SystemComponent};
    let server = TestServer::start().await;
    let org = OrgId::new_v4();
    let claim = server.submitted(org, PatientId::new_v4()).await;
    // A 277CA rejection arrives through ingestion (a system actor), not the API.
    let claim_id: practice_protocol::ids::ClaimId = claim.parse().unwrap();
    let envelope = CommandEnvelope {
        command_id: practice_protocol::ids::CommandId::new_v4(),
        entity: practice_protocol::shard::claim_ref(org, claim_id),
        issued_at: chrono::Utc::now(),
        actor: Actor::System { org, component: SystemComponent::Ingestion },
        command: ClaimCommand::Reject { source: RejectionSource::ClaimAcknowledgment277Ca, reason: "A7:562".into() },
    };
    server.context.service.execute(envelope).await.expect("rejected");
    let view = server.claim_json(org, &claim).await;
    assert_eq!((view["status"].as_str(), view["pill"].as_str()), (Some("Draft"), Some("Rejected")));
    let token = server.token(org, Role::BillingManager);
    let board = server
        .client
        .send(Method::GET, "/dashboard", &[("cookie", &format!("practice_token={token}"))], None)
        .await
        .unwrap();
    assert!(board.text().contains("pill pill-Rejected"));
    let scrubbed = server.call(Method::POST, &format!("/api/v1/claims/{claim}/scrub"), &token, Some(json!({}))).await;
    assert_eq!(scrubbed.json()["claim"]["pill"], "Scrubbed");
}
