//! The domain model from the seeds: claims and their lines, the parties a real 837 needs,
//! payments, denials, statements with payment plans, and payer optimization.

/// Free text of a claim's parties and references: names, address lines, control numbers. Most
/// are a few characters and sit inline (up to 24 bytes) instead of in a heap allocation each,
/// which is most of what a decoded claim used to cost; the encoding is a string as before.
pub type Text = compact_str::CompactString;

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
