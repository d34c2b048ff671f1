//! Opening a sled database this process has just closed. sled releases the database's file
//! lock only once its background IO threads let go of it, a moment after the last handle is
//! dropped; an open in that moment fails with "could not acquire lock". That is a wait, not a
//! failure, so it is retried for a short while. Another process holding the database is still
//! refused, once the wait is over.

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

#[cfg(test)]
mod tests {
    use super::*;

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
