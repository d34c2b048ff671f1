//! Reports: AR aging (0–30, 31–60, 61–90, 91–120, 120+ days), denials by category and root
//! cause, open balances by payer. The arithmetic is pure (`aging_of`, `denials_of`,
//! `open_balances_of`) over claim snapshots; the handlers only fetch and authorize.

use super::error::ApiError;
use super::json::reply;
use super::service::{ClaimFilter, ClaimSnapshot};
use super::AppState;
use crate::auth::rbac::Entity;
use crate::auth::Caller;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

pub const AGING_BUCKETS: [&str; 5] = ["0-30", "31-60", "61-90", "91-120", "120+"];

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Bucket {
    pub bucket: &'static str,
    pub claims: usize,
    #[serde(with = "rust_decimal::serde::str")]
    pub open_balance: Decimal,
}

pub fn bucket_of(age_days: i64) -> usize {
    match age_days {
        ..=30 => 0,
        31..=60 => 1,
        61..=90 => 2,
        91..=120 => 3,
        _ => 4,
    }
}

/// Open balances by age bucket. Claims with nothing open (paid, written off, voided) are out.
pub fn aging_of(snapshots: &[ClaimSnapshot], now: DateTime<Utc>) -> Vec<Bucket> {
    let mut buckets: Vec<Bucket> =
        AGING_BUCKETS.iter().map(|name| Bucket { bucket: name, ..Bucket::default() }).collect();
    for snapshot in snapshots {
        let Some(open) = open_balance(snapshot) else { continue };
        let bucket = &mut buckets[bucket_of((now - snapshot.created_at).num_days())];
        bucket.claims += 1;
        bucket.open_balance += open;
    }
    buckets
}

fn open_balance(snapshot: &ClaimSnapshot) -> Option<Decimal> {
    let status = snapshot.state.status?;
    if status == practice_protocol::claim::ClaimStatus::Voided {
        return None;
    }
    let open = snapshot.state.ledger.as_ref()?.open_balance();
    (open > Decimal::ZERO).then_some(open)
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DenialCount {
    pub key: String,
    pub denials: usize,
}

/// Denials counted by category and by root cause.
pub fn denials_of(snapshots: &[ClaimSnapshot]) -> (Vec<DenialCount>, Vec<DenialCount>) {
    let mut by_category: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_root_cause: BTreeMap<String, usize> = BTreeMap::new();
    for notice in snapshots.iter().flat_map(|snapshot| snapshot.state.denials.iter()) {
        *by_category.entry(format!("{:?}", notice.category)).or_default() += 1;
        let cause = notice.root_cause.map(|cause| format!("{cause:?}")).unwrap_or_else(|| "Unknown".to_string());
        *by_root_cause.entry(cause).or_default() += 1;
    }
    let list =
        |map: BTreeMap<String, usize>| map.into_iter().map(|(key, denials)| DenialCount { key, denials }).collect();
    (list(by_category), list(by_root_cause))
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PayerBalance {
    pub payer_id: String,
    pub claims: usize,
    #[serde(with = "rust_decimal::serde::str")]
    pub open_balance: Decimal,
}

pub fn open_balances_of(snapshots: &[ClaimSnapshot]) -> Vec<PayerBalance> {
    let mut by_payer: BTreeMap<String, PayerBalance> = BTreeMap::new();
    for snapshot in snapshots {
        let Some(open) = open_balance(snapshot) else { continue };
        let payer = snapshot
            .state
            .claim
            .as_ref()
            .and_then(|claim| claim.coverage())
            .map(|coverage| coverage.payer.payer_id.to_string())
            .unwrap_or_default();
        let entry =
            by_payer.entry(payer.clone()).or_insert_with(|| PayerBalance { payer_id: payer, ..Default::default() });
        entry.claims += 1;
        entry.open_balance += open;
    }
    by_payer.into_values().collect()
}

async fn snapshots(state: &AppState, caller: &Caller) -> Result<Vec<ClaimSnapshot>, ApiError> {
    caller.read(Entity::Report)?;
    Ok(state.service.list(caller.org(), ClaimFilter { limit: None, ..ClaimFilter::default() }).await?)
}

pub async fn aging(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let snapshots = snapshots(&state, &caller).await?;
    Ok(reply(StatusCode::OK, &serde_json::json!({ "buckets": aging_of(&snapshots, Utc::now()) })))
}

pub async fn denials(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let snapshots = snapshots(&state, &caller).await?;
    let (by_category, by_root_cause) = denials_of(&snapshots);
    Ok(reply(StatusCode::OK, &serde_json::json!({ "by_category": by_category, "by_root_cause": by_root_cause })))
}

pub async fn open_balances(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let snapshots = snapshots(&state, &caller).await?;
    Ok(reply(StatusCode::OK, &serde_json::json!({ "payers": open_balances_of(&snapshots) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_have_inclusive_upper_edges() {
        assert_eq!([0, 30, 31, 60, 61, 90, 91, 120, 121, 900].map(bucket_of), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    }
}
