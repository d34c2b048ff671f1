//! The load driver: push `claims` synthetic claims (the backbone's journeys: create, sign off,
//! scrub, submit, accept, post the remittance, sometimes write off) through a running cluster,
//! many claims at a time, each claim's commands in order, and report what happened.

use super::wire::{send_command, CommandReply, SendError};
use futures::StreamExt;
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::Outcome;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct LoadPlan {
    pub seed: u64,
    /// Claims `first..first + claims`.
    pub first: u64,
    pub claims: u64,
    /// Claims in flight at once.
    pub concurrency: usize,
    pub shard_count: u16,
    /// Per-command deadline, retries included.
    pub deadline: Duration,
    /// Send every command twice (G3: one effect).
    pub duplicate: bool,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LoadReport {
    pub claims: u64,
    pub commands: u64,
    pub accepted: u64,
    /// Accepted with no new event: the command had been applied before.
    pub already_applied: u64,
    /// Events the accepted commands appended: what the journal must hold afterwards.
    pub events_appended: u64,
    pub rejected: u64,
    pub failed: u64,
    pub elapsed_ms: u64,
    pub commands_per_second: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The first few failures, for diagnosis.
    pub errors: Vec<String>,
}

struct ClaimOutcome {
    latencies: Vec<Duration>,
    accepted: u64,
    events_appended: u64,
    already_applied: u64,
    rejected: u64,
    failed: u64,
    errors: Vec<String>,
}

async fn drive_claim(client: &async_nats::Client, plan: &LoadPlan, index: u64) -> ClaimOutcome {
    let mut outcome = ClaimOutcome {
        latencies: Vec::new(),
        accepted: 0,
        events_appended: 0,
        already_applied: 0,
        rejected: 0,
        failed: 0,
        errors: Vec::new(),
    };
    let sends = if plan.duplicate { 2 } else { 1 };
    for envelope in claim_journey(load_org(plan.seed), index) {
        let step = envelope.command.name();
        for _ in 0..sends {
            let started = Instant::now();
            match send_command(client, plan.shard_count, &envelope, plan.deadline).await {
                Ok(CommandReply::Done(Outcome::Accepted { events_appended: 0, .. })) => outcome.already_applied += 1,
                Ok(CommandReply::Done(Outcome::Accepted { events_appended, .. })) => {
                    outcome.accepted += 1;
                    outcome.events_appended += events_appended as u64;
                }
                Ok(CommandReply::Done(Outcome::Rejected { rejection, .. })) => {
                    outcome.rejected += 1;
                    outcome.errors.push(format!("claim {index} {step}: {rejection}"));
                }
                Ok(CommandReply::Refused { reason } | CommandReply::Unavailable { reason })
                | Err(SendError::Decode(reason)) => {
                    outcome.failed += 1;
                    outcome.errors.push(format!("claim {index} {step}: {reason}"));
                }
                Err(error) => {
                    outcome.failed += 1;
                    outcome.errors.push(format!("claim {index} {step}: {error}"));
                }
            }
            outcome.latencies.push(started.elapsed());
        }
        if outcome.failed > 0 || outcome.rejected > 0 {
            break;
        }
    }
    outcome
}

/// Run the plan; never fails as a whole, failures are counted in the report.
pub async fn run_load(client: &async_nats::Client, plan: &LoadPlan) -> LoadReport {
    let started = Instant::now();
    let mut report = LoadReport { claims: plan.claims, ..Default::default() };
    let mut latencies = Vec::new();
    let mut outcomes = futures::stream::iter(plan.first..plan.first + plan.claims)
        .map(|index| drive_claim(client, plan, index))
        .buffer_unordered(plan.concurrency.max(1));
    while let Some(outcome) = outcomes.next().await {
        report.accepted += outcome.accepted;
        report.events_appended += outcome.events_appended;
        report.already_applied += outcome.already_applied;
        report.rejected += outcome.rejected;
        report.failed += outcome.failed;
        if report.errors.len() < 10 {
            report.errors.extend(outcome.errors.into_iter().take(10 - report.errors.len()));
        }
        latencies.extend(outcome.latencies);
    }
    report.commands = latencies.len() as u64;
    let elapsed = started.elapsed();
    report.elapsed_ms = elapsed.as_millis() as u64;
    report.commands_per_second = rate(report.commands, elapsed);
    latencies.sort();
    report.p50_us = percentile_us(&latencies, 50);
    report.p99_us = percentile_us(&latencies, 99);
    report
}

/// The `p`th percentile of `sorted` latencies in microseconds (0 for none).
pub fn percentile_us(sorted: &[Duration], p: usize) -> u64 {
    sorted.get(sorted.len().saturating_sub(1) * p / 100).map_or(0, |latency| latency.as_micros() as u64)
}

/// `count` per second over `elapsed`, in integers (no floats in this codebase).
pub fn rate(count: u64, elapsed: Duration) -> u64 {
    let micros = elapsed.as_micros().max(1);
    (u128::from(count) * 1_000_000 / micros) as u64
}
