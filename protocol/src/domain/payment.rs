//! A payment received against a claim (ERA or manual).

use super::AuditColumns;
use crate::ids::{ClaimId, OrgId, PaymentId};
use crate::money::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Eft,
    Check,
    VirtualCard,
    Cash,
    Card,
    /// No money moved (a zero-pay or all-adjustment remittance).
    NonPayment,
}

impl PaymentMethod {
    /// From BPR04 (payment method code).
    pub fn from_bpr04(code: &str) -> PaymentMethod {
        match code {
            "ACH" | "BOP" | "FWT" => PaymentMethod::Eft,
            "CHK" => PaymentMethod::Check,
            "NON" => PaymentMethod::NonPayment,
            _ => PaymentMethod::Eft,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub org: OrgId,
    pub claim_id: ClaimId,
    pub payer_name: String,
    pub amount: Money,
    pub method: PaymentMethod,
    pub era_trace_number: Option<String>,
    pub posted_at: DateTime<Utc>,
    pub audit: AuditColumns,
}
