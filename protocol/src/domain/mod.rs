//! The domain model from the seeds: claims and their lines, the parties a real 837 needs,
//! payments, denials, statements with payment plans, and payer optimization.

pub mod audit;
pub mod claim;
pub mod denial;
pub mod encounter;
pub mod optimization;
pub mod party;
pub mod payment;
pub mod statement;

pub use audit::AuditColumns;
pub use claim::{
    Claim, ClaimFrequency, ClaimLine, ClaimType, CoverageOrder, InstitutionalInfo, PriorAdjudication,
    PriorLineAdjudication,
};
pub use denial::{AppealStatus, Denial, DenialCategory, RootCause};
pub use encounter::{Encounter, EncounterLine};
pub use optimization::{
    CodingOptimizationSuggestion, OptimizationActionType, OptimizationAuditEntry, PayerOptimizationConfig, PayerRule,
    PayerRuleType,
};
pub use party::{
    Address, BillingProvider, Coverage, Patient, Payer, PersonName, Provider, Relationship, Sex, Subscriber,
};
pub use payment::{Payment, PaymentMethod};
pub use statement::{Installment, PatientStatement, PaymentPlan};
