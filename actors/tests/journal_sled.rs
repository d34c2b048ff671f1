//! The journal conformance suite against the embedded sled journal.

use practice_actors::journal::conformance::{run_all, run_check, BoxFuture, CreatedStore, JournalHarness, CHECKS};
use practice_actors::journal::{FoldPolicy, Journal, JournalError, SledJournal, SledOptions};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

/// Keeps every temporary directory alive until the harness drops.
#[derive(Default)]
struct SledHarness {
    dirs: Mutex<Vec<TempDir>>,
    options: SledOptions,
}

impl SledHarness {
    fn with(options: SledOptions) -> Self {
        Self { dirs: Mutex::default(), options }
    }
}

impl JournalHarness for SledHarness {
    fn create(&self, shard_count: u16) -> BoxFuture<'_, Result<CreatedStore, JournalError>> {
        Box::pin(async move {
            let dir = tempfile::tempdir().map_err(|error| JournalError::Unavailable(error.to_string()))?;
            let path = dir.path().join("journal");
            let journal = SledJournal::open_with(&path, shard_count, self.options)?;
            if let Ok(mut dirs) = self.dirs.lock() {
                dirs.push(dir);
            }
            Ok((path.display().to_string(), Arc::new(journal) as Arc<dyn Journal>))
        })
    }

    fn reopen(
        &self,
        token: String,
        journal: Arc<dyn Journal>,
        shard_count: u16,
    ) -> BoxFuture<'_, Result<Arc<dyn Journal>, JournalError>> {
        Box::pin(async move {
            // The last reference: dropping it stops the writer and releases sled's lock.
            drop(journal);
            let journal = SledJournal::open_with(&PathBuf::from(token), shard_count, self.options)?;
            Ok(Arc::new(journal) as Arc<dyn Journal>)
        })
    }
}

async fn conforms(options: SledOptions) {
    let harness = SledHarness::with(options);
    let failures = run_all(&harness).await;
    assert!(failures.is_empty(), "{}", failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
}

/// The default: the suite's few groups all stay in the pending log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_journal_passes_the_conformance_suite() {
    conforms(SledOptions::default()).await;
}

/// Every group folded at once: only per-shard records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_journal_folding_every_group_conforms() {
    conforms(SledOptions { fold: FoldPolicy { groups: 1, entries: usize::MAX }, ..SledOptions::default() }).await;
}

/// Folds every few groups or entries, so reads span folded records and the pending tail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_journal_folding_every_few_groups_conforms() {
    conforms(SledOptions { fold: FoldPolicy { groups: 3, entries: 4 }, ..SledOptions::default() }).await;
}

/// Closed without folding, as a crash leaves it: the reopened store reads its pending log back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_journal_reopened_with_a_pending_log_conforms() {
    conforms(SledOptions { fold_on_close: false, ..SledOptions::default() }).await;
}

#[tokio::test]
async fn an_unknown_check_name_fails() {
    let harness = SledHarness::default();
    assert!(run_check(&harness, "no_such_check").await.is_err());
    assert_eq!(CHECKS.len(), 11);
}

#[tokio::test]
async fn reopening_with_another_shard_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    drop(SledJournal::open(&path, 8).unwrap());
    assert!(matches!(SledJournal::open(&path, 16), Err(JournalError::InvalidAppend(_))));
    assert!(SledJournal::open(&path, 8).is_ok());
}
