//! Open-loop paced runs for `practice bench jetstream`: journeys (a claim's commands, or as
//! many plain steps) start at a fixed rate whatever the answers do, each journey's steps in
//! order. The half-load commands run through it, and so does their floor (`bench_floor`), at
//! the same arrival pattern.

use super::load::{percentile_us, rate};
use serde::Serialize;
use std::future::Future;
use std::time::{Duration, Instant};

/// An open-loop run at a fixed offered rate.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PacedReport {
    pub offered_per_second: u64,
    pub commands: u64,
    pub failed: u64,
    pub commands_per_second: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// The arrival pattern of a paced run: the half-load commands', for their floor to repeat.
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    pub journeys: u64,
    pub journeys_per_second: u64,
    /// A claim's commands on average, for journeys of plain steps.
    pub steps_per_journey: u64,
    /// Steps/s the pattern offers (reported).
    pub offered_per_second: u64,
}

/// What one journey measured: the latency of each step that succeeded, and failures.
pub type Journey = (Vec<Duration>, u64);

/// Start `pattern.journeys` journeys at its rate; `journey(index)` runs one.
pub async fn pace<F, Fut>(pattern: Pattern, journey: F) -> PacedReport
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Journey> + Send + 'static,
{
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / pattern.journeys_per_second.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..pattern.journeys {
        ticker.tick().await;
        tasks.push(tokio::spawn(journey(index)));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for task in tasks {
        match task.await {
            Ok((journey_latencies, journey_failed)) => {
                latencies.extend(journey_latencies);
                failed += journey_failed;
            }
            Err(_) => failed += 1,
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    PacedReport {
        offered_per_second: pattern.offered_per_second,
        commands: latencies.len() as u64,
        failed,
        commands_per_second: rate(latencies.len() as u64, elapsed),
        p50_us: percentile_us(&latencies, 50),
        p99_us: percentile_us(&latencies, 99),
    }
}
