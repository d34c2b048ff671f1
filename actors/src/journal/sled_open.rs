//! Opening a sled database this process has just closed. sled releases the database's file
//! lock only once its background IO threads let go of it, a moment after the last handle is
//! dropped; an open in that moment fails with "could not acquire lock". That is a wait, not a
//! failure, so it is retried for a short while. Another process holding the database is still
//! refused, once the wait is over.
//!
//! sled 0.34's flush ends in `sync_file_range`, which outlives a process crash but not a power
//! loss on a drive with a volatile write cache (sled issues #1351, #1452; `sled_writer` has
//! the details). So a database whose writes are acknowledged after a flush syncs its log file
//! (`fdatasync`) after it, and any blob file sled wrote since the last flush before that: the
//! journal's writer does, and the small databases beside it (the batch registry, the
//! outbound log) open as a `SyncedDb`. Their writers flush concurrently, and concurrent
//! flushes are one group commit: a flush that starts after a write covers it, so a writer who
//! waited for another's flush is done without syncing again.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

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
    sync: Mutex<SyncState>,
    /// Flushes asked for so far: each caller's ticket, taken once its writes are done.
    asked: AtomicU64,
}

/// What `flush` keeps between calls, under one lock.
struct SyncState {
    durability: Durability,
    blobs: BlobFiles,
    /// Every flush ticket up to this one is on the device.
    synced_through: u64,
    /// Syncs of the log so far (for tests and the curious).
    syncs: u64,
}

/// sled's blob files (`<dir>/blobs/<lsn>`): a log item over a quarter of a segment (128 KiB: a
/// large snapshot, or a leaf of large values) goes to a file of its own, written but never
/// synced by sled, and the log keeps only a pointer to it. A 20,000-claim demo writes one.
/// Each flush syncs the files that appeared since the last one, and the folder's entries,
/// before the log that points at them.
struct BlobFiles {
    dir: PathBuf,
    synced: HashSet<OsString>,
    /// Files synced so far (for tests and the curious).
    count: u64,
    /// The folder's modification time at its last reading, once that time was old enough to
    /// trust: until the folder changes, a flush looks at its time alone instead of reading it
    /// (the writer flushes every group commit).
    unchanged_since: Option<SystemTime>,
}

/// How old a folder's modification time must be before an unchanged time proves no file was
/// added: a file added within the filesystem's timestamp granularity (coarse ticks on ext4,
/// seconds on older filesystems) after a reading may leave the time as it was.
const SETTLED: Duration = Duration::from_secs(3);

impl BlobFiles {
    fn new(dir: PathBuf) -> Self {
        Self { dir, synced: HashSet::new(), count: 0, unchanged_since: None }
    }

    fn sync_new(&mut self) -> io::Result<()> {
        // No folder: sled wrote no blob yet.
        let Some(metadata) = unless_missing(std::fs::metadata(&self.dir))? else { return Ok(()) };
        let modified = metadata.modified()?;
        if self.unchanged_since == Some(modified) {
            return Ok(());
        }
        // Taken before the reading: a file added after this old a time changes it.
        let settled = SystemTime::now().duration_since(modified).is_ok_and(|age| age > SETTLED);
        let Some(entries) = unless_missing(std::fs::read_dir(&self.dir))? else { return Ok(()) };
        let mut present = HashSet::with_capacity(self.synced.len());
        let mut new = false;
        for entry in entries {
            let name = entry?.file_name();
            if !self.synced.contains(&name) {
                File::open(self.dir.join(&name))?.sync_all()?;
                self.count += 1;
                new = true;
            }
            present.insert(name);
        }
        if new {
            File::open(&self.dir)?.sync_all()?;
        }
        // Blobs sled removed are forgotten, so the set stays as small as the folder.
        self.synced = present;
        self.unchanged_since = settled.then_some(modified);
        Ok(())
    }
}

/// `None` for a file or folder that is not there.
fn unless_missing<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

impl SyncedDb {
    /// Open (or create) the database in `dir` with a page cache of `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> sled::Result<Self> {
        let db = open(&sled::Config::new().path(dir).cache_capacity(cache_bytes))?;
        // sled 0.34 keeps its log in `<dir>/db` and large items in `<dir>/blobs/`.
        let log = File::open(dir.join("db"))?;
        let blobs = BlobFiles::new(dir.join("blobs"));
        let state = SyncState { durability: Durability::default(), blobs, synced_through: 0, syncs: 0 };
        Ok(Self { db, log, sync: Mutex::new(state), asked: AtomicU64::new(0) })
    }

    /// Everything this caller wrote so far on the device, or the error that says why not.
    /// Callers that flush at once share one sync: whoever holds the lock flushes and syncs
    /// for every ticket taken before it started; the others find their ticket covered.
    pub fn flush(&self) -> sled::Result<()> {
        let ticket = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
        let mut state = self.sync.lock().unwrap_or_else(PoisonError::into_inner);
        if state.synced_through >= ticket {
            return Ok(());
        }
        // Every ticket up to `covered` was taken after its writes: sled's flush below holds them.
        let covered = self.asked.load(Ordering::SeqCst);
        self.db.flush()?;
        let SyncState { durability, blobs, synced_through, syncs } = &mut *state;
        durability.sync(|| {
            blobs.sync_new()?;
            self.log.sync_data()
        })?;
        *synced_through = covered;
        *syncs += 1;
        Ok(())
    }

    /// How many times flushes synced the log.
    pub fn syncs(&self) -> u64 {
        self.sync.lock().unwrap_or_else(PoisonError::into_inner).syncs
    }

    /// Why writes are refused, once a sync failed.
    pub fn lost(&self) -> Option<String> {
        self.sync.lock().unwrap_or_else(PoisonError::into_inner).durability.lost().map(str::to_string)
    }

    /// How many blob files flushes have synced.
    pub fn blobs_synced(&self) -> u64 {
        self.sync.lock().unwrap_or_else(PoisonError::into_inner).blobs.count
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
    fn writers_flushing_at_once_share_one_sync() {
        let dir = tempfile::tempdir().unwrap();
        let db = SyncedDb::open(dir.path(), 1 << 20).unwrap();
        let writers = 4u64;
        std::thread::scope(|scope| {
            // A flush in progress: the writers below write, take their tickets and wait for it.
            let held = db.sync.lock().unwrap();
            let handles: Vec<_> = (0..writers)
                .map(|writer| {
                    let db = &db;
                    scope.spawn(move || {
                        db.insert(writer.to_be_bytes(), b"999 verdict".as_slice()).unwrap();
                        db.flush().unwrap();
                    })
                })
                .collect();
            while db.asked.load(Ordering::SeqCst) < writers {
                std::thread::yield_now();
            }
            drop(held);
            handles.into_iter().for_each(|handle| handle.join().unwrap());
        });
        assert_eq!(db.syncs(), 1, "each writer synced on its own");
        // A flush after the group's syncs again: its write came after the group's sync.
        db.insert(b"later", b"277CA".as_slice()).unwrap();
        db.flush().unwrap();
        assert_eq!(db.syncs(), 2);
        drop(db);
        let reopened = SyncedDb::open(dir.path(), 1 << 20).unwrap();
        for writer in 0..writers {
            assert!(reopened.contains_key(writer.to_be_bytes()).unwrap(), "writer {writer}'s write is gone");
        }
    }

    #[test]
    fn a_value_too_large_for_the_log_goes_to_a_blob_file_that_the_flush_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let db = SyncedDb::open(dir.path(), 1 << 20).unwrap();
        db.insert(b"small", b"x").unwrap();
        db.flush().unwrap();
        assert_eq!(db.blobs_synced(), 0, "no blob yet");
        let large = vec![7u8; 300 << 10];
        db.insert(b"snapshot", large.as_slice()).unwrap();
        db.flush().unwrap();
        let blobs = std::fs::read_dir(dir.path().join("blobs")).unwrap().count() as u64;
        assert!(blobs >= 1, "sled wrote no blob file for a 300 KiB value");
        assert_eq!(db.blobs_synced(), blobs);
        // Nothing new: nothing synced again.
        db.insert(b"small", b"y").unwrap();
        db.flush().unwrap();
        assert_eq!(db.blobs_synced(), blobs);
        drop(db);
        let reopened = SyncedDb::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(reopened.get(b"snapshot").unwrap().as_deref(), Some(large.as_slice()));
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
