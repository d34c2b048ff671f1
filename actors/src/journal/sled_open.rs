//! Opening a sled database this process has just closed. sled releases the database's file
//! lock only once its background IO threads let go of it, a moment after the last handle is
//! dropped; an open in that moment fails with "could not acquire lock". That is a wait, not a
//! failure, so it is retried for a short while. Another process holding the database is still
//! refused, once the wait is over.
//!
//! sled 0.34's flush ends in `sync_file_range`, which outlives a process crash but not a power
//! loss on a drive with a volatile write cache (sled issues #1351, #1452; `sled_writer` has
//! the details). So a database whose writes are acknowledged after a flush syncs its log file
//! (`fdatasync`) after it: the journal's writer does, and the small databases beside it
//! (the batch registry, the outbound log) open as a `SyncedDb`.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long an open waits for a lock this process may still be releasing.
const LOCK_WAIT: Duration = Duration::from_secs(3);

pub fn open(config: &sled::Config) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            Err(sled::Error::Io(error))
                if error.to_string().starts_with("could not acquire lock") && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            opened => return opened,
        }
    }
}

/// Whether a sled database's log still syncs. After a sync failed it never does again: the
/// kernel may have dropped the pages it could not write, so no later sync could prove them on
/// disk (PostgreSQL's answer to the same `fsync` semantics), and every later write is refused
/// until the process restarts and sled recovers from what its log holds.
#[derive(Debug, Default)]
struct Durability {
    lost: Option<String>,
}

impl Durability {
    /// `sync` once, unless an earlier one failed.
    fn sync(&mut self, sync: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        if let Some(lost) = &self.lost {
            return Err(io::Error::other(lost.clone()));
        }
        sync().map_err(|error| {
            let lost = format!("a sync failed ({error}); writes are refused until the process restarts");
            self.lost = Some(lost.clone());
            io::Error::other(lost)
        })
    }

    /// Why writes are refused, once a sync failed.
    fn lost(&self) -> Option<&str> {
        self.lost.as_deref()
    }
}

/// A sled database whose `flush` reaches the device: sled's flush, then `fdatasync` of its log
/// file (`<dir>/db`). Reads and writes go to the database itself (`Deref`).
pub struct SyncedDb {
    db: sled::Db,
    log: File,
    durability: Mutex<Durability>,
}

impl SyncedDb {
    /// Open (or create) the database in `dir` with a page cache of `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> sled::Result<Self> {
        let db = open(&sled::Config::new().path(dir).cache_capacity(cache_bytes))?;
        // sled 0.34 keeps its log in `<dir>/db`.
        let log = File::open(dir.join("db"))?;
        Ok(Self { db, log, durability: Mutex::new(Durability::default()) })
    }

    /// Everything written so far on the device, or the error that says why not.
    pub fn flush(&self) -> sled::Result<()> {
        self.db.flush()?;
        let mut durability = self.durability.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(durability.sync(|| self.log.sync_data())?)
    }

    /// Why writes are refused, once a sync failed.
    pub fn lost(&self) -> Option<String> {
        self.durability.lock().unwrap_or_else(PoisonError::into_inner).lost().map(str::to_string)
    }
}

impl Deref for SyncedDb {
    type Target = sled::Db;

    fn deref(&self) -> &sled::Db {
        &self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_failed_sync_every_later_one_is_refused_without_syncing() {
        let mut durability = Durability::default();
        durability.sync(|| Ok(())).unwrap();
        let error = durability.sync(|| Err(io::Error::other("device gone"))).unwrap_err();
        assert!(error.to_string().contains("device gone"), "{error}");
        let mut synced_again = false;
        let later = durability.sync(|| {
            synced_again = true;
            Ok(())
        });
        assert_eq!(later.unwrap_err().to_string(), error.to_string());
        assert!(!synced_again, "a poisoned database synced again");
        assert_eq!(durability.lost(), Some(error.to_string().as_str()));
    }

    #[test]
    fn a_synced_database_keeps_what_it_flushed_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = SyncedDb::open(dir.path(), 1 << 20).unwrap();
        db.insert(b"batch", b"837").unwrap();
        db.flush().unwrap();
        drop(db);
        let reopened = SyncedDb::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(reopened.get(b"batch").unwrap().as_deref(), Some(&b"837"[..]));
    }

    #[test]
    fn a_database_held_elsewhere_is_refused_after_the_wait_and_opens_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let config = sled::Config::new().path(dir.path());
        let held = open(&config).unwrap();
        let started = Instant::now();
        let refused = open(&sled::Config::new().path(dir.path())).unwrap_err();
        assert!(refused.to_string().contains("could not acquire lock"), "{refused}");
        assert!(started.elapsed() >= LOCK_WAIT, "gave up after {:?}", started.elapsed());
        drop(held);
        open(&sled::Config::new().path(dir.path())).unwrap();
    }
}
