//! The floor under `practice bench jetstream`'s end-to-end figures: the messages a command
//! costs, with none of the node's work. Each step is a core NATS request to a responder on a
//! connection of its own (as a node has), which publishes 200 bytes with a `Nats-Msg-Id` to
//! JetStream, awaits the ack and replies. Measured in the same run, against the same server,
//! with the node stopped: at peak (closed loop, as many in flight as the end-to-end run) and
//! paced as the half-load commands were. What no design with a request, a durable append and
//! a reply per command can beat on this machine.

use super::bench::{fresh_stream, unavailable};
use super::bench_paced::{pace, PacedReport, Pattern};
use super::load::{percentile_us, rate};
use crate::jetstream::connect;
use async_nats::jetstream;
use futures::StreamExt;
use practice_actors::journal::JournalError;
use serde::Serialize;
use std::future::IntoFuture;
use std::time::Instant;

#[derive(Clone, Debug, Default, Serialize)]
pub struct FloorReport {
    /// Closed loop, the end-to-end run's concurrency: steps/s.
    pub peak_per_second: u64,
    pub peak_p50_us: u64,
    pub peak_p99_us: u64,
    /// `peak_per_second` as a share of raw pipelined publishes/s, in percent.
    pub peak_percent_of_raw: u64,
    /// Paced as the half-load commands (`commands` counts steps).
    pub half_load: PacedReport,
}

const FLOOR_STREAM: &str = "BENCHFLOOR";
/// What each step sends: 200 bytes, as the raw reference publishes.
const PAYLOAD: &[u8] = &[b'x'; 200];

/// Both floor runs: `steps` at `concurrency` in flight, then `pattern`.
pub async fn floor(
    nats_url: &str,
    client: &async_nats::Client,
    steps: u64,
    concurrency: usize,
    pattern: Pattern,
    raw_per_second: u64,
) -> Result<FloorReport, JournalError> {
    let responder = Responder::start(nats_url).await?;
    let started = Instant::now();
    let mut latencies: Vec<_> = futures::stream::iter(0..steps)
        .map(|_| step(client, &responder.subject))
        .buffer_unordered(concurrency.max(1))
        .filter_map(|latency| async move { latency })
        .collect()
        .await;
    let peak_per_second = rate(latencies.len() as u64, started.elapsed());
    latencies.sort();
    let half_load = pace(pattern, |_| {
        let (client, subject) = (client.clone(), responder.subject.clone());
        async move {
            let mut latencies = Vec::new();
            for _ in 0..pattern.steps_per_journey {
                match step(&client, &subject).await {
                    Some(latency) => latencies.push(latency),
                    None => return (latencies, 1),
                }
            }
            (latencies, 0)
        }
    })
    .await;
    responder.stop().await;
    Ok(FloorReport {
        peak_per_second,
        peak_p50_us: percentile_us(&latencies, 50),
        peak_p99_us: percentile_us(&latencies, 99),
        peak_percent_of_raw: peak_per_second * 100 / raw_per_second.max(1),
        half_load,
    })
}

/// One request answered after its publish was acknowledged; its latency, if it was.
async fn step(client: &async_nats::Client, subject: &str) -> Option<std::time::Duration> {
    let sent = Instant::now();
    let answer = client.request(subject.to_owned(), bytes::Bytes::from_static(PAYLOAD)).await.ok()?;
    (answer.payload.as_ref() == b"ok").then(|| sent.elapsed())
}

/// The stand-in node: a subscriber that stores each request's payload and then replies.
struct Responder {
    subject: String,
    context: jetstream::Context,
    serving: tokio::task::JoinHandle<()>,
}

impl Responder {
    async fn start(nats_url: &str) -> Result<Self, JournalError> {
        let connection = connect(nats_url, "practice-bench-floor").await?;
        let context = jetstream::new(connection.clone());
        fresh_stream(&context, FLOOR_STREAM, "benchfloor.>").await?;
        let subject = format!("benchfloor-request.{}", uuid::Uuid::new_v4().simple());
        let mut requests = connection.subscribe(subject.clone()).await.map_err(unavailable)?;
        connection.flush().await.map_err(unavailable)?;
        let publisher = context.clone();
        let serving = tokio::spawn(async move {
            let mut served = 0u64;
            while let Some(request) = requests.next().await {
                let Some(reply) = request.reply else { continue };
                served += 1;
                let (context, connection) = (publisher.clone(), connection.clone());
                // Each request on a task of its own, as a node's shards answer concurrently.
                tokio::spawn(async move {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Nats-Msg-Id", format!("floor-{served}").as_str());
                    let subject = format!("benchfloor.{}", served % 4096);
                    let stored = match context.publish_with_headers(subject, headers, request.payload).await {
                        Ok(ack) => ack.into_future().await.is_ok(),
                        Err(_) => false,
                    };
                    let _ =
                        connection.publish(reply, bytes::Bytes::from_static(if stored { b"ok" } else { b"no" })).await;
                });
            }
        });
        Ok(Self { subject, context, serving })
    }

    async fn stop(self) {
        self.serving.abort();
        let _ = self.context.delete_stream(FLOOR_STREAM).await;
    }
}
