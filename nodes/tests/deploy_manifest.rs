//! `deploy/kubernetes/practice.yaml` as a pod would run it: the container's command line, with
//! the pod's environment filled in (NATS on loopback, a pod name), starts a real cluster node
//! that serves the probes' paths, takes the shards, and leaves cleanly on SIGTERM within the
//! manifest's grace period. A flag the manifest uses cannot drift from the binary.

mod common;
mod http_process;

use http_process::{http, printed_address};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MANIFEST: &str = include_str!("../../deploy/kubernetes/practice.yaml");

/// The value of the first `key:` line (its rest, trimmed).
fn field<'a>(key: &str) -> &'a str {
    let prefix = format!("{key}:");
    MANIFEST
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("the manifest has no {key}"))
        .trim()
}

/// The probes and `/metrics` take no token.
fn get(address: &str, path: &str) -> (u16, String) {
    http(address, "GET", path, "", None)
}

#[test]
fn the_manifests_command_line_runs_a_node_that_serves_its_probes_and_stops_on_sigterm() {
    let Some(server) = common::start_server() else { return };
    // A flow sequence on one line: YAML, and JSON too.
    let args: Vec<String> = serde_json::from_str(field("args")).expect("args as a one-line list");
    let data = tempfile::tempdir().unwrap();
    let args: Vec<String> = args
        .into_iter()
        .map(|arg| match arg.as_str() {
            "$(PRACTICE_NATS)" => server.url(),
            "$(POD_NAME)" => "practice-node-0".to_string(),
            "0.0.0.0:8080" => "127.0.0.1:0".to_string(),
            "/var/lib/practice" => data.path().display().to_string(),
            _ => {
                assert!(!arg.contains("$("), "an environment variable the test does not fill: {arg}");
                arg
            }
        })
        .collect();
    for probe in ["/readyz", "/healthz"] {
        assert!(MANIFEST.contains(&format!("path: {probe}")), "the manifest probes {probe}");
    }
    let grace: u64 = field("terminationGracePeriodSeconds").parse().unwrap();

    let log = data.path().join("node.log");
    let mut child = Command::new(common::practice_binary())
        .args(&args)
        .env("PRACTICE_TOKEN_KEY", "a-deploy-manifest-test-key-of-32-bytes-or-more")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let address = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(address) = printed_address(&text) {
            break address;
        }
        assert!(child.try_wait().unwrap().is_none(), "the node exited:\n{text}");
        assert!(started.elapsed() < Duration::from_secs(30), "no API address:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(get(&address, "/healthz").0, 200);
    while get(&address, "/readyz").0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never ready:\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Alone, the node takes every shard.
    loop {
        let (_, metrics) = get(&address, "/metrics");
        let held = metrics.lines().find(|line| line.starts_with("practice_leases_held ")).expect("leases gauge");
        if held == "practice_leases_held 64" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{held} after 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }

    let stopping = Instant::now();
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(stopping.elapsed() < Duration::from_secs(grace), "not stopped within the grace period");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}: {}", std::fs::read_to_string(&log).unwrap());
}

/// The value the manifest's example NATS install sets for `key` (`--set key=value`).
fn helm_value<'a>(key: &str) -> &'a str {
    let flag = format!("--set {key}=");
    let at = MANIFEST.find(&flag).unwrap_or_else(|| panic!("the NATS install sets no {key}")) + flag.len();
    MANIFEST[at..].split_whitespace().next().unwrap()
}

/// Mebibytes in a Kubernetes quantity ("4Gi") or a Go one ("3600MiB").
fn mebibytes(quantity: &str) -> u64 {
    let digits: String = quantity.chars().take_while(char::is_ascii_digit).collect();
    let number: u64 = digits.parse().unwrap_or_else(|_| panic!("no number in {quantity}"));
    match &quantity[digits.len()..] {
        "Mi" | "MiB" => number,
        "Gi" | "GiB" => number * 1024,
        unit => panic!("unit {unit:?} of {quantity}"),
    }
}

#[test]
fn the_manifests_nats_install_fsyncs_every_write_and_bounds_the_collector() {
    // An ack is not an fsync otherwise (G2, DESIGN.md §3); the test servers run the same.
    assert_eq!(helm_value("config.jetstream.merge.sync_interval"), "always");
    let limit = mebibytes(helm_value("container.merge.resources.limits.memory"));
    let soft = mebibytes(helm_value("container.env.GOMEMLIMIT"));
    assert!(soft < limit && soft * 10 >= limit * 8, "GOMEMLIMIT {soft} MiB against a {limit} MiB limit");
}
