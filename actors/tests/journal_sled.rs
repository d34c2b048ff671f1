//! The journal conformance suite against the embedded sled journal.

use practice_actors::journal::conformance::{run_all, run_check, BoxFuture, CreatedStore, JournalHarness, CHECKS};
use practice_actors::journal::{Journal, JournalError, SledJournal};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

/// Keeps every temporary directory alive until the harness drops.
#[derive(Default)]
struct SledHarness {
    dirs: Mutex<Vec<TempDir>>,
}

impl JournalHarness for SledHarness {
    fn create(&self, shard_count: u16) -> BoxFuture<'_, Result<CreatedStore, JournalError>> {
        Box::pin(async move {
            let dir = tempfile::tempdir().map_err(|error| JournalError::Unavailable(error.to_string()))?;
            let path = dir.path().join("journal");
            let journal = SledJournal::open(&path, shard_count)?;
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
            let journal = SledJournal::open(&PathBuf::from(token), shard_count)?;
            Ok(Arc::new(journal) as Arc<dyn Journal>)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_journal_passes_the_conformance_suite() {
    let harness = SledHarness::default();
    let failures = run_all(&harness).await;
    assert!(failures.is_empty(), "{}", failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
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
