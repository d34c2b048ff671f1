//! The outbound log's two stores behave alike: the embedded node's sled database and a
//! cluster's JetStream stream (on a real nats-server). Staging marks submissions and takes the
//! next control number (837s and 276s share them), a failed build stores nothing, delivery
//! forgets the bytes and keeps the marks, and everything survives reopening. On JetStream, a
//! second sender that has not read the first's staging is refused and then knows it, and
//! checkpoints keep the log short without changing what any reader knows.

mod common;

use practice_nodes::outbound::jetstream_log::{JetStreamOutboundLog, CHECKPOINT_EVERY};
use practice_nodes::outbound::sled_log::SledOutboundLog;
use practice_nodes::outbound::state::Entry;
use practice_nodes::outbound::{InquiryClock, OutboundLog, OutboundLogError, StagedBatch, StagedRequest, Submission};
use practice_protocol::ids::{ClaimId, OrgId};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

type Opened = Pin<Box<dyn Future<Output = OutboundLog>>>;

fn staged(org: OrgId, control: u32) -> StagedBatch {
    StagedBatch { org, control, institutional: false, bytes: format!("ISA*{control}").into_bytes(), sent: vec![] }
}

fn request(org: OrgId, control: u32) -> StagedRequest {
    StagedRequest { org, control, bytes: b"ISA*276".to_vec(), claims: 2 }
}

fn submission(number: u32) -> Submission {
    Submission { claim_id: ClaimId::new_v4(), number }
}

/// The shared scenario; `open` opens the same practice's log again each time it is called.
async fn conforms(org: OrgId, open: impl Fn() -> Opened) {
    let first = submission(1);
    let again = Submission { number: 2, ..first };
    let other = submission(1);
    {
        let log = open().await;
        assert!(!log.is_sent(first).await.unwrap());
        let batch = log.stage(&[first, other], 1_000, |control| Ok::<_, ()>(staged(org, control))).await.unwrap();
        assert_eq!(batch.unwrap().id(), "000000001");
        // A build that fails stages nothing and uses no number.
        assert_eq!(log.stage(&[again], 1_000, |_| Err("no")).await.unwrap(), Err("no"));
        assert!(log.is_sent(first).await.unwrap() && log.is_sent(other).await.unwrap());
        assert!(!log.is_sent(again).await.unwrap(), "a resubmission is a new submission");
        assert_eq!(log.inquiry_clock(first, 9_999).await.unwrap(), InquiryClock { since_ms: 1_000, asked: 0 });
    }
    let log = open().await;
    assert_eq!(log.staged().await.unwrap(), vec![staged(org, 1)], "what was staged survives reopening");
    let second = log.stage(&[again], 2_000, |control| Ok::<_, ()>(staged(org, control))).await.unwrap().unwrap();
    assert_eq!(second.control, 2);
    log.delivered(1).await.unwrap();
    assert_eq!(log.staged().await.unwrap(), vec![staged(org, 2)]);
    assert!(log.is_sent(first).await.unwrap(), "a delivered batch's marks stay");

    // 276s: the same numbering, staged apart; the clocks restart with one more request.
    assert_eq!(log.requests_answered(first.claim_id).await.unwrap(), 0);
    let both = [(first, 2), (other, 0)];
    let asked = log.stage_request(&both, 4_000, |control| Ok::<_, ()>(request(org, control)));
    assert_eq!(asked.await.unwrap().unwrap().id(), "000000003", "one numbering for 837s and 276s");
    assert_eq!(log.stage_request(&[(first, 3)], 4_500, |_| Err("no")).await.unwrap(), Err("no"));
    assert_eq!(log.requests_answered(first.claim_id).await.unwrap(), 2, "a failed build records nothing");
    drop(log);
    let log = open().await;
    assert_eq!(log.staged_requests().await.unwrap(), vec![request(org, 3)]);
    assert_eq!(log.staged().await.unwrap(), vec![staged(org, 2)], "837s and 276s are staged apart");
    assert_eq!(log.inquiry_clock(first, 0).await.unwrap(), InquiryClock { since_ms: 4_000, asked: 1 });
    assert_eq!(log.inquiry_clock(other, 0).await.unwrap(), InquiryClock { since_ms: 4_000, asked: 1 });
    log.request_delivered(3).await.unwrap();
    log.delivered(2).await.unwrap();
    assert!(log.staged_requests().await.unwrap().is_empty() && log.staged().await.unwrap().is_empty());
    let third = log.stage_request(&[(first, 3)], 8_000, |control| Ok::<_, ()>(request(org, control))).await;
    assert_eq!(third.unwrap().unwrap().control, 4);
    assert_eq!(log.requests_answered(first.claim_id).await.unwrap(), 3);
    assert_eq!(log.inquiry_clock(first, 0).await.unwrap(), InquiryClock { since_ms: 8_000, asked: 2 });
}

#[tokio::test]
async fn the_sled_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("outbound");
    let org = OrgId::new_v4();
    conforms(org, move || {
        let path = path.clone();
        Box::pin(
            async move { OutboundLog::Sled { org, log: std::sync::Arc::new(SledOutboundLog::open(&path).unwrap()) } },
        )
    })
    .await;
}

#[tokio::test]
async fn the_jetstream_store_conforms() {
    jetstream_conforms(CHECKPOINT_EVERY).await;
}

/// The same scenario with a checkpoint after every entry: each reopening starts from one.
#[tokio::test]
async fn the_jetstream_store_conforms_checkpointing_after_every_entry() {
    jetstream_conforms(1).await;
}

async fn jetstream_conforms(checkpoint_every: u64) {
    let Some(server) = common::start_server() else { return };
    let client = practice_nodes::jetstream::connect(&server.url(), "test").await.unwrap();
    let org = OrgId::new_v4();
    conforms(org, move || {
        let client = client.clone();
        Box::pin(async move {
            let log = JetStreamOutboundLog::open_with(client, org, 1, checkpoint_every).await.unwrap();
            OutboundLog::JetStream(Box::new(log))
        })
    })
    .await;
}

/// Everything one reader knows of the practice's sending, for comparing two.
async fn knowledge(
    log: &JetStreamOutboundLog,
    submissions: &[Submission],
) -> (Vec<StagedBatch>, Vec<StagedRequest>, Vec<(bool, InquiryClock, u32)>) {
    let mut marks = Vec::new();
    for submission in submissions {
        marks.push((
            log.is_sent(*submission).await,
            log.inquiry_clock(*submission, 0).await.unwrap(),
            log.requests_answered(submission.claim_id).await,
        ));
    }
    (log.staged().await.unwrap(), log.staged_requests().await.unwrap(), marks)
}

/// A practice that has sent for a long time: with a checkpoint every 5 entries, its log holds
/// at most 5 entries after the latest checkpoint, the stream nothing else but that checkpoint's
/// state and what is still staged; a new reader, one opened before it all began (whose next
/// entries were purged) and the sender itself all know the same; a stale sender is still
/// refused, and the numbering goes on.
#[tokio::test]
async fn checkpoints_bound_the_log_and_every_reader_knows_the_same() {
    const EVERY: u64 = 5;
    let Some(server) = common::start_server() else { return };
    let client = practice_nodes::jetstream::connect(&server.url(), "test").await.unwrap();
    let org = OrgId::new_v4();
    let open = || JetStreamOutboundLog::open_with(client.clone(), org, 1, EVERY);
    let (sender, early) = (open().await.unwrap(), open().await.unwrap());
    let mut stale = None;
    let mut submissions = Vec::new();
    let mut last = 0;
    for round in 0..12u32 {
        let batch = [submission(1), submission(2)];
        submissions.extend(batch);
        let at = u64::from(round) * 1_000;
        last = sender.stage(&batch, at, |control| Ok::<_, ()>(staged(org, control))).await.unwrap().unwrap().control;
        if round % 3 == 0 {
            let asking = [(batch[0], round + 1)];
            let asked = sender.stage_request(&asking, at + 500, |control| Ok::<_, ()>(request(org, control)));
            sender.delivered(asked.await.unwrap().unwrap().control).await.unwrap();
        }
        if round < 11 {
            sender.delivered(last).await.unwrap();
        }
        if round == 5 {
            stale = Some(open().await.unwrap());
        }
    }
    assert_eq!(last, 16, "12 batches and 4 requests numbered in one sequence");

    let context = async_nats::jetstream::new(client.clone());
    let mut stream = context.get_stream("OUTLOG").await.unwrap();
    let subject = format!("outlog.{}.log", org.0.simple());
    let mut entries = Vec::new();
    let mut after = 0;
    while let Ok(message) = stream.direct_get_next_for_subject(subject.as_str(), Some(after + 1)).await {
        entries.push(practice_protocol::codec::decode::<Entry>(&message.payload).unwrap());
        after = message.sequence;
    }
    assert!(matches!(entries[0], Entry::Checkpoint { .. }), "the log starts at its latest checkpoint: {entries:?}");
    assert!(entries.len() as u64 <= EVERY + 1, "{} entries kept", entries.len());
    let stored = stream.info().await.unwrap().state.messages;
    // The entries, the checkpoint's state, the one batch still staged.
    assert!(stored <= entries.len() as u64 + 2, "{stored} messages in the stream for {} entries", entries.len());

    let expected = knowledge(&sender, &submissions).await;
    assert_eq!(expected.0, vec![staged(org, 16)]);
    assert!(expected.2.iter().all(|(sent, _, _)| *sent));
    assert_eq!(knowledge(&open().await.unwrap(), &submissions).await, expected, "a new reader");
    early.refresh().await.unwrap();
    assert_eq!(knowledge(&early, &submissions).await, expected, "a reader whose next entries were purged");
    let stale = stale.unwrap();
    let refused = stale.stage(&[submissions[0]], 99_000, |control| Ok::<_, ()>(staged(org, control))).await;
    assert!(matches!(refused, Err(OutboundLogError::Contended)), "{refused:?}");
    assert_eq!(knowledge(&stale, &submissions).await, expected, "a stale sender, once refused");
    let next = stale.stage(&[submission(1)], 99_000, |control| Ok::<_, ()>(staged(org, control))).await;
    assert_eq!(next.unwrap().unwrap().control, 17);
}

/// Two nodes both believing they send for one practice (a takeover while the old owner was
/// paused): the one that has not read the other's staging is refused, stages nothing, and
/// from then on knows what the other sent. Another practice's log is untouched by either.
#[tokio::test]
async fn a_sender_that_missed_the_others_staging_is_refused() {
    let Some(server) = common::start_server() else { return };
    let client = practice_nodes::jetstream::connect(&server.url(), "test").await.unwrap();
    let org = OrgId::new_v4();
    let open = |org| {
        let client = client.clone();
        async move { OutboundLog::JetStream(Box::new(JetStreamOutboundLog::open(client, org, 1).await.unwrap())) }
    };
    let (old, new) = (open(org).await, open(org).await);
    let claim = submission(1);
    let taken = new.stage(&[claim], 1, |control| Ok::<_, ()>(staged(org, control))).await.unwrap();
    assert_eq!(taken.unwrap().control, 1);
    // The old sender still thinks the claim is unsent and builds a batch with it: refused.
    assert!(!old.is_sent(claim).await.unwrap());
    let refused = old.stage(&[claim], 2, |control| Ok::<_, ()>(staged(org, control))).await;
    assert!(matches!(refused, Err(OutboundLogError::Contended)), "{refused:?}");
    assert!(old.is_sent(claim).await.unwrap(), "the refused sender read what the other staged");
    assert_eq!(old.staged().await.unwrap(), vec![staged(org, 1)], "the other's bytes, not the refused ones");
    // Both go on without repeating a control number; deliveries by either count for both.
    let next = old.stage(&[submission(1)], 3, |control| Ok::<_, ()>(staged(org, control))).await.unwrap();
    assert_eq!(next.unwrap().control, 2);
    new.delivered(1).await.unwrap();
    old.refresh().await.unwrap();
    assert_eq!(old.staged().await.unwrap(), vec![staged(org, 2)]);
    assert_eq!(new.staged().await.unwrap(), vec![staged(org, 2)]);
    let elsewhere = open(OrgId::new_v4()).await;
    assert!(elsewhere.staged().await.unwrap().is_empty() && !elsewhere.is_sent(claim).await.unwrap());
    let first = elsewhere.stage(&[claim], 4, |control| Ok::<_, ()>(staged(org, control))).await.unwrap();
    assert_eq!(first.unwrap().control, 1, "each practice numbers its own interchanges");
}

/// An interchange larger than the server's largest message (1 MiB by default; a batch of
/// institutional claims with many lines gets there) is stored in chunks and read back whole.
#[tokio::test]
async fn a_batch_larger_than_a_message_is_staged_in_chunks() {
    let Some(server) = common::start_server() else { return };
    let client = practice_nodes::jetstream::connect(&server.url(), "test").await.unwrap();
    let limit = client.server_info().max_payload;
    let org = OrgId::new_v4();
    let big: Vec<u8> = (0..limit * 5 / 2).map(|index| b'A' + (index % 26) as u8).collect();
    let batch = |control| StagedBatch { org, control, institutional: true, bytes: big.clone(), sent: vec![] };
    {
        let log = JetStreamOutboundLog::open(client.clone(), org, 1).await.unwrap();
        log.stage(&[submission(1)], 1, |control| Ok::<_, ()>(batch(control))).await.unwrap().unwrap();
    }
    let log = JetStreamOutboundLog::open(client, org, 1).await.unwrap();
    let staged = log.staged().await.unwrap();
    assert_eq!(staged.len(), 1);
    assert!(staged[0] == batch(1), "{} bytes back of {}", staged[0].bytes.len(), big.len());
}

/// Staging on the embedded log builds the batch and syncs it on the calling worker: on a
/// runtime with one worker, the node's other tasks must still run meanwhile. Here the build
/// waits for a task spawned just before it; were the worker held, that task would never run.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn staging_on_the_embedded_log_leaves_the_runtime_to_other_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let org = OrgId::new_v4();
    let log = OutboundLog::Sled { org, log: std::sync::Arc::new(SledOutboundLog::open(dir.path()).unwrap()) };
    // On the worker (the test's own body runs on another thread).
    let staging = tokio::spawn(async move {
        let (ran, heard) = std::sync::mpsc::channel();
        let other_task = tokio::spawn(async move { ran.send(()).unwrap() });
        let staged = log
            .stage(&[submission(1)], 1_000, move |control| {
                heard.recv_timeout(std::time::Duration::from_secs(5)).map_err(|_| "no other task ran while staging")?;
                Ok::<_, &str>(staged(org, control))
            })
            .await
            .unwrap();
        other_task.await.unwrap();
        staged
    });
    assert_eq!(staging.await.unwrap().map(|batch| batch.control), Ok(1));
}
