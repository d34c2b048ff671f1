//! The clearinghouse's acknowledgments as files, the way 835s already travel: the simulator's
//! typed 999 and 277CA answers are rendered to X12 (`sim::x12`), written into the inbox, read
//! back and ingested by the actors' `Ingestor`. A 999 finds its claims through the batch
//! registry (what each 837 held, recorded when it was written); a 277CA finds them by patient
//! control number. What the claims did comes back in the `IngestReport`.

use super::parallel::in_parallel;
use anyhow::{bail, Context};
use chrono::NaiveDate;
use futures::stream::{self, StreamExt};
use practice_actors::ingest::pipeline::{IngestReport, Ingestor, MemoryDirectory};
use practice_actors::Node;
use practice_nodes::sim::fault::rejected_group;
use practice_nodes::sim::x12::{render_277ca, render_999, Recipient};
use practice_nodes::sim::{SimOutput, Simulator};
use practice_protocol::domain::Claim;
use practice_protocol::ids::OrgId;
use practice_protocol::x12::write::acknowledge;
use practice_protocol::Currency;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Write `raw` into the inbox as `name`, then read it back: what is ingested is the file.
pub(super) fn through_inbox(inbox: &Path, name: &str, raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let path = inbox.join(name);
    std::fs::write(&path, raw).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// 999s ingested at once: each answers its own batch, so they do not wait on one another.
const ACK_CONCURRENCY: usize = 16;

/// The day's 999s, one per batch answered: the clearinghouse reads each 837 it received
/// (`files`, by batch id) and answers, on the machine's cores; the answers are written into
/// the inbox, read back and ingested concurrently. Reports in the order of `acks`; `control`
/// numbers the files and advances past them.
#[allow(clippy::too_many_arguments)]
pub async fn ingest_999s(
    ingestor: &Ingestor,
    org: OrgId,
    acks: &[SimOutput],
    files: &HashMap<String, PathBuf>,
    inbox: &Path,
    recipient: &Recipient,
    control: &mut u32,
    today: NaiveDate,
) -> anyhow::Result<Vec<IngestReport>> {
    let numbered: Vec<(&SimOutput, u32)> = acks.iter().zip(*control..).collect();
    *control += acks.len() as u32;
    let raws = in_parallel(&numbered, |(output, control)| {
        let SimOutput::Ack999 { batch_id, accepted, .. } = output else { bail!("a 999 was expected, not {output:?}") };
        let batch_file = files.get(batch_id).with_context(|| format!("a 999 for unknown batch {batch_id}"))?;
        let sent = std::fs::read(batch_file).with_context(|| format!("cannot read {}", batch_file.display()))?;
        let groups = acknowledge(&sent).with_context(|| format!("{} is not readable X12", batch_file.display()))?;
        let group = groups.first().with_context(|| format!("{} holds no functional group", batch_file.display()))?;
        // A group the front end rejects is answered as read with the fault it injected.
        let faulted = if *accepted { None } else { rejected_group(&sent, group.control_number) };
        let raw = render_999(output, faulted.as_ref().unwrap_or(group), recipient, *control)
            .map_err(|error| anyhow::anyhow!("simulator 999: {error}"))?;
        through_inbox(inbox, &format!("{today}-{control:09}.999.x12"), &raw)
    })?;
    stream::iter(raws.iter().zip(&numbered))
        .map(|(raw, (_, control))| async move {
            ingestor.ingest(org, raw).await.with_context(|| format!("999 {control:09}"))
        })
        .buffered(ACK_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// One 277CA for the day's claim acknowledgments. `claims` are the claims the acknowledgments
/// may name: the directory the ingestor looks their control numbers up in.
#[allow(clippy::too_many_arguments)]
pub async fn ingest_277ca(
    node: &Node,
    org: OrgId,
    simulator: &Simulator,
    acks: &[SimOutput],
    claims: Vec<Claim>,
    inbox: &Path,
    recipient: &Recipient,
    control: u32,
    today: NaiveDate,
) -> anyhow::Result<IngestReport> {
    let raw = render_277ca(simulator, acks, recipient, control)
        .map_err(|error| anyhow::anyhow!("simulator 277CA: {error}"))?;
    let raw = through_inbox(inbox, &format!("{today}-{control:09}.277ca.x12"), &raw)?;
    ingest_about(node, org, claims, &raw).await.with_context(|| format!("277CA {control:09}"))
}

/// Ingest a file that names its claims by control number, looked up among `claims`.
pub(super) async fn ingest_about(
    node: &Node,
    org: OrgId,
    claims: impl IntoIterator<Item = Claim>,
    raw: &[u8],
) -> anyhow::Result<IngestReport> {
    let directory = MemoryDirectory::default();
    for claim in claims {
        directory.insert(claim);
    }
    let ingestor = Ingestor::new(node.clone(), Arc::new(directory), Currency::USD);
    Ok(ingestor.ingest(org, raw).await?)
}
