//! `practice demo` as a user runs it: a real process, a real journal on disk, a real summary
//! file. G7 for every claim after a 10,000-claim run, posted money equal to the simulator's
//! ground truth to the cent (the 835s go through real files and our X12 reader), every 835
//! re-ingested with no effect, secondary claims built from primaries, slow claims asked about
//! with 276s and answered with 277s; and the same on JetStream. A second run on a journal that
//! holds a first (a reused data dir, the same server) bills as a new practice and passes too.

use practice_tests::nats::NatsServer;
use rust_decimal::Decimal;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::str::FromStr;

fn decimal(value: &Value, pointer: &str) -> Decimal {
    let text = value.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{pointer} missing"));
    Decimal::from_str(text).unwrap_or_else(|error| panic!("{pointer}: {error}"))
}

/// The summary, and the folder the run used (its data dir is `data`).
fn run_demo(claims: u64, extra: &[&str]) -> (Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = run_demo_in(dir.path(), claims, extra);
    (summary, dir)
}

/// One run with `dir/data` as its data dir (kept from any earlier run there) and its summary in
/// `dir/summary.json`.
fn run_demo_in(dir: &Path, claims: u64, extra: &[&str]) -> Value {
    let summary_path = dir.join("summary.json");
    let output = Command::new(env!("CARGO_BIN_EXE_practice"))
        .args(["demo", "--claims", &claims.to_string(), "--data-dir"])
        .arg(dir.join("data"))
        .arg("--summary-json")
        .arg(&summary_path)
        .args(extra)
        .output()
        .expect("practice demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("exact to the cent"), "{stdout}");
    let outbox = std::fs::read_dir(dir.join("data/outbox")).expect("outbox").count();
    assert!(outbox > 0, "no 837 files were written");
    let inbox = std::fs::read_dir(dir.join("data/inbox")).expect("inbox").count();
    assert!(inbox > 0, "no 835 files were received");
    serde_json::from_slice(&std::fs::read(&summary_path).expect("summary written")).expect("summary is JSON")
}

fn check(summary: &Value, encounters: u64) {
    let secondary = summary["secondary_claims"].as_u64().expect("secondary_claims");
    assert!(secondary > 0, "no secondary claim was built from a primary's remittance");
    let claims = encounters + secondary;
    assert_eq!(summary["claims"].as_u64(), Some(claims));
    assert_eq!(summary["inbound_rejected"].as_u64(), Some(0));
    let by_status: u64 = summary["by_status"].as_object().expect("by_status").values().filter_map(Value::as_u64).sum();
    assert_eq!(by_status, claims);
    assert_eq!(summary["conservation_violations"].as_u64(), Some(0));
    // Every 999 found the batch it answers in the registry (one that did not is suspense).
    assert_eq!(summary["files"]["999"], summary["files"]["837_files"]);
    assert_eq!(summary["suspense_items"].as_u64(), Some(0));
    // Claims the payers were slow on were asked about (276), and every claim asked about got
    // a status recorded in its history from the payer's 277.
    assert!(summary["files"]["276_files"].as_u64().unwrap_or(0) > 0, "no status request: {}", summary["files"]);
    assert!(summary["files"]["276_claims"].as_u64().unwrap_or(0) > 0);
    assert_eq!(summary["files"]["277_statuses"], summary["files"]["276_claims"]);
    assert_eq!(summary["reingested_events"].as_u64(), Some(0), "an 835 posted twice");
    assert_eq!(summary["ground_truth"]["claims_mismatched"].as_u64(), Some(0));
    assert_eq!(summary["ground_truth"]["exact"].as_bool(), Some(true));
    assert_eq!(decimal(summary, "/ground_truth/posted_paid"), decimal(summary, "/ground_truth/truth_paid"));
    // G7 over the whole practice, from the summary's own figures.
    let charge = decimal(summary, "/money/charge");
    let settled: Decimal =
        ["paid", "contractual", "patient_responsibility", "other_adjustments", "written_off", "open"]
            .iter()
            .map(|field| decimal(summary, &format!("/money/{field}")))
            .sum();
    assert_eq!(charge, settled);
    assert!(decimal(summary, "/money/paid") > Decimal::ZERO);
    // Real life has denials, appeals and write-offs; the demo must show them worked.
    assert!(summary["denials_by_carc"].as_object().is_some_and(|map| !map.is_empty()));
    assert!(summary["appeals"].as_u64().unwrap_or(0) > 0);
    assert!(summary["write_offs"].as_u64().unwrap_or(0) > 0);
    assert!(summary["statements"].as_u64().unwrap_or(0) > 0);
    // A claim's own processing lies inside its wall-clock span from submission to payment.
    let (processing, settle) = (summary["processing_p50_ms"].as_f64(), summary["settle_p50_ms"].as_f64());
    assert!(
        processing.zip(settle).is_some_and(|(processing, settle)| processing > 0.0 && processing <= settle),
        "processing p50 {processing:?} against settle p50 {settle:?}"
    );
    // The stages account for the run's wall clock, in order, and nothing else.
    let stages: Vec<(&str, f64)> = summary["stage_seconds"]
        .as_array()
        .expect("stage_seconds")
        .iter()
        .map(|stage| (stage[0].as_str().expect("stage name"), stage[1].as_f64().expect("stage seconds")))
        .collect();
    let names: Vec<&str> = stages.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["first day", "simulated days", "every 835 again", "reading every claim back"]);
    let (sum, elapsed) = (stages.iter().map(|(_, seconds)| seconds).sum::<f64>(), summary["elapsed_seconds"].as_f64());
    assert!(stages.iter().all(|(_, seconds)| *seconds > 0.0), "{stages:?}");
    assert!(elapsed.is_some_and(|elapsed| sum <= elapsed), "{stages:?} against {elapsed:?}");
}

#[test]
fn ten_thousand_claims_conserve_money_and_match_the_ground_truth() {
    let (summary, dir) = run_demo(10_000, &[]);
    check(&summary, 10_000);
    assert!(dir.path().join("data/batches").is_dir(), "the embedded demo keeps its batch registry in sled");
}

#[test]
fn the_demo_runs_on_jetstream_too() {
    let server = NatsServer::start().expect("nats-server starts");
    let (summary, dir) = run_demo(300, &["--nats", &server.url()]);
    check(&summary, 300);
    // The batch registry is the server's KV bucket, not a file: and 999s still found every batch.
    assert!(!dir.path().join("data/batches").exists(), "the demo on JetStream wrote a sled registry");
    // The server keeps the first run's practice: a second run bills as a new one, whose claims
    // and batches (the same seed, the same control numbers) start from nothing.
    let (again, _dir) = run_demo(300, &["--nats", &server.url()]);
    check(&again, 300);
    assert_practices(&[&summary, &again]);
}

/// Each run billed as its own practice, numbered in the order the runs used the journal.
fn assert_practices(runs: &[&Value]) {
    for (index, summary) in runs.iter().enumerate() {
        assert_eq!(summary["practice_number"].as_u64(), Some(index as u64 + 1), "run {index}");
    }
    let orgs: std::collections::BTreeSet<&str> =
        runs.iter().filter_map(|summary| summary["practice_org"].as_str()).collect();
    assert_eq!(orgs.len(), runs.len(), "runs shared a practice: {orgs:?}");
}

#[test]
fn a_second_run_on_the_same_data_dir_is_a_new_practice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = run_demo_in(dir.path(), 300, &[]);
    check(&first, 300);
    let second = run_demo_in(dir.path(), 300, &[]);
    check(&second, 300);
    assert_practices(&[&first, &second]);
    // The two practices' claims share ids (the same seed) but not histories.
    assert_eq!(first["money"], second["money"]);
}
