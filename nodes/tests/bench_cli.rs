//! `practice bench backbone` and `practice bench jetstream` run on a fresh machine and report
//! every figure the README quotes, each against its peers from the same run. Sizes are tiny: this checks that the
//! benchmark works and says what it measured, never how fast anything is.

use std::process::Command;

mod common;

/// The number a figure line reports right after its label.
fn figure(output: &str, label: &str) -> f64 {
    let line =
        output.lines().find(|line| line.starts_with(label)).unwrap_or_else(|| panic!("no {label:?} in:\n{output}"));
    let rest = line[label.len()..].trim_start();
    let number: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    number.parse().unwrap_or_else(|_| panic!("no figure after {label:?}: {line}"))
}

#[test]
fn bench_backbone_reports_every_figure_against_its_peers() {
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_practice"))
        .args(["bench", "backbone", "--claims", "40", "--concurrency", "16", "--raw-inserts", "4000"])
        .args(["--flushed-inserts", "50", "--journal-appends", "2000", "--actors", "200", "--dir"])
        .arg(scratch.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for label in [
        "raw sled inserts, no flush per write",
        "raw sled inserts, flush per write",
        "raw sled inserts, group commit",
        "raw sled inserts, group commit, keyed",
        "journal appends (durable, 16 in flight)",
        "end-to-end commands (durable, 16 in flight)",
        "RSS per live claim actor",
    ] {
        assert!(figure(&stdout, label) > 0.0, "{label}: {stdout}");
    }
    assert!(stdout.contains("flush + fdatasync every 16"), "{stdout}");
    assert!(stdout.contains("% of raw sled with group commit"), "{stdout}");
    assert!(stdout.contains("% of it keyed as the journal's"), "{stdout}");
    // Every end-to-end command was accepted.
    assert!(stdout.contains("(248 commands, 0 failed)"), "{stdout}");
}

/// `practice bench jetstream` against a real server: every figure is there, each command and
/// each floor step was answered, and the floor is measured at the commands' own pattern.
#[test]
fn bench_jetstream_reports_end_to_end_against_raw_publishes_and_the_floor() {
    let Some(server) = common::start_server() else { return };
    let output = Command::new(env!("CARGO_BIN_EXE_practice"))
        .args(["bench", "jetstream", "--nats", &server.url(), "--raw-messages", "3000"])
        .args(["--journal-events", "1024", "--claims", "60", "--concurrency", "16"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let number = |path: &str| {
        report.pointer(path).and_then(serde_json::Value::as_u64).unwrap_or_else(|| panic!("no {path} in {report:#}"))
    };
    for path in [
        "/raw_pipelined_publish_per_second",
        "/fenced_single_appends_per_second",
        "/fenced_two_event_appends_per_second",
        "/end_to_end/commands_per_second",
        "/end_to_end/p99_us",
        "/half_load/p99_us",
        "/floor/peak_per_second",
        "/floor/peak_p99_us",
        "/floor/half_load/p99_us",
    ] {
        assert!(number(path) > 0, "{path}: {report:#}");
    }
    // The half load waited for the module consumers, which caught up within the minute.
    assert!(number("/module_catch_up_ms") < 60_000, "{report:#}");
    let commands = number("/end_to_end/commands");
    assert_eq!(
        (number("/end_to_end/failed"), number("/half_load/failed"), number("/floor/half_load/failed")),
        (0, 0, 0)
    );
    assert_eq!(number("/floor/half_load/offered_per_second"), number("/half_load/offered_per_second"));
    // The floor repeats the half-load pattern: its claims' count of steps each.
    let steps = number("/floor/half_load/commands");
    assert_eq!(steps % 30, 0, "{report:#}");
    assert!(steps.abs_diff(commands / 2) <= 30, "{report:#}");
    assert_eq!(
        number("/end_to_end_percent_of_raw"),
        number("/end_to_end/commands_per_second") * 100 / number("/raw_pipelined_publish_per_second")
    );
}
