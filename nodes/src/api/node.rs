//! `NodeClaimService`: the API's `ClaimService` over the backbone — commands go through the
//! node handle to the claim actors (appended to the journal before the answer), claims are
//! read from the journal, and a projection follows every shard of the journal for lists,
//! reports and the live stream. Reading the journal (not only the shards this node owns)
//! keeps lists complete on a cluster node too.

use super::projection::ClaimProjection;
use super::service::{
    ClaimChange, ClaimFilter, ClaimRecord, ClaimService, ClaimSnapshot, CommandError, PracticeCommandError,
    ServiceError,
};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::FutureExt;
use practice_actors::claim::ClaimEntity;
use practice_actors::entity::{decode_event, rehydrate, EntityRejection};
use practice_actors::journal::{Journal, JournalError};
use practice_actors::practice::PracticeEntity;
use practice_actors::runtime::PolicyBook;
use practice_actors::{EntityCommand, Node, Outcome, SendError};
use practice_protocol::claim::{ClaimCommand, ClaimEvent, ClaimState, Rejection};
use practice_protocol::envelope::{CommandEnvelope, EntityKind, EventEnvelope};
use practice_protocol::ids::{ClaimId, OrgId};
use practice_protocol::practice::{PracticeCommand, PracticeRejection, PracticeState};
use practice_protocol::shard::{claim_ref, ShardId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// How long the projection waits when no shard had anything new (on the embedded journal,
/// where a read is a local range scan).
const IDLE_POLL: Duration = Duration::from_millis(100);
const PAGE: usize = 1024;
/// How long `catch_up` waits for the follower before it says the journal is unavailable.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(10);

pub struct NodeClaimService {
    node: Node,
    projection: Arc<ClaimProjection>,
    caught_up: Arc<AtomicBool>,
    sweeps: Sweeps,
    follower: tokio::task::JoinHandle<()>,
}

/// The follower's passes that read every shard to its end without an error (a count), and a
/// way to cut its idle wait short.
#[derive(Clone)]
struct Sweeps {
    done: Arc<watch::Sender<u64>>,
    wake: Arc<Notify>,
}

impl Drop for NodeClaimService {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl NodeClaimService {
    /// Start following the journal from its beginning; ready once every shard was read to
    /// its end once.
    pub fn start(node: Node) -> Arc<Self> {
        Self::start_polling(node, IDLE_POLL)
    }

    /// `start`, waiting `idle_poll` between passes that found nothing new. On JetStream every
    /// pass reads each shard's subject from the server; a cluster node polls less often, and
    /// its own commands reach its projection at once anyway (`execute`).
    pub fn start_polling(node: Node, idle_poll: Duration) -> Arc<Self> {
        let projection = Arc::new(ClaimProjection::default());
        let caught_up = Arc::new(AtomicBool::new(false));
        let journal = node.journal().clone();
        let sweeps = Sweeps { done: Arc::new(watch::channel(0).0), wake: Arc::new(Notify::new()) };
        let follower = tokio::spawn(follow(journal, projection.clone(), caught_up.clone(), sweeps.clone(), idle_poll));
        Arc::new(Self { node, projection, caught_up, sweeps, follower })
    }

    async fn read_claim(&self, org: OrgId, id: ClaimId) -> Result<Vec<EventEnvelope<ClaimEvent>>, ServiceError> {
        let stored = self.node.journal().read_entity(claim_ref(org, id), 0).await.map_err(journal_error)?;
        stored.iter().map(|event| decode_event::<ClaimEntity>(event).map_err(send_error)).collect()
    }
}

async fn follow(
    journal: Arc<dyn Journal>,
    projection: Arc<ClaimProjection>,
    caught_up: Arc<AtomicBool>,
    sweeps: Sweeps,
    idle_poll: Duration,
) {
    let shards = journal.shard_count();
    let mut positions = vec![0u64; usize::from(shards)];
    loop {
        let mut full_page = false;
        let mut failed = false;
        for shard in 0..shards {
            let position = &mut positions[usize::from(shard)];
            let events = match journal.read_shard(ShardId(shard), *position, PAGE).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(shard, %error, "claim projection could not read the journal");
                    failed = true;
                    continue;
                }
            };
            full_page |= events.len() == PAGE;
            for stored in &events {
                *position = stored.position;
                if stored.entity.kind != EntityKind::Claim {
                    continue;
                }
                match decode_event::<ClaimEntity>(stored) {
                    Ok(envelope) => {
                        projection.apply(std::slice::from_ref(&envelope));
                    }
                    Err(error) => {
                        tracing::error!(shard, position = stored.position, %error, "undecodable claim event skipped")
                    }
                }
            }
        }
        if !full_page {
            caught_up.store(true, Ordering::SeqCst);
            if !failed {
                sweeps.done.send_modify(|done| *done += 1);
            }
            // `catch_up` leaves a permit when it finds the follower busy: no wait then.
            let _ = tokio::time::timeout(idle_poll, sweeps.wake.notified()).await;
        }
    }
}

fn journal_error(error: JournalError) -> ServiceError {
    match error {
        JournalError::Unavailable(detail) => ServiceError::Unavailable(detail),
        other => ServiceError::Internal(other.to_string()),
    }
}

fn send_error(error: SendError) -> ServiceError {
    match error {
        SendError::Timeout(_) => ServiceError::Timeout,
        SendError::Codec(detail) => ServiceError::Internal(detail),
        SendError::Journal(error) => journal_error(error),
        SendError::WrongKind { .. } => ServiceError::Internal(error.to_string()),
        other => ServiceError::Unavailable(other.to_string()),
    }
}

impl ClaimService for NodeClaimService {
    fn practice(&self, org: OrgId) -> BoxFuture<'_, Result<PracticeState, ServiceError>> {
        async move {
            let entity = PolicyBook::practice_ref(org);
            // The live actor's state (one message) when the shard is this node's; another
            // node's practice is replayed from the journal.
            if self.node.owns(&entity) {
                let inspection = self.node.inspect(entity).await.map_err(send_error)?;
                return practice_protocol::codec::decode(&inspection.state)
                    .map_err(|error| ServiceError::Internal(format!("practice state does not decode: {error}")));
            }
            Ok(rehydrate::<PracticeEntity>(self.node.journal().as_ref(), entity).await.map_err(send_error)?.state)
        }
        .boxed()
    }

    fn execute_practice(
        &self,
        envelope: CommandEnvelope<PracticeCommand>,
    ) -> BoxFuture<'_, Result<(), PracticeCommandError>> {
        async move {
            let command = CommandEnvelope {
                command_id: envelope.command_id,
                entity: envelope.entity,
                issued_at: envelope.issued_at,
                actor: envelope.actor,
                command: EntityCommand::Practice(envelope.command),
            };
            match self.node.send(command).await.map_err(send_error)? {
                Outcome::Accepted { .. } => Ok(()),
                Outcome::Rejected { rejection: EntityRejection::Practice(rejection), .. } => Err(rejection.into()),
                // Another organization's practice answers like an unknown item (G8).
                Outcome::Rejected { rejection: EntityRejection::WrongOrganization, .. } => {
                    Err(PracticeRejection::Forbidden { command: "practice".into() }.into())
                }
                Outcome::Rejected { rejection, .. } => {
                    Err(PracticeCommandError::Service(ServiceError::Internal(rejection.to_string())))
                }
            }
        }
        .boxed()
    }

    fn execute(
        &self,
        envelope: CommandEnvelope<ClaimCommand>,
    ) -> BoxFuture<'_, Result<Vec<EventEnvelope<ClaimEvent>>, CommandError>> {
        async move {
            let entity = envelope.entity;
            let command = CommandEnvelope {
                command_id: envelope.command_id,
                entity,
                issued_at: envelope.issued_at,
                actor: envelope.actor,
                command: EntityCommand::Claim(envelope.command),
            };
            match self.node.send(command).await.map_err(send_error)? {
                Outcome::Accepted { version, events_appended, .. } => {
                    if events_appended == 0 {
                        return Ok(Vec::new());
                    }
                    let after = version.saturating_sub(events_appended as u64);
                    let stored = self.node.journal().read_entity(entity, after).await.map_err(journal_error)?;
                    let events: Vec<EventEnvelope<ClaimEvent>> = stored
                        .iter()
                        .take(events_appended)
                        .map(|event| decode_event::<ClaimEntity>(event).map_err(send_error))
                        .collect::<Result<_, _>>()?;
                    // The follower would find them too; folding now makes the stream immediate.
                    self.projection.apply(&events);
                    Ok(events)
                }
                Outcome::Rejected { rejection, .. } => Err(match rejection {
                    EntityRejection::Claim(rejection) => CommandError::Rejected(rejection),
                    EntityRejection::WrongOrganization => CommandError::Rejected(Rejection::WrongOrganization),
                    other => CommandError::Service(ServiceError::Internal(other.to_string())),
                }),
            }
        }
        .boxed()
    }

    fn claim(&self, org: OrgId, id: ClaimId) -> BoxFuture<'_, Result<Option<ClaimRecord>, ServiceError>> {
        async move {
            let history = self.read_claim(org, id).await?;
            let state = ClaimState::fold(&history);
            Ok(state.claim.is_some().then_some(ClaimRecord { state, history }))
        }
        .boxed()
    }

    fn list(&self, org: OrgId, filter: ClaimFilter) -> BoxFuture<'_, Result<Vec<ClaimSnapshot>, ServiceError>> {
        let snapshots = self.projection.list(org, &filter);
        async move { Ok(snapshots) }.boxed()
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<(), ServiceError>> {
        async move {
            let mut done = self.sweeps.done.subscribe();
            // The sweep under way may have read some shards before this call: wait for the
            // one after it, which starts later.
            let wanted = *done.borrow_and_update() + 2;
            let waited = tokio::time::timeout(CATCH_UP_LIMIT, async {
                while *done.borrow_and_update() < wanted {
                    // Cut the follower's idle wait short for each sweep still wanted.
                    self.sweeps.wake.notify_one();
                    if done.changed().await.is_err() {
                        return;
                    }
                }
            })
            .await;
            waited.map_err(|_| {
                ServiceError::Unavailable(format!(
                    "the claim list did not catch up with the journal within {} s",
                    CATCH_UP_LIMIT.as_secs()
                ))
            })
        }
        .boxed()
    }

    fn subscribe(&self, org: OrgId) -> BoxStream<'static, ClaimChange> {
        self.projection.subscribe(org)
    }

    fn ready(&self) -> bool {
        // Owning a shard, not only forwarding: a cluster node is ready once it has joined.
        self.caught_up.load(Ordering::SeqCst) && !self.node.owned_shards().is_empty()
    }
}
