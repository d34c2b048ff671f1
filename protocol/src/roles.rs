//! Role levels from the seeds (IC 0–100 scale) and the acting party of every command.

use crate::ids::{OrgId, PatientId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A staff or patient role. The level is what permission checks compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Patient,
    FrontDesk,
    MaRn,
    CoderBiller,
    Clinician,
    BillingManager,
    ComplianceOfficer,
    PracticeAdmin,
    SchemaAdmin,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Patient,
        Role::FrontDesk,
        Role::MaRn,
        Role::CoderBiller,
        Role::Clinician,
        Role::BillingManager,
        Role::ComplianceOfficer,
        Role::PracticeAdmin,
        Role::SchemaAdmin,
    ];

    pub fn level(self) -> u8 {
        match self {
            Role::Patient => 10,
            Role::FrontDesk => 30,
            Role::MaRn => 40,
            Role::CoderBiller => 50,
            Role::Clinician => 60,
            Role::BillingManager => 70,
            Role::ComplianceOfficer => 75,
            Role::PracticeAdmin => 80,
            Role::SchemaAdmin => 90,
        }
    }

    /// The role with exactly this level; tokens carry the level.
    pub fn from_level(level: u8) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.level() == level)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}({})", self.level())
    }
}

/// Who is acting. Users act through a role within one organization; the system acts for
/// inbound payer traffic (835, 277CA) under a named component.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    User {
        org: OrgId,
        user: UserId,
        role: Role,
    },
    /// A patient in the portal: sees and pays only their own statements.
    Patient {
        org: OrgId,
        user: UserId,
        patient: PatientId,
    },
    System {
        org: OrgId,
        component: SystemComponent,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemComponent {
    /// Inbound X12 from the clearinghouse (999, 277CA, 277, 835).
    Ingestion,
    /// The scrubber run on create/edit.
    Scrubber,
    /// A module supervisor acting on events (Denial OS, Reclaim OS, ...).
    Module,
    /// Replay and migration tooling.
    Operator,
}

impl Actor {
    pub fn org(&self) -> OrgId {
        match self {
            Actor::User { org, .. } | Actor::Patient { org, .. } | Actor::System { org, .. } => *org,
        }
    }

    /// The acting user's level; a system actor has none (its permissions are per command).
    pub fn level(&self) -> Option<u8> {
        match self {
            Actor::User { role, .. } => Some(role.level()),
            Actor::Patient { .. } => Some(Role::Patient.level()),
            Actor::System { .. } => None,
        }
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Actor::User { role, .. } => Some(*role),
            Actor::Patient { .. } => Some(Role::Patient),
            Actor::System { .. } => None,
        }
    }

    /// The user id for audit columns; system actors record the nil uuid.
    pub fn user_id(&self) -> UserId {
        match self {
            Actor::User { user, .. } | Actor::Patient { user, .. } => *user,
            Actor::System { .. } => UserId(uuid::Uuid::nil()),
        }
    }

    pub fn is_system(&self) -> bool {
        matches!(self, Actor::System { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_match_the_seed() {
        let levels: Vec<u8> = Role::ALL.iter().map(|role| role.level()).collect();
        assert_eq!(levels, [10, 30, 40, 50, 60, 70, 75, 80, 90]);
        for role in Role::ALL {
            assert_eq!(Role::from_level(role.level()), Some(role));
        }
        assert_eq!(Role::from_level(55), None);
    }
}
