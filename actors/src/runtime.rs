//! What every actor of a node shares: the journal, metrics, configuration, and the book of
//! practice policies claim decisions read.

use crate::entity::{rehydrate, SendError};
use crate::journal::Journal;
use crate::metrics::BackboneMetrics;
use crate::module::DecodedEvents;
use crate::practice::PracticeEntity;
use chrono::Utc;
use practice_protocol::claim::DecideContext;
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::practice::PracticeState;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Tunables of a node; defaults suit a single-practice deployment.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// How long `Node::send` waits for an outcome.
    pub command_timeout: Duration,
    /// An entity actor idle this long is passivated.
    pub idle_after: Duration,
    /// How often each shard looks for idle actors.
    pub passivation_check: Duration,
    /// An entity actor idle this long keeps its state encoded until its next message
    /// (checked every `passivation_check`).
    pub hibernate_after: Duration,
    /// Restart intensity: at most `max_restarts` failures of one entity within
    /// `restart_window`; beyond that the entity is quarantined for the rest of the window.
    pub max_restarts: usize,
    pub restart_window: Duration,
    /// How often a module consumer polls a shard that had nothing new.
    pub consumer_poll: Duration,
    /// Events a consumer reads per shard per poll.
    pub consumer_batch: usize,
    /// A consumer stores a shard's moved position at most this often (and always when it
    /// leaves the shard or stops): after a crash its engine is handed at most about this much
    /// again (consumers are at least once).
    pub consumer_store_every: Duration,
    /// At most this many live entity actors per node (`None`: no bound but `idle_after`).
    /// Each shard keeps at most its share (this over the shard count, rounded up); spawning
    /// past it passivates the shard's least recently used tenth. Idle-time passivation alone
    /// lets memory follow the rate at which new entities arrive.
    pub max_live_actors: Option<usize>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            command_timeout: Duration::from_secs(5),
            idle_after: Duration::from_secs(120),
            passivation_check: Duration::from_secs(10),
            hibernate_after: Duration::from_secs(10),
            max_restarts: 3,
            restart_window: Duration::from_secs(10),
            consumer_poll: Duration::from_millis(200),
            consumer_batch: 512,
            consumer_store_every: Duration::from_secs(5),
            max_live_actors: None,
        }
    }
}

/// The practice policies per organization. Practice actors write it after every change;
/// claim actors read it, loading a practice read-only from the journal on a miss, so a claim
/// decision never depends on whether its practice's actor happens to be live.
#[derive(Default)]
pub struct PolicyBook {
    policies: RwLock<HashMap<OrgId, PracticeState>>,
}

impl PolicyBook {
    pub fn practice_ref(org: OrgId) -> EntityRef {
        EntityRef { org, kind: EntityKind::Practice, id: org.0 }
    }

    pub fn update(&self, org: OrgId, state: &PracticeState) {
        if let Ok(mut policies) = self.policies.write() {
            // Policies only: users and applied command ids are not needed here.
            let policy = PracticeState {
                write_off_threshold: state.write_off_threshold,
                appeal_window_days: state.appeal_window_days,
                version: state.version,
                ..PracticeState::default()
            };
            // A slower reader's older state never replaces a newer one.
            if policies.get(&org).is_none_or(|current| current.version <= policy.version) {
                policies.insert(org, policy);
            }
        }
    }

    pub async fn context(&self, journal: &dyn Journal, org: OrgId) -> Result<DecideContext, SendError> {
        let cached = self.policies.read().ok().and_then(|policies| policies.get(&org).cloned());
        let policy = match cached {
            Some(policy) => policy,
            None => {
                let loaded = rehydrate::<PracticeEntity>(journal, Self::practice_ref(org)).await?.state;
                self.update(org, &loaded);
                loaded
            }
        };
        Ok(policy.decide_context(Utc::now()))
    }
}

pub struct Runtime {
    pub journal: Arc<dyn Journal>,
    pub metrics: BackboneMetrics,
    pub config: NodeConfig,
    pub policies: PolicyBook,
    /// Events the node's module consumers decoded lately, shared between them.
    pub decoded: DecodedEvents,
}
