//! Bad input: each a clear 4xx with its stable code and field, and nothing changed.

use super::{usd, TestServer, CONNECTOR_SECRET};
use crate::auth::connector::sign;
use crate::auth::token::claims_for;
use hyper::http::{Method, StatusCode};
use practice_protocol::ids::{OrgId, PatientId, UserId};
use practice_protocol::roles::Role;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_body_gets_its_code_and_changes_nothing() {
    let server = TestServer::start().await;
    let org = OrgId::new_v4();
    let patient = PatientId::new_v4();
    let claim = server.submitted(org, patient).await;
    let token = server.token(org, Role::BillingManager);
    let bearer = format!("Bearer {token}");
    let before = server.claim_json(org, &claim).await;
    let good_payment = super::paid_payment(&claim, "140.00", "PR", "1", "35.00");

    let mut negative = good_payment.clone();
    negative["amount"] = usd("-5.00");
    let mut unknown_field = good_payment.clone();
    unknown_field["surprise"] = json!(true);
    let mut wrong_type = good_payment.clone();
    wrong_type["allocations"] = json!("all of it");
    let mut float_money = good_payment.clone();
    float_money["amount"] = json!({"amount": 140.0, "currency": "USD"});
    let mut bad_currency = good_payment.clone();
    bad_currency["amount"] = json!({"amount": "140.00", "currency": "usd"});
    let mut unbalanced = good_payment.clone();
    unbalanced["amount"] = usd("150.00");
    let mut negative_line = good_payment.clone();
    negative_line["allocations"][0]["paid"] = usd("-140.00");
    negative_line["amount"] = usd("-140.00");
    let oversized = json!({"payer_name": "x".repeat(crate::api::JSON_BODY_LIMIT + 10)});

    type Case<'a> = (&'a str, Vec<u8>, StatusCode, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("malformed", b"{\"payer_name\": ".to_vec(), StatusCode::BAD_REQUEST, "malformed_json", None),
        (
            "trailing",
            [to_vec(&good_payment), b" {}".to_vec()].concat(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
        ("unknown field", to_vec(&unknown_field), StatusCode::UNPROCESSABLE_ENTITY, "unknown_field", None),
        ("wrong type", to_vec(&wrong_type), StatusCode::UNPROCESSABLE_ENTITY, "wrong_type", Some("allocations")),
        ("float money", to_vec(&float_money), StatusCode::UNPROCESSABLE_ENTITY, "wrong_type", Some("amount.amount")),
        (
            "currency",
            to_vec(&bad_currency),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("amount.currency"),
        ),
        ("negative", to_vec(&negative), StatusCode::UNPROCESSABLE_ENTITY, "negative_money", Some("amount")),
        ("negative line", to_vec(&negative_line), StatusCode::UNPROCESSABLE_ENTITY, "negative_money", Some("amount")),
        ("unbalanced", to_vec(&unbalanced), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("allocations")),
        ("oversized", to_vec(&oversized), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
    ];
    for (name, body, status, code, field) in cases {
        let reply = server
            .client
            .send(
                Method::POST,
                "/api/v1/payments",
                &[("content-type", "application/json"), ("authorization", &bearer)],
                Some(body),
            )
            .await
            .expect("request");
        assert_eq!(reply.status, status, "{name}: {}", reply.text());
        assert_eq!(reply.code(), code, "{name}: {}", reply.text());
        let error = &reply.json()["error"];
        assert!(!error["message"].as_str().unwrap_or_default().is_empty(), "{name}");
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{name}: {}", reply.text());
        }
    }
    let no_content_type = server
        .client
        .send(Method::POST, "/api/v1/payments", &[("authorization", &bearer)], Some(to_vec(&good_payment)))
        .await
        .expect("request");
    assert_eq!(
        (no_content_type.status, no_content_type.code().as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );

    // A claim with a negative line charge: refused by the protocol's validation, field named.
    let mut encounter = serde_json::to_value(crate::api::sample::encounter(org, patient)).unwrap();
    encounter["lines"][0]["charge"] = usd("-150.00");
    let reply = server.call(Method::POST, "/api/v1/encounters", &token, Some(encounter)).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "negative_money"),
        "{}",
        reply.text()
    );
    assert_eq!(reply.json()["error"]["field"], "lines[1].charge");
    // A malformed code deep in the body: the path names it.
    let mut encounter = serde_json::to_value(crate::api::sample::encounter(org, patient)).unwrap();
    encounter["lines"][1]["procedure"] = json!("ABC");
    let reply = server.call(Method::POST, "/api/v1/encounters", &token, Some(encounter)).await;
    assert_eq!(reply.code(), "validation_failed", "{}", reply.text());
    assert_eq!(reply.json()["error"]["field"], "lines[1].procedure");
    // Another org's id in the body.
    let foreign = serde_json::to_value(crate::api::sample::encounter(OrgId::new_v4(), patient)).unwrap();
    let reply = server.call(Method::POST, "/api/v1/encounters", &token, Some(foreign)).await;
    assert_eq!((reply.code().as_str(), reply.json()["error"]["field"].as_str()), ("validation_failed", Some("org")));
    // A state the command does not fit.
    let reply =
        server.call(Method::POST, &format!("/api/v1/claims/{claim}/void"), &token, Some(json!({"reason": "x"}))).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::CONFLICT, "invalid_transition"));
    let reply = server.call(Method::GET, "/api/v1/claims/not-a-uuid", &token, None).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));

    assert_eq!(server.claim_json(org, &claim).await, before, "a refused request changed the claim");
    let payments = server.call(Method::GET, "/api/v1/payments", &token, None).await.json();
    assert_eq!(payments["payments"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_their_codes() {
    let server = TestServer::start().await;
    let org = OrgId::new_v4();
    let claim = server.draft(org, PatientId::new_v4()).await;
    let before = server.claim_json(org, &claim).await;
    let past = chrono::Utc::now() - chrono::Duration::hours(3);
    let expired = server.context.keys.issue(&claims_for(
        org,
        UserId::new_v4(),
        Role::PracticeAdmin,
        None,
        past,
        chrono::Duration::hours(1),
    ));
    let other_key = crate::auth::token::TokenKey::new(&[9u8; 32]).unwrap();
    let forged = other_key.issue(&claims_for(
        org,
        UserId::new_v4(),
        Role::PracticeAdmin,
        None,
        chrono::Utc::now(),
        chrono::Duration::hours(1),
    ));
    let scrub = format!("/api/v1/claims/{claim}/scrub");
    for (name, authorization, code) in [
        ("expired", Some(format!("Bearer {expired}")), "token_expired"),
        ("wrong key", Some(format!("Bearer {forged}")), "token_bad_signature"),
        ("garbage", Some("Bearer pos1.abc".to_string()), "token_malformed"),
        ("missing", None, "unauthenticated"),
    ] {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(value) = authorization.as_deref() {
            headers.push(("authorization", value));
        }
        let reply = server.client.send(Method::POST, &scrub, &headers, Some(b"{}".to_vec())).await.unwrap();
        assert_eq!((reply.status, reply.code().as_str()), (StatusCode::UNAUTHORIZED, code), "{name}");
        assert_eq!(reply.headers.get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
    }
    // The dashboard cookie is accepted for reads only: it cannot change anything.
    let token = server.token(org, Role::PracticeAdmin);
    let cookie = format!("practice_token={token}");
    let read = server
        .client
        .send(Method::GET, &format!("/api/v1/claims/{claim}"), &[("cookie", &cookie)], None)
        .await
        .unwrap();
    assert_eq!(read.status, StatusCode::OK);
    let write = server
        .client
        .send(Method::POST, &scrub, &[("cookie", &cookie), ("content-type", "application/json")], Some(b"{}".to_vec()))
        .await
        .unwrap();
    assert_eq!(write.code(), "unauthenticated");
    assert_eq!(server.claim_json(org, &claim).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_uploads_must_be_signed() {
    let server = TestServer::start().await;
    let body = sample_835();
    let now = chrono::Utc::now().timestamp();
    let good = sign(CONNECTOR_SECRET, now, &body);
    let timestamp = now.to_string();
    let upload = |signature: String, body: Vec<u8>| {
        let client = server.client.clone();
        let timestamp = timestamp.clone();
        async move {
            let headers = [
                ("content-type", "application/edi-x12"),
                ("x-practice-connector", "test-clearinghouse"),
                ("x-practice-timestamp", timestamp.as_str()),
                ("x-practice-signature", signature.as_str()),
            ];
            client.send(Method::POST, "/api/v1/connector/x12", &headers, Some(body)).await.unwrap()
        }
    };
    let accepted = upload(good.clone(), body.clone()).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text());
    assert_eq!(accepted.json()["upload"]["transaction"], "835");
    assert_eq!(accepted.json()["upload"]["org"], server.connector_org.to_string());
    assert_eq!(accepted.json()["receipt"]["status"], "stored");
    let again = upload(sign(CONNECTOR_SECRET, now, &body), body.clone()).await;
    assert_eq!(again.json()["receipt"]["status"], "duplicate");
    let mut tampered = body.clone();
    tampered[120] ^= 1;
    let refused = upload(good, tampered).await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::UNAUTHORIZED, "connector_signature_invalid"));
    let wrong_key = upload(sign(b"another", now, &body), body.clone()).await;
    assert_eq!(wrong_key.code(), "connector_signature_invalid");
    // A bearer token is not a connector signature.
    let token = server.token(server.connector_org, Role::PracticeAdmin);
    let bearer = server
        .client
        .send(Method::POST, "/api/v1/connector/x12", &[("authorization", &format!("Bearer {token}"))], Some(body))
        .await
        .unwrap();
    assert_eq!(bearer.code(), "connector_signature_invalid");
}

fn to_vec(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// A small synthetic 835 envelope (ISA is fixed width: 106 bytes with its terminator).
pub fn sample_835() -> Vec<u8> {
    let isa =
        "ISA*00*          *00*          *ZZ*PAYERSAMPLE    *ZZ*PRACTICESAMPLE *261120*1200*^*00501*000000001*0*T*:~";
    assert_eq!(isa.len(), 106);
    format!("{isa}GS*HP*PAYER*PRACTICE*20261120*1200*1*X*005010X221A1~ST*835*0001~BPR*I*140*C*CHK************20261120~TRN*1*CHK1*1512345678~SE*4*0001~GE*1*1~IEA*1*000000001~")
        .into_bytes()
}
