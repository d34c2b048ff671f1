//! Claim statuses and the transitions the seed's diagram allows.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ClaimStatus {
    Draft,
    Scrubbed,
    Submitted,
    Accepted,
    Denied,
    Paid,
    PartiallyPaid,
    WrittenOff,
    Voided,
}

impl ClaimStatus {
    pub const ALL: [ClaimStatus; 9] = [
        ClaimStatus::Draft,
        ClaimStatus::Scrubbed,
        ClaimStatus::Submitted,
        ClaimStatus::Accepted,
        ClaimStatus::Denied,
        ClaimStatus::Paid,
        ClaimStatus::PartiallyPaid,
        ClaimStatus::WrittenOff,
        ClaimStatus::Voided,
    ];

    /// No command moves a claim out of these (a payer reversal aside, see below).
    pub fn is_terminal(self) -> bool {
        matches!(self, ClaimStatus::Paid | ClaimStatus::WrittenOff | ClaimStatus::Voided)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Draft => "Draft",
            ClaimStatus::Scrubbed => "Scrubbed",
            ClaimStatus::Submitted => "Submitted",
            ClaimStatus::Accepted => "Accepted",
            ClaimStatus::Denied => "Denied",
            ClaimStatus::Paid => "Paid",
            ClaimStatus::PartiallyPaid => "PartiallyPaid",
            ClaimStatus::WrittenOff => "WrittenOff",
            ClaimStatus::Voided => "Voided",
        }
    }
}

impl fmt::Display for ClaimStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use ClaimStatus::*;

/// Every status change a claim may make. The first thirteen are the seed's diagram, verbatim.
/// The last five are moves a real billing office makes that the diagram leaves out
/// (ARCHITECTURE.md, "Claim state machine"):
/// - amending a scrubbed claim's codes sends it back to Draft to be scrubbed again;
/// - a 999/277CA rejection returns a submitted claim to Draft to be fixed (the seed's status
///   pill lists "Rejected": in our model it is the `Rejected` event on the way back to Draft);
/// - a payer reversal (835 CLP02 = 22) reopens an adjudicated claim to Accepted, where the
///   correction that follows it lands by the diagram's own edges.
pub const ALLOWED_TRANSITIONS: [(ClaimStatus, ClaimStatus); 18] = [
    (Draft, Scrubbed),
    (Scrubbed, Submitted),
    (Submitted, Accepted),
    (Submitted, Denied),
    (Accepted, Paid),
    (Accepted, PartiallyPaid),
    (Accepted, Denied),
    (PartiallyPaid, Paid),
    (PartiallyPaid, WrittenOff),
    (Denied, Submitted),
    (Denied, WrittenOff),
    (Draft, Voided),
    (Scrubbed, Voided),
    // An amended claim goes back to be scrubbed again.
    (Scrubbed, Draft),
    // Clearinghouse or payer front-end rejection: back to be fixed.
    (Submitted, Draft),
    // Payer reversal (CLP02 = 22): adjudication reopened.
    (Paid, Accepted),
    (PartiallyPaid, Accepted),
    (Denied, Accepted),
];

pub fn transition_allowed(from: ClaimStatus, to: ClaimStatus) -> bool {
    from == to || ALLOWED_TRANSITIONS.contains(&(from, to))
}
