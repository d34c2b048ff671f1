//! A denial: the payer's code and reason (external), our category and root cause (internal).

use super::AuditColumns;
use crate::ids::{ClaimId, DenialId, OrgId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DenialCategory {
    Clinical,
    Administrative,
    Technical,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AppealStatus {
    NotAppealed,
    Pending,
    Won,
    Lost,
    Expired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RootCause {
    MissingAuth,
    CodingError,
    TimelyFiling,
    Eligibility,
    Duplicate,
    MedicalNecessity,
    Bundling,
    CoordinationOfBenefits,
    MissingInformation,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub id: DenialId,
    pub org: OrgId,
    pub claim_id: ClaimId,
    /// The CARC (with its group, e.g. "CO-197").
    pub code: String,
    pub rarcs: Vec<String>,
    pub reason: String,
    pub category: DenialCategory,
    pub appeal_status: AppealStatus,
    pub appeal_deadline: Option<DateTime<Utc>>,
    pub root_cause: Option<RootCause>,
    pub audit: AuditColumns,
}
