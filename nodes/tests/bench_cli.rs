//! `practice bench backbone` runs on a fresh machine and reports every figure the README
//! quotes, each against its peers from the same run. Sizes are tiny: this checks that the
//! benchmark works and says what it measured, never how fast anything is.

use std::process::Command;

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
