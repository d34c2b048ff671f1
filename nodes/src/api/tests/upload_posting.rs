//! Connector uploads that post: a signed 835 uploaded to the API of an embedded node is
//! stored, parsed, matched to the claim by its control number and posted by the claim actor;
//! the same upload again posts nothing; a file the readers refuse is answered `refused`.

use super::{usd, TestServer, CONNECTOR_SECRET};
use crate::api::ingest::PostingIngestion;
use crate::api::metrics::HttpMetrics;
use crate::api::node::NodeClaimService;
use crate::api::service::ClaimService;
use crate::api::statements::TestProcessor;
use crate::api::ApiContext;
use crate::auth::connector::{sign, ConnectorKeys};
use crate::auth::token::TokenKey;
use hyper::http::{Method, StatusCode};
use practice_actors::ingest::registry::{BatchRegistry, MemoryBatchRegistry, SentBatch, SentClaim, SentSet};
use practice_actors::ingest::sample::{envelope, era_835, payment, status_reply_277};
use practice_protocol::ids::{ClaimId, OrgId, PatientId};
use practice_protocol::x12::write::{write_999, ReceivedGroup, SetAcknowledgment, SetStatus};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The batch registry every posting server shares (each test uses its own organization): a
/// test records what "left" there before uploading the 999 about it.
fn batches() -> Arc<MemoryBatchRegistry> {
    static REGISTRY: std::sync::OnceLock<Arc<MemoryBatchRegistry>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| Arc::new(MemoryBatchRegistry::default())).clone()
}

/// A server over an embedded node whose uploads go through `PostingIngestion`.
pub(super) async fn posting_server() -> (TestServer, Arc<NodeClaimService>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = practice_actors::journal::SledJournal::open(&dir.path().join("journal"), 8).expect("journal");
    let metrics = practice_actors::metrics::BackboneMetrics::register(&prometheus::Registry::new()).expect("metrics");
    let node =
        practice_actors::Node::start_embedded(Arc::new(journal), metrics, practice_actors::NodeConfig::default())
            .await
            .expect("node");
    let service = NodeClaimService::start(node.clone());
    let started = Instant::now();
    while !service.ready() {
        assert!(started.elapsed() < Duration::from_secs(10), "the projection never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connector_org = OrgId::new_v4();
    let mut connectors = ConnectorKeys::default();
    connectors.insert("test-clearinghouse", connector_org, CONNECTOR_SECRET);
    let ingestion = PostingIngestion::new(dir.path().join("uploads"), node, service.clone(), batches());
    let context = Arc::new(ApiContext {
        service: service.clone(),
        keys: TokenKey::new(&[42u8; 32]).expect("key"),
        connectors,
        processor: Arc::new(TestProcessor),
        ingestion: Arc::new(ingestion),
        metrics: HttpMetrics::new(),
        extra_registries: Vec::new(),
        shutdown: tokio::sync::watch::channel(false).0,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::api::serve(context.clone(), listener, async {
        let _ = stopped.await;
    }));
    let server = TestServer {
        client: crate::api::client::HttpClient::new(format!("http://{address}")),
        context,
        local: None,
        address,
        connector_org,
        stop: Some(stop),
        server: Some(server),
        journal_dir: None,
        backbone: None,
        _dir: dir,
    };
    (server, service)
}

/// A new submitted claim of the server's connector organization: its id as text and as
/// `ClaimId`, and its content.
pub(super) async fn submitted_claim(
    server: &TestServer,
    service: &NodeClaimService,
) -> (String, ClaimId, practice_protocol::domain::Claim) {
    let org = server.connector_org;
    let id = server.submitted(org, PatientId::new_v4()).await;
    let claim_id = ClaimId(id.parse().expect("claim uuid"));
    let claim = service.claim(org, claim_id).await.unwrap().expect("the claim").state.claim.expect("created");
    (id, claim_id, claim)
}

/// A signed connector upload of `body` to `/api/v1/connector/x12`.
pub(super) async fn upload(server: &TestServer, body: Vec<u8>) -> (StatusCode, Value) {
    let now = chrono::Utc::now().timestamp();
    let signature = sign(CONNECTOR_SECRET, now, &body);
    let timestamp = now.to_string();
    let headers = [
        ("content-type", "application/edi-x12"),
        ("x-practice-connector", "test-clearinghouse"),
        ("x-practice-timestamp", timestamp.as_str()),
        ("x-practice-signature", signature.as_str()),
    ];
    let reply = server.client.send(Method::POST, "/api/v1/connector/x12", &headers, Some(body)).await.unwrap();
    let json = reply.json();
    (reply.status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_835_posts_to_its_claim_once() {
    let (server, service) = posting_server().await;
    let org = server.connector_org;
    let id = server.submitted(org, PatientId::new_v4()).await;
    let claim_id = ClaimId(id.parse().expect("claim uuid"));
    let record = service.claim(org, claim_id).await.unwrap().expect("the claim");
    let claim = record.state.claim.expect("created");
    let era = era_835(vec![payment(&claim, &claim.patient_control_number)], Vec::new()).unwrap();
    let expected_paid = payment(&claim, "").paid;

    let (status, reply) = upload(&server, era.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["receipt"]["status"], "posted", "{reply}");
    let view = server.claim_json(org, &id).await;
    assert_eq!(view["status"], "Paid", "{view}");
    assert_eq!(view["money"]["paid"], usd(&expected_paid.amount.to_string()), "{view}");
    let sha256 = reply["upload"]["sha256"].as_str().expect("sha256");
    let kept =
        server._dir.path().join("uploads").join(org.0.simple().to_string()).join(format!("{sha256}.ingest.json"));
    let report: Value = serde_json::from_slice(&std::fs::read(&kept).expect("the report is kept")).unwrap();
    assert_eq!((report["applied"].as_u64(), report["duplicate"].as_bool()), (Some(1), Some(false)), "{report}");
    let events = service.claim(org, claim_id).await.unwrap().expect("the claim").history.len();
    assert!(events > record.history.len());

    let (status, again) = upload(&server, era).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["receipt"]["status"], "duplicate", "{again}");
    assert!(again["receipt"]["detail"].as_str().unwrap().contains("0 applied"), "{again}");
    let after = service.claim(org, claim_id).await.unwrap().expect("the claim");
    assert_eq!(after.history.len(), events, "the second upload appended nothing");
    let first: Value = serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    assert_eq!(first, report, "the first run's report is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_x12_upload_is_refused_and_changes_nothing() {
    let (server, _service) = posting_server().await;
    let org = server.connector_org;
    let id = server.submitted(org, PatientId::new_v4()).await;
    // The ST is there, the trailers (SE, GE, IEA) are not.
    let mut body = super::bad_input::sample_835();
    let trailer = String::from_utf8_lossy(&body).find("SE*").expect("an SE segment");
    body.truncate(trailer);
    let (status, reply) = upload(&server, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["receipt"]["status"], "refused", "{reply}");
    assert_eq!(server.claim_json(org, &id).await["status"], "Submitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_277_is_recorded_in_the_claims_history_once() {
    let (server, service) = posting_server().await;
    let org = server.connector_org;
    let (_, claim_id, claim) = submitted_claim(&server, &service).await;
    let reply_277 = status_reply_277(&[&claim.patient_control_number]);
    for expected in ["posted", "duplicate"] {
        let (status, reply) = upload(&server, reply_277.clone()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
        assert_eq!(reply["receipt"]["status"], expected, "{reply}");
    }
    let record = service.claim(org, claim_id).await.unwrap().expect("the claim");
    let reported: Vec<_> = record
        .history
        .iter()
        .filter_map(|envelope| match &envelope.event {
            practice_protocol::claim::ClaimEvent::StatusReported { report } => Some(report.code.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reported, vec!["317".to_string(), "20".to_string()], "each STC once");
    assert_eq!(record.state.status, Some(practice_protocol::claim::ClaimStatus::Submitted), "a 277 moves nothing");
    assert_eq!(record.state.payer_claim_control_number.as_deref(), Some("PCCN0042"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_999_finds_its_claims_through_the_batch_registry() {
    let (server, service) = posting_server().await;
    let org = server.connector_org;
    let (id, claim_id, claim) = submitted_claim(&server, &service).await;
    let sent = SentBatch {
        interchange_control_number: "000000031".into(),
        group_control_number: "31".into(),
        sets: vec![SentSet {
            control_number: "0001".into(),
            claims: vec![SentClaim { claim_id, patient_control_number: claim.patient_control_number.to_string() }],
        }],
    };
    batches().record_sent(org, sent).await.unwrap();
    let group = ReceivedGroup {
        functional_id: "HC".into(),
        control_number: 31,
        version: "005010X222A1".into(),
        sets: vec![SetAcknowledgment {
            set_id: "837".into(),
            control_number: "0001".into(),
            version: Some("005010X222A1".into()),
            status: SetStatus::Rejected,
            syntax_errors: vec!["5".into()],
            segment_errors: vec![],
        }],
    };
    let (status, reply) = upload(&server, write_999(&envelope(77), &group).unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["receipt"]["status"], "posted", "{reply}");
    let view = server.claim_json(org, &id).await;
    assert_eq!((view["status"].as_str(), view["pill"].as_str()), (Some("Draft"), Some("Rejected")), "{view}");
    let suspense = service.practice(org).await.unwrap().suspense;
    assert!(suspense.is_empty(), "the 999 found its batch: nothing in suspense");
}
