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

/// Write each (name, bytes) file to a temporary folder and have pyx12 check them all.
fn validate(files: &[(String, Vec<u8>)]) {
    let directory = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, bytes)| {
            let path = directory.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    practice_tests::pyx12::validate(&paths).unwrap_or_else(|report| panic!("pyx12 found errors:\n{report}"));
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
