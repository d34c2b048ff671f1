//! The suspense queue through the API over an embedded node: an uploaded 835 whose payments
//! match no claim leaves two suspense items on the practice; a biller posts one to the claim
//! it belongs to (the claim's money moves by exactly the item's amount, G7 holds), a manager
//! dismisses the other; roles, repeats, unknown ids and other organizations are refused.

use super::upload_posting::{posting_server, upload};
use super::usd;
use crate::api::service::ClaimService;
use hyper::http::{Method, StatusCode};
use practice_actors::ingest::sample::{era_835, payment};
use practice_protocol::ids::{ClaimId, ClaimLineId, OrgId};
use practice_protocol::roles::Role;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_payments_are_posted_from_suspense_or_dismissed_by_the_roles_allowed() {
    let (server, service) = posting_server().await;
    let org = server.connector_org;
    let (id, claim_id, claim) = super::upload_posting::submitted_claim(&server, &service).await;
    // The payer answers for claims we cannot find: unknown control numbers, unknown lines.
    let mut phantom = claim.clone();
    phantom.lines.iter_mut().for_each(|line| line.id = ClaimLineId::new_v4());
    let (lost, stray) = (payment(&phantom, "NOSUCHPCN1"), payment(&phantom, "NOSUCHPCN2"));
    let era = era_835(vec![lost.clone(), stray.clone()], Vec::new()).unwrap();
    let (status, reply) = upload(&server, era).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(server.claim_json(org, &id).await["status"], "Submitted", "nothing reached the claim");

    let call = |role: Role, method: Method, path: String, body: Option<Value>| {
        let token = server.token(org, role);
        let server = &server;
        async move { server.call(method, &path, &token, body).await }
    };
    let listed = call(Role::CoderBiller, Method::GET, "/api/v1/suspense".into(), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let items = listed.json()["suspense"].as_array().expect("items").clone();
    assert_eq!(items.len(), 2, "{items:#?}");
    let item_of = |pcn: &str| {
        let item = items.iter().find(|item| item["patient_control_number"] == pcn).expect("an item per payment");
        assert_eq!(item["status"], "open");
        item["id"].as_str().expect("an id").to_string()
    };
    let (lost_id, stray_id) = (item_of("NOSUCHPCN1"), item_of("NOSUCHPCN2"));
    let patient_list = call(Role::Patient, Method::GET, "/api/v1/suspense".into(), None).await;
    assert_eq!(patient_list.status, StatusCode::FORBIDDEN, "{}", patient_list.text());

    let resolve = |item: &str| format!("/api/v1/suspense/{item}/resolve");
    let post_body = Some(json!({"action": "post", "claim_id": claim_id}));
    let dismiss_body = |reason: &str| Some(json!({"action": "dismiss", "reason": reason}));
    let refused = call(Role::FrontDesk, Method::POST, resolve(&lost_id), post_body.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let refused = call(Role::CoderBiller, Method::POST, resolve(&stray_id), dismiss_body("not ours")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a biller cannot dismiss money: {}", refused.text());

    let posted = call(Role::CoderBiller, Method::POST, resolve(&lost_id), post_body.clone()).await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
    let view = server.claim_json(org, &id).await;
    assert_eq!(view["money"]["paid"], usd(&lost.paid.amount.to_string()), "{view}");
    let ledger = service.claim(org, claim_id).await.unwrap().expect("the claim").state.ledger.expect("a ledger");
    assert!(ledger.conservation_holds(), "G7 after posting from suspense: {ledger:?}");
    let again = call(Role::CoderBiller, Method::POST, resolve(&lost_id), post_body.clone()).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    assert_eq!(again.json()["error"]["code"], "already_resolved");
    let view_again = server.claim_json(org, &id).await;
    assert_eq!(view_again["money"], view["money"], "a refused repeat changes nothing");

    let blank = call(Role::BillingManager, Method::POST, resolve(&stray_id), dismiss_body(" ")).await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", blank.text());
    let dismissed =
        call(Role::BillingManager, Method::POST, resolve(&stray_id), dismiss_body("returned to the payer")).await;
    assert_eq!(dismissed.status, StatusCode::OK, "{}", dismissed.text());

    let unknown =
        call(Role::BillingManager, Method::POST, resolve(&ClaimId::new_v4().0.to_string()), post_body.clone());
    assert_eq!(unknown.await.status, StatusCode::NOT_FOUND);
    // Another organization sees no queue of ours and cannot resolve in it (G8).
    let other = server.token(OrgId::new_v4(), Role::BillingManager);
    let theirs = server.call(Method::GET, "/api/v1/suspense?status=all", &other, None).await;
    assert_eq!(theirs.json()["suspense"], json!([]), "{}", theirs.text());
    let theirs = server.call(Method::POST, &resolve(&stray_id), &other, dismiss_body("mine now")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text());

    let open = call(Role::CoderBiller, Method::GET, "/api/v1/suspense".into(), None).await.json();
    assert_eq!(open["suspense"], json!([]), "{open}");
    let resolved = call(Role::CoderBiller, Method::GET, "/api/v1/suspense?status=resolved".into(), None).await.json();
    let resolved = resolved["suspense"].as_array().expect("items").clone();
    assert_eq!(resolved.len(), 2, "{resolved:#?}");
    assert_eq!(resolved[0]["resolution"], json!({"posted": {"claim_id": claim_id}}), "{resolved:#?}");
    assert_eq!(resolved[1]["resolution"], json!({"dismissed": {"reason": "returned to the payer"}}));
    let bad = call(Role::CoderBiller, Method::GET, "/api/v1/suspense?status=closed".into(), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
}
