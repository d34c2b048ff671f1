//! Typed identifiers: one newtype over `Uuid` per entity, so a claim id can never be passed
//! where a patient id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new_v4() -> Self {
                Self(Uuid::new_v4())
            }

            /// An id derived from content (UUIDv5 in the Practice OS namespace), so the same
            /// input always names the same entity.
            pub fn derived(parts: &[&[u8]]) -> Self {
                Self(crate::ids::derive_uuid(stringify!($name), parts))
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    };
}

uuid_id!(
    /// The tenant: every entity, subject and query carries one.
    OrgId
);
uuid_id!(ClaimId);
uuid_id!(ClaimLineId);
uuid_id!(PatientId);
uuid_id!(EncounterId);
uuid_id!(
    /// A rendering, referring or billing provider.
    ProviderId
);
uuid_id!(UserId);
uuid_id!(PaymentId);
uuid_id!(DenialId);
uuid_id!(StatementId);
uuid_id!(PaymentPlanId);
uuid_id!(InstallmentId);
uuid_id!(PayerOptimizationConfigId);
uuid_id!(PayerRuleId);
uuid_id!(SuggestionId);
uuid_id!(OptimizationAuditEntryId);
uuid_id!(
    /// An event's own id; derived from (entity, sequence) so a re-append is recognisable.
    EventId
);
uuid_id!(
    /// A command's id. Derived from content by the sender (file hash, ERA trace number,
    /// claim id + line) so a redelivered command is recognised (G3).
    CommandId
);

/// The namespace every derived id lives under (a fixed random UUID).
const PRACTICE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b7e_94d3_4f0a_8c55_1d2e_3f4a_5b6c);

pub(crate) fn derive_uuid(kind: &str, parts: &[&[u8]]) -> Uuid {
    let mut material = Vec::with_capacity(64);
    material.extend_from_slice(kind.as_bytes());
    for part in parts {
        // Length-prefix each part so ("ab","c") and ("a","bc") differ.
        material.extend_from_slice(&(part.len() as u64).to_be_bytes());
        material.extend_from_slice(part);
    }
    Uuid::new_v5(&PRACTICE_NAMESPACE, &material)
}

/// A payer's identifier as the clearinghouse knows it (NM109 of loop 2010BB), up to 50 characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct PayerId(compact_str::CompactString);

impl PayerId {
    pub fn parse(value: &str) -> Result<Self, crate::ValidationError> {
        let trimmed = value.trim();
        if trimmed.is_empty() || trimmed.len() > 50 || !trimmed.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err(crate::ValidationError::new(
                "payer_id",
                crate::ValidationKind::malformed("1 to 50 printable ASCII characters", value),
            ));
        }
        Ok(Self(trimmed.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PayerId {
    type Error = crate::ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PayerId> for String {
    fn from(value: PayerId) -> Self {
        value.0.into_string()
    }
}

impl fmt::Display for PayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_length_prefixed() {
        let a = ClaimId::derived(&[b"ab", b"c"]);
        let b = ClaimId::derived(&[b"a", b"bc"]);
        assert_ne!(a, b);
        assert_eq!(a, ClaimId::derived(&[b"ab", b"c"]));
        // The kind is part of the material: the same parts name different entities.
        assert_ne!(a.0, PatientId::derived(&[b"ab", b"c"]).0);
    }

    #[test]
    fn payer_id_rejects_empty_and_long() {
        assert!(PayerId::parse("").is_err());
        assert!(PayerId::parse(&"X".repeat(51)).is_err());
        assert_eq!(PayerId::parse(" 87726 ").unwrap().as_str(), "87726");
    }
}
