//! The claim state machine, as a pure function.
//!
//! `decide(state, command, actor, context) -> Result<Vec<ClaimEvent>, Rejection>` validates a
//! command against the claim's current state and the actor's role; `ClaimState::apply` folds
//! an event into the state. A claim's state is the fold of its events, and so is its money:
//! G7 (charge = paid + contractual + patient responsibility + other adjustments + open balance)
//! holds by construction because the open balance is derived.

mod adjustment;
mod command;
mod decide;
mod event;
mod ledger;
mod permissions;
mod state;
mod status;

pub use adjustment::{Adjustment, AdjustmentGroup};
pub use command::{
    ClaimCommand, DenialNotice, LinePosting, PayerStatusReport, PostingKind, RejectionSource, RemittancePosting,
    ScrubFinding, ScrubSeverity,
};
pub use decide::{decide, DecideContext, Rejection};
pub use event::ClaimEvent;
pub use ledger::{ClaimLedger, LineLedger};
pub use permissions::{required_level, Permission};
pub use state::ClaimState;
pub use status::{transition_allowed, ClaimStatus, ALLOWED_TRANSITIONS};
