//! API tests against a real server on a random loopback port, through a real HTTP client.
//! The claim service is `LocalClaimService`: the protocol's own state machine.

mod bad_input;
mod behind_the_journal;
mod browser;
mod flows;
mod node_backend;
mod observability;
mod openapi_metrics;
mod rbac_matrix;
mod seed_transitions;
mod suspense;
mod tenancy;
mod upload_posting;

use super::client::HttpClient;
use super::local::LocalClaimService;
use super::metrics::HttpMetrics;
use super::service::ClaimService;
use super::statements::TestProcessor;
use super::upload::StoreOnlyIngestion;
use super::{ApiContext, AppState};
use crate::auth::connector::ConnectorKeys;
use crate::auth::token::{claims_for, TokenKey};
use hyper::http::{Method, StatusCode};
use practice_protocol::ids::{OrgId, PatientId, UserId};
use practice_protocol::roles::Role;
use serde_json::{json, Value};
use std::sync::Arc;

pub const CONNECTOR_SECRET: &[u8] = b"test-connector-secret";

pub struct TestServer {
    pub client: HttpClient,
    pub context: AppState,
    pub local: Option<Arc<LocalClaimService>>,
    pub address: std::net::SocketAddr,
    /// The org the registered test connector uploads for.
    pub connector_org: OrgId,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    journal_dir: Option<tempfile::TempDir>,
    /// The node and journal behind a node-backed server, for `restart_node`.
    backbone: Option<(practice_actors::Node, Arc<practice_actors::journal::SledJournal>)>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let local = LocalClaimService::new();
        let mut server = Self::start_with(local.clone()).await;
        server.local = Some(local);
        server
    }

    /// A server over an embedded backbone node (sled journal in a temp dir, claim actors).
    pub async fn start_node() -> TestServer {
        Self::start_node_in(tempfile::tempdir().expect("temp dir")).await
    }

    async fn start_node_in(dir: tempfile::TempDir) -> TestServer {
        // A journal just closed may be held a moment longer by tasks winding down.
        let opening = std::time::Instant::now();
        let journal = loop {
            match practice_actors::journal::SledJournal::open(&dir.path().join("journal"), 8) {
                Ok(journal) => break Arc::new(journal),
                Err(error) => {
                    assert!(opening.elapsed() < std::time::Duration::from_secs(10), "journal: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        };
        let metrics =
            practice_actors::metrics::BackboneMetrics::register(&prometheus::Registry::new()).expect("metrics");
        let node =
            practice_actors::Node::start_embedded(journal.clone(), metrics, practice_actors::NodeConfig::default())
                .await
                .expect("node");
        let service = super::node::NodeClaimService::start(node.clone());
        let started = std::time::Instant::now();
        while !service.ready() {
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "the projection never caught up");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let mut server = Self::start_with(service).await;
        server.journal_dir = Some(dir);
        server.backbone = Some((node, journal));
        server
    }

    /// Stop the server and its node, then start both again on the same journal: what a
    /// restart of the process keeps. Tokens stay valid (same key).
    pub async fn restart_node(mut self) -> TestServer {
        let dir = self.journal_dir.take().expect("a node-backed server");
        let (node, journal) = self.backbone.take().expect("a node-backed server");
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        drop(self);
        node.shutdown().await;
        journal.close();
        drop((node, journal));
        Self::start_node_in(dir).await
    }

    /// A server over any claim service (the local one, or a backbone node).
    pub async fn start_with(service: Arc<dyn ClaimService>) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let connector_org = OrgId::new_v4();
        let mut connectors = ConnectorKeys::default();
        connectors.insert("test-clearinghouse", connector_org, CONNECTOR_SECRET);
        let context = Arc::new(ApiContext {
            service,
            keys: TokenKey::new(&[42u8; 32]).expect("key"),
            connectors,
            processor: Arc::new(TestProcessor),
            ingestion: Arc::new(StoreOnlyIngestion::new(dir.path().join("uploads"))),
            metrics: HttpMetrics::new(),
            extra_registries: Vec::new(),
            shutdown: tokio::sync::watch::channel(false).0,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(super::serve(context.clone(), listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            client: HttpClient::new(format!("http://{address}")),
            context,
            local: None,
            address,
            connector_org,
            stop: Some(stop),
            server: Some(server),
            journal_dir: None,
            backbone: None,
            _dir: dir,
        }
    }

    pub fn token(&self, org: OrgId, role: Role) -> String {
        let claims = claims_for(org, UserId::new_v4(), role, None, chrono::Utc::now(), chrono::Duration::hours(1));
        self.context.keys.issue(&claims)
    }

    pub fn patient_token(&self, org: OrgId, patient: PatientId) -> String {
        let claims = claims_for(
            org,
            UserId::new_v4(),
            Role::Patient,
            Some(patient),
            chrono::Utc::now(),
            chrono::Duration::hours(1),
        );
        self.context.keys.issue(&claims)
    }

    pub async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> super::client::Reply {
        self.client.json(method, path, Some(token), body.as_ref()).await.expect("http request")
    }

    /// A Draft claim of `org` for `patient`; its id.
    pub async fn draft(&self, org: OrgId, patient: PatientId) -> String {
        let manager = self.token(org, Role::BillingManager);
        let body = serde_json::to_value(super::sample::encounter(org, patient)).expect("encounter json");
        let reply = self.call(Method::POST, "/api/v1/encounters", &manager, Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["claim"]["id"].as_str().expect("claim id").to_string()
    }

    async fn step(&self, org: OrgId, role: Role, id: &str, step: &str, body: Option<Value>) {
        let token = self.token(org, role);
        let reply = self.call(Method::POST, &format!("/api/v1/claims/{id}/{step}"), &token, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{step}: {}", reply.text());
    }

    /// Scrubbed and signed off: ready to submit.
    pub async fn ready_to_submit(&self, org: OrgId, patient: PatientId) -> String {
        let id = self.draft(org, patient).await;
        self.step(org, Role::BillingManager, &id, "scrub", Some(json!({}))).await;
        self.step(org, Role::Clinician, &id, "sign-off", None).await;
        id
    }

    pub async fn submitted(&self, org: OrgId, patient: PatientId) -> String {
        let id = self.ready_to_submit(org, patient).await;
        self.step(org, Role::BillingManager, &id, "submit", Some(json!({"tracking_id": "ISA000001"}))).await;
        id
    }

    pub async fn post_payment(&self, org: OrgId, body: Value) -> super::client::Reply {
        let biller = self.token(org, Role::CoderBiller);
        self.call(Method::POST, "/api/v1/payments", &biller, Some(body)).await
    }

    /// Denied by the payer (CLP02 = 4, CO-197 for the whole charge).
    pub async fn denied(&self, org: OrgId, patient: PatientId) -> String {
        let id = self.submitted(org, patient).await;
        let reply = self.post_payment(org, denial_payment(&id)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        id
    }

    /// Paid with $35.00 patient responsibility.
    pub async fn paid_with_patient_share(&self, org: OrgId, patient: PatientId) -> String {
        let id = self.submitted(org, patient).await;
        let reply = self.post_payment(org, paid_payment(&id, "140.00", "PR", "1", "35.00")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        id
    }

    /// A statement for `patient` (who has a paid claim with patient responsibility).
    pub async fn statement(&self, org: OrgId, patient: PatientId) -> String {
        self.paid_with_patient_share(org, patient).await;
        let token = self.token(org, Role::CoderBiller);
        let reply = self.call(Method::POST, "/api/v1/statements", &token, Some(json!({"patient_id": patient}))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["statement"]["id"].as_str().expect("statement id").to_string()
    }

    pub async fn claim_json(&self, org: OrgId, id: &str) -> Value {
        let token = self.token(org, Role::PracticeAdmin);
        self.call(Method::GET, &format!("/api/v1/claims/{id}"), &token, None).await.json()
    }
}

impl TestServer {
    /// Stop and wait for the server; whether it finished within `limit`.
    pub async fn shutdown(mut self, limit: std::time::Duration) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(server) => matches!(tokio::time::timeout(limit, server).await, Ok(Ok(Ok(())))),
            None => false,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn usd(amount: &str) -> Value {
    json!({"amount": amount, "currency": "USD"})
}

/// A payer payment of `paid` on a $175.00 claim with one adjustment `group-reason` of `adjusted`
/// and the rest contractual (CO-45).
pub fn paid_payment(claim_id: &str, paid: &str, group: &str, reason: &str, adjusted: &str) -> Value {
    let charge = rust_decimal::Decimal::new(17500, 2);
    let paid_amount: rust_decimal::Decimal = paid.parse().expect("decimal");
    let adjusted_amount: rust_decimal::Decimal = adjusted.parse().expect("decimal");
    let contractual = charge - paid_amount - adjusted_amount;
    let mut adjustments = vec![json!({"group": group, "reason": reason, "amount": usd(adjusted)})];
    if !contractual.is_zero() {
        adjustments.push(json!({"group": "CO", "reason": "45", "amount": usd(&contractual.to_string())}));
    }
    json!({
        "payer_name": "Sample Health Plan", "method": "check", "reference": format!("CHK-{}", uuid::Uuid::new_v4().simple()),
        "paid_on": "2026-11-20", "amount": usd(paid),
        "allocations": [{"claim_id": claim_id, "paid": usd(paid), "adjustments": adjustments}]
    })
}

pub fn denial_payment(claim_id: &str) -> Value {
    json!({
        "payer_name": "Sample Health Plan", "method": "non_payment", "reference": format!("DEN-{}", uuid::Uuid::new_v4().simple()),
        "paid_on": "2026-11-20", "amount": usd("0.00"),
        "allocations": [{"claim_id": claim_id, "paid": usd("0.00"), "claim_status_code": "4",
                         "adjustments": [{"group": "CO", "reason": "197", "amount": usd("175.00")}]}]
    })
}
