//! The simulator's 835, 277CA and 999 files pass the independent validator pyx12 (through
//! `scripts/pyx12_validate.py`). Without pyx12 the test skips with a note, except under `CI`,
//! where a missing validator is a failure.

use chrono::NaiveDate;
use practice_nodes::sim::generate::generate_claims;
use practice_nodes::sim::x12::{render_277ca, render_835, render_999, Recipient};
use practice_nodes::sim::{PayerKind, PayerProfile, Rate, SimOutput, Simulator};
use practice_protocol::ids::PayerId;
use practice_protocol::x12::write::{ReceivedGroup, SetAcknowledgment, SetStatus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn pyx12_python() -> Option<PathBuf> {
    let python = std::env::var_os("PRACTICE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools/venv/bin/python"));
    let usable =
        Command::new(&python).args(["-c", "import pyx12"]).output().map(|out| out.status.success()).unwrap_or(false);
    if usable {
        return Some(python);
    }
    let message =
        format!("pyx12 not available from {} (set PRACTICE_PYTHON or run scripts/test-deps.sh)", python.display());
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("skipping pyx12 validation: {message}");
    None
}

fn validate(files: &[(String, Vec<u8>)]) {
    let Some(python) = pyx12_python() else { return };
    let directory = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, bytes)| {
            let path = directory.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let output =
        Command::new(&python).arg(workspace_root().join("scripts/pyx12_validate.py")).args(&paths).output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    let ok = report.lines().filter(|line| line.ends_with(": OK")).count();
    assert!(
        output.status.success() && ok == files.len(),
        "pyx12 found errors:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn simulator_files_pass_pyx12() {
    let start = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let mut profiles: Vec<PayerProfile> = PayerKind::ALL
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            PayerProfile::new(PayerId::parse(&format!("PAYER{i}")).unwrap(), &format!("{kind:?} plan"), *kind)
        })
        .collect();
    for profile in &mut profiles {
        // Make every kind of line appear in a small run.
        profile.params.p_reversal = Rate::from_ppm(100_000);
        profile.params.p_recoupment = Rate::from_ppm(100_000);
        profile.params.p_code_rewrite = Rate::from_ppm(200_000);
        profile.params.p_277ca_reject = Rate::from_ppm(100_000);
    }
    let claims = generate_claims(5, 0, 300, &profiles, start - chrono::Duration::days(20), 20).unwrap();
    let mut sim = Simulator::new(5, start, profiles);
    let mut by_payer: BTreeMap<PayerId, Vec<_>> = BTreeMap::new();
    for claim in &claims {
        by_payer.entry(claim.coverages[0].payer.payer_id.clone()).or_default().push(claim.clone());
    }
    for (payer, batch) in &by_payer {
        sim.receive(&format!("B-{payer}"), batch).unwrap();
    }
    let outputs = sim.drain(400).unwrap();
    let recipient = Recipient { name: "Simulated Family Practice".into(), id: "PRACTICEOS".into() };
    let mut files = Vec::new();
    let mut acks_by_day: BTreeMap<NaiveDate, Vec<SimOutput>> = BTreeMap::new();
    let (mut reversals, mut plb) = (0, 0);
    for (n, output) in outputs.iter().enumerate() {
        match output {
            SimOutput::Remit { remittance, .. } => {
                reversals += remittance.claims.iter().filter(|c| c.status_code == "22").count();
                plb += remittance.provider_adjustments.len();
                files.push((format!("sim{n}.835"), render_835(&sim, output, &recipient, n as u32 + 1).unwrap()));
            }
            SimOutput::Ack277 { on, .. } => acks_by_day.entry(*on).or_default().push(output.clone()),
            SimOutput::Ack999 { .. } => {
                let received = ReceivedGroup {
                    functional_id: "HC".into(),
                    control_number: n as u32 + 1,
                    version: "005010X222A1".into(),
                    sets: vec![SetAcknowledgment {
                        set_id: "837".into(),
                        control_number: "0001".into(),
                        version: Some("005010X222A1".into()),
                        status: SetStatus::Accepted,
                        syntax_errors: vec![],
                        segment_errors: vec![],
                    }],
                };
                files.push((format!("sim{n}.999"), render_999(output, &received, &recipient, n as u32 + 1).unwrap()));
            }
        }
    }
    for (n, (_, acks)) in acks_by_day.iter().enumerate() {
        files.push((format!("sim{n}.277"), render_277ca(&sim, acks, &recipient, 5000 + n as u32).unwrap()));
    }
    assert!(reversals > 0 && plb > 0, "the run exercises reversals ({reversals}) and PLB ({plb})");
    validate(&files);
}
