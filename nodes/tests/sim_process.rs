//! `practice sim` as a real process, fed 837 files our own writer produced: through the
//! practice's outbox folder and through `out.<org>.837` on a real nats-server. Its 999, 277CA
//! and 835 files pass our readers and pyx12, the 835s pay exactly what the truth file says, a
//! secondary claim is paid by COB with OA-23, a malformed 837 gets a rejecting 999, and a
//! process killed mid-run and restarted answers every batch exactly once — the same files as a
//! run that was never interrupted.

mod common;

use bytes::Bytes;
use chrono::NaiveDate;
use practice_actors::ingest::x12_835::from_x12;
use practice_nodes::connector::batch::{write_interchange, Parties};
use practice_nodes::connector::file_drop::FileDrop;
use practice_nodes::connector::nats::NatsConnector;
use practice_nodes::connector::{sniff, Clearinghouse, InboundKind, OutboundBatch, Settlement};
use practice_nodes::jetstream::{connect, JetStreamSettings};
use practice_nodes::sim::generate::generate_claims;
use practice_nodes::sim::profile::demo_payers;
use practice_nodes::sim::{PayerProfile, Rate};
use practice_protocol::claim::{Adjustment, AdjustmentGroup};
use practice_protocol::domain::encounter::patient_control_number;
use practice_protocol::domain::{Claim, ClaimType, CoverageOrder, PriorAdjudication, PriorLineAdjudication};
use practice_protocol::ids::{ClaimId, ClaimLineId, OrgId};
use practice_protocol::x12::read::{read_document, TransactionBody};
use practice_protocol::x12::Severity;
use practice_protocol::{Currency, Money};
use practice_tests::nats::Process;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

/// The demo's payers, with no random 999 group rejection (so the test knows which batches are
/// rejected) and a Medicaid plan that never denies (so the COB claim is paid).
fn payers() -> Vec<PayerProfile> {
    let mut payers = demo_payers();
    for payer in &mut payers {
        payer.params.p_999_group_reject = Rate::ZERO;
        if payer.payer_id.as_str() == "MCD01" {
            payer.params.p_claim_denied = Rate::ZERO;
            payer.params.p_277ca_reject = Rate::ZERO;
        }
    }
    payers
}

fn cents(amount: Decimal) -> Decimal {
    amount.round_dp(2)
}

/// A Medicaid secondary of a Medicare claim, carrying the primary's line adjudication: paid 40%
/// of the charge, 10% left to the patient (PR-2), the rest CO-45.
fn secondary_of(primary: &Claim) -> Claim {
    let mut claim = primary.clone();
    claim.id = ClaimId::derived(&[b"sim-process-secondary", primary.id.0.as_bytes()]);
    claim.patient_control_number = patient_control_number(&claim.id).into();
    for line in &mut claim.lines {
        line.id = ClaimLineId::derived(&[claim.id.0.as_bytes(), &line.line_number.to_be_bytes()]);
    }
    let mut medicaid = claim.coverages[0].clone();
    medicaid.order = CoverageOrder::Secondary;
    medicaid.payer.payer_id = practice_protocol::ids::PayerId::parse("MCD01").unwrap();
    medicaid.payer.name = "State Medicaid MCO (demo)".into();
    medicaid.payer.filing_indicator = "HM".into();
    medicaid.subscriber.member_id = "MCD123456".into();
    let usd = |amount: Decimal| Money::new(amount, Currency::USD);
    let adjustment =
        |group, reason: &str, amount| Adjustment { group, reason: reason.into(), amount: usd(amount), quantity: None };
    let lines: Vec<PriorLineAdjudication> = claim
        .lines
        .iter()
        .map(|line| {
            let charge = line.charge.amount;
            let (paid, share) = (cents(charge * Decimal::new(4, 1)), cents(charge * Decimal::new(1, 1)));
            PriorLineAdjudication {
                line_number: line.line_number,
                procedure: line.procedure.clone(),
                paid: usd(paid),
                adjustments: vec![
                    adjustment(AdjustmentGroup::CO, "45", charge - paid - share),
                    adjustment(AdjustmentGroup::PR, "2", share),
                ],
            }
        })
        .collect();
    let primary_coverage = claim.coverages[0].clone();
    claim.prior_adjudications = vec![PriorAdjudication {
        order: CoverageOrder::Primary,
        payer: primary_coverage.payer.clone(),
        subscriber: primary_coverage.subscriber.clone(),
        relationship: primary_coverage.relationship,
        paid: usd(lines.iter().map(|line| line.paid.amount).sum()),
        adjudicated_on: start() - chrono::Duration::days(3),
        claim_adjustments: Vec::new(),
        lines,
    }];
    claim.coverages = vec![primary_coverage, medicaid];
    claim.responsibility = CoverageOrder::Secondary;
    claim
}

fn write_batch(claims: &[Claim], control: u32) -> Vec<u8> {
    write_interchange(&Parties::default(), ClaimType::Professional, claims, start(), control)
        .expect("our writer writes the batch")
}

/// The batches of one run: one per payer, a COB secondary, and two malformed files (a bad
/// billing NPI, and a set cut off before its SE). Returns (batch id, bytes, readable).
struct Batches {
    files: Vec<(String, Vec<u8>)>,
    secondary: Claim,
    malformed: Vec<String>,
}

fn batches() -> Batches {
    let payers = payers();
    let claims = generate_claims(11, 0, 48, &payers, start() - chrono::Duration::days(20), 20).unwrap();
    let claims: Vec<Claim> = claims.into_iter().filter(|claim| claim.claim_type == ClaimType::Professional).collect();
    let mut by_payer: BTreeMap<String, Vec<Claim>> = BTreeMap::new();
    for claim in &claims {
        by_payer.entry(claim.coverages[0].payer.payer_id.to_string()).or_default().push(claim.clone());
    }
    let medicare = by_payer.get("00430").and_then(|claims| claims.first()).expect("a Medicare claim");
    let secondary = secondary_of(medicare);
    let mut files = Vec::new();
    let mut control = 100_000_001;
    for batch in by_payer.values() {
        files.push((control.to_string(), write_batch(batch, control)));
        control += 1;
    }
    files.push((control.to_string(), write_batch(std::slice::from_ref(&secondary), control)));
    control += 1;
    let good = write_batch(&claims[..1], control);
    let text = String::from_utf8(good).unwrap();
    let npi = claims[0].billing.npi.as_str().to_string();
    let bad_npi = text.replacen(&format!("XX*{npi}"), "XX*1234567890", 1);
    assert_ne!(bad_npi, text, "the billing NPI was replaced");
    let mut malformed = vec![control.to_string()];
    files.push((control.to_string(), bad_npi.into_bytes()));
    control += 1;
    let text = String::from_utf8(write_batch(&claims[1..2], control)).unwrap();
    let cut = text.find("\nSE*").expect("an SE segment");
    let truncated = format!("{}\nGE*1*{control}~\nIEA*1*{control:09}~\n", &text[..cut]);
    malformed.push(control.to_string());
    files.push((control.to_string(), truncated.into_bytes()));
    Batches { files, secondary, malformed }
}

fn practice() -> PathBuf {
    common::practice_binary()
}

fn sim_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let payers = dir.join("payers.json");
    if !payers.exists() {
        std::fs::write(&payers, serde_json::to_vec(&crate::payers()).unwrap()).unwrap();
    }
    let mut args: Vec<String> = vec![
        "sim".into(),
        "--truth".into(),
        dir.join("truth.json").display().to_string(),
        "--seed".into(),
        "5".into(),
        "--start".into(),
        start().to_string(),
        "--payers".into(),
        payers.display().to_string(),
        "--poll-ms".into(),
        "50".into(),
    ];
    args.extend(extra.iter().map(|arg| arg.to_string()));
    args
}

fn files_args(dir: &Path) -> Vec<String> {
    let outbox = dir.join("outbox").display().to_string();
    let inbox = dir.join("inbox").display().to_string();
    vec!["--outbox".into(), outbox, "--inbox".into(), inbox, "--min-age-ms".into(), "0".into()]
}

fn wait_for_exit(process: &mut Process, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while process.is_running() {
        assert!(Instant::now() < deadline, "{what} did not finish:\n{}", process.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Drop the batches into `dir/outbox` the way the practice's file-drop connector sends them.
fn send_files(dir: &Path, batches: &Batches) {
    let practice_side = FileDrop::open(dir.join("outbox"), dir.join("inbox"), Duration::ZERO).unwrap();
    for (id, bytes) in &batches.files {
        let batch = OutboundBatch { id: id.clone(), kind: InboundKind::Claim837P, bytes: Bytes::from(bytes.clone()) };
        practice_side.send_blocking(&batch).unwrap();
    }
}

/// The answer files in the inbox, by name.
fn answers(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join("inbox"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), path))
        .filter(|(name, _)| !name.starts_with('.'))
        .map(|(name, path)| (name, std::fs::read(path).unwrap()))
        .collect()
}

/// Every answer read back; the 835s' payments per patient control number and their OA-23s.
struct ReadBack {
    acks_999: Vec<String>,
    acks_277: usize,
    paid: BTreeMap<String, Decimal>,
    oa23: BTreeMap<String, Decimal>,
}

fn read_back(files: &[Vec<u8>]) -> ReadBack {
    let mut result = ReadBack { acks_999: Vec::new(), acks_277: 0, paid: BTreeMap::new(), oa23: BTreeMap::new() };
    for bytes in files {
        let (document, diagnostics) = read_document(&bytes[..]).unwrap();
        let errors: Vec<_> = diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
        assert!(errors.is_empty(), "{errors:?}\n{}", String::from_utf8_lossy(bytes));
        for transaction in &document.transactions {
            match &transaction.body {
                TransactionBody::Remittance(remit) => {
                    assert!(remit.balanced, "an unbalanced 835");
                    let remit = from_x12(remit, Currency::USD).unwrap();
                    for claim in &remit.claims {
                        *result.paid.entry(claim.patient_control_number.clone()).or_default() += claim.paid.amount;
                        let oa23: Decimal = claim
                            .lines
                            .iter()
                            .flat_map(|line| &line.adjustments)
                            .filter(|a| a.group == AdjustmentGroup::OA && a.reason == "23")
                            .map(|a| a.amount.amount)
                            .sum();
                        *result.oa23.entry(claim.patient_control_number.clone()).or_default() += oa23;
                    }
                }
                TransactionBody::ClaimAcknowledgment(_) => result.acks_277 += 1,
                TransactionBody::Acknowledgment(_) => result.acks_999.push(String::from_utf8_lossy(bytes).into_owned()),
                other => panic!("unexpected answer {other:?}"),
            }
        }
    }
    result
}

fn truth(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

fn decimal(value: &serde_json::Value) -> Decimal {
    // Money is written as a decimal string, never a float.
    value.as_str().expect("money as a string").parse().unwrap()
}

/// The 835s pay what the truth says, claim by claim; every batch got one 999 and the malformed
/// ones a rejecting 999; the secondary was paid by COB.
fn check_against_truth(dir: &Path, files: &[Vec<u8>], batches: &Batches) {
    let back = read_back(files);
    let truth = truth(dir);
    assert_eq!(back.acks_999.len(), batches.files.len(), "one 999 per batch");
    let rejecting = back.acks_999.iter().filter(|text| text.contains("IK5*R") || text.contains("AK9*R")).count();
    assert_eq!(rejecting, batches.malformed.len(), "the malformed batches get rejecting 999s");
    let rejected: Vec<String> =
        truth["rejected_batches"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
    assert_eq!(rejected, batches.malformed);
    assert!(back.acks_277 > 0, "277CAs were sent");
    let claims = truth["claims"].as_object().unwrap();
    assert!(claims.len() >= 10);
    let mut total = Decimal::ZERO;
    for (pcn, claim) in claims {
        let expected = decimal(&claim["paid"]);
        let paid = back.paid.get(pcn).copied().unwrap_or_default();
        assert_eq!(paid, expected, "claim {pcn}: the 835s paid {paid}, the truth says {expected}");
        total += paid;
    }
    assert_eq!(total, decimal(&truth["paid_total"]));
    assert_eq!(back.paid.len(), claims.values().filter(|c| c["adjudicated"].as_u64() > Some(0)).count());

    // COB: Medicaid paid the lesser of (its allowed − Medicare's payment) and the patient share.
    let secondary = &batches.secondary;
    let medicaid = payers().into_iter().find(|p| p.payer_id.as_str() == "MCD01").unwrap();
    let prior = &secondary.prior_adjudications[0];
    let expected: Decimal = secondary
        .lines
        .iter()
        .zip(&prior.lines)
        .map(|(line, prior)| {
            let modifiers: Vec<&str> = line.modifiers.iter().map(|m| m.as_str()).collect();
            let own = medicaid.fees.allowed(line.procedure.as_str(), &modifiers, line.units, line.charge.amount);
            let share: Decimal =
                prior.adjustments.iter().filter(|a| a.group == AdjustmentGroup::PR).map(|a| a.amount.amount).sum();
            (own - prior.paid.amount).max(Decimal::ZERO).min(share)
        })
        .sum();
    let pcn = secondary.patient_control_number.as_str();
    assert_eq!(decimal(&claims[pcn]["paid"]), expected, "the COB rule");
    assert_eq!(back.paid[pcn], expected);
    assert_eq!(back.oa23[pcn], prior.paid.amount, "OA-23 carries Medicare's payment");
}

fn pyx12(files: &BTreeMap<String, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, bytes)| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    practice_tests::pyx12::validate(&paths).unwrap_or_else(|report| panic!("pyx12 found errors:\n{report}"));
}

#[test]
fn file_drop_answers_are_real_x12_that_pay_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let batches = batches();
    send_files(dir.path(), &batches);
    let mut args = sim_args(dir.path(), &["--until-idle"]);
    args.extend(files_args(dir.path()));
    let mut sim = Process::spawn("sim", &practice(), &args, &dir.path().join("sim.log")).unwrap();
    wait_for_exit(&mut sim, "practice sim --until-idle");
    let log = sim.log();
    assert!(log.contains("idle on"), "{log}");
    let files = answers(dir.path());
    let mut names: Vec<&String> = files.keys().collect();
    names.sort();
    assert!(names.first().is_some_and(|name| name.starts_with("00000000-")), "{names:?}");
    check_against_truth(dir.path(), &files.values().cloned().collect::<Vec<_>>(), &batches);
    // The outbox was picked up: everything moved to processed/.
    let waiting =
        std::fs::read_dir(dir.path().join("outbox")).unwrap().filter(|e| e.as_ref().unwrap().path().is_file()).count();
    assert_eq!(waiting, 0);
    pyx12(&files);
    // Logs name batches and counts, never a patient.
    let patient = &batches.secondary.patient.name.last;
    assert!(!log.contains(patient.as_str()), "PHI in the log");
}

#[test]
fn a_killed_and_restarted_simulator_answers_every_batch_exactly_once() {
    let batches = batches();
    // The reference: one uninterrupted run.
    let reference = tempfile::tempdir().unwrap();
    send_files(reference.path(), &batches);
    let mut args = sim_args(reference.path(), &["--until-idle"]);
    args.extend(files_args(reference.path()));
    let mut sim = Process::spawn("reference", &practice(), &args, &reference.path().join("sim.log")).unwrap();
    wait_for_exit(&mut sim, "the reference run");
    let expected = answers(reference.path());

    // The same batches; the clock runs in real time and the process is killed mid-run.
    let dir = tempfile::tempdir().unwrap();
    send_files(dir.path(), &batches);
    let mut args = sim_args(dir.path(), &["--day-ms", "60"]);
    args.extend(files_args(dir.path()));
    let mut sim = Process::spawn("killed", &practice(), &args, &dir.path().join("sim.log")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while answers(dir.path()).len() < batches.files.len() + 3 {
        assert!(Instant::now() < deadline, "no answers came:\n{}", sim.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    sim.kill9().unwrap();
    let before = answers(dir.path()).len();
    assert!(before < expected.len(), "killed before the end ({before} of {} files)", expected.len());
    // The practice sends its first batch again (a retry after a lost connection).
    let (_, first) = &batches.files[0];
    std::fs::write(dir.path().join("outbox").join("resent.837P.x12"), first).unwrap();

    let mut args = sim_args(dir.path(), &["--until-idle"]);
    args.extend(files_args(dir.path()));
    let mut sim = Process::spawn("restarted", &practice(), &args, &dir.path().join("sim2.log")).unwrap();
    wait_for_exit(&mut sim, "the restarted run");
    assert!(sim.log().contains("received before; not answered again"), "{}", sim.log());
    let got = answers(dir.path());
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "the same answer files");
    for (name, bytes) in &expected {
        assert!(got[name] == *bytes, "{name} differs from the uninterrupted run");
    }
    assert_eq!(truth(dir.path()), truth(reference.path()), "the same ground truth");
}

#[test]
fn the_nats_transport_takes_batches_from_out_and_answers_on_in() {
    let Some(server) = common::start_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let batches = batches();
    let org = OrgId::new_v4();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let connector = runtime.block_on(async {
        let client = connect(&server.url(), "practice-test").await.unwrap();
        let connector =
            NatsConnector::open(client, org, &JetStreamSettings::default(), Duration::from_secs(30)).await.unwrap();
        for (id, bytes) in &batches.files {
            let batch =
                OutboundBatch { id: id.clone(), kind: InboundKind::Claim837P, bytes: Bytes::from(bytes.clone()) };
            connector.send(&batch).await.unwrap();
        }
        connector
    });
    let args = sim_args(dir.path(), &["--until-idle", "--nats", &server.url(), "--org", &org.to_string()]);
    let mut sim = Process::spawn("sim-nats", &practice(), &args, &dir.path().join("sim.log")).unwrap();
    wait_for_exit(&mut sim, "practice sim --nats --until-idle");
    let files = runtime.block_on(async {
        let mut files = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let items = connector.receive(100).await.unwrap();
            if items.is_empty() {
                break;
            }
            for item in items {
                assert!(item.name.starts_with(&format!("in.{}.", org.0.simple())), "{}", item.name);
                assert!(item.kind.is_ok(), "{}", item.name);
                files.push(item.bytes.to_vec());
                connector.settle(item.receipt, Settlement::Accepted).await.unwrap();
            }
            assert!(Instant::now() < deadline, "answers kept coming");
        }
        files
    });
    assert!(files.iter().all(|bytes| sniff(bytes).is_ok()));
    check_against_truth(dir.path(), &files, &batches);
}

/// The shared sample corpus (`$PRACTICE_SAMPLES/x12`, else `<workspace>/../shared/samples/x12`);
/// `None` skips with a note, except under `CI`.
fn corpus_files() -> Option<Vec<PathBuf>> {
    let root = match std::env::var_os("PRACTICE_SAMPLES") {
        Some(dir) => PathBuf::from(dir).join("x12"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/x12"),
    };
    if !root.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "X12 corpus missing at {} under CI", root.display());
        eprintln!("note: X12 corpus not found at {}; skipping", root.display());
        return None;
    }
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&root).unwrap().map(|entry| entry.unwrap().path()) {
        if folder.is_dir() && !folder.ends_with("LICENSES") {
            files
                .extend(std::fs::read_dir(&folder).unwrap().map(|entry| entry.unwrap().path()).filter(|p| p.is_file()));
        }
    }
    files.sort();
    Some(files)
}

#[test]
fn every_file_of_the_public_corpus_is_answered_or_set_aside_never_a_crash() {
    let Some(corpus) = corpus_files() else { return };
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    for (index, file) in corpus.iter().enumerate() {
        std::fs::copy(file, outbox.join(format!("corpus{index:03}.x12"))).unwrap();
    }
    let mut args = sim_args(dir.path(), &["--until-idle"]);
    args.extend(files_args(dir.path()));
    let mut sim = Process::spawn("corpus", &practice(), &args, &dir.path().join("sim.log")).unwrap();
    wait_for_exit(&mut sim, "practice sim on the corpus");
    let log = sim.log();
    assert!(log.contains("idle on"), "{log}");
    let count = |folder: &str, suffix: &str| {
        std::fs::read_dir(outbox.join(folder))
            .map(|entries| {
                entries.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(suffix)).count()
            })
            .unwrap_or(0)
    };
    let (taken, set_aside) = (count("processed", ".x12"), count("rejected", ".x12"));
    assert_eq!(taken + set_aside, corpus.len(), "every file was picked up");
    assert_eq!(count("rejected", ".reason.txt"), set_aside, "each file set aside says why");
    let files = answers(dir.path());
    let acks = files.keys().filter(|name| name.ends_with(".999.x12")).count();
    let distinct: std::collections::BTreeSet<Vec<u8>> = std::fs::read_dir(outbox.join("processed"))
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(acks, distinct.len(), "one 999 per distinct 837 taken");
    assert!(taken > 5, "the corpus holds 837s");
    read_back(&files.values().cloned().collect::<Vec<_>>());
}

/// SIGTERM stops the simulator at once even while its NATS server is gone and a pass is waiting
/// on it: the signal is watched at every await of a pass, not only between passes (where it
/// took until the waiting request timed out, over 3 s here, or for good when a wait had none).
#[test]
fn sigterm_stops_the_simulator_while_its_server_is_gone() {
    let Some(mut server) = common::start_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let org = OrgId::new_v4().to_string();
    let args = sim_args(dir.path(), &["--nats", &server.url(), "--org", &org]);
    let mut sim = Process::spawn("sim-nats", &practice(), &args, &dir.path().join("sim.log")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sim.log().contains("simulator on") {
        assert!(Instant::now() < deadline, "the simulator never started:\n{}", sim.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill9().unwrap();
    // Long enough for a pass to be waiting on the missing server.
    std::thread::sleep(Duration::from_secs(2));
    practice_tests::nats::signal(sim.pid().unwrap(), "TERM").unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while sim.is_running() {
        assert!(Instant::now() < deadline, "SIGTERM did not stop the simulator:\n{}", sim.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}
