//! Who may do what to a claim, from the seed's RBAC matrix (001, "RBAC matrix"). Enforced in
//! `decide`, so every path (API, CLI, connector) gets the same answer.

use super::command::ClaimCommand;
use crate::roles::{Actor, Role, SystemComponent};

/// The permission a command needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Permission {
    /// Create and edit claims and lines, run the scrubber: Coder/Biller and up.
    WriteClaim,
    /// Attest the coding: the clinician.
    SignOff,
    /// Send to the clearinghouse: billing manager and up (the hard rule, level ≥ 70).
    Submit,
    /// Resubmit a denied claim: billing manager and up.
    Appeal,
    /// Write off a balance: billing manager within the threshold, practice admin above it.
    WriteOff,
    /// Cancel before submission: billing manager and up.
    Void,
    /// Record payer traffic (ERA posting, acknowledgments): Coder/Biller and up, or ingestion.
    RecordPayerResponse,
}

impl Permission {
    pub fn of(command: &ClaimCommand) -> Permission {
        match command {
            // Asking where a claim stands is a biller's routine follow-up, like editing it.
            ClaimCommand::Create { .. }
            | ClaimCommand::AmendCoding { .. }
            | ClaimCommand::Scrub { .. }
            | ClaimCommand::RequestStatus => Permission::WriteClaim,
            ClaimCommand::SignOff => Permission::SignOff,
            ClaimCommand::Submit { .. } => Permission::Submit,
            ClaimCommand::Appeal { .. } => Permission::Appeal,
            ClaimCommand::WriteOff { .. } => Permission::WriteOff,
            ClaimCommand::Void { .. } => Permission::Void,
            ClaimCommand::Reject { .. }
            | ClaimCommand::Accept { .. }
            | ClaimCommand::PostRemittance { .. }
            | ClaimCommand::RecordDenial { .. }
            | ClaimCommand::RecordStatus { .. } => Permission::RecordPayerResponse,
        }
    }

    /// The staff roles holding this permission.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Permission::WriteClaim | Permission::RecordPayerResponse => &[CoderBiller, BillingManager, PracticeAdmin],
            Permission::SignOff => &[Clinician],
            Permission::Submit | Permission::Appeal | Permission::WriteOff | Permission::Void => {
                &[BillingManager, PracticeAdmin]
            }
        }
    }

    /// The system components allowed to act with this permission.
    fn system_components(self) -> &'static [SystemComponent] {
        match self {
            Permission::RecordPayerResponse => &[SystemComponent::Ingestion, SystemComponent::Operator],
            Permission::WriteClaim => &[SystemComponent::Scrubber, SystemComponent::Operator],
            Permission::Submit => &[SystemComponent::Operator],
            _ => &[],
        }
    }

    pub fn allows(self, actor: &Actor) -> bool {
        match actor {
            Actor::User { role, .. } => self.roles().contains(role),
            Actor::Patient { .. } => false,
            Actor::System { component, .. } => self.system_components().contains(component),
        }
    }
}

/// The lowest level that holds `permission` (for messages: "needs level 70").
pub fn required_level(permission: Permission) -> u8 {
    permission.roles().iter().map(|role| role.level()).min().unwrap_or(u8::MAX)
}
