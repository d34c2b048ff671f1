//! Every transition of the seed's claim state machine, driven through the whole stack: HTTP
//! routes and RBAC, the claim actor's `decide`, the sled journal, the projection the API
//! reads; payer answers arrive as signed connector uploads (277CA, 835) or posted payments.
//! Each transition leaves its audit event in the claim's history: what happened, who did
//! it, when, and why where the command carries a reason.

use super::upload_posting::{posting_server, upload};
use super::{denial_payment, usd, TestServer};
use crate::api::node::NodeClaimService;
use crate::api::service::ClaimService;
use hyper::http::{Method, StatusCode};
use practice_actors::ingest::sample::{acknowledgment, era_835, payment, status_entry};
use practice_protocol::domain::Claim;
use practice_protocol::ids::{ClaimId, OrgId, PatientId};
use practice_protocol::roles::Role;
use serde_json::{json, Value};

struct Stack {
    server: TestServer,
    service: std::sync::Arc<NodeClaimService>,
    org: OrgId,
}

impl Stack {
    async fn start() -> Stack {
        let (server, service) = posting_server().await;
        let org = server.connector_org;
        Stack { server, service, org }
    }

    async fn status(&self, id: &str) -> String {
        self.server.claim_json(self.org, id).await["status"].as_str().expect("a status").to_string()
    }

    async fn history(&self, id: &str) -> Vec<Value> {
        let token = self.server.token(self.org, Role::ComplianceOfficer);
        let reply = self.server.call(Method::GET, &format!("/api/v1/claims/{id}/history"), &token, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()["events"].as_array().expect("events").clone()
    }

    async fn act(&self, role: Role, id: &str, step: &str, body: Value) {
        let token = self.server.token(self.org, role);
        let reply = self.server.call(Method::POST, &format!("/api/v1/claims/{id}/{step}"), &token, Some(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{step}: {}", reply.text());
    }

    async fn pay(&self, body: Value) {
        let reply = self.server.post_payment(self.org, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    }

    async fn claim(&self, id: &str) -> Claim {
        let claim_id = ClaimId(id.parse().expect("claim uuid"));
        let record = self.service.claim(self.org, claim_id).await.expect("read").expect("the claim");
        record.state.claim.expect("created")
    }

    async fn upload(&self, body: Vec<u8>) {
        let (status, reply) = upload(&self.server, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
        assert_eq!(reply["receipt"]["status"], "posted", "{reply}");
    }

    /// Run `action`, then check the claim moved `from` → `to` and that exactly the events
    /// `expected` were appended, the last one by `by` (a role or a system component).
    async fn transition<F>(&self, id: &str, (from, to): (&str, &str), expected: &[&str], by: &str, action: F)
    where
        F: std::future::Future<Output = ()>,
    {
        assert_eq!(self.status(id).await, from, "before {from} → {to}");
        let before = self.history(id).await.len();
        action.await;
        assert_eq!(self.status(id).await, to, "after {from} → {to}");
        let history = self.history(id).await;
        let appended: Vec<&str> = history[before..].iter().map(|entry| entry["event"].as_str().unwrap_or("")).collect();
        assert_eq!(appended, expected, "{from} → {to}: {history:#?}");
        for (offset, entry) in history[before..].iter().enumerate() {
            assert_eq!(entry["sequence"], json!(before + offset + 1), "{from} → {to}: sequences have no gap");
            assert!(entry["at"].as_str().is_some_and(|at| at.len() >= 20), "{from} → {to}: when: {entry}");
        }
        let last = history.last().expect("an event");
        assert!(last["by"].as_str().is_some_and(|who| who.starts_with(by)), "{from} → {to}: who: {last}");
    }
}

impl Stack {
    /// A posted CO-197 denial of the whole charge moves the claim `from` → Denied.
    async fn deny(&self, id: &str, from: &str) {
        let denied = ["ClaimRemittancePosted", "ClaimDenied"];
        self.transition(id, (from, "Denied"), &denied, "CoderBiller", self.pay(denial_payment(id))).await;
    }
}

fn partial_payment(claim_id: &str) -> Value {
    // $175.00 charge: $100.00 paid, $50.00 contractual, $25.00 still open with the payer.
    json!({
        "payer_name": "Sample Health Plan", "method": "check", "reference": format!("CHK-{}", uuid::Uuid::new_v4().simple()),
        "paid_on": "2026-11-20", "amount": usd("100.00"),
        "allocations": [{"claim_id": claim_id, "paid": usd("100.00"),
                         "adjustments": [{"group": "CO", "reason": "45", "amount": usd("50.00")}]}]
    })
}

fn rest_payment(claim_id: &str) -> Value {
    json!({
        "payer_name": "Sample Health Plan", "method": "check", "reference": format!("CHK-{}", uuid::Uuid::new_v4().simple()),
        "paid_on": "2026-11-27", "amount": usd("25.00"),
        "allocations": [{"claim_id": claim_id, "paid": usd("25.00"), "adjustments": []}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_transition_through_the_api_leaves_its_audit_event() {
    let stack = Stack::start().await;
    let (org, patient) = (stack.org, PatientId::new_v4());
    let server = &stack.server;
    let scrub = json!({});
    let reason = |text: &str| json!({ "reason": text });

    // Draft → Voided, Draft → Scrubbed, Scrubbed → Voided.
    let voided = server.draft(org, patient).await;
    stack
        .transition(&voided, ("Draft", "Voided"), &["ClaimVoided"], "BillingManager", async {
            stack.act(Role::BillingManager, &voided, "void", reason("duplicate encounter")).await
        })
        .await;
    assert_eq!(stack.history(&voided).await.last().unwrap()["detail"]["voided"]["reason"], "duplicate encounter");
    let scrubbed = server.draft(org, patient).await;
    stack
        .transition(&scrubbed, ("Draft", "Scrubbed"), &["ClaimScrubPassed"], "CoderBiller", async {
            stack.act(Role::CoderBiller, &scrubbed, "scrub", scrub.clone()).await
        })
        .await;
    stack
        .transition(&scrubbed, ("Scrubbed", "Voided"), &["ClaimVoided"], "BillingManager", async {
            stack.act(Role::BillingManager, &scrubbed, "void", reason("patient self-pay")).await
        })
        .await;

    // Scrubbed → Submitted, Submitted → Accepted (a 277CA upload), Accepted → Paid (an 835 upload).
    let paid = server.ready_to_submit(org, patient).await;
    stack
        .transition(&paid, ("Scrubbed", "Submitted"), &["ClaimSubmitted"], "BillingManager", async {
            stack.act(Role::BillingManager, &paid, "submit", json!({"tracking_id": "ISA000101"})).await
        })
        .await;
    let claim = stack.claim(&paid).await;
    let ack = acknowledgment(vec![status_entry(&claim, true)]).expect("277CA");
    stack.transition(&paid, ("Submitted", "Accepted"), &["ClaimAccepted"], "system:Ingestion", stack.upload(ack)).await;
    let era = era_835(vec![payment(&claim, &claim.patient_control_number)], Vec::new()).expect("835");
    stack
        .transition(&paid, ("Accepted", "Paid"), &["ClaimRemittancePosted"], "system:Ingestion", stack.upload(era))
        .await;

    // Accepted → PartiallyPaid → Paid; Accepted → PartiallyPaid → WrittenOff.
    for (id_end, end) in [("rest", "Paid"), ("write-off", "WrittenOff")] {
        let id = server.submitted(org, patient).await;
        let claim = stack.claim(&id).await;
        stack.upload(acknowledgment(vec![status_entry(&claim, true)]).expect("277CA")).await;
        stack
            .transition(&id, ("Accepted", "PartiallyPaid"), &["ClaimRemittancePosted"], "CoderBiller", async {
                stack.pay(partial_payment(&id)).await
            })
            .await;
        if id_end == "rest" {
            stack
                .transition(&id, ("PartiallyPaid", end), &["ClaimRemittancePosted"], "CoderBiller", async {
                    stack.pay(rest_payment(&id)).await
                })
                .await;
        } else {
            stack
                .transition(&id, ("PartiallyPaid", end), &["ClaimWrittenOff"], "BillingManager", async {
                    stack.act(Role::BillingManager, &id, "write-off", reason("small balance")).await
                })
                .await;
            let last = stack.history(&id).await.pop().unwrap();
            assert_eq!(last["detail"]["written_off"]["amount"], usd("25.00"), "{last}");
        }
    }

    // Accepted → Denied (a denial after the 277CA), Denied → Submitted (appeal), Denied → WrittenOff.
    let denied = server.submitted(org, patient).await;
    let claim = stack.claim(&denied).await;
    stack.upload(acknowledgment(vec![status_entry(&claim, true)]).expect("277CA")).await;
    stack.deny(&denied, "Accepted").await;
    let appeal = json!({"note": "authorization was on file", "payer_claim_control_number": "PCCN-1"});
    stack
        .transition(&denied, ("Denied", "Submitted"), &["ClaimAppealed"], "BillingManager", async {
            stack.act(Role::BillingManager, &denied, "appeal", appeal.clone()).await
        })
        .await;
    // Submitted → Denied: an 835 denial with no 277CA before it.
    let written_off = server.submitted(org, patient).await;
    stack.deny(&written_off, "Submitted").await;
    let denial = stack.history(&written_off).await.pop().unwrap();
    assert_eq!(denial["detail"]["denied"]["notice"]["code"], "CO-197", "{denial}");
    stack
        .transition(&written_off, ("Denied", "WrittenOff"), &["ClaimWrittenOff"], "PracticeAdmin", async {
            stack.act(Role::PracticeAdmin, &written_off, "write-off", reason("not worth appealing")).await
        })
        .await;
}
