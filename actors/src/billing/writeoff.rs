//! Write-off approval: a table of amount bands, each naming the minimum role that may write
//! off a balance of that size. The default mirrors the claim state machine's threshold: a
//! billing manager up to $500.00, a practice admin above it.

use super::BillingError;
use practice_protocol::claim::Permission;
use practice_protocol::roles::{Actor, Role};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Balances up to and including `up_to` (no limit when absent) need at least `min_role`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteOffBand {
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub up_to: Option<Decimal>,
    pub min_role: Role,
}

/// The practice's write-off policy: bands in ascending order, the last one unbounded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WriteOffPolicy {
    bands: Vec<WriteOffBand>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOffApproval {
    pub amount: Decimal,
    pub required: Role,
    pub approved_by: Role,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteOffRefusal {
    #[error("a write-off must be greater than zero, found {amount}")]
    NotPositive { amount: Decimal },
    #[error("{actor} may not write off balances at all")]
    NoPermission { actor: String },
    #[error("writing off {amount} needs {required} or above; {actor} is not enough")]
    NeedsHigherRole { amount: Decimal, required: Role, actor: String },
}

impl Default for WriteOffPolicy {
    fn default() -> Self {
        WriteOffPolicy {
            bands: vec![
                WriteOffBand { up_to: Some(Decimal::from(500)), min_role: Role::BillingManager },
                WriteOffBand { up_to: None, min_role: Role::PracticeAdmin },
            ],
        }
    }
}

impl WriteOffPolicy {
    /// Validate a band table: at least one band, `up_to` strictly ascending and positive,
    /// only the last band unbounded, roles never decreasing as amounts grow, and every role
    /// one that holds the write-off permission.
    pub fn new(bands: Vec<WriteOffBand>) -> Result<WriteOffPolicy, BillingError> {
        let invalid = |index: usize, field: &str, message: String| BillingError::Invalid {
            field: format!("bands[{index}].{field}"),
            message,
        };
        if bands.is_empty() {
            return Err(BillingError::Invalid {
                field: "bands".into(),
                message: "at least one band is required".into(),
            });
        }
        let last = bands.len() - 1;
        for (index, band) in bands.iter().enumerate() {
            match (band.up_to, index == last) {
                (Some(_), true) => {
                    return Err(invalid(index, "up_to", "the last band must have no upper limit".into()))
                }
                (None, false) => return Err(invalid(index, "up_to", "only the last band may be unbounded".into())),
                (Some(limit), false) if limit <= Decimal::ZERO => {
                    return Err(invalid(index, "up_to", format!("must be greater than zero, found {limit}")))
                }
                _ => {}
            }
            if !Permission::WriteOff.roles().contains(&band.min_role) {
                return Err(invalid(
                    index,
                    "min_role",
                    format!(
                        "{} cannot write off balances; use one of {:?}",
                        band.min_role,
                        Permission::WriteOff.roles()
                    ),
                ));
            }
            if index > 0 {
                let previous = &bands[index - 1];
                if let (Some(before), Some(now)) = (previous.up_to, band.up_to) {
                    if now <= before {
                        return Err(invalid(index, "up_to", format!("must exceed the previous band's {before}")));
                    }
                }
                if band.min_role.level() < previous.min_role.level() {
                    return Err(invalid(index, "min_role", "a larger amount cannot need a lower role".into()));
                }
            }
        }
        Ok(WriteOffPolicy { bands })
    }

    /// Read a band table from JSON: `[{"up_to": "500.00", "min_role": "billing_manager"}, {"min_role": "practice_admin"}]`.
    pub fn from_json(text: &str) -> Result<WriteOffPolicy, BillingError> {
        let bands: Vec<WriteOffBand> = serde_json::from_str(text)
            .map_err(|error| BillingError::Invalid { field: "bands".into(), message: error.to_string() })?;
        WriteOffPolicy::new(bands)
    }

    pub fn bands(&self) -> &[WriteOffBand] {
        &self.bands
    }

    /// The least role that may write off `amount`.
    pub fn required_role(&self, amount: Decimal) -> Role {
        self.bands
            .iter()
            .find(|band| band.up_to.is_none_or(|limit| amount <= limit))
            .or(self.bands.last())
            .map(|band| band.min_role)
            .unwrap_or(Role::PracticeAdmin)
    }

    /// The largest amount `role` may write off alone (None: no limit; zero: nothing). Feeds
    /// `DecideContext::write_off_threshold` for a billing manager.
    pub fn limit_for(&self, role: Role) -> Option<Decimal> {
        let mut limit = Some(Decimal::ZERO);
        for band in &self.bands {
            if role.level() >= band.min_role.level() {
                limit = band.up_to;
            } else {
                break;
            }
        }
        limit
    }

    /// May `actor` write off `amount`?
    pub fn check(&self, amount: Decimal, actor: &Actor) -> Result<WriteOffApproval, WriteOffRefusal> {
        if amount <= Decimal::ZERO {
            return Err(WriteOffRefusal::NotPositive { amount });
        }
        let Some(role) = actor.role().filter(|role| Permission::WriteOff.roles().contains(role)) else {
            let actor = actor.role().map(|role| role.to_string()).unwrap_or_else(|| "a system component".into());
            return Err(WriteOffRefusal::NoPermission { actor });
        };
        let required = self.required_role(amount);
        if role.level() < required.level() {
            return Err(WriteOffRefusal::NeedsHigherRole { amount, required, actor: role.to_string() });
        }
        Ok(WriteOffApproval { amount, required, approved_by: role })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::ids::{OrgId, UserId};
    use practice_protocol::roles::SystemComponent;
    use rust_decimal_macros::dec;

    fn user(role: Role) -> Actor {
        Actor::User { org: OrgId::derived(&[b"o"]), user: UserId::derived(&[b"u"]), role }
    }

    #[test]
    fn default_policy_bands() {
        let policy = WriteOffPolicy::default();
        assert_eq!(policy.check(dec!(500.00), &user(Role::BillingManager)).unwrap().required, Role::BillingManager);
        assert!(matches!(
            policy.check(dec!(500.01), &user(Role::BillingManager)),
            Err(WriteOffRefusal::NeedsHigherRole { required: Role::PracticeAdmin, .. })
        ));
        assert_eq!(policy.check(dec!(90000), &user(Role::PracticeAdmin)).unwrap().approved_by, Role::PracticeAdmin);
        assert_eq!(policy.limit_for(Role::BillingManager), Some(dec!(500)));
        assert_eq!(policy.limit_for(Role::PracticeAdmin), None);
        assert_eq!(policy.limit_for(Role::FrontDesk), Some(dec!(0)));
    }

    #[test]
    fn front_desk_coders_and_systems_cannot_write_off() {
        let policy = WriteOffPolicy::default();
        for role in [Role::FrontDesk, Role::CoderBiller, Role::Clinician, Role::ComplianceOfficer] {
            assert!(matches!(policy.check(dec!(1), &user(role)), Err(WriteOffRefusal::NoPermission { .. })), "{role}");
        }
        let system = Actor::System { org: OrgId::derived(&[b"o"]), component: SystemComponent::Module };
        assert!(matches!(policy.check(dec!(1), &system), Err(WriteOffRefusal::NoPermission { .. })));
        assert!(matches!(policy.check(dec!(0), &user(Role::PracticeAdmin)), Err(WriteOffRefusal::NotPositive { .. })));
    }

    #[test]
    fn configurable_from_json_with_validation() {
        let policy = WriteOffPolicy::from_json(
            r#"[{"up_to":"50.00","min_role":"billing_manager"},{"up_to":"2000","min_role":"practice_admin"},{"min_role":"practice_admin"}]"#,
        )
        .unwrap();
        assert_eq!(policy.required_role(dec!(50)), Role::BillingManager);
        assert_eq!(policy.required_role(dec!(50.01)), Role::PracticeAdmin);
        let field = |json: &str| match WriteOffPolicy::from_json(json) {
            Err(BillingError::Invalid { field, .. }) => field,
            other => panic!("{json}: {other:?}"),
        };
        assert_eq!(field("[]"), "bands");
        assert_eq!(field(r#"[{"up_to":"5","min_role":"billing_manager"}]"#), "bands[0].up_to");
        assert_eq!(field(r#"[{"min_role":"billing_manager"},{"min_role":"practice_admin"}]"#), "bands[0].up_to");
        assert_eq!(
            field(r#"[{"up_to":"5","min_role":"front_desk"},{"min_role":"practice_admin"}]"#),
            "bands[0].min_role"
        );
        assert_eq!(
            field(r#"[{"up_to":"5","min_role":"practice_admin"},{"min_role":"billing_manager"}]"#),
            "bands[1].min_role"
        );
        assert_eq!(
            field(
                r#"[{"up_to":"5","min_role":"billing_manager"},{"up_to":"5","min_role":"billing_manager"},{"min_role":"practice_admin"}]"#
            ),
            "bands[1].up_to"
        );
        assert_eq!(
            field(r#"[{"up_to":"-5","min_role":"billing_manager"},{"min_role":"practice_admin"}]"#),
            "bands[0].up_to"
        );
        assert_eq!(field(r#"[{"min_role":"practice_admin","colour":1}]"#), "bands");
    }
}
