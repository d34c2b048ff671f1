//! Payer Optimization (seed 002): the per-organization switch, payer rules of five types,
//! coding suggestions (non-compliant ones are never shown), and the append-only audit log.

use super::AuditColumns;
use crate::codes::ProcedureCode;
use crate::ids::{
    EncounterId, OptimizationAuditEntryId, OrgId, PatientId, PayerOptimizationConfigId, PayerRuleId, SuggestionId,
    UserId,
};
use crate::{ValidationError, ValidationKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerOptimizationConfig {
    pub id: PayerOptimizationConfigId,
    pub org: OrgId,
    pub is_enabled: bool,
    pub disclosure_text: Option<String>,
    pub last_enabled_at: Option<DateTime<Utc>>,
    pub audit: AuditColumns,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PayerRuleType {
    Modifier,
    PreAuth,
    Documentation,
    CodingThreshold,
    Bundling,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerRule {
    pub id: PayerRuleId,
    pub org: OrgId,
    pub payer_name: String,
    pub payer_plan_id: Option<String>,
    pub rule_type: PayerRuleType,
    /// JSON-encoded rule logic; validated to be a JSON object at construction.
    pub definition: String,
    pub effective_at: DateTime<Utc>,
    pub is_active: bool,
    /// Rules are versioned: an update appends a new version and keeps the old one.
    pub version: u32,
    pub audit: AuditColumns,
}

impl PayerRule {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.payer_name.trim().is_empty() || self.payer_name.len() > 100 {
            return Err(ValidationError::new(
                "payer_name",
                ValidationKind::malformed("1 to 100 characters", &self.payer_name),
            ));
        }
        match serde_json::from_str::<serde_json::Value>(&self.definition) {
            Ok(serde_json::Value::Object(_)) => Ok(()),
            Ok(_) => {
                Err(ValidationError::new("definition", ValidationKind::malformed("a JSON object", &self.definition)))
            }
            Err(error) => {
                Err(ValidationError::new("definition", ValidationKind::Invalid(format!("not JSON: {error}"))))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodingOptimizationSuggestion {
    pub id: SuggestionId,
    pub org: OrgId,
    pub encounter_id: EncounterId,
    pub suggested_code: ProcedureCode,
    pub original_code: ProcedureCode,
    pub reason: String,
    /// False: suppressed from every user-facing view, kept for audit only.
    pub is_compliant: bool,
    pub was_accepted: Option<bool>,
    pub audit: AuditColumns,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OptimizationActionType {
    ConfigEnabled,
    ConfigDisabled,
    RuleCreated,
    RuleUpdated,
    RuleDeactivated,
    RuleRejected,
    SuggestionAccepted,
    SuggestionRejected,
    NonCompliantSuppressed,
}

/// Immutable: created once, never updated; `audit.updated_*` always equals `audit.created_*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptimizationAuditEntry {
    pub id: OptimizationAuditEntryId,
    pub org: OrgId,
    pub config_id: PayerOptimizationConfigId,
    pub actor: UserId,
    pub patient: Option<PatientId>,
    pub action: OptimizationActionType,
    pub detail: Option<String>,
    pub action_at: DateTime<Utc>,
    pub audit: AuditColumns,
}

impl OptimizationAuditEntry {
    pub fn new(
        org: OrgId,
        config_id: PayerOptimizationConfigId,
        actor: UserId,
        patient: Option<PatientId>,
        action: OptimizationActionType,
        detail: Option<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: OptimizationAuditEntryId::new_v4(),
            org,
            config_id,
            actor,
            patient,
            action,
            detail,
            action_at: at,
            audit: AuditColumns::created(actor, at),
        }
    }
}
