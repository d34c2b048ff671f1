//! Request spans carry org, claim id and shard, and never PHI.

use super::TestServer;
use hyper::http::Method;
use practice_protocol::ids::{OrgId, PatientId};
use practice_protocol::roles::Role;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One thread: the server's tasks run where the thread-local subscriber is installed.
#[tokio::test(flavor = "current_thread")]
async fn request_spans_name_org_claim_and_shard_but_no_phi() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start().await;
    let org = OrgId::new_v4();
    let claim = server.submitted(org, PatientId::new_v4()).await;
    let token = server.token(org, Role::BillingManager);
    server.call(Method::GET, &format!("/api/v1/claims/{claim}"), &token, None).await;
    server.call(Method::GET, "/api/v1/claims", &token, None).await;

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let claim_span = logs
        .lines()
        .find(|line| {
            line.contains(&format!("\"claim_id\":\"{claim}\""))
                && line.contains("\"route\":\"/api/v1/claims/{claim_id}\"")
        })
        .unwrap_or_else(|| panic!("no span with the claim id in:\n{logs}"));
    assert!(claim_span.contains(&format!("\"org\":\"{org}\"")) && claim_span.contains("\"shard\":"), "{claim_span}");
    // The sample patient's name, birth date, member id and street never reach the logs.
    for phi in ["Sample", "\"Pat\"", "1980-05-17", "SAMPLE0001", "100 Sample Street"] {
        assert!(!logs.contains(phi), "{phi} appears in the logs");
    }
}
