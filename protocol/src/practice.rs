//! A practice (the tenant) as an event-sourced entity: its users and roles and the policies
//! claim decisions read (write-off threshold, appeal window), and the provider-level ledger
//! and suspense queue inbound payer traffic leaves (`remit_ledger`). Pure state and events; the
//! `PracticeActor` in `practice-actors` drives it. One practice per organization: its entity
//! id is the organization id.

use crate::claim::DecideContext;
use crate::domain::{PatientStatement, PaymentPlan};
use crate::envelope::EventEnvelope;
use crate::ids::StatementId;
use crate::ids::{ClaimId, CommandId, UserId};
use crate::remit_ledger::{ProviderAdjustment, ProviderLedger, SuspenseEntry};
use crate::roles::{Actor, Role, SystemComponent};
use crate::statement_book::{PatientPayment, StatementBook, StatementRefusal};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Defaults until the practice configures its own (they match `DecideContext::at`).
pub const DEFAULT_WRITE_OFF_THRESHOLD: i64 = 500;
pub const DEFAULT_APPEAL_WINDOW_DAYS: i64 = 180;

/// `RecordProviderAdjustment` (a PLB adjustment from an 835, its own provider-level ledger
/// entry) and `RecordSuspense` (what inbound traffic could not place, with the reason) come
/// from the ingestion system actor or a biller; the rest need a practice admin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PracticeCommand {
    Configure {
        name: String,
    },
    AddUser {
        user: UserId,
        role: Role,
    },
    ChangeRole {
        user: UserId,
        role: Role,
    },
    RemoveUser {
        user: UserId,
    },
    SetWriteOffThreshold {
        amount: Decimal,
    },
    SetAppealWindow {
        days: i64,
    },
    RecordProviderAdjustment {
        entry: Box<ProviderAdjustment>,
    },
    RecordSuspense {
        item: Box<SuspenseEntry>,
    },
    /// Close an open suspense item (its id: [`SuspenseEntry::id`]). Identical items share an
    /// id and are interchangeable: each resolve closes the oldest still open.
    ResolveSuspense {
        item: CommandId,
        resolution: SuspenseResolution,
    },
    /// Bill a patient's responsibility on some claims (`statement_book`).
    IssueStatement {
        statement: Box<PatientStatement>,
    },
    /// Split a statement's balance into installments; replaces an earlier plan.
    SetPaymentPlan {
        plan: Box<PaymentPlan>,
    },
    /// A patient's payment on a statement: front desk, mail, or online through the processor.
    RecordPatientPayment {
        statement: StatementId,
        payment: Box<PatientPayment>,
    },
}

/// How a biller closed a suspense item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspenseResolution {
    /// Its money was posted to this claim (by a payment posting on the claim).
    Posted { claim_id: ClaimId },
    /// Not ours to post: returned to the payer, a duplicate, another practice's, ...
    Dismissed { reason: String },
}

/// A closed suspense item, as the queue's history keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedSuspense {
    pub item: CommandId,
    pub entry: SuspenseEntry,
    pub resolution: SuspenseResolution,
}

impl PracticeCommand {
    pub fn name(&self) -> &'static str {
        match self {
            PracticeCommand::Configure { .. } => "configure",
            PracticeCommand::AddUser { .. } => "add_user",
            PracticeCommand::ChangeRole { .. } => "change_role",
            PracticeCommand::RemoveUser { .. } => "remove_user",
            PracticeCommand::SetWriteOffThreshold { .. } => "set_write_off_threshold",
            PracticeCommand::SetAppealWindow { .. } => "set_appeal_window",
            PracticeCommand::RecordProviderAdjustment { .. } => "record_provider_adjustment",
            PracticeCommand::RecordSuspense { .. } => "record_suspense",
            PracticeCommand::ResolveSuspense { .. } => "resolve_suspense",
            PracticeCommand::IssueStatement { .. } => "issue_statement",
            PracticeCommand::SetPaymentPlan { .. } => "set_payment_plan",
            PracticeCommand::RecordPatientPayment { .. } => "record_patient_payment",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PracticeEvent {
    Configured { name: String },
    UserAdded { user: UserId, role: Role },
    RoleChanged { user: UserId, role: Role },
    UserRemoved { user: UserId },
    WriteOffThresholdSet { amount: Decimal },
    AppealWindowSet { days: i64 },
    ProviderAdjustmentRecorded { entry: ProviderAdjustment },
    SuspenseRecorded { item: SuspenseEntry },
    SuspenseResolved { item: CommandId, resolution: SuspenseResolution },
    StatementIssued { statement: PatientStatement },
    PaymentPlanSet { plan: PaymentPlan, at: DateTime<Utc>, by: UserId },
    PatientPaymentRecorded { statement: StatementId, payment: PatientPayment, by: UserId },
}

impl PracticeEvent {
    pub fn name(&self) -> &'static str {
        match self {
            PracticeEvent::Configured { .. } => "PracticeConfigured",
            PracticeEvent::UserAdded { .. } => "PracticeUserAdded",
            PracticeEvent::RoleChanged { .. } => "PracticeRoleChanged",
            PracticeEvent::UserRemoved { .. } => "PracticeUserRemoved",
            PracticeEvent::WriteOffThresholdSet { .. } => "PracticeWriteOffThresholdSet",
            PracticeEvent::AppealWindowSet { .. } => "PracticeAppealWindowSet",
            PracticeEvent::ProviderAdjustmentRecorded { .. } => "PracticeProviderAdjustmentRecorded",
            PracticeEvent::SuspenseRecorded { .. } => "PracticeSuspenseRecorded",
            PracticeEvent::SuspenseResolved { .. } => "PracticeSuspenseResolved",
            PracticeEvent::StatementIssued { .. } => "PracticeStatementIssued",
            PracticeEvent::PaymentPlanSet { .. } => "PracticePaymentPlanSet",
            PracticeEvent::PatientPaymentRecorded { .. } => "PracticePatientPaymentRecorded",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum PracticeRejection {
    #[error("{command} needs a practice admin (level 80)")]
    Forbidden { command: String },
    #[error("no user {user}")]
    UnknownUser { user: UserId },
    #[error("user {user} already exists")]
    UserExists { user: UserId },
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("no open suspense item {item}")]
    UnknownSuspense { item: CommandId },
    #[error("no statement {statement}")]
    UnknownStatement { statement: StatementId },
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
}

impl From<StatementRefusal> for PracticeRejection {
    fn from(refusal: StatementRefusal) -> Self {
        match refusal {
            StatementRefusal::Forbidden(what) => PracticeRejection::Forbidden { command: what.to_string() },
            StatementRefusal::Unknown(statement) => PracticeRejection::UnknownStatement { statement },
            StatementRefusal::Invalid { field, message } => {
                PracticeRejection::InvalidField { field: field.to_string(), message }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PracticeState {
    pub name: Option<String>,
    pub users: BTreeMap<UserId, Role>,
    pub write_off_threshold: Decimal,
    pub appeal_window_days: i64,
    pub applied_commands: BTreeSet<CommandId>,
    pub version: u64,
    /// PLB entries recorded from 835s: count and totals by reason.
    pub provider_ledger: ProviderLedger,
    /// Open suspense items, oldest first.
    pub suspense: Vec<SuspenseEntry>,
    /// Closed ones, in the order they were closed.
    pub resolved_suspense: Vec<ResolvedSuspense>,
    /// Patient statements, their plans and payments.
    pub statements: StatementBook,
}

impl Default for PracticeState {
    fn default() -> Self {
        Self {
            name: None,
            users: BTreeMap::new(),
            write_off_threshold: Decimal::from(DEFAULT_WRITE_OFF_THRESHOLD),
            appeal_window_days: DEFAULT_APPEAL_WINDOW_DAYS,
            applied_commands: BTreeSet::new(),
            version: 0,
            provider_ledger: ProviderLedger::default(),
            suspense: Vec::new(),
            resolved_suspense: Vec::new(),
            statements: StatementBook::default(),
        }
    }
}

/// Who may record what inbound traffic implies: the ingestion system actor, or a biller and up.
fn may_record(actor: &Actor) -> bool {
    match actor {
        Actor::User { role, .. } => role.level() >= Role::CoderBiller.level(),
        Actor::System { component, .. } => {
            matches!(component, SystemComponent::Ingestion | SystemComponent::Operator)
        }
        Actor::Patient { .. } => false,
    }
}

fn is_manager(actor: &Actor) -> bool {
    match actor {
        Actor::User { role, .. } => role.level() >= Role::BillingManager.level(),
        Actor::System { component, .. } => *component == SystemComponent::Operator,
        Actor::Patient { .. } => false,
    }
}

fn is_admin(actor: &Actor) -> bool {
    match actor {
        Actor::User { role, .. } => role.level() >= Role::PracticeAdmin.level(),
        Actor::System { component, .. } => *component == SystemComponent::Operator,
        Actor::Patient { .. } => false,
    }
}

/// Validate a practice command. A command id already applied yields no events (G3).
pub fn decide_practice(
    state: &PracticeState,
    command_id: CommandId,
    command: &PracticeCommand,
    actor: &Actor,
) -> Result<Vec<PracticeEvent>, PracticeRejection> {
    if state.applied_commands.contains(&command_id) {
        return Ok(Vec::new());
    }
    match command {
        PracticeCommand::RecordProviderAdjustment { entry } => {
            if !may_record(actor) {
                return Err(PracticeRejection::Forbidden { command: command.name().to_string() });
            }
            if entry.reason_code.trim().is_empty() {
                return Err(PracticeRejection::Invalid("a PLB entry needs a reason code".into()));
            }
            return Ok(vec![PracticeEvent::ProviderAdjustmentRecorded { entry: entry.as_ref().clone() }]);
        }
        PracticeCommand::RecordSuspense { item } => {
            if !may_record(actor) {
                return Err(PracticeRejection::Forbidden { command: command.name().to_string() });
            }
            if item.reason.trim().is_empty() {
                return Err(PracticeRejection::Invalid("a suspense item needs a reason".into()));
            }
            return Ok(vec![PracticeEvent::SuspenseRecorded { item: item.as_ref().clone() }]);
        }
        PracticeCommand::ResolveSuspense { item, resolution } => {
            // Posting is a biller's work; deciding money is not ours to post is a manager's.
            let allowed = match resolution {
                SuspenseResolution::Posted { .. } => may_record(actor),
                SuspenseResolution::Dismissed { .. } => is_manager(actor),
            };
            if !allowed {
                return Err(PracticeRejection::Forbidden { command: command.name().to_string() });
            }
            if let SuspenseResolution::Dismissed { reason } = resolution {
                if reason.trim().is_empty() {
                    return Err(PracticeRejection::Invalid("a dismissal needs a reason".into()));
                }
            }
            if !state.suspense.iter().any(|entry| entry.id() == *item) {
                return Err(PracticeRejection::UnknownSuspense { item: *item });
            }
            return Ok(vec![PracticeEvent::SuspenseResolved { item: *item, resolution: resolution.clone() }]);
        }
        PracticeCommand::IssueStatement { statement } => {
            state.statements.check_issue(statement, actor)?;
            return Ok(vec![PracticeEvent::StatementIssued { statement: statement.as_ref().clone() }]);
        }
        PracticeCommand::SetPaymentPlan { plan } => {
            state.statements.check_plan(plan, actor)?;
            let at = Utc::now();
            return Ok(vec![PracticeEvent::PaymentPlanSet { plan: plan.as_ref().clone(), at, by: actor.user_id() }]);
        }
        PracticeCommand::RecordPatientPayment { statement, payment } => {
            state.statements.check_payment(*statement, payment, actor)?;
            let payment = payment.as_ref().clone();
            return Ok(vec![PracticeEvent::PatientPaymentRecorded {
                statement: *statement,
                payment,
                by: actor.user_id(),
            }]);
        }
        _ => {}
    }
    if !is_admin(actor) {
        return Err(PracticeRejection::Forbidden { command: command.name().to_string() });
    }
    Ok(match command {
        PracticeCommand::Configure { name } => {
            if name.trim().is_empty() {
                return Err(PracticeRejection::Invalid("name must not be empty".into()));
            }
            vec![PracticeEvent::Configured { name: name.clone() }]
        }
        PracticeCommand::AddUser { user, role } => {
            if state.users.contains_key(user) {
                return Err(PracticeRejection::UserExists { user: *user });
            }
            vec![PracticeEvent::UserAdded { user: *user, role: *role }]
        }
        PracticeCommand::ChangeRole { user, role } => match state.users.get(user) {
            None => return Err(PracticeRejection::UnknownUser { user: *user }),
            Some(current) if current == role => Vec::new(),
            Some(_) => vec![PracticeEvent::RoleChanged { user: *user, role: *role }],
        },
        PracticeCommand::RemoveUser { user } => {
            if !state.users.contains_key(user) {
                return Err(PracticeRejection::UnknownUser { user: *user });
            }
            vec![PracticeEvent::UserRemoved { user: *user }]
        }
        PracticeCommand::SetWriteOffThreshold { amount } => {
            if amount.is_sign_negative() {
                return Err(PracticeRejection::Invalid(format!("write-off threshold {amount} is negative")));
            }
            vec![PracticeEvent::WriteOffThresholdSet { amount: *amount }]
        }
        PracticeCommand::SetAppealWindow { days } => {
            if !(1..=3650).contains(days) {
                return Err(PracticeRejection::Invalid(format!("appeal window of {days} days is not 1 to 3650")));
            }
            vec![PracticeEvent::AppealWindowSet { days: *days }]
        }
        // Decided above: any biller or the ingestion actor may record them.
        PracticeCommand::RecordProviderAdjustment { .. }
        | PracticeCommand::RecordSuspense { .. }
        | PracticeCommand::ResolveSuspense { .. }
        | PracticeCommand::IssueStatement { .. }
        | PracticeCommand::SetPaymentPlan { .. }
        | PracticeCommand::RecordPatientPayment { .. } => Vec::new(),
    })
}

impl PracticeState {
    pub fn apply_envelope(&mut self, envelope: &EventEnvelope<PracticeEvent>) {
        if let Some(command_id) = envelope.command_id {
            self.applied_commands.insert(command_id);
        }
        self.apply(&envelope.event);
    }

    pub fn apply(&mut self, event: &PracticeEvent) {
        self.version += 1;
        match event {
            PracticeEvent::Configured { name } => self.name = Some(name.clone()),
            PracticeEvent::UserAdded { user, role } | PracticeEvent::RoleChanged { user, role } => {
                self.users.insert(*user, *role);
            }
            PracticeEvent::UserRemoved { user } => {
                self.users.remove(user);
            }
            PracticeEvent::WriteOffThresholdSet { amount } => self.write_off_threshold = *amount,
            PracticeEvent::AppealWindowSet { days } => self.appeal_window_days = *days,
            PracticeEvent::ProviderAdjustmentRecorded { entry } => self.provider_ledger.record(entry),
            PracticeEvent::SuspenseRecorded { item } => self.suspense.push(item.clone()),
            PracticeEvent::SuspenseResolved { item, resolution } => {
                if let Some(index) = self.suspense.iter().position(|entry| entry.id() == *item) {
                    let entry = self.suspense.remove(index);
                    self.resolved_suspense.push(ResolvedSuspense {
                        item: *item,
                        entry,
                        resolution: resolution.clone(),
                    });
                }
            }
            PracticeEvent::StatementIssued { statement } => self.statements.issue(statement),
            PracticeEvent::PaymentPlanSet { plan, at, by } => self.statements.set_plan(plan, *at, *by),
            PracticeEvent::PatientPaymentRecorded { statement, payment, by } => {
                self.statements.pay(*statement, payment, *by)
            }
        }
    }

    /// What claim decisions need from this practice, at `now`.
    pub fn decide_context(&self, now: DateTime<Utc>) -> DecideContext {
        DecideContext {
            now,
            write_off_threshold: self.write_off_threshold,
            appeal_window_days: self.appeal_window_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrgId;
    use uuid::Uuid;

    #[test]
    fn policies_fold_into_the_decide_context() {
        let admin =
            Actor::User { org: OrgId(Uuid::from_u128(1)), user: UserId(Uuid::from_u128(2)), role: Role::PracticeAdmin };
        let mut state = PracticeState::default();
        let command = PracticeCommand::SetWriteOffThreshold { amount: Decimal::from(250) };
        let events = decide_practice(&state, CommandId(Uuid::from_u128(1)), &command, &admin).unwrap();
        events.iter().for_each(|event| state.apply(event));
        let user = UserId(Uuid::from_u128(5));
        let add = PracticeCommand::AddUser { user, role: Role::CoderBiller };
        decide_practice(&state, CommandId(Uuid::from_u128(2)), &add, &admin)
            .unwrap()
            .iter()
            .for_each(|e| state.apply(e));
        assert!(matches!(
            decide_practice(&state, CommandId(Uuid::from_u128(3)), &add, &admin),
            Err(PracticeRejection::UserExists { .. })
        ));
        let context = state.decide_context(Utc::now());
        assert_eq!(context.write_off_threshold, Decimal::from(250));
        assert_eq!(context.appeal_window_days, DEFAULT_APPEAL_WINDOW_DAYS);
        let biller =
            Actor::User { org: OrgId(Uuid::from_u128(1)), user: UserId(Uuid::from_u128(2)), role: Role::CoderBiller };
        assert!(matches!(
            decide_practice(&state, CommandId(Uuid::from_u128(4)), &command, &biller),
            Err(PracticeRejection::Forbidden { .. })
        ));
        let negative = PracticeCommand::SetWriteOffThreshold { amount: Decimal::from(-1) };
        assert!(decide_practice(&state, CommandId(Uuid::from_u128(6)), &negative, &admin).is_err());
    }

    #[test]
    fn plb_entries_and_suspense_are_recorded_once_by_ingestion_and_billers() {
        use crate::remit_ledger::SuspenseSource;
        use crate::Money;
        let org = OrgId(Uuid::from_u128(1));
        let ingestion = Actor::System { org, component: SystemComponent::Ingestion };
        let entry = ProviderAdjustment {
            payer: "87726".into(),
            trace_number: "T1".into(),
            provider_id: "1234567893".into(),
            reason_code: "WO".into(),
            reference: Some("R1".into()),
            amount: Money::usd(Decimal::new(1250, 2)),
            posted_on: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        };
        let mut state = PracticeState::default();
        let record = PracticeCommand::RecordProviderAdjustment { entry: Box::new(entry.clone()) };
        let id = entry.command_id(0);
        assert_ne!(id, entry.command_id(1), "identical entries of one 835 stay apart");
        for _ in 0..2 {
            let events = decide_practice(&state, id, &record, &ingestion).unwrap();
            for event in events {
                state.apply_envelope(&EventEnvelope::new(
                    crate::envelope::EntityRef { org, kind: crate::envelope::EntityKind::Practice, id: org.0 },
                    state.version + 1,
                    Utc::now(),
                    ingestion.clone(),
                    Some(id),
                    event,
                ));
            }
        }
        assert_eq!(state.provider_ledger.entries, 1);
        assert_eq!(state.provider_ledger.by_reason.get("WO"), Some(&Decimal::new(1250, 2)));
        let item = SuspenseEntry {
            source: SuspenseSource::Remittance835,
            payer: None,
            reference: "T1".into(),
            patient_control_number: Some("PCN9".into()),
            payer_claim_control_number: None,
            claim_id: None,
            amount: Some(Money::usd(Decimal::new(100, 0))),
            reason: "no claim with patient control number PCN9".into(),
        };
        let suspend = PracticeCommand::RecordSuspense { item: Box::new(item.clone()) };
        let patient = Actor::Patient {
            org,
            user: UserId(Uuid::from_u128(8)),
            patient: crate::ids::PatientId(Uuid::from_u128(9)),
        };
        assert!(matches!(
            decide_practice(&state, item.command_id(0), &suspend, &patient),
            Err(PracticeRejection::Forbidden { .. })
        ));
        let biller = Actor::User { org, user: UserId(Uuid::from_u128(2)), role: Role::CoderBiller };
        let events = decide_practice(&state, item.command_id(0), &suspend, &biller).unwrap();
        events.iter().for_each(|event| state.apply(event));
        assert_eq!(state.suspense, vec![item]);
    }

    fn suspense_item(reference: &str) -> SuspenseEntry {
        SuspenseEntry {
            source: crate::remit_ledger::SuspenseSource::Remittance835,
            payer: Some("87726".into()),
            reference: reference.into(),
            patient_control_number: Some("PCN9".into()),
            payer_claim_control_number: None,
            claim_id: None,
            amount: Some(crate::Money::usd(Decimal::new(100, 0))),
            reason: "no claim with patient control number PCN9".into(),
        }
    }

    #[test]
    fn suspense_items_are_resolved_once_by_the_roles_allowed() {
        let org = OrgId(Uuid::from_u128(1));
        let user = |role| Actor::User { org, user: UserId(Uuid::from_u128(2)), role };
        let (biller, manager, front_desk) =
            (user(Role::CoderBiller), user(Role::BillingManager), user(Role::FrontDesk));
        let mut state = PracticeState::default();
        // Two identical items (one 835 paid twice the same way) and another.
        let (twin, other) = (suspense_item("T1"), suspense_item("T2"));
        for entry in [&twin, &twin, &other] {
            state.apply(&PracticeEvent::SuspenseRecorded { item: entry.clone() });
        }
        let claim_id = ClaimId(Uuid::from_u128(7));
        let post =
            |item| PracticeCommand::ResolveSuspense { item, resolution: SuspenseResolution::Posted { claim_id } };
        let dismiss = |item, reason: &str| PracticeCommand::ResolveSuspense {
            item,
            resolution: SuspenseResolution::Dismissed { reason: reason.into() },
        };
        let forbidden = |result| matches!(result, Err(PracticeRejection::Forbidden { .. }));
        assert!(forbidden(decide_practice(&state, CommandId::new_v4(), &post(twin.id()), &front_desk)));
        assert!(forbidden(decide_practice(&state, CommandId::new_v4(), &dismiss(other.id(), "dup"), &biller)));
        assert!(matches!(
            decide_practice(&state, CommandId::new_v4(), &dismiss(other.id(), " "), &manager),
            Err(PracticeRejection::Invalid(_))
        ));
        for _ in 0..2 {
            let events = decide_practice(&state, CommandId::new_v4(), &post(twin.id()), &biller).unwrap();
            events.iter().for_each(|event| state.apply(event));
        }
        let events =
            decide_practice(&state, CommandId::new_v4(), &dismiss(other.id(), "returned to payer"), &manager).unwrap();
        events.iter().for_each(|event| state.apply(event));
        assert!(state.suspense.is_empty());
        assert_eq!(state.resolved_suspense.len(), 3);
        assert_eq!(state.resolved_suspense[0].resolution, SuspenseResolution::Posted { claim_id });
        // Nothing open under that id any more: a third resolve is refused, nothing changes.
        let again = decide_practice(&state, CommandId::new_v4(), &post(twin.id()), &biller);
        assert_eq!(again, Err(PracticeRejection::UnknownSuspense { item: twin.id() }));
    }
}
