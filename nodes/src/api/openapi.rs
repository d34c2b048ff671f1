//! The OpenAPI 3.1 document served at `/openapi.json`, written by hand from `OPERATIONS`.
//! A test checks both directions: every route the router declares is here, and every
//! operation here answers on the router.

use super::error::CODES;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// How an operation authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Bearer,
    Connector,
    Public,
}

/// One operation: method, path, summary, request body schema (if any), auth.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub body: Option<&'static str>,
    pub auth: Auth,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    auth: Auth,
) -> Operation {
    Operation { method, path, summary, body, auth }
}

use Auth::*;

pub const OPERATIONS: &[Operation] = &[
    op("post", "/api/v1/encounters", "Create the primary claim of an encounter", Some("Encounter"), Bearer),
    op("post", "/api/v1/claims", "Create a Draft claim", Some("Claim"), Bearer),
    op("get", "/api/v1/claims", "List claims (filters: status, patient_id, payer_id, limit)", None, Bearer),
    op("get", "/api/v1/claims/{claim_id}", "Read a claim with its money and denials", None, Bearer),
    op("get", "/api/v1/claims/{claim_id}/history", "A claim's timeline: every event, who and when", None, Bearer),
    op("get", "/api/v1/claims/{claim_id}/lines", "A claim's lines with their ledger", None, Bearer),
    op("put", "/api/v1/claims/{claim_id}/lines", "Replace a claim's diagnoses and lines", Some("AmendLines"), Bearer),
    op("post", "/api/v1/claims/{claim_id}/scrub", "Scrub a Draft claim", Some("ScrubRequest"), Bearer),
    op("post", "/api/v1/claims/{claim_id}/sign-off", "Clinician sign-off on the coding", None, Bearer),
    op(
        "post",
        "/api/v1/claims/{claim_id}/submit",
        "Submit to the clearinghouse (level 70+)",
        Some("SubmitRequest"),
        Bearer,
    ),
    op("post", "/api/v1/claims/{claim_id}/void", "Void a claim before submission", Some("ReasonRequest"), Bearer),
    op(
        "post",
        "/api/v1/claims/{claim_id}/status-request",
        "Ask the payer where a sent claim stands (276 on the next exchange pass)",
        None,
        Bearer,
    ),
    op("post", "/api/v1/claims/{claim_id}/appeal", "Appeal a denied claim", Some("AppealRequest"), Bearer),
    op("post", "/api/v1/claims/{claim_id}/write-off", "Write off the open balance", Some("ReasonRequest"), Bearer),
    op("post", "/api/v1/payments", "Post a manual payer payment split across claims", Some("ManualPayment"), Bearer),
    op("get", "/api/v1/payments", "List posted payments and suspense", None, Bearer),
    op("get", "/api/v1/denials", "List denials with category, root cause and appeal deadline", None, Bearer),
    op("get", "/api/v1/suspense", "The suspense queue: ?status=open (default), resolved or all", None, Bearer),
    op(
        "post",
        "/api/v1/suspense/{item_id}/resolve",
        "Close a suspense item: post its money to a claim, or dismiss it with a reason",
        Some("ResolveSuspense"),
        Bearer,
    ),
    op("post", "/api/v1/statements", "Generate a patient statement", Some("GenerateRequest"), Bearer),
    op("get", "/api/v1/statements", "List statements", None, Bearer),
    op("get", "/api/v1/statements/{statement_id}", "Read a statement", None, Bearer),
    op(
        "post",
        "/api/v1/statements/{statement_id}/payments",
        "Front desk: cash, card or check",
        Some("CollectRequest"),
        Bearer,
    ),
    op(
        "post",
        "/api/v1/statements/{statement_id}/pay",
        "Patient: pay online with a processor token",
        Some("PayOnlineRequest"),
        Bearer,
    ),
    op(
        "post",
        "/api/v1/statements/{statement_id}/plan",
        "Split the balance into monthly installments",
        Some("PlanRequest"),
        Bearer,
    ),
    op(
        "post",
        "/api/v1/connector/x12",
        "Connector upload of a raw X12 file (835, 277, 277CA, 999)",
        Some("X12"),
        Connector,
    ),
    op("get", "/api/v1/reports/aging", "AR aging buckets", None, Bearer),
    op("get", "/api/v1/reports/denials", "Denials by category and root cause", None, Bearer),
    op("get", "/api/v1/reports/open-balances", "Open balances by payer", None, Bearer),
    op("get", "/api/v1/stream/claims", "Server-Sent Events of claim state changes", None, Bearer),
    op("get", "/openapi.json", "This document", None, Public),
    op("get", "/metrics", "Prometheus metrics", None, Public),
    op("get", "/healthz", "Liveness", None, Public),
    op("get", "/readyz", "Readiness", None, Public),
];

fn money_schema() -> Value {
    json!({
        "type": "object", "required": ["amount", "currency"], "additionalProperties": false,
        "properties": {
            "amount": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "description": "decimal string, never a float"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}
        }
    })
}

fn schemas() -> Value {
    let reason = json!({"type": "object", "required": ["reason"], "additionalProperties": false, "properties": {"reason": {"type": "string", "minLength": 1}}});
    json!({
        "Money": money_schema(),
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message", "field"], "properties": {
                "code": {"type": "string", "enum": CODES},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]}
            }}}
        },
        "Encounter": {"type": "object", "description": "practice_protocol::domain::Encounter; unknown fields are refused", "additionalProperties": false},
        "Claim": {"type": "object", "description": "practice_protocol::domain::Claim; unknown fields are refused", "additionalProperties": false},
        "AmendLines": {"type": "object", "required": ["diagnoses", "lines"], "additionalProperties": false, "properties": {"diagnoses": {"type": "array", "items": {"type": "string"}}, "lines": {"type": "array", "items": {"type": "object"}}}},
        "ScrubRequest": {"type": "object", "additionalProperties": false, "properties": {"findings": {"type": "array", "items": {"type": "object"}}}},
        "SubmitRequest": {"type": "object", "required": ["tracking_id"], "additionalProperties": false, "properties": {"tracking_id": {"type": "string"}}},
        "ReasonRequest": reason,
        "AppealRequest": {"type": "object", "required": ["note"], "additionalProperties": false, "properties": {"note": {"type": "string"}, "corrected_lines": {"type": ["array", "null"]}, "payer_claim_control_number": {"type": ["string", "null"]}}},
        "ManualPayment": {"type": "object", "required": ["payer_name", "method", "reference", "paid_on", "amount", "allocations"], "additionalProperties": false, "properties": {
            "payer_name": {"type": "string"}, "method": {"type": "string", "enum": ["eft", "check", "virtual_card", "cash", "card", "non_payment"]},
            "reference": {"type": "string"}, "paid_on": {"type": "string", "format": "date"}, "amount": {"$ref": "#/components/schemas/Money"},
            "allocations": {"type": "array", "items": {"type": "object", "required": ["claim_id", "paid"], "additionalProperties": false, "properties": {
                "claim_id": {"type": "string", "format": "uuid"}, "paid": {"$ref": "#/components/schemas/Money"}, "claim_status_code": {"type": "string"},
                "adjustments": {"type": "array"}, "lines": {"type": "array"}}}}}},
        "GenerateRequest": {"type": "object", "required": ["patient_id"], "additionalProperties": false, "properties": {"patient_id": {"type": "string", "format": "uuid"}}},
        "CollectRequest": {"type": "object", "required": ["amount", "method"], "additionalProperties": false, "properties": {"amount": {"$ref": "#/components/schemas/Money"}, "method": {"type": "string", "enum": ["cash", "card", "check"]}}},
        "PayOnlineRequest": {"type": "object", "required": ["amount", "payment_token"], "additionalProperties": false, "properties": {"amount": {"$ref": "#/components/schemas/Money"}, "payment_token": {"type": "string"}}},
        "ResolveSuspense": {"oneOf": [
            {"type": "object", "required": ["action", "claim_id"], "additionalProperties": false, "properties": {"action": {"const": "post"}, "claim_id": {"type": "string", "format": "uuid"}, "paid_on": {"type": ["string", "null"], "format": "date"}}},
            {"type": "object", "required": ["action", "reason"], "additionalProperties": false, "properties": {"action": {"const": "dismiss"}, "reason": {"type": "string", "minLength": 1}}}
        ]},
        "PlanRequest": {"type": "object", "required": ["installments", "first_due"], "additionalProperties": false, "properties": {"installments": {"type": "integer", "minimum": 1, "maximum": 60}, "first_due": {"type": "string", "format": "date"}}},
        "X12": {"type": "string", "description": "raw X12 interchange bytes"}
    })
}

pub fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for operation in OPERATIONS {
        let mut entry = json!({
            "summary": operation.summary,
            "operationId": format!("{}_{}", operation.method, operation.path.trim_start_matches('/').replace(['/', '{', '}', '-', '.'], "_")),
            "responses": {
                "200": {"description": "success"},
                "4XX": {"description": "refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        let parameters: Vec<Value> = operation
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|part| part.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}))
            .collect();
        if !parameters.is_empty() {
            entry["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = operation.body {
            let media = if body == "X12" { "application/edi-x12" } else { "application/json" };
            entry["requestBody"] = json!({"required": true, "content": {media: {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        entry["security"] = match operation.auth {
            Bearer => json!([{"bearer": []}]),
            Connector => json!([{"connector": []}]),
            Public => json!([]),
        };
        let path = paths.entry(operation.path.to_string()).or_insert_with(|| json!({}));
        path[operation.method] = entry;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Practice OS API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Claims, payments, denials, statements, reports and the live claim stream. Money is a decimal string with an ISO 4217 currency. Errors are {\"error\":{\"code\",\"message\",\"field\"}}."},
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "pos1 token from `practice token issue`"},
                "connector": {"type": "apiKey", "in": "header", "name": "X-Practice-Signature",
                              "description": "sha256=<hex HMAC-SHA256(connector key, \"<X-Practice-Timestamp>.<body>\")>, with X-Practice-Connector and X-Practice-Timestamp"}
            }
        }
    })
}

pub async fn document() -> Response {
    axum::Json(build()).into_response()
}
