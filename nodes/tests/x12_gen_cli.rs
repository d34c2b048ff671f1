//! `practice x12 gen-837` end to end: the shipped examples become 837s; bad input gets exit
//! code 1 (claims unfit for an 837) or 2 (unreadable), with a message saying what and where.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/examples").join(name)
}

fn gen(kind: &str, claims: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_practice"))
        .args(["x12", "gen-837", "--kind", kind, "--control-number", "77", "--claims"])
        .arg(claims)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn examples_become_837_files() {
    let directory = tempfile::tempdir().unwrap();
    for (kind, name, version) in [("P", "claims-837p.json", "005010X222A1"), ("I", "claims-837i.json", "005010X223A2")]
    {
        let out = directory.path().join(format!("{name}.837"));
        let output = gen(kind, &example(name), &out);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("ISA*00*"));
        assert!(text.contains("GS*HC*PRACTICEOS*CLEARINGHOUSE*"));
        assert!(text.contains(&format!("*77*X*{version}~")));
        assert!(text.trim_end().ends_with("IEA*1*000000077~"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("RIVERA"), "no PHI on the console: {stderr}");
    }
}

#[test]
fn wrong_kind_bad_json_and_missing_file_are_reported() {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("out.837");
    let output = gen("I", &example("claims-837p.json"), &out);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("claim 0"));
    assert!(!out.exists());

    let bad = directory.path().join("bad.json");
    std::fs::write(&bad, "[{\"id\": 3}]").unwrap();
    let output = gen("P", &bad, &out);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a JSON array of claims"));

    let output = gen("P", &directory.path().join("missing.json"), &out);
    assert_eq!(output.status.code(), Some(2));
}
