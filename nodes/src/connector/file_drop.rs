//! The file-drop connector: the way SFTP clearinghouses work. Batches are written to an outbox
//! folder the clearinghouse picks up from; its answers land in an inbox folder.
//!
//! - Outbound files appear atomically: written as a hidden `.part` file, synced, then renamed
//!   to `<batch id>.<837P|837I>.x12`, so a pickup never sees half a file.
//! - Inbound files are offered oldest first, skipping hidden and `.part`/`.tmp` files and files
//!   younger than `min_age` (a peer still writing in place). Settling moves a file to
//!   `inbox/processed/` or `inbox/rejected/` (with `<name>.reason.txt`); until then it stays.

use super::{
    check_batch, content_id, sniff, Clearinghouse, ConnectorError, Delivery, Inbound, OutboundBatch, Settlement,
};
use bytes::Bytes;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Outbox and inbox folders on a local or mounted file system.
#[derive(Clone, Debug)]
pub struct FileDrop {
    outbox: PathBuf,
    inbox: PathBuf,
    min_age: Duration,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ConnectorError + 'a {
    move |source| ConnectorError::Io { action, path: path.display().to_string(), source }
}

impl FileDrop {
    /// Open (creating if needed) the folders. `min_age` 0 offers inbound files at once.
    pub fn open(
        outbox: impl Into<PathBuf>,
        inbox: impl Into<PathBuf>,
        min_age: Duration,
    ) -> Result<Self, ConnectorError> {
        let drop = Self { outbox: outbox.into(), inbox: inbox.into(), min_age };
        for dir in [drop.outbox.clone(), drop.inbox.clone(), drop.processed_dir(), drop.rejected_dir()] {
            std::fs::create_dir_all(&dir).map_err(io("cannot create folder", &dir))?;
        }
        Ok(drop)
    }

    pub fn outbox(&self) -> &Path {
        &self.outbox
    }

    pub fn inbox(&self) -> &Path {
        &self.inbox
    }

    pub fn processed_dir(&self) -> PathBuf {
        self.inbox.join("processed")
    }

    pub fn rejected_dir(&self) -> PathBuf {
        self.inbox.join("rejected")
    }

    /// The blocking body of [`Clearinghouse::send`].
    pub fn send_blocking(&self, batch: &OutboundBatch) -> Result<Delivery, ConnectorError> {
        check_batch(batch)?;
        let name = format!("{}.{}.x12", batch.id, batch.kind.token());
        let target = self.outbox.join(&name);
        let location = target.display().to_string();
        match std::fs::read(&target) {
            Ok(existing) if existing == batch.bytes.as_ref() => return Ok(Delivery { location, duplicate: true }),
            Ok(_) => return Err(ConnectorError::Conflict { id: batch.id.clone(), location }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io("cannot read", &target)(error)),
        }
        let part = self.outbox.join(format!(".{name}.part"));
        let mut file = std::fs::File::create(&part).map_err(io("cannot create", &part))?;
        file.write_all(&batch.bytes).map_err(io("cannot write", &part))?;
        file.sync_all().map_err(io("cannot sync", &part))?;
        drop(file);
        std::fs::rename(&part, &target).map_err(io("cannot rename into place", &target))?;
        sync_dir(&self.outbox);
        Ok(Delivery { location, duplicate: false })
    }

    /// The blocking body of [`Clearinghouse::receive`].
    pub fn receive_blocking(&self, max: usize) -> Result<Vec<Inbound<PathBuf>>, ConnectorError> {
        let now = SystemTime::now();
        let mut waiting = Vec::new();
        for entry in std::fs::read_dir(&self.inbox).map_err(io("cannot list", &self.inbox))? {
            let entry = entry.map_err(io("cannot list", &self.inbox))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp") {
                continue;
            }
            let path = entry.path();
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                // Taken by another reader (or the peer) since the listing: not ours to report.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(io("cannot stat", &path)(error)),
            };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if now.duration_since(modified).unwrap_or_default() < self.min_age {
                continue;
            }
            waiting.push((modified, name, path));
        }
        waiting.sort();
        let mut items = Vec::new();
        for (_, name, path) in waiting.into_iter().take(max) {
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => Bytes::from(bytes),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(io("cannot read", &path)(error)),
            };
            items.push(Inbound { name, content_id: content_id(&bytes), kind: sniff(&bytes), bytes, receipt: path });
        }
        Ok(items)
    }

    /// The blocking body of [`Clearinghouse::settle`].
    pub fn settle_blocking(&self, path: PathBuf, settlement: Settlement) -> Result<(), ConnectorError> {
        let dir = match &settlement {
            Settlement::Retry => return Ok(()),
            Settlement::Accepted => self.processed_dir(),
            Settlement::Rejected(_) => self.rejected_dir(),
        };
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let target = free_name(&dir, &name);
        if let Settlement::Rejected(reason) = &settlement {
            let note = dir.join(format!("{}.reason.txt", target.file_name().unwrap_or_default().to_string_lossy()));
            std::fs::write(&note, format!("{reason}\n")).map_err(io("cannot write", &note))?;
        }
        std::fs::rename(&path, &target).map_err(io("cannot move", &path))?;
        sync_dir(&dir);
        Ok(())
    }
}

/// `dir/name`, or `dir/name.N` for the first free N: a file received twice under the same name
/// never overwrites the first copy.
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    (1u64..).map(|n| dir.join(format!("{name}.{n}"))).find(|candidate| !candidate.exists()).unwrap_or(first)
}

/// Make a rename durable; a file system that cannot sync folders still has the rename.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ConnectorError> + Send + 'static,
) -> Result<T, ConnectorError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| ConnectorError::Io {
        action: "file-drop task failed",
        path: String::new(),
        source: std::io::Error::other(error.to_string()),
    })?
}

impl Clearinghouse for FileDrop {
    type Receipt = PathBuf;

    async fn send(&self, batch: &OutboundBatch) -> Result<Delivery, ConnectorError> {
        let (this, batch) = (self.clone(), batch.clone());
        blocking(move || this.send_blocking(&batch)).await
    }

    async fn receive(&self, max: usize) -> Result<Vec<Inbound<PathBuf>>, ConnectorError> {
        let this = self.clone();
        blocking(move || this.receive_blocking(max)).await
    }

    async fn settle(&self, receipt: PathBuf, settlement: Settlement) -> Result<(), ConnectorError> {
        let this = self.clone();
        blocking(move || this.settle_blocking(receipt, settlement)).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::sniff::tests::interchange;
    use super::super::InboundKind;
    use super::*;

    fn drop_in(dir: &Path) -> FileDrop {
        FileDrop::open(dir.join("out"), dir.join("in"), Duration::ZERO).unwrap()
    }

    fn batch(id: &str, body: &[u8]) -> OutboundBatch {
        OutboundBatch { id: id.into(), kind: InboundKind::Claim837P, bytes: Bytes::copy_from_slice(body) }
    }

    #[tokio::test]
    async fn send_writes_once_and_refuses_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let drop = drop_in(dir.path());
        let body = interchange("ST*837*0001*005010X222A1");
        let first = drop.send(&batch("000000007", &body)).await.unwrap();
        assert!(!first.duplicate);
        assert!(first.location.ends_with("000000007.837P.x12"));
        assert_eq!(std::fs::read(&first.location).unwrap(), body);
        let again = drop.send(&batch("000000007", &body)).await.unwrap();
        assert!(again.duplicate);
        let conflict = drop.send(&batch("000000007", b"other")).await.unwrap_err();
        assert!(matches!(conflict, ConnectorError::Conflict { .. }), "{conflict}");
        let names: Vec<_> = std::fs::read_dir(drop.outbox()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no .part file is left behind: {names:?}");
        assert!(matches!(drop.send(&batch("../x", &body)).await, Err(ConnectorError::BadBatchId(_))));
    }

    #[tokio::test]
    async fn inbox_items_stay_until_settled() {
        let dir = tempfile::tempdir().unwrap();
        let drop = drop_in(dir.path());
        std::fs::write(drop.inbox().join("a.999"), interchange("ST*999*0001*005010X231A1")).unwrap();
        std::fs::write(drop.inbox().join("b.835"), interchange("ST*835*0001")).unwrap();
        std::fs::write(drop.inbox().join("c.pdf"), b"%PDF-1.7").unwrap();
        std::fs::write(drop.inbox().join(".d.part"), b"half").unwrap();
        std::fs::write(drop.inbox().join("e.tmp"), b"half").unwrap();

        let items = drop.receive(10).await.unwrap();
        let mut seen: Vec<_> = items.iter().map(|item| (item.name.clone(), item.kind.clone())).collect();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[0], ("a.999".into(), Ok(InboundKind::Ack999)));
        assert_eq!(seen[1], ("b.835".into(), Ok(InboundKind::Remittance835)));
        assert!(seen[2].1.is_err());
        assert_eq!(drop.receive(1).await.unwrap().len(), 1, "max is honoured");

        for item in items {
            let settlement = match &item.kind {
                Ok(InboundKind::Remittance835) => Settlement::Retry,
                Ok(_) => Settlement::Accepted,
                Err(error) => Settlement::Rejected(error.to_string()),
            };
            assert_eq!(item.content_id, content_id(&item.bytes));
            drop.settle(item.receipt, settlement).await.unwrap();
        }
        let left: Vec<_> = drop.receive(10).await.unwrap().into_iter().map(|item| item.name).collect();
        assert_eq!(left, ["b.835"], "a retried item is offered again");
        assert!(drop.processed_dir().join("a.999").is_file());
        assert!(drop.rejected_dir().join("c.pdf").is_file());
        let reason = std::fs::read_to_string(drop.rejected_dir().join("c.pdf.reason.txt")).unwrap();
        assert!(reason.starts_with("not X12"), "{reason}");
    }

    #[tokio::test]
    async fn a_name_received_twice_keeps_both_copies_and_young_files_wait() {
        let dir = tempfile::tempdir().unwrap();
        let drop = drop_in(dir.path());
        for body in [&b"first"[..], &b"second"[..]] {
            std::fs::write(drop.inbox().join("x.999"), body).unwrap();
            let item = drop.receive(10).await.unwrap().pop().unwrap();
            drop.settle(item.receipt, Settlement::Accepted).await.unwrap();
        }
        assert_eq!(std::fs::read(drop.processed_dir().join("x.999")).unwrap(), b"first");
        assert_eq!(std::fs::read(drop.processed_dir().join("x.999.1")).unwrap(), b"second");

        let patient = FileDrop::open(dir.path().join("out"), dir.path().join("in"), Duration::from_secs(3600)).unwrap();
        std::fs::write(patient.inbox().join("y.999"), b"still writing").unwrap();
        assert!(patient.receive(10).await.unwrap().is_empty());
    }
}
