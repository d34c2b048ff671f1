//! The audit columns every seed entity carries.

use crate::ids::UserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditColumns {
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_by: UserId,
    pub updated_at: DateTime<Utc>,
}

impl AuditColumns {
    pub fn created(by: UserId, at: DateTime<Utc>) -> Self {
        Self { created_by: by, created_at: at, updated_by: by, updated_at: at }
    }

    pub fn touch(&mut self, by: UserId, at: DateTime<Utc>) {
        self.updated_by = by;
        self.updated_at = at;
    }
}
