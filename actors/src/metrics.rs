//! The backbone's Prometheus metrics, registered once into the registry the node passes in.
//! Names follow `practice_<noun>_<unit>`; labels are bounded (kinds, command and event names,
//! shards, module names), never ids.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct BackboneMetrics {
    /// `kind`, `command`, `outcome` (accepted, rejected, failed).
    pub commands: IntCounterVec,
    /// `kind`, `event`.
    pub events: IntCounterVec,
    pub append_latency: Histogram,
    pub command_latency: Histogram,
    /// `kind`.
    pub live_actors: IntGaugeVec,
    pub passivated_actors: IntGauge,
    /// Live actors holding their state encoded.
    pub hibernated_actors: IntGauge,
    pub restarts: IntCounter,
    /// `consumer`, `shard`.
    pub consumer_lag: IntGaugeVec,
    /// `module`, `event`.
    pub module_events: IntCounterVec,
}

fn latency_buckets() -> Vec<f64> {
    // 50 µs to ~1.6 s, doubling.
    prometheus::exponential_buckets(0.000_05, 2.0, 16).unwrap_or_default()
}

impl BackboneMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            commands: IntCounterVec::new(
                Opts::new("practice_commands_total", "Commands handled by entity actors"),
                &["kind", "command", "outcome"],
            )?,
            events: IntCounterVec::new(
                Opts::new("practice_events_total", "Events appended by entity actors"),
                &["kind", "event"],
            )?,
            append_latency: Histogram::with_opts(
                HistogramOpts::new("practice_journal_append_seconds", "Journal append latency (durable)")
                    .buckets(latency_buckets()),
            )?,
            command_latency: Histogram::with_opts(
                HistogramOpts::new("practice_command_seconds", "Command latency in the entity actor")
                    .buckets(latency_buckets()),
            )?,
            live_actors: IntGaugeVec::new(Opts::new("practice_actors_live", "Live entity actors"), &["kind"])?,
            passivated_actors: IntGauge::new("practice_actors_passivated", "Entities passivated and not yet back")?,
            hibernated_actors: IntGauge::new(
                "practice_actors_hibernated",
                "Live entity actors holding their state encoded until their next message",
            )?,
            restarts: IntCounter::new("practice_actor_restarts_total", "Entity actors restarted after a failure")?,
            consumer_lag: IntGaugeVec::new(
                Opts::new("practice_consumer_lag_events", "Events a module consumer is behind, per shard"),
                &["consumer", "shard"],
            )?,
            module_events: IntCounterVec::new(
                Opts::new("practice_module_events_total", "Events seen by module engines"),
                &["module", "event"],
            )?,
        };
        registry.register(Box::new(metrics.commands.clone()))?;
        registry.register(Box::new(metrics.events.clone()))?;
        registry.register(Box::new(metrics.append_latency.clone()))?;
        registry.register(Box::new(metrics.command_latency.clone()))?;
        registry.register(Box::new(metrics.live_actors.clone()))?;
        registry.register(Box::new(metrics.passivated_actors.clone()))?;
        registry.register(Box::new(metrics.hibernated_actors.clone()))?;
        registry.register(Box::new(metrics.restarts.clone()))?;
        registry.register(Box::new(metrics.consumer_lag.clone()))?;
        registry.register(Box::new(metrics.module_events.clone()))?;
        Ok(metrics)
    }
}
