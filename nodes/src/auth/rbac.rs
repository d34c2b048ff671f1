//! Who may read and do what through the API: the seed's RBAC matrix (001, "RBAC matrix (IC
//! 0–100 scale)") written once as a table. Claim commands are checked here at the route and
//! again by the protocol's `decide` (`Permission`), so a path that skips the API gets the same
//! answer; a test keeps the two in agreement.
//!
//! Decisions where the seed is silent (nodes/API.md, "Roles"):
//! - Compliance officer (75) has no row in the RCM matrix; it reads everything and writes
//!   nothing (it audits).
//! - EditAMI (90) administers schemas, not a practice's money: no data access.
//! - Front desk "post manual (cash/card)" payments are patient payments: they post to a
//!   statement (`CollectPayment`), not as payer remittances to a claim.
//! - Reports aggregate claims and payments; roles that read all payments read them.

use practice_protocol::roles::Role;
use serde::Serialize;

/// The entities of the seed's matrix, plus reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Claim,
    ClaimLine,
    Payment,
    Denial,
    Statement,
    Report,
}

#[cfg(test)]
impl Entity {
    pub const ALL: [Entity; 6] =
        [Entity::Claim, Entity::ClaimLine, Entity::Payment, Entity::Denial, Entity::Statement, Entity::Report];
}

/// What a request does to an entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    /// Create a claim (directly or from an encounter).
    Create,
    Scrub,
    SignOff,
    Submit,
    Void,
    WriteOff,
    /// Replace a claim's lines and diagnoses.
    EditLines,
    /// Post a payer remittance (manual EOB, split across claims).
    PostRemittance,
    /// Resubmit a denied claim.
    Appeal,
    GenerateStatement,
    /// Front desk takes cash or card for a statement.
    CollectPayment,
    /// A patient pays their own statement online.
    PayOnline,
    /// Ask the payer where a sent claim stands (a 276 at once): whoever works claims.
    RequestStatus,
}

/// How much of an entity a role sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    None,
    /// Only rows about the caller (a patient's own claims and statements).
    Own,
    /// Every row of the caller's organization.
    All,
}

use Action::*;

const READ: &[Action] = &[Read];

/// One row per role and entity: the scope it reads and the actions it may take.
pub const MATRIX: &[(Role, Entity, Scope, &[Action])] = &[
    (Role::Patient, Entity::Claim, Scope::Own, READ),
    (Role::Patient, Entity::ClaimLine, Scope::None, &[]),
    (Role::Patient, Entity::Payment, Scope::Own, READ),
    (Role::Patient, Entity::Denial, Scope::Own, READ),
    (Role::Patient, Entity::Statement, Scope::Own, &[Read, PayOnline]),
    (Role::Patient, Entity::Report, Scope::None, &[]),
    (Role::FrontDesk, Entity::Claim, Scope::All, READ),
    (Role::FrontDesk, Entity::ClaimLine, Scope::All, READ),
    (Role::FrontDesk, Entity::Payment, Scope::All, READ),
    (Role::FrontDesk, Entity::Denial, Scope::All, READ),
    (Role::FrontDesk, Entity::Statement, Scope::All, &[Read, GenerateStatement, CollectPayment]),
    (Role::FrontDesk, Entity::Report, Scope::All, READ),
    (Role::MaRn, Entity::Claim, Scope::All, READ),
    (Role::MaRn, Entity::ClaimLine, Scope::All, READ),
    (Role::MaRn, Entity::Payment, Scope::All, READ),
    (Role::MaRn, Entity::Denial, Scope::All, READ),
    (Role::MaRn, Entity::Statement, Scope::All, READ),
    (Role::MaRn, Entity::Report, Scope::All, READ),
    (Role::CoderBiller, Entity::Claim, Scope::All, &[Read, Create, Scrub, RequestStatus]),
    (Role::CoderBiller, Entity::ClaimLine, Scope::All, &[Read, EditLines]),
    (Role::CoderBiller, Entity::Payment, Scope::All, &[Read, PostRemittance]),
    (Role::CoderBiller, Entity::Denial, Scope::All, READ),
    (Role::CoderBiller, Entity::Statement, Scope::All, &[Read, GenerateStatement, CollectPayment]),
    (Role::CoderBiller, Entity::Report, Scope::All, READ),
    (Role::Clinician, Entity::Claim, Scope::All, &[Read, SignOff]),
    (Role::Clinician, Entity::ClaimLine, Scope::All, READ),
    (Role::Clinician, Entity::Payment, Scope::All, READ),
    (Role::Clinician, Entity::Denial, Scope::All, READ),
    (Role::Clinician, Entity::Statement, Scope::All, READ),
    (Role::Clinician, Entity::Report, Scope::All, READ),
    (Role::BillingManager, Entity::Claim, Scope::All, &[Read, Create, Scrub, Submit, Void, WriteOff, RequestStatus]),
    (Role::BillingManager, Entity::ClaimLine, Scope::All, &[Read, EditLines]),
    (Role::BillingManager, Entity::Payment, Scope::All, &[Read, PostRemittance]),
    (Role::BillingManager, Entity::Denial, Scope::All, &[Read, Appeal]),
    (Role::BillingManager, Entity::Statement, Scope::All, &[Read, GenerateStatement, CollectPayment]),
    (Role::BillingManager, Entity::Report, Scope::All, READ),
    (Role::ComplianceOfficer, Entity::Claim, Scope::All, READ),
    (Role::ComplianceOfficer, Entity::ClaimLine, Scope::All, READ),
    (Role::ComplianceOfficer, Entity::Payment, Scope::All, READ),
    (Role::ComplianceOfficer, Entity::Denial, Scope::All, READ),
    (Role::ComplianceOfficer, Entity::Statement, Scope::All, READ),
    (Role::ComplianceOfficer, Entity::Report, Scope::All, READ),
    (Role::PracticeAdmin, Entity::Claim, Scope::All, &[Read, Create, Scrub, Submit, Void, WriteOff, RequestStatus]),
    (Role::PracticeAdmin, Entity::ClaimLine, Scope::All, &[Read, EditLines]),
    (Role::PracticeAdmin, Entity::Payment, Scope::All, &[Read, PostRemittance]),
    (Role::PracticeAdmin, Entity::Denial, Scope::All, &[Read, Appeal]),
    (Role::PracticeAdmin, Entity::Statement, Scope::All, &[Read, GenerateStatement, CollectPayment]),
    (Role::PracticeAdmin, Entity::Report, Scope::All, READ),
];

/// The scope `role` reads `entity` with.
pub fn read_scope(role: Role, entity: Entity) -> Scope {
    row(role, entity).map(|(scope, _)| scope).unwrap_or(Scope::None)
}

/// Whether `role` may take `action` on `entity`.
pub fn allows(role: Role, entity: Entity, action: Action) -> bool {
    row(role, entity).is_some_and(|(_, actions)| actions.contains(&action))
}

fn row(role: Role, entity: Entity) -> Option<(Scope, &'static [Action])> {
    MATRIX
        .iter()
        .find(|(row_role, row_entity, _, _)| *row_role == role && *row_entity == entity)
        .map(|(_, _, scope, actions)| (*scope, *actions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::claim::Permission;
    use practice_protocol::ids::{OrgId, UserId};
    use practice_protocol::roles::Actor;

    #[test]
    fn every_role_except_schema_admin_has_one_row_per_entity() {
        for role in Role::ALL {
            for entity in Entity::ALL {
                let rows = MATRIX.iter().filter(|(r, e, _, _)| *r == role && *e == entity).count();
                let expected = usize::from(role != Role::SchemaAdmin);
                assert_eq!(rows, expected, "{role} × {entity:?}");
            }
        }
    }

    /// The route check and the protocol's `decide` must agree on every claim command.
    #[test]
    fn claim_command_actions_match_the_protocol_permissions() {
        let pairs = [
            (Entity::Claim, Create, Permission::WriteClaim),
            (Entity::Claim, Scrub, Permission::WriteClaim),
            (Entity::Claim, RequestStatus, Permission::WriteClaim),
            (Entity::ClaimLine, EditLines, Permission::WriteClaim),
            (Entity::Claim, SignOff, Permission::SignOff),
            (Entity::Claim, Submit, Permission::Submit),
            (Entity::Denial, Appeal, Permission::Appeal),
            (Entity::Claim, WriteOff, Permission::WriteOff),
            (Entity::Claim, Void, Permission::Void),
            (Entity::Payment, PostRemittance, Permission::RecordPayerResponse),
        ];
        for role in Role::ALL {
            let actor = Actor::User { org: OrgId::new_v4(), user: UserId::new_v4(), role };
            for (entity, action, permission) in pairs {
                let by_protocol = role != Role::Patient && permission.allows(&actor);
                assert_eq!(allows(role, entity, action), by_protocol, "{role} {action:?}");
            }
        }
    }

    #[test]
    fn submission_needs_level_seventy() {
        for role in Role::ALL {
            assert_eq!(allows(role, Entity::Claim, Submit), matches!(role.level(), 70 | 80), "{role}");
        }
    }
}
