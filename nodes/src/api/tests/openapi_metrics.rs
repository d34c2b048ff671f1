//! `/openapi.json` matches the router both ways; `/metrics` parses as Prometheus text and its
//! counters move; `/healthz` and `/readyz` answer.

use super::TestServer;
use crate::api::openapi::{build, OPERATIONS};
use hyper::http::{Method, StatusCode};
use practice_protocol::ids::{OrgId, PatientId};
use practice_protocol::roles::Role;
use std::collections::{BTreeMap, BTreeSet};

/// The (method, path) pairs the router declares, read from its source.
fn declared_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../mod.rs");
    let mut routes = BTreeSet::new();
    for line in source.lines().map(str::trim).filter(|line| line.starts_with(".route(\"")) {
        let path = line.trim_start_matches(".route(\"").split('"').next().unwrap().to_string();
        for method in ["get", "post", "put", "delete", "patch"] {
            if line.contains(&format!("{method}(")) {
                routes.insert((method.to_string(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn every_declared_route_is_documented_and_every_documented_route_is_declared() {
    let declared = declared_routes();
    assert!(declared.len() > 25, "parsed {declared:?}");
    let documented: BTreeSet<(String, String)> =
        OPERATIONS.iter().map(|operation| (operation.method.to_string(), operation.path.to_string())).collect();
    assert_eq!(declared, documented);
    let document = build();
    for (method, path) in &declared {
        assert!(document["paths"][path][method].is_object(), "{method} {path} missing from the document");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_answers_on_the_router() {
    let server = TestServer::start().await;
    let served = server.client.send(Method::GET, "/openapi.json", &[], None).await.unwrap();
    assert_eq!(served.json(), build());
    for operation in OPERATIONS {
        let path = operation
            .path
            .replace("{claim_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{statement_id}", &uuid::Uuid::new_v4().to_string());
        let method = Method::from_bytes(operation.method.to_ascii_uppercase().as_bytes()).unwrap();
        let reply = if path.ends_with("/stream/claims") {
            // Unauthenticated: answered without opening a stream.
            server.client.send(method, &path, &[], None).await.unwrap()
        } else {
            server
                .client
                .send(method, &path, &[("content-type", "application/json")], Some(b"{}".to_vec()))
                .await
                .unwrap()
        };
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{} {path}", operation.method);
        assert_ne!(reply.json()["error"]["message"], "no such route", "{} {path}", operation.method);
    }
    let missing = server.client.send(Method::GET, "/api/v1/nothing-here", &[], None).await.unwrap();
    assert_eq!(missing.json()["error"]["message"], "no such route");
}

/// Parse Prometheus text: every sample line is `name{labels} value`; returns name+labels → value.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|line| !line.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            let kind = comment.split_whitespace().next().unwrap();
            assert!(kind == "HELP" || kind == "TYPE", "bad comment line {line:?}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{line:?}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unterminated labels in {line:?}");
        }
        samples.insert(series.to_string(), value);
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_with_the_work() {
    let server = TestServer::start().await;
    let org = OrgId::new_v4();
    let read = |server: &TestServer| {
        let client = server.client.clone();
        async move {
            let reply = client.send(Method::GET, "/metrics", &[], None).await.unwrap();
            assert_eq!(reply.status, StatusCode::OK);
            assert!(reply.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
            parse_prometheus(&reply.text())
        }
    };
    let before = read(&server).await;
    let claim = server.draft(org, PatientId::new_v4()).await;
    let token = server.token(org, Role::FrontDesk);
    for _ in 0..3 {
        server.call(Method::GET, &format!("/api/v1/claims/{claim}"), &token, None).await;
    }
    server.call(Method::POST, &format!("/api/v1/claims/{claim}/scrub"), &token, Some(serde_json::json!({}))).await;
    let after = read(&server).await;
    let get_ok = "practice_http_requests_total{method=\"GET\",route=\"/api/v1/claims/{claim_id}\",status=\"200\"}";
    assert_eq!(after.get(get_ok).copied().unwrap_or(0.0) - before.get(get_ok).copied().unwrap_or(0.0), 3.0);
    let forbidden =
        "practice_http_requests_total{method=\"POST\",route=\"/api/v1/claims/{claim_id}/scrub\",status=\"403\"}";
    assert_eq!(after.get(forbidden).copied(), Some(1.0));
    let created = "practice_api_claim_commands_total{command=\"create\",outcome=\"accepted\"}";
    assert_eq!(after.get(created).copied(), Some(1.0));
    let histogram = "practice_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/claims/{claim_id}\"}";
    assert!(after.get(histogram).copied().unwrap_or(0.0) >= 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let server = TestServer::start().await;
    assert_eq!(server.client.send(Method::GET, "/healthz", &[], None).await.unwrap().status, StatusCode::OK);
    assert_eq!(server.client.send(Method::GET, "/readyz", &[], None).await.unwrap().status, StatusCode::OK);
    server.local.as_ref().expect("local service").set_ready(false);
    assert_eq!(
        server.client.send(Method::GET, "/readyz", &[], None).await.unwrap().status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}
