//! Shared by the embedded-journal subcommands: open the sled journal in a data directory,
//! start a node over it, and a small latency recorder.

// Rates and percentiles are measurements, not money: floats are right here.
#![allow(clippy::float_arithmetic)]

use anyhow::Context;
use practice_actors::journal::{Journal, JournalError, SledJournal, DEFAULT_CACHE_BYTES};
use practice_actors::metrics::BackboneMetrics;
use practice_actors::{Node, NodeConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The journal lives in `<data dir>/journal`.
pub fn journal_path(data_dir: &Path) -> PathBuf {
    data_dir.join("journal")
}

/// Open the journal, keeping the shard count it was created with (or `shards` when new), with
/// sled's page cache at its default size (`DEFAULT_CACHE_BYTES`).
pub fn open_journal(data_dir: &Path, shards: u16) -> anyhow::Result<Arc<SledJournal>> {
    open_journal_with_cache(data_dir, shards, DEFAULT_CACHE_BYTES)
}

/// `open_journal` with sled's page cache bounded to `cache_bytes`.
pub fn open_journal_with_cache(data_dir: &Path, shards: u16, cache_bytes: u64) -> anyhow::Result<Arc<SledJournal>> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let path = journal_path(data_dir);
    let shards = SledJournal::stored_shard_count(&path).map_err(|error| cannot_open(&path, error))?.unwrap_or(shards);
    let journal =
        SledJournal::open_with_cache(&path, shards, cache_bytes).map_err(|error| cannot_open(&path, error))?;
    Ok(Arc::new(journal))
}

/// Why a journal did not open, with a hint only where one helps: sled's lock held by another
/// process shows as the store being unavailable. A store refused for its format or shard
/// count is named by the error itself.
fn cannot_open(path: &Path, error: JournalError) -> anyhow::Error {
    let context = match error {
        JournalError::Unavailable(_) => {
            format!("cannot open the journal in {} (is a node running on it?)", path.display())
        }
        JournalError::Incompatible(_) | JournalError::InvalidAppend(_) => "cannot open the journal".to_string(),
        _ => format!("cannot open the journal in {}", path.display()),
    };
    anyhow::Error::new(error).context(context)
}

pub async fn start_node(journal: Arc<SledJournal>, registry: &prometheus::Registry) -> anyhow::Result<Node> {
    start_node_with(journal, registry, NodeConfig::default()).await
}

pub async fn start_node_with(
    journal: Arc<SledJournal>,
    registry: &prometheus::Registry,
    config: NodeConfig,
) -> anyhow::Result<Node> {
    let metrics = BackboneMetrics::register(registry).context("cannot register metrics")?;
    let journal: Arc<dyn Journal> = journal;
    Node::start_embedded(journal, metrics, config).await.context("cannot start the node")
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Latencies of one run, reported as percentiles.
#[derive(Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn push(&mut self, latency: Duration) {
        self.0.push(latency);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `fraction` percentile in milliseconds (0 when empty).
    pub fn percentile_ms(&mut self, fraction: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let index = ((self.0.len() as f64 - 1.0) * fraction).round() as usize;
        self.0[index.min(self.0.len() - 1)].as_secs_f64() * 1000.0
    }
}

/// Bytes the allocator has handed out and not taken back, in KiB (jemalloc's
/// `stats.allocated`, refreshed first): what the program holds, without the allocator's free
/// pages and slack that RSS also counts. 0 if the statistics are unavailable.
pub fn heap_kib() -> u64 {
    if tikv_jemalloc_ctl::epoch::advance().is_err() {
        return 0;
    }
    tikv_jemalloc_ctl::stats::allocated::read().map_or(0, |bytes| bytes as u64 / 1024)
}

/// Resident set size of this process in KiB, from /proc/self/status (0 if unreadable).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}
