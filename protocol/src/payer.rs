//! A payer as an event-sourced entity: its contract (fee schedule per procedure code), its
//! rules, and the adjudication statistics the modules learn from. Pure state and events; the
//! `PayerActor` in `practice-actors` drives it.

use crate::codes::ProcedureCode;
use crate::envelope::EventEnvelope;
use crate::ids::{ClaimId, CommandId, PayerId};
use crate::money::Money;
use crate::roles::{Actor, Role, SystemComponent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A payer rule the scrubber applies (its engine arrives with Sentry OS).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerRule {
    /// Stable code, e.g. "PRIOR-AUTH-97110".
    pub code: String,
    pub description: String,
    /// Procedure codes the rule applies to; empty means every code.
    pub procedures: Vec<ProcedureCode>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjudicationStatistics {
    pub claims_adjudicated: u64,
    pub denials: u64,
    pub paid_total: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayerCommand {
    Register {
        payer_id: PayerId,
        name: String,
    },
    SetContractRate {
        procedure: ProcedureCode,
        rate: Money,
    },
    RemoveContractRate {
        procedure: ProcedureCode,
    },
    UpsertRule {
        rule: PayerRule,
    },
    RetireRule {
        code: String,
    },
    /// One claim's adjudication by this payer (from a posted 835 or a denial).
    RecordAdjudication {
        claim: ClaimId,
        paid: Money,
        denied: bool,
    },
}

impl PayerCommand {
    pub fn name(&self) -> &'static str {
        match self {
            PayerCommand::Register { .. } => "register",
            PayerCommand::SetContractRate { .. } => "set_contract_rate",
            PayerCommand::RemoveContractRate { .. } => "remove_contract_rate",
            PayerCommand::UpsertRule { .. } => "upsert_rule",
            PayerCommand::RetireRule { .. } => "retire_rule",
            PayerCommand::RecordAdjudication { .. } => "record_adjudication",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayerEvent {
    Registered { payer_id: PayerId, name: String },
    ContractRateSet { procedure: ProcedureCode, rate: Money },
    ContractRateRemoved { procedure: ProcedureCode },
    RuleUpserted { rule: PayerRule },
    RuleRetired { code: String },
    AdjudicationRecorded { claim: ClaimId, paid: Money, denied: bool },
}

impl PayerEvent {
    pub fn name(&self) -> &'static str {
        match self {
            PayerEvent::Registered { .. } => "PayerRegistered",
            PayerEvent::ContractRateSet { .. } => "PayerContractRateSet",
            PayerEvent::ContractRateRemoved { .. } => "PayerContractRateRemoved",
            PayerEvent::RuleUpserted { .. } => "PayerRuleUpserted",
            PayerEvent::RuleRetired { .. } => "PayerRuleRetired",
            PayerEvent::AdjudicationRecorded { .. } => "PayerAdjudicationRecorded",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum PayerRejection {
    #[error("{command} needs a billing manager (level 70) or the ingestion component")]
    Forbidden { command: String },
    #[error("the payer is not registered")]
    NotRegistered,
    #[error("the payer is already registered")]
    AlreadyRegistered,
    #[error("no rule {code}")]
    UnknownRule { code: String },
    #[error("invalid: {0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerState {
    pub payer_id: Option<PayerId>,
    pub name: Option<String>,
    /// The contracted rate per procedure code.
    pub fee_schedule: BTreeMap<ProcedureCode, Money>,
    pub rules: BTreeMap<String, PayerRule>,
    pub statistics: AdjudicationStatistics,
    pub applied_commands: BTreeSet<CommandId>,
    pub version: u64,
}

fn may_edit_contract(actor: &Actor) -> bool {
    match actor {
        Actor::User { role, .. } => role.level() >= Role::BillingManager.level(),
        Actor::System { component, .. } => *component == SystemComponent::Operator,
        Actor::Patient { .. } => false,
    }
}

fn may_record(actor: &Actor) -> bool {
    match actor {
        Actor::User { role, .. } => role.level() >= Role::CoderBiller.level(),
        Actor::System { .. } => true,
        Actor::Patient { .. } => false,
    }
}

/// Validate a payer command. A command id already applied yields no events (G3).
pub fn decide_payer(
    state: &PayerState,
    command_id: CommandId,
    command: &PayerCommand,
    actor: &Actor,
) -> Result<Vec<PayerEvent>, PayerRejection> {
    if state.applied_commands.contains(&command_id) {
        return Ok(Vec::new());
    }
    let allowed = match command {
        PayerCommand::RecordAdjudication { .. } => may_record(actor),
        _ => may_edit_contract(actor),
    };
    if !allowed {
        return Err(PayerRejection::Forbidden { command: command.name().to_string() });
    }
    if let PayerCommand::Register { payer_id, name } = command {
        if state.payer_id.is_some() {
            return Err(PayerRejection::AlreadyRegistered);
        }
        if name.trim().is_empty() {
            return Err(PayerRejection::Invalid("name must not be empty".into()));
        }
        return Ok(vec![PayerEvent::Registered { payer_id: payer_id.clone(), name: name.clone() }]);
    }
    if state.payer_id.is_none() {
        return Err(PayerRejection::NotRegistered);
    }
    Ok(match command {
        PayerCommand::Register { .. } => return Err(PayerRejection::AlreadyRegistered),
        PayerCommand::SetContractRate { procedure, rate } => {
            if rate.is_negative() {
                return Err(PayerRejection::Invalid(format!("rate for {procedure} is negative")));
            }
            if state.fee_schedule.get(procedure) == Some(rate) {
                Vec::new()
            } else {
                vec![PayerEvent::ContractRateSet { procedure: procedure.clone(), rate: *rate }]
            }
        }
        PayerCommand::RemoveContractRate { procedure } => {
            if state.fee_schedule.contains_key(procedure) {
                vec![PayerEvent::ContractRateRemoved { procedure: procedure.clone() }]
            } else {
                Vec::new()
            }
        }
        PayerCommand::UpsertRule { rule } => {
            if rule.code.trim().is_empty() {
                return Err(PayerRejection::Invalid("rule code must not be empty".into()));
            }
            vec![PayerEvent::RuleUpserted { rule: rule.clone() }]
        }
        PayerCommand::RetireRule { code } => {
            if !state.rules.contains_key(code) {
                return Err(PayerRejection::UnknownRule { code: code.clone() });
            }
            vec![PayerEvent::RuleRetired { code: code.clone() }]
        }
        PayerCommand::RecordAdjudication { claim, paid, denied } => {
            vec![PayerEvent::AdjudicationRecorded { claim: *claim, paid: *paid, denied: *denied }]
        }
    })
}

impl PayerState {
    pub fn apply_envelope(&mut self, envelope: &EventEnvelope<PayerEvent>) {
        if let Some(command_id) = envelope.command_id {
            self.applied_commands.insert(command_id);
        }
        self.apply(&envelope.event);
    }

    pub fn apply(&mut self, event: &PayerEvent) {
        self.version += 1;
        match event {
            PayerEvent::Registered { payer_id, name } => {
                self.payer_id = Some(payer_id.clone());
                self.name = Some(name.clone());
            }
            PayerEvent::ContractRateSet { procedure, rate } => {
                self.fee_schedule.insert(procedure.clone(), *rate);
            }
            PayerEvent::ContractRateRemoved { procedure } => {
                self.fee_schedule.remove(procedure);
            }
            PayerEvent::RuleUpserted { rule } => {
                self.rules.insert(rule.code.clone(), rule.clone());
            }
            PayerEvent::RuleRetired { code } => {
                self.rules.remove(code);
            }
            PayerEvent::AdjudicationRecorded { paid, denied, .. } => {
                self.statistics.claims_adjudicated += 1;
                if *denied {
                    self.statistics.denials += 1;
                }
                self.statistics.paid_total += paid.amount;
            }
        }
    }

    /// The contracted rate for a procedure, if the contract names one.
    pub fn contracted_rate(&self, procedure: &ProcedureCode) -> Option<Money> {
        self.fee_schedule.get(procedure).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OrgId, UserId};
    use uuid::Uuid;

    fn manager() -> Actor {
        Actor::User { org: OrgId(Uuid::from_u128(1)), user: UserId(Uuid::from_u128(2)), role: Role::BillingManager }
    }

    fn run(state: &mut PayerState, id: u128, command: PayerCommand, actor: &Actor) -> Result<usize, PayerRejection> {
        let command_id = CommandId(Uuid::from_u128(id));
        let events = decide_payer(state, command_id, &command, actor)?;
        for event in &events {
            state.apply(event);
        }
        state.applied_commands.insert(command_id);
        Ok(events.len())
    }

    #[test]
    fn contract_rates_and_statistics_fold() {
        let mut state = PayerState::default();
        let actor = manager();
        let cpt = ProcedureCode::parse("99213").unwrap();
        let set = PayerCommand::SetContractRate { procedure: cpt.clone(), rate: Money::usd(Decimal::new(9250, 2)) };
        assert_eq!(run(&mut state, 1, set.clone(), &actor), Err(PayerRejection::NotRegistered));
        let register =
            PayerCommand::Register { payer_id: PayerId::parse("87726").unwrap(), name: "Acme Health".into() };
        assert_eq!(run(&mut state, 2, register, &actor), Ok(1));
        assert_eq!(run(&mut state, 3, set.clone(), &actor), Ok(1));
        // The same command id again: no second effect (G3); the same rate again: nothing new.
        assert_eq!(run(&mut state, 3, set.clone(), &actor), Ok(0));
        assert_eq!(run(&mut state, 4, set, &actor), Ok(0));
        assert_eq!(state.contracted_rate(&cpt), Some(Money::usd(Decimal::new(9250, 2))));
        let record = PayerCommand::RecordAdjudication {
            claim: ClaimId(Uuid::from_u128(9)),
            paid: Money::usd(Decimal::new(8000, 2)),
            denied: false,
        };
        assert_eq!(run(&mut state, 5, record, &actor), Ok(1));
        assert_eq!(state.statistics.paid_total, Decimal::new(8000, 2));
        assert_eq!(state.version, 3);
    }

    #[test]
    fn only_managers_edit_the_contract() {
        let biller =
            Actor::User { org: OrgId(Uuid::from_u128(1)), user: UserId(Uuid::from_u128(2)), role: Role::CoderBiller };
        let register = PayerCommand::Register { payer_id: PayerId::parse("87726").unwrap(), name: "Acme".into() };
        let refused = decide_payer(&PayerState::default(), CommandId(Uuid::from_u128(1)), &register, &biller);
        assert!(matches!(refused, Err(PayerRejection::Forbidden { .. })));
    }
}
