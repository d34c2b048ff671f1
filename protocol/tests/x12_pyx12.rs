//! Independent validation: what our X12 writers produce is checked by pyx12 (PyPI), through
//! `scripts/pyx12_validate.py`. Without pyx12 the tests skip with a note, except under `CI`,
//! where a missing validator is a failure.

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

/// Validate each (name, bytes) file; panic with pyx12's report when any has errors.
fn assert_pyx12_accepts(files: &[(&str, Vec<u8>)]) {
    let Some(python) = pyx12_python() else { return };
    let directory = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = directory.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        paths.push(path);
    }
    let output =
        Command::new(&python).arg(workspace_root().join("scripts/pyx12_validate.py")).args(&paths).output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    let ok_lines = report.lines().filter(|line| line.ends_with(": OK")).count();
    assert!(
        output.status.success() && ok_lines == files.len(),
        "pyx12 found errors:\n{report}\n{}\n--- files ---\n{}",
        String::from_utf8_lossy(&output.stderr),
        files.iter().map(|(name, bytes)| format!("{name}:\n{}", String::from_utf8_lossy(bytes))).collect::<String>()
    );
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
