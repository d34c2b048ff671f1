//! Billing: patient statements consolidating patient responsibility across claims, payment
//! plans and their installments, write-off approval by amount and role, and A/R aging by
//! payer and by patient. Pure functions over claim ledgers and plain records; money exact.

mod aging;
mod cob;
mod plan;
mod statement;
mod writeoff;

pub use aging::{aging, payer_items, AgingBucket, AgingItem, AgingReport, BucketTotals};
pub use cob::{next_payer_claim, CobError};
pub use plan::{apply_payment, create_plan, plan_status, PlanStatus};
pub use statement::{
    build_statements, patient_balances, patient_charges, PatientBalance, PatientCharge, PatientPayment, StatementDraft,
    StatementLine, StatementRun,
};
pub use writeoff::{WriteOffApproval, WriteOffBand, WriteOffPolicy, WriteOffRefusal};

pub use aging::patient_items;

use practice_protocol::Currency;

/// Why a billing computation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    #[error("{what} is in {found}, expected {expected}")]
    Currency { what: String, expected: Currency, found: Currency },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}
