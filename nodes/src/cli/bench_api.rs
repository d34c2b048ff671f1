//! `practice bench api`: a loopback load generator (a Rust client over hyper) against the API
//! served in process over an embedded node (sled journal, claim actors; `--local` for the
//! in-memory service). Reports requests/s and latency percentiles for a claim read and a
//! command (claim creation), and the delay from a posted remittance to its Server-Sent Event.
//! Figures, not assertions.

use crate::api::client::{next_claim_event, HttpClient};
use crate::api::local::LocalClaimService;
use crate::api::node::NodeClaimService;
use crate::api::sample;
use crate::api::service::ClaimService;
use crate::auth::token::claims_for;
use anyhow::{bail, Context};
use hyper::http::{Method, StatusCode};
use practice_protocol::ids::{OrgId, PatientId, UserId};
use practice_protocol::roles::Role;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct ApiBenchArgs {
    /// Concurrent client connections.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Remittance → SSE samples.
    #[arg(long, default_value_t = 200)]
    pub sse_samples: usize,
    /// Run over the in-memory local claim service instead of an embedded node.
    #[arg(long)]
    pub local: bool,
}

pub fn run(args: ApiBenchArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(bench_api(args))?;
    Ok(ExitCode::SUCCESS)
}

struct Phase {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    // Reporting figures in milliseconds and per second is display arithmetic, not money.
    #[allow(clippy::float_arithmetic)]
    fn report(&mut self, name: &str, with_rate: bool) {
        self.latencies.sort();
        let at = |quantile: f64| -> f64 {
            if self.latencies.is_empty() {
                return 0.0;
            }
            let index = ((self.latencies.len() - 1) as f64 * quantile).round() as usize;
            self.latencies[index].as_secs_f64() * 1000.0
        };
        let rate = if with_rate {
            format!("{:>10.0} req/s", self.requests as f64 / self.elapsed.as_secs_f64())
        } else {
            format!("{:>16}", "")
        };
        println!(
            "{name:<28} {rate}   p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms   ({} samples, {} errors)",
            at(0.50),
            at(0.99),
            at(1.0),
            self.requests,
            self.errors
        );
    }
}

async fn load<F, Fut>(concurrency: usize, duration: Duration, make: F) -> Phase
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut iteration = 0;
            while started.elapsed() < duration {
                let sent = Instant::now();
                if !make(worker, iteration).await {
                    errors += 1;
                }
                latencies.push(sent.elapsed());
                iteration += 1;
            }
            (latencies, errors)
        }));
    }
    let mut phase = Phase { requests: 0, errors: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
    for task in tasks {
        if let Ok((latencies, errors)) = task.await {
            phase.requests += latencies.len();
            phase.errors += errors;
            phase.latencies.extend(latencies);
        }
    }
    phase.elapsed = started.elapsed();
    phase
}

async fn bench_api(args: ApiBenchArgs) -> anyhow::Result<()> {
    let (concurrency, duration, sse_samples) =
        (args.concurrency.max(1), Duration::from_secs(args.seconds.max(1)), args.sse_samples.max(1));
    let data_dir = std::env::temp_dir().join(format!("practice-bench-api-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir)?;
    std::env::set_var(crate::auth::token::KEY_ENV, crate::auth::token::random_hex(32));
    let registry = prometheus::Registry::new();
    let (service, node, backend): (Arc<dyn ClaimService>, Option<practice_actors::Node>, &str) = if args.local {
        (LocalClaimService::new(), None, "in-memory local claim service")
    } else {
        let journal = super::embedded::open_journal(&data_dir, practice_protocol::shard::DEFAULT_SHARD_COUNT)?;
        let node = super::embedded::start_node(journal, &registry).await?;
        let service = NodeClaimService::start(node.clone());
        while !service.ready() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (service, Some(node), "embedded node (sled journal, group commit, claim actors)")
    };
    let context = super::http::context(service, &data_dir, vec![registry])?;
    let keys = context.keys.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::api::serve(context, listener, async {
        let _ = stopped.await;
    }));
    let client = HttpClient::new(format!("http://{address}"));
    let org = OrgId::new_v4();
    let now = chrono::Utc::now();
    let admin =
        keys.issue(&claims_for(org, UserId::new_v4(), Role::PracticeAdmin, None, now, chrono::Duration::hours(1)));
    let clinician =
        keys.issue(&claims_for(org, UserId::new_v4(), Role::Clinician, None, now, chrono::Duration::hours(1)));
    println!(
        "practice bench api: loopback {address}, {concurrency} connections, {}s per phase, {backend}",
        duration.as_secs()
    );

    // Seed claims to read.
    let mut claim_ids = Vec::new();
    for _ in 0..256 {
        let body = serde_json::to_value(sample::encounter(org, PatientId::new_v4()))?;
        let reply = client
            .json(Method::POST, "/api/v1/encounters", Some(&admin), Some(&body))
            .await
            .map_err(anyhow::Error::msg)?;
        if reply.status != StatusCode::CREATED {
            bail!("seeding failed: {} {}", reply.status, reply.text());
        }
        claim_ids.push(reply.json()["claim"]["id"].as_str().unwrap_or_default().to_string());
    }
    let claim_ids = Arc::new(claim_ids);

    let (read_client, read_token, ids) = (client.clone(), admin.clone(), claim_ids.clone());
    let mut reads = load(concurrency, duration, move |worker, iteration| {
        let (client, token, ids) = (read_client.clone(), read_token.clone(), ids.clone());
        async move {
            let id = &ids[(worker * 7919 + iteration) % ids.len()];
            matches!(client.json(Method::GET, &format!("/api/v1/claims/{id}"), Some(&token), None).await, Ok(reply) if reply.status == StatusCode::OK)
        }
    })
    .await;
    reads.report("GET /claims/{id}", true);

    let (write_client, write_token) = (client.clone(), admin.clone());
    let bodies: Arc<Vec<serde_json::Value>> = Arc::new(
        (0..concurrency)
            .map(|_| serde_json::to_value(sample::encounter(org, PatientId::new_v4())).unwrap_or_default())
            .collect(),
    );
    let mut writes = load(concurrency, duration, move |worker, _| {
        let (client, token, bodies) = (write_client.clone(), write_token.clone(), bodies.clone());
        async move {
            // A fresh encounter id each time: every request creates a claim (a real command).
            let mut body = bodies[worker].clone();
            body["id"] = serde_json::Value::String(uuid::Uuid::new_v4().to_string());
            matches!(client.json(Method::POST, "/api/v1/encounters", Some(&token), Some(&body)).await, Ok(reply) if reply.status == StatusCode::CREATED)
        }
    })
    .await;
    writes.report("POST /encounters (create)", true);

    // Remittance → SSE delay, one claim at a time through the real state machine.
    let mut stream = client.stream("/api/v1/stream/claims", &admin).await.map_err(anyhow::Error::msg)?.into_body();
    let mut buffer = String::new();
    let mut delays = Vec::new();
    for index in 0..sse_samples {
        let id = prepare_submitted_claim(&client, org, &admin, &clinician).await?;
        // Drain the events of the preparation.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let event = tokio::time::timeout(Duration::from_secs(5), next_claim_event(&mut stream, &mut buffer))
                .await
                .context("sse stalled")?;
            if event.as_ref().and_then(|value| value["status"].as_str()) == Some("Submitted")
                && event.as_ref().and_then(|value| value["claim_id"].as_str()) == Some(&id)
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("did not see the submission of {id}");
            }
        }
        let payment = serde_json::json!({
            "payer_name": "Sample Health Plan", "method": "check", "reference": format!("BENCH{index}"),
            "paid_on": "2026-11-20", "amount": {"amount": "175.00", "currency": "USD"},
            "allocations": [{"claim_id": id, "paid": {"amount": "175.00", "currency": "USD"}}]
        });
        // The event is timed from the moment the request leaves, read while the reply is
        // still on its way: the delay from a posted remittance to the dashboard's event.
        let posted = Instant::now();
        let request = {
            let (client, token) = (client.clone(), admin.clone());
            tokio::spawn(
                async move { client.json(Method::POST, "/api/v1/payments", Some(&token), Some(&payment)).await },
            )
        };
        loop {
            let event = tokio::time::timeout(Duration::from_secs(5), next_claim_event(&mut stream, &mut buffer))
                .await
                .context("sse stalled")?;
            if event.as_ref().and_then(|value| value["claim_id"].as_str()) == Some(&id) {
                delays.push(posted.elapsed());
                break;
            }
        }
        let reply = request.await?.map_err(anyhow::Error::msg)?;
        if reply.status != StatusCode::CREATED {
            bail!("posting failed: {} {}", reply.status, reply.text());
        }
    }
    let mut sse = Phase { requests: delays.len(), errors: 0, elapsed: delays.iter().sum(), latencies: delays };
    sse.report("remittance → SSE event", false);
    let _ = stop.send(());
    let _ = server.await;
    if let Some(node) = node {
        node.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}

/// Create, scrub, sign off and submit a claim; its id.
pub async fn prepare_submitted_claim(
    client: &HttpClient,
    org: OrgId,
    manager: &str,
    clinician: &str,
) -> anyhow::Result<String> {
    let body = serde_json::to_value(sample::encounter(org, PatientId::new_v4()))?;
    let reply = client
        .json(Method::POST, "/api/v1/encounters", Some(manager), Some(&body))
        .await
        .map_err(anyhow::Error::msg)?;
    let id = reply.json()["claim"]["id"].as_str().unwrap_or_default().to_string();
    let steps: [(&str, &str, serde_json::Value); 3] = [
        ("scrub", manager, serde_json::json!({})),
        ("sign-off", clinician, serde_json::json!({})),
        ("submit", manager, serde_json::json!({"tracking_id": "BATCH1"})),
    ];
    for (step, token, body) in steps {
        let body = (step != "sign-off").then_some(body);
        let reply = client
            .json(Method::POST, &format!("/api/v1/claims/{id}/{step}"), Some(token), body.as_ref())
            .await
            .map_err(anyhow::Error::msg)?;
        if reply.status != StatusCode::OK {
            bail!("{step} failed: {} {}", reply.status, reply.text());
        }
    }
    Ok(id)
}
