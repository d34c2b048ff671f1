//! Independent validation: what our X12 writers produce is checked by pyx12 (PyPI), through
//! `scripts/pyx12_validate.py`. Without pyx12 the tests skip with a note, except under `CI`,
//! where a missing validator is a failure.
//!
//! The X212 277 goes through `tests/support/pyx12_with_x212.py`, which switches on pyx12's own
//! X212 map after mending its loop nesting and GS codes (pyx12 ships it unregistered and
//! unusable; the helper's docs say exactly what it changes). pyx12 has no 5010 276 map at all.

mod support;

use practice_protocol::domain::{Claim, ClaimType};
use practice_protocol::x12::write::write_837;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The python that has pyx12, or `None` (skip) when it is missing outside CI.
fn pyx12_python() -> Option<PathBuf> {
    let python = std::env::var_os("PRACTICE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools/venv/bin/python"));
    let usable = Command::new(&python)
        .args(["-c", "import pyx12"])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false);
    if usable {
        return Some(python);
    }
    let message =
        format!("pyx12 is not available from {} (set PRACTICE_PYTHON or run scripts/test-deps.sh)", python.display());
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("skipping pyx12 validation: {message}");
    None
}

/// Which pyx12 maps a run uses.
#[derive(Clone, Copy)]
enum Maps {
    /// pyx12's maps as installed.
    Shipped,
    /// Plus its X212 277 map, mended and registered by `tests/support/pyx12_with_x212.py`.
    WithX212,
}

/// Run the validator over `paths`.
fn run_pyx12(python: &Path, maps: Maps, paths: &[PathBuf]) -> std::process::Output {
    let script = workspace_root().join("scripts/pyx12_validate.py");
    let mut command = Command::new(python);
    if let Maps::WithX212 = maps {
        command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pyx12_with_x212.py"));
    }
    command.arg(script).args(paths).output().unwrap()
}

/// Validate each (name, bytes) file; panic with pyx12's report when any has errors.
fn assert_pyx12_accepts(files: &[(&str, Vec<u8>)]) {
    assert_pyx12_accepts_with(Maps::Shipped, files);
}

fn assert_pyx12_accepts_with(maps: Maps, files: &[(&str, Vec<u8>)]) {
    let Some(python) = pyx12_python() else { return };
    let directory = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = directory.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        paths.push(path);
    }
    let output = run_pyx12(&python, maps, &paths);
    let report = String::from_utf8_lossy(&output.stdout);
    let ok_lines = report.lines().filter(|line| line.ends_with(": OK")).count();
    assert!(
        output.status.success() && ok_lines == files.len(),
        "pyx12 found errors:\n{report}\n{}\n--- files ---\n{}",
        String::from_utf8_lossy(&output.stderr),
        files.iter().map(|(name, bytes)| format!("{name}:\n{}", String::from_utf8_lossy(bytes))).collect::<String>()
    );
}

/// pyx12's report on one file it must refuse.
fn pyx12_rejection(maps: Maps, name: &str, bytes: &[u8]) -> Option<String> {
    let python = pyx12_python()?;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let output = run_pyx12(&python, maps, &[path]);
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(!output.status.success(), "pyx12 accepted {name}:\n{report}");
    Some(report)
}

fn claims_837(claim_type: ClaimType, claims: &[Claim], control: u32) -> Vec<u8> {
    write_837(&support::submission(control), claim_type, claims).unwrap()
}

#[test]
fn professional_837_primary_dependent_replacement_and_secondary_pass_pyx12() {
    let primary = claims_837(ClaimType::Professional, &[support::professional_primary("p1")], 1);
    let batch = claims_837(
        ClaimType::Professional,
        &[
            support::professional_primary("p2"),
            support::professional_dependent("p3"),
            support::professional_replacement("p4"),
            support::professional_secondary("p5"),
            support::professional_primary("p6"),
        ],
        2,
    );
    let secondary = claims_837(ClaimType::Professional, &[support::professional_secondary("p7")], 3);
    // Two payers (two sets) and two billing providers in one set.
    let mut other_payer = support::professional_primary("p8");
    other_payer.coverages[0].payer.payer_id = practice_protocol::ids::PayerId::parse("99999").unwrap();
    let mut other_billing = support::professional_dependent("p9");
    other_billing.billing.npi = practice_protocol::codes::npi_with_check_digit("111111111").unwrap();
    let mixed = claims_837(
        ClaimType::Professional,
        &[support::professional_primary("p10"), other_payer, other_billing, support::professional_secondary("p11")],
        6,
    );
    assert_pyx12_accepts(&[
        ("primary.837p", primary),
        ("batch.837p", batch),
        ("secondary.837p", secondary),
        ("mixed.837p", mixed),
    ]);
}

#[test]
fn institutional_837_primary_and_secondary_pass_pyx12() {
    let primary = claims_837(ClaimType::Institutional, &[support::institutional_primary("i1")], 4);
    let secondary = claims_837(
        ClaimType::Institutional,
        &[support::institutional_secondary("i2"), support::institutional_primary("i3")],
        5,
    );
    // An inpatient stay: facility type 11, admission date, several days.
    let mut inpatient = support::institutional_primary("i4");
    if let Some(facility) = inpatient.institutional.as_mut() {
        facility.facility_type = "11".into();
        facility.admission_date = Some(support::date("2026-10-30"));
        facility.statement_from = support::date("2026-10-30");
    }
    let inpatient = claims_837(ClaimType::Institutional, &[inpatient], 7);
    assert_pyx12_accepts(&[("primary.837i", primary), ("secondary.837i", secondary), ("inpatient.837i", inpatient)]);
}

#[test]
fn remittance_835_with_reversal_and_plb_passes_pyx12() {
    use practice_protocol::x12::write::write_835;
    let claims = [support::professional_primary("r1"), support::professional_dependent("r2")];
    let remittance = support::remittance(&claims);
    let institutional = support::remittance(&[support::institutional_primary("r3")]);
    let bytes = write_835(&support::envelope(11), &[remittance, institutional]).unwrap();
    assert_pyx12_accepts(&[("remit.835", bytes)]);
}

#[test]
fn claim_acknowledgment_277ca_passes_pyx12() {
    use practice_protocol::x12::write::write_277ca;
    let claims = [support::professional_primary("a1"), support::professional_dependent("a2")];
    let bytes = write_277ca(&support::envelope(12), &[support::claim_acknowledgment(&claims)]).unwrap();
    assert_pyx12_accepts(&[("ack.277", bytes)]);
}

#[test]
fn acknowledgment_999_accepting_and_rejecting_passes_pyx12() {
    use practice_protocol::x12::write::{
        write_999, ElementError, ReceivedGroup, SegmentError, SetAcknowledgment, SetStatus,
    };
    let group = ReceivedGroup {
        functional_id: "HP".into(),
        control_number: 4711,
        version: "005010X221A1".into(),
        sets: vec![
            SetAcknowledgment {
                set_id: "835".into(),
                control_number: "0001".into(),
                version: None,
                status: SetStatus::Accepted,
                syntax_errors: Vec::new(),
                segment_errors: Vec::new(),
            },
            SetAcknowledgment {
                set_id: "835".into(),
                control_number: "0002".into(),
                version: None,
                status: SetStatus::Rejected,
                syntax_errors: vec!["5".into()],
                segment_errors: vec![SegmentError {
                    segment_id: "CLP".into(),
                    position: 14,
                    loop_id: Some("2100".into()),
                    code: "8".into(),
                    element_errors: vec![ElementError {
                        position: 2,
                        component: None,
                        reference_number: Some("1029".into()),
                        code: "7".into(),
                        bad_value: Some("9*9".into()),
                    }],
                }],
            },
        ],
    };
    let partial = write_999(&support::envelope(13), &group).unwrap();
    let mut accepted_group = group.clone();
    accepted_group.sets.truncate(1);
    let accepted = write_999(&support::envelope(14), &accepted_group).unwrap();
    assert_pyx12_accepts(&[("partial.999", partial), ("accepted.999", accepted)]);
}

#[test]
fn the_validator_is_not_a_rubber_stamp() {
    // The same generator output with a required segment removed must be reported.
    let bytes = claims_837(ClaimType::Professional, &[support::professional_primary("bad")], 9);
    let text = String::from_utf8(bytes).unwrap();
    let broken: String = text.lines().filter(|line| !line.starts_with("HI*")).map(|line| format!("{line}\n")).collect();
    let broken = broken.replace("SE*30*", "SE*29*");
    let Some(python) = pyx12_python() else { return };
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("broken.837p");
    std::fs::write(&path, broken).unwrap();
    let output =
        Command::new(&python).arg(workspace_root().join("scripts/pyx12_validate.py")).arg(&path).output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{report}");
    assert!(report.contains("ERRORS") && report.contains("HI"), "{report}");
}

#[test]
fn shipped_examples_pass_pyx12() {
    let root = workspace_root().join("docs/examples");
    let mut files = Vec::new();
    for (name, claim_type) in
        [("claims-837p.json", ClaimType::Professional), ("claims-837i.json", ClaimType::Institutional)]
    {
        let claims: Vec<Claim> = serde_json::from_str(&std::fs::read_to_string(root.join(name)).unwrap()).unwrap();
        files.push((name, claims_837(claim_type, &claims, 21)));
    }
    assert_pyx12_accepts(&files);
}

#[test]
fn remittance_835_by_ach_and_without_payment_pass_pyx12() {
    use practice_protocol::x12::write::{write_835, PaymentMethod835};
    let claims = [support::professional_primary("h1")];
    let mut ach = support::remittance(&claims);
    ach.method = PaymentMethod835::Ach;
    // Everything denied: no money moves, BPR*H*0*C*NON.
    let mut denied = support::remittance(&claims);
    denied.method = PaymentMethod835::NonPayment;
    denied.claims.truncate(1);
    denied.provider_adjustments.clear();
    let claim = &mut denied.claims[0];
    claim.status = practice_protocol::x12::write::ClaimPaymentStatus::Denied;
    claim.paid = support::usd("0");
    claim.patient_responsibility = support::usd("0");
    for service in &mut claim.services {
        service.paid = support::usd("0");
        service.adjustments = vec![practice_protocol::claim::Adjustment {
            group: practice_protocol::claim::AdjustmentGroup::CO,
            reason: "197".into(),
            amount: service.charge,
            quantity: None,
        }];
        service.remark_codes = vec!["N54".into()];
    }
    let bytes_ach = write_835(&support::envelope(15), &[ach]).unwrap();
    let bytes_denied = write_835(&support::envelope(16), &[denied]).unwrap();
    assert_pyx12_accepts(&[("ach.835", bytes_ach), ("none.835", bytes_denied)]);
}

/// A pending claim, a finalized one with its payment and a dependent's, and a second set with
/// a service date range.
fn status_response_277() -> Vec<u8> {
    let primary = support::professional_primary("t1");
    let finalized = support::institutional_primary("t2");
    let dependent = support::professional_dependent("t3");
    let mut range = support::professional_primary("t4");
    range.lines[1].service_date = support::date("2026-11-05");
    let first = support::status_response(vec![
        support::status_answer(&primary, "TRACE1", ("P1", "20", None), None),
        support::status_answer(&finalized, "TRACE2", ("", "", None), Some("512.00")),
        support::status_answer(&dependent, "TRACE3", ("P3", "317", Some("1P")), None),
    ]);
    let mut second = support::status_response(vec![support::status_answer(&range, "TRACE4", ("A1", "19", None), None)]);
    second.reference = "STATUS0002".into();
    practice_protocol::x12::write::write_277(&support::envelope(17), &[first, second]).unwrap()
}

#[test]
fn status_response_277_pending_finalized_and_dependent_pass_pyx12() {
    let bytes = status_response_277();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("STC*F1:65*20261120**850*512*20261118**20261120*CHK0001234~"), "{text}");
    assert!(text.contains("DTP*472*RD8*20261102-20261105~"), "{text}");
    assert_pyx12_accepts_with(Maps::WithX212, &[("status.277", bytes)]);
}

#[test]
fn the_x212_validator_is_not_a_rubber_stamp() {
    // What X212 marks not used (STC03, NM108/NM109 of the dependent), and an entity code
    // outside its list, must each be reported by the mended map.
    let text = String::from_utf8(status_response_277()).unwrap();
    let broken = text
        .replacen("STC*P1:20*20261120**", "STC*P1:20*20261120*WQ*", 1)
        .replacen("NM1*QC*1*RIVERA*LUCAS~", "NM1*QC*1*RIVERA*LUCAS****MI*X1~", 1)
        .replacen("STC*P3:317:1P*", "STC*P3:317:PR*", 1);
    let Some(report) = pyx12_rejection(Maps::WithX212, "broken.277", broken.as_bytes()) else { return };
    for expected in ["STC03", "NM108", "NM109", "STC01-3"] {
        assert!(report.contains(expected), "{expected} not reported:\n{report}");
    }
    // A missing required segment too.
    let without_stc: String = text
        .lines()
        .filter(|line| !line.starts_with("STC*P1"))
        .map(|line| format!("{line}\n"))
        .collect::<String>()
        .replacen("SE*30*0001~", "SE*29*0001~", 1);
    let Some(report) = pyx12_rejection(Maps::WithX212, "no-stc.277", without_stc.as_bytes()) else { return };
    assert!(report.contains("Mandatory segment") && report.contains("STC"), "{report}");
}
