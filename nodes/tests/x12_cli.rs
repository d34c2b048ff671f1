//! `practice x12 parse|validate` end to end: JSON on stdout, exit codes 0/1/2.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/fixtures/x12").join(name)
}

fn practice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_practice")).args(args).output().expect("run practice")
}

fn path_arg(path: &std::path::Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn parse_prints_the_835_json_shape() {
    let file = fixture("reversal_correction_plb.835");
    let output = practice(&["x12", "parse", path_arg(&file)]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let transaction = &json["transactions"][0];
    assert_eq!(transaction["type"], "835");
    assert_eq!(transaction["payment"]["amount"], "130.00");
    assert_eq!(transaction["payment"]["trace_number"], "EFT0001");
    assert_eq!(transaction["balanced"], true);
    let claim = &transaction["claims"][0];
    assert_eq!(claim["patient_control_number"], "CLAIM-0042");
    assert_eq!(claim["status"], "22");
    assert_eq!(claim["charge"], "-200.00");
    assert_eq!(claim["paid"], "-150.00");
    assert_eq!(claim["patient_responsibility"], "-50.00");
    let service = &transaction["claims"][2]["services"][0];
    assert_eq!(service["procedure"], "97110");
    assert_eq!(service["modifiers"], serde_json::json!(["GP", "59", "XS", "KX"]));
    assert_eq!(service["adjustments"][0]["group"], "CO");
    assert_eq!(service["adjustments"][0]["quantity"], "1");
    assert_eq!(transaction["claims"][2]["adjustments"][0]["amount"], "100.00");
    assert_eq!(transaction["provider_adjustments"][0]["reason"], "WO");
    assert_eq!(transaction["provider_adjustments"][1]["amount"], "-25.00");
    assert_eq!(json["diagnostics"], serde_json::json!([]));
}

#[test]
fn validate_exit_codes() {
    let valid = practice(&["x12", "validate", path_arg(&fixture("rejected.999"))]);
    assert_eq!(valid.status.code(), Some(0));
    assert!(valid.stdout.is_empty());

    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.835");
    let text = std::fs::read_to_string(fixture("reversal_correction_plb.835")).expect("fixture");
    std::fs::write(&broken, text.replace("SE*44*0001", "SE*40*0001").replace("IEA*1*000000101", "IEA*1*000000102"))
        .expect("write");
    let invalid = practice(&["x12", "validate", path_arg(&broken)]);
    assert_eq!(invalid.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&invalid.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("(SE01): SE01 segment count: trailer says 40, counted 44"), "{stdout}");
    assert!(lines[1].contains("(IEA02): IEA02 must equal ISA13"), "{stdout}");

    let empty = dir.path().join("empty.835");
    std::fs::write(&empty, b"").expect("write");
    let empty_output = practice(&["x12", "validate", path_arg(&empty)]);
    assert_eq!(empty_output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&empty_output.stdout).contains("input is empty"));

    let missing = practice(&["x12", "validate", path_arg(&dir.path().join("absent.835"))]);
    assert_eq!(missing.status.code(), Some(2));
    let missing_parse = practice(&["x12", "parse", path_arg(&dir.path().join("absent.835"))]);
    assert_eq!(missing_parse.status.code(), Some(2));
}
