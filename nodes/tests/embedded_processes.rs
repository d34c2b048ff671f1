//! Real `practice` processes on the embedded journal: `kill -9` mid-load then restart (G2:
//! every acknowledged command is in the journal), `verify` after the reload (G4, G3, G7),
//! and a node that stops gracefully on SIGTERM after an earlier `kill -9`.

use practice_actors::journal::{Journal, SledJournal};
use practice_actors::synthetic::{claim_id, load_org};
use practice_protocol::claim::ClaimEvent;
use practice_protocol::codec;
use practice_protocol::envelope::EventEnvelope;
use practice_protocol::ids::CommandId;
use practice_protocol::shard::claim_ref;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn practice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_practice"))
}

fn complete_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // A line without its newline was being written when the process died.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    complete.lines().map(str::to_string).collect()
}

/// A data directory (inside the returned temporary one) holding `claims` claims driven
/// through `practice load` on 8 shards.
fn loaded_store(claims: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let load = practice()
        .args(["load", "--claims", &claims.to_string(), "--shards", "8"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    (dir, data)
}

#[test]
fn kill_9_mid_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acks = dir.path().join("acks.log");
    let mut load = practice()
        .args(["load", "--claims", "4000", "--concurrency", "64", "--shards", "16", "--seed", "11"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--ack-log")
        .arg(&acks)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while complete_lines(&acks).len() < 400 {
        assert!(Instant::now() < deadline, "the load acknowledged too little in time");
        if let Some(status) = load.try_wait().unwrap() {
            panic!("load ended before the kill: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    load.kill().unwrap(); // SIGKILL
    load.wait().unwrap();
    let acknowledged = complete_lines(&acks);
    assert!(acknowledged.len() >= 400);

    let journal = SledJournal::open(&data.join("journal"), 16).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let org = load_org(11);
    let mut checked = HashSet::new();
    for line in &acknowledged {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 3, "ack line {line:?}");
        let index: u64 = fields[0].parse().unwrap();
        let command: CommandId = fields[2].parse().unwrap();
        let claim = claim_ref(org, claim_id(org, index));
        let history = runtime.block_on(journal.read_entity(claim, 0)).unwrap();
        let found = history.iter().any(|stored| {
            let envelope: EventEnvelope<ClaimEvent> = codec::decode(&stored.payload).unwrap();
            envelope.command_id == Some(command)
        });
        assert!(found, "acknowledged command {command} of claim {index} is not in the journal");
        checked.insert(command);
    }
    assert_eq!(checked.len(), acknowledged.len(), "a command was acknowledged twice");
    journal.close();
    drop(journal);

    // Restart: the same load again finishes every claim; what was done is not done twice.
    let reload = practice()
        .args(["load", "--claims", "4000", "--concurrency", "64", "--seed", "11"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(reload.status.success(), "{}", String::from_utf8_lossy(&reload.stderr));
    let verify = practice().arg("verify").arg("--data-dir").arg(&data).output().unwrap();
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{report}\n{}", String::from_utf8_lossy(&verify.stderr));
    assert!(report.contains("claim entities        4000"), "{report}");
    assert!(report.contains("claims conserving     4000"), "{report}");
}

#[test]
fn a_killed_node_restarts_and_stops_gracefully_on_sigterm() {
    let (_dir, data) = loaded_store(50);
    let start_node = || {
        practice().args(["node", "--shards", "8"]).arg("--data-dir").arg(&data).stderr(Stdio::piped()).spawn().unwrap()
    };
    let wait_ready = |child: &mut std::process::Child| {
        use std::io::{BufRead, BufReader};
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("ready") => return lines,
                Some(Ok(_)) => continue,
                other => panic!("node exited before it was ready: {other:?}"),
            }
        }
    };
    let mut first = start_node();
    let _ = wait_ready(&mut first);
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = start_node();
    let rest = wait_ready(&mut second);
    let terminated = Command::new("kill").arg("-TERM").arg(second.id().to_string()).status().unwrap();
    assert!(terminated.success());
    let status = second.wait().unwrap();
    assert!(status.success(), "node exit status after SIGTERM: {status}");
    let said: Vec<String> = rest.map_while(Result::ok).collect();
    assert!(said.iter().any(|line| line.contains("stopped")), "{said:?}");
    let verify = practice().arg("verify").arg("--data-dir").arg(&data).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

#[test]
fn a_store_from_a_newer_build_is_refused_saying_what_and_where_and_is_left_as_it_was() {
    let (_dir, data) = loaded_store(20);
    let journal = data.join("journal");
    let set_format = |format: u16| {
        let db = sled::open(&journal).unwrap();
        db.insert(b"mformat", &format.to_be_bytes()).unwrap();
        db.flush().unwrap();
    };

    set_format(4);
    let refused = practice().arg("verify").arg("--data-dir").arg(&data).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a newer store format was verified: {stderr}");
    assert!(stderr.contains("store format 4") && stderr.contains("formats up to 3"), "{stderr}");
    assert_eq!(stderr.matches(&journal.display().to_string()).count(), 1, "which store, once: {stderr}");
    assert!(!stderr.contains("is a node running on it"), "a misleading hint: {stderr}");

    // The build that wrote it (here, the marker put back) finds everything as it was.
    set_format(3);
    let verify = practice().arg("verify").arg("--data-dir").arg(&data).output().unwrap();
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{report}\n{}", String::from_utf8_lossy(&verify.stderr));
}
