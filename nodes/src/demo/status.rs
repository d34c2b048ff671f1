//! Claim status inquiries in the demo, the way a billing office follows up: a claim the payer
//! has been quiet on for [`STATUS_AFTER_DAYS`] simulated days (sent, no 835 yet) is asked about
//! in a 276 written to the outbox; the simulated payer answers with a 277 as of that day, which
//! goes through the inbox and the `Ingestor` like every other answer: each status lands in the
//! claim's history as `ClaimStatusReported` without moving it.

use super::acks::{ingest_about, through_inbox};
use anyhow::Context;
use chrono::NaiveDate;
use practice_actors::ingest::pipeline::IngestReport;
use practice_actors::Node;
use practice_nodes::connector::batch::{inquiry, write_status_request, Parties};
use practice_nodes::sim::status::read_requests;
use practice_nodes::sim::x12::{render_277, Recipient};
use practice_nodes::sim::Simulator;
use practice_protocol::domain::Claim;
use practice_protocol::ids::{ClaimId, OrgId};
use practice_protocol::x12::write::StatusInquiry;
use std::collections::HashMap;
use std::path::Path;

/// Days without an answer before a claim is asked about, and again after each such interval.
pub const STATUS_AFTER_DAYS: i64 = 30;

/// Claims sent and not yet answered with an 835, with the day each was sent or last asked.
#[derive(Default)]
pub struct Awaiting {
    since: HashMap<ClaimId, NaiveDate>,
}

impl Awaiting {
    pub fn sent(&mut self, claims: impl IntoIterator<Item = ClaimId>, day: NaiveDate) {
        self.since.extend(claims.into_iter().map(|claim| (claim, day)));
    }

    /// The payer answered (paid, denied) or the claim came back to be fixed.
    pub fn answered(&mut self, claim: &ClaimId) {
        self.since.remove(claim);
    }

    /// Claims quiet for the interval on `day`, oldest first; their clocks restart at `day`.
    fn due(&mut self, day: NaiveDate) -> Vec<ClaimId> {
        let mut due: Vec<(NaiveDate, ClaimId)> = self
            .since
            .iter()
            .filter(|(_, since)| (day - **since).num_days() >= STATUS_AFTER_DAYS)
            .map(|(claim, since)| (*since, *claim))
            .collect();
        due.sort();
        for (_, claim) in &due {
            self.since.insert(*claim, day);
        }
        due.into_iter().map(|(_, claim)| claim).collect()
    }
}

/// What one day's inquiry did.
pub struct Inquiry {
    pub claims: u64,
    pub report: IngestReport,
}

/// Ask about the claims due on `today`: a 276 into the outbox, the simulator's 277 into the
/// inbox, ingested. `None` when no claim is due.
#[allow(clippy::too_many_arguments)]
pub async fn inquire(
    node: &Node,
    org: OrgId,
    awaiting: &mut Awaiting,
    claims: &HashMap<ClaimId, Claim>,
    simulator: &Simulator,
    dirs: (&Path, &Path),
    recipient: &Recipient,
    control: &mut u32,
    today: NaiveDate,
) -> anyhow::Result<Option<Inquiry>> {
    let due: Vec<&Claim> = awaiting.due(today).iter().filter_map(|claim| claims.get(claim)).collect();
    if due.is_empty() {
        return Ok(None);
    }
    let (outbox, inbox) = dirs;
    let inquiries: Vec<StatusInquiry<'_>> = due.iter().map(|claim| inquiry(claim, None)).collect();
    let request = write_status_request(&Parties::default(), &inquiries, today, *control)
        .with_context(|| format!("cannot write the 276 of {today}"))?;
    let path = outbox.join(format!("{today}-{:09}.276.x12", *control));
    std::fs::write(&path, &request).with_context(|| format!("cannot write {}", path.display()))?;
    *control += 1;
    // The payer's side: read the request as sent, answer as of today.
    let requests = read_requests(&request).map_err(|error| anyhow::anyhow!("our own 276: {error}"))?;
    let answer = render_277(simulator, &requests, recipient, *control)
        .map_err(|error| anyhow::anyhow!("simulator 277: {error}"))?;
    let raw = through_inbox(inbox, &format!("{today}-{:09}.277.x12", *control), &answer)?;
    *control += 1;
    let named = due.iter().map(|claim| (*claim).clone());
    let report = ingest_about(node, org, named, &raw).await.with_context(|| format!("277 of {today}"))?;
    Ok(Some(Inquiry { claims: due.len() as u64, report }))
}
