//! `practice node` drives its clearinghouse link: claims a billing manager submits through the
//! API leave as 837 batches in the file-drop outbox, `practice sim` (a separate process)
//! answers into the inbox with 999s, 277CAs and 835s, and the node posts them — to the cent of
//! the simulator's ground truth. A node killed with SIGKILL mid-run and restarted sends nothing
//! twice and loses nothing; a claim a 999 rejected goes out again when it is resubmitted. The
//! same runs over the NATS connector (`out.<org>.837`, `in.<org>.<txn>`) on a real nats-server.
//! Quiet claims are asked about with 276s: on a schedule (file drop), and when a biller asks
//! (both connectors).

mod common;
mod http_process;

use http_process::{http, start_node, stop, token, Owned, ORG};
use practice_nodes::sim::profile::demo_payers;
use practice_nodes::sim::truth::SubmissionTruth;
use practice_nodes::sim::Rate;
use practice_protocol::domain::encounter::patient_control_number;
use practice_protocol::ids::ClaimId;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Claims of this payer are rejected whole by the clearinghouse's 999.
const REJECTED_PAYER: &str = "60054";

struct Folders {
    _root: tempfile::TempDir,
    data: PathBuf,
    outbox: PathBuf,
    inbox: PathBuf,
    truth: PathBuf,
    payers: PathBuf,
    node_log: PathBuf,
}

impl Folders {
    fn new() -> Folders {
        let root = tempfile::tempdir().unwrap();
        let path = |name: &str| root.path().join(name);
        let folders = Folders {
            data: path("data"),
            outbox: path("outbox"),
            inbox: path("inbox"),
            truth: path("truth.json"),
            payers: path("payers.json"),
            node_log: path("node.log"),
            _root: root,
        };
        let mut payers = demo_payers();
        for payer in &mut payers {
            if payer.payer_id.as_str() == REJECTED_PAYER {
                payer.params.p_999_group_reject = Rate::from_ppm(1_000_000);
            } else {
                payer.params.p_999_group_reject = Rate::ZERO;
            }
        }
        std::fs::write(&folders.payers, serde_json::to_vec(&payers).unwrap()).unwrap();
        folders
    }

    /// The connector's arguments: NATS at `nats`, else the file-drop folders.
    fn link(&self, nats: Option<&str>) -> Vec<String> {
        match nats {
            Some(url) => vec!["--nats".into(), url.into(), "--org".into(), ORG.into()],
            None => {
                let (outbox, inbox) = (self.outbox.display(), self.inbox.display());
                vec!["--outbox".into(), outbox.to_string(), "--inbox".into(), inbox.to_string()]
            }
        }
    }

    fn node(&self, nats: Option<&str>, extra: &[&str]) -> (Owned, String) {
        let mut args = self.link(nats);
        if nats.is_some() {
            // The node's own journal stays embedded; only the clearinghouse link is NATS.
            args[0] = "--connector-nats".into();
        } else {
            args.extend(["--org".into(), ORG.into()]);
        }
        args.extend(["--exchange-interval-ms", "100", "--inbox-min-age-ms", "0"].map(String::from));
        args.extend(extra.iter().map(|arg| arg.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        start_node(&self.data, &args, Some(&self.node_log))
    }

    fn sim(&self, nats: Option<&str>, extra: &[&str]) -> Owned {
        self.sim_with(self.link(nats), extra)
    }

    /// The simulator answering practice `org` over NATS at `url`.
    fn sim_of(&self, url: &str, org: &str) -> Owned {
        self.sim_with(["--nats", url, "--org", org].map(String::from).to_vec(), &[])
    }

    fn sim_with(&self, link: Vec<String>, extra: &[&str]) -> Owned {
        let child = Command::new(env!("CARGO_BIN_EXE_practice"))
            .args(["sim", "--seed", "11", "--min-age-ms", "0", "--poll-ms", "50", "--start", "2026-11-09"])
            .args(link)
            .args(extra)
            .arg("--truth")
            .arg(&self.truth)
            .arg("--payers")
            .arg(&self.payers)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Owned(child)
    }

    fn truth(&self) -> Truth {
        match std::fs::read(&self.truth) {
            // Written atomically by the simulator: a file that does not parse is a bug.
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("truth file: {error}")),
            Err(_) => Truth::default(),
        }
    }

    fn node_log(&self) -> String {
        std::fs::read_to_string(&self.node_log).unwrap_or_default()
    }

    fn files(dir: &Path) -> Vec<String> {
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
            }
            Err(_) => Vec::new(),
        }
    }
}

/// The simulator's truth file: per claim, by CLM01 (the only id the files carry).
#[derive(Default, serde::Deserialize)]
struct Truth {
    claims: BTreeMap<String, ClaimTruth>,
}

#[derive(serde::Deserialize)]
struct ClaimTruth {
    paid: Decimal,
    submissions: Vec<SubmissionTruth>,
}

impl Truth {
    fn of(&self, claim: &str) -> Option<&ClaimTruth> {
        let claim = ClaimId(uuid::Uuid::parse_str(claim).unwrap());
        self.claims.get(&patient_control_number(&claim))
    }

    fn paid(&self, claim: &str) -> Decimal {
        self.of(claim).map(|truth| truth.paid).unwrap_or_default()
    }

    fn submissions(&self, claim: &str) -> &[SubmissionTruth] {
        self.of(claim).map(|truth| truth.submissions.as_slice()).unwrap_or_default()
    }
}

struct Office {
    address: String,
    org: &'static str,
    admin: String,
    clinician: String,
    manager: String,
}

impl Office {
    fn new(address: String) -> Office {
        Office::of(address, ORG)
    }

    /// The office of the practice `org`.
    fn of(address: String, org: &'static str) -> Office {
        let token = |role| http_process::token_for(org, role);
        Office { address, org, admin: token("80"), clinician: token("60"), manager: token("70") }
    }

    fn post(&self, token: &str, path: &str, body: Value) -> Value {
        let (status, reply) = http(&self.address, "POST", path, token, Some(&body.to_string()));
        assert!(matches!(status, 200 | 201), "{path}: {status} {reply}");
        serde_json::from_str(&reply).unwrap()
    }

    /// A new encounter for `payer`, signed off, scrubbed and submitted; its claim id.
    fn submitted(&self, index: usize, payer: &str) -> String {
        let mut encounter: Value =
            serde_json::from_str(&include_str!("fixtures/encounter.json").replace("ORG_ID", self.org)).unwrap();
        encounter["id"] = json!(format!("0f711e8a-76d9-4e18-9af9-{index:012}"));
        encounter["coverages"][0]["payer"]["payer_id"] = json!(payer);
        // One visit a day: the same service twice on one day is a duplicate to a payer (CO-18).
        encounter["service_date"] = json!(format!("2026-11-{:02}", index + 1));
        let claim =
            self.post(&self.admin, "/api/v1/encounters", encounter)["claim"]["id"].as_str().unwrap().to_string();
        self.post(&self.clinician, &format!("/api/v1/claims/{claim}/sign-off"), json!(null));
        self.resubmit(&claim, index);
        claim
    }

    fn resubmit(&self, claim: &str, index: usize) {
        self.post(&self.manager, &format!("/api/v1/claims/{claim}/scrub"), json!({}));
        let tracking = json!({ "tracking_id": format!("T{index}") });
        self.post(&self.manager, &format!("/api/v1/claims/{claim}/submit"), tracking);
    }

    /// The claim's timeline entries named `event`.
    fn events(&self, claim: &str, event: &str) -> Vec<Value> {
        let (status, body) = http(&self.address, "GET", &format!("/api/v1/claims/{claim}/history"), &self.admin, None);
        assert_eq!(status, 200, "{body}");
        let history: Value = serde_json::from_str(&body).unwrap();
        history["events"].as_array().unwrap().iter().filter(|entry| entry["event"] == event).cloned().collect()
    }

    fn claim(&self, claim: &str) -> Value {
        let (status, body) = http(&self.address, "GET", &format!("/api/v1/claims/{claim}"), &self.admin, None);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn money(value: &Value) -> Decimal {
    Decimal::from_str(value["amount"].as_str().unwrap_or_else(|| panic!("not money: {value}"))).unwrap()
}

/// Wait until `done` holds, or fail with `what` and the node's log.
fn eventually(folders: &Folders, seconds: u64, what: &str, mut done: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let Err(why) = done() else { return };
        assert!(Instant::now() < deadline, "{what}: {why}\n--- node log ---\n{}", folders.node_log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where our posting stands against the truth for `claim`: Ok once they agree to the cent.
fn settled(office: &Office, truth: &Truth, claim: &str, submissions: usize) -> Result<(), String> {
    let view = office.claim(claim);
    let status = view["status"].as_str().unwrap_or_default();
    let known = truth.submissions(claim).len();
    if known != submissions {
        return Err(format!("claim {claim}: the simulator has {known} submissions, expected {submissions}"));
    }
    let last = &truth.submissions(claim)[submissions - 1];
    let expected_status: &[&str] = match last {
        SubmissionTruth::GroupRejected { .. } | SubmissionTruth::FrontEndRejected { .. } => &["Draft"],
        SubmissionTruth::Adjudicated { .. } => &["Paid", "PartiallyPaid", "Denied"],
    };
    if !expected_status.contains(&status) {
        return Err(format!("claim {claim} is {status}, the simulator's last word is {last:?}"));
    }
    let paid = money(&view["money"]["paid"]);
    if paid != truth.paid(claim) {
        return Err(format!("claim {claim}: posted {paid}, the payer paid {}", truth.paid(claim)));
    }
    Ok(())
}

#[test]
fn node_sends_claims_and_posts_the_answers_across_a_crash() {
    run(None);
}

#[test]
fn the_same_over_the_nats_connector() {
    let Some(server) = common::start_server() else { return };
    run(Some(&server.url()));
}

/// The whole exchange over the file-drop folders (`nats` None) or over NATS.
fn run(nats: Option<&str>) {
    let folders = Folders::new();
    let (node, address) = folders.node(nats, &[]);
    let mut sim = folders.sim(nats, &[]);
    let office = Office::new(address);

    // Half the claims, to three payers; the clearinghouse rejects one payer's batches by 999.
    let payers = ["87726", "00430", REJECTED_PAYER];
    let mut claims: Vec<String> = (0..6).map(|index| office.submitted(index, payers[index % 3])).collect();
    eventually(&folders, 60, "the first answers posted", || {
        let truth = folders.truth();
        claims.iter().try_for_each(|claim| settled(&office, &truth, claim, 1))
    });

    // The second half, then SIGKILL at once: some of it may not have left yet, answers may be
    // waiting in the inbox. The restarted node picks everything up from where it was.
    claims.extend((6..12).map(|index| office.submitted(index, payers[index % 3])));
    let mut node = node;
    node.kill().unwrap();
    node.wait().unwrap();
    let (node, address) = folders.node(nats, &[]);
    let office = Office { address, ..office };
    // A claim the 999 sent back to Draft goes out again when resubmitted.
    let rejected = claims[2].clone();
    assert_eq!(office.claim(&rejected)["pill"], "Rejected");
    office.resubmit(&rejected, 2);

    eventually(&folders, 90, "every answer posted", || {
        let truth = folders.truth();
        claims.iter().try_for_each(|claim| {
            let submissions = if *claim == rejected { 2 } else { 1 };
            settled(&office, &truth, claim, submissions)
        })
    });

    // Nothing was sent twice: one submission per claim (two for the one resubmitted).
    let truth = folders.truth();
    let total: usize = truth.claims.values().map(|claim| claim.submissions.len()).sum();
    assert_eq!(total, claims.len() + 1);
    let total_paid: Decimal = claims.iter().map(|claim| truth.paid(claim)).sum();
    let posted: Decimal = claims.iter().map(|claim| money(&office.claim(claim)["money"]["paid"])).sum();
    assert_eq!(posted, total_paid);
    assert!(total_paid > Decimal::ZERO, "no claim was paid: the run proves little");
    let paid = claims.iter().filter(|claim| truth.paid(claim) > Decimal::ZERO).count();
    let outcomes: Vec<String> = claims
        .iter()
        .map(|claim| {
            let view = office.claim(claim);
            format!("{} {}", view["status"], view["denials"])
        })
        .collect();
    assert!(paid >= 3, "only {paid} claims paid: {outcomes:#?}");
    // Every 999 found its claims through the batch registry: nothing in suspense.
    let (status, suspense) = http(&office.address, "GET", "/api/v1/suspense", &office.admin, None);
    assert_eq!(status, 200);
    assert!(suspense.contains("\"suspense\":[]"), "{suspense}");
    // What an operator sees: this node exchanges, its passes went through, batches left and
    // answers came in.
    assert_eq!(metric(&office.address, &exchange_metric(ORG, "leading", "")), Some(1.0));
    assert!(metric(&office.address, &exchange_metric(ORG, "passes_total", "outcome=\"ok\"")) > Some(0.0));
    assert!(metric(&office.address, &exchange_metric(ORG, "sent_total", "what=\"837_batches\"")) > Some(0.0));
    assert!(
        metric(&office.address, &exchange_metric(ORG, "received_files_total", "settlement=\"accepted\"")) > Some(0.0)
    );
    // Every answer was taken: none rejected, none left waiting.
    if nats.is_none() {
        assert_eq!(Folders::files(&folders.inbox.join("rejected")), Vec::<String>::new());
        let processed = Folders::files(&folders.inbox.join("processed"));
        for kind in ["999", "277CA", "835"] {
            assert!(processed.iter().any(|name| name.contains(kind)), "no {kind} among {processed:?}");
        }
    }
    stop(node);
    sim.kill().unwrap();
    sim.wait().unwrap();
}

/// A payer that stays quiet gets asked: with the simulated day at 400 ms, claims sit in
/// adjudication for seconds, the node sends 276s for them after 300 ms of quiet, the simulator
/// answers each with a 277, and every answer lands in the claim's history as
/// `ClaimStatusReported` — pending first, without moving the claim — while the 835s still post
/// to the cent. Nothing is set aside, nothing lands in suspense.
#[test]
fn quiet_payers_are_asked_with_276s_and_the_277s_are_kept() {
    let folders = Folders::new();
    let (node, address) = folders.node(None, &["--status-after-ms", "300"]);
    let mut sim = folders.sim(None, &["--day-ms", "400"]);
    let office = Office::new(address);
    let claims: Vec<String> = (0..4).map(|index| office.submitted(index, ["87726", "00430"][index % 2])).collect();

    eventually(&folders, 60, "a 277 recorded for every claim", || {
        claims.iter().try_for_each(|claim| match office.events(claim, "ClaimStatusReported").as_slice() {
            [] => Err(format!("claim {claim} has no status reply yet")),
            _ => Ok(()),
        })
    });
    eventually(&folders, 90, "every claim paid or denied", || {
        let truth = folders.truth();
        claims.iter().try_for_each(|claim| settled(&office, &truth, claim, 1))
    });

    let truth = folders.truth();
    for claim in &claims {
        let replies = office.events(claim, "ClaimStatusReported");
        let first = replies[0]["detail"].to_string();
        match truth.submissions(claim) {
            // The first answer comes while the payer is still adjudicating, under its number.
            [SubmissionTruth::Adjudicated { adjudication, .. }] => {
                assert!(first.contains("\"P1\"") && first.contains("\"20\""), "claim {claim}: {first}");
                assert!(first.contains(&adjudication.payer_claim_control_number), "{first}");
            }
            // Turned back at the payer's front door: the payer says so (A3/A6/A7/A8).
            [SubmissionTruth::FrontEndRejected { category, .. }] => {
                assert!(first.contains(&format!("\"{category}\"")), "claim {claim}: {first}")
            }
            other => panic!("claim {claim}: {other:?}"),
        }
    }
    let processed = Folders::files(&folders.inbox.join("processed"));
    assert!(processed.iter().any(|name| name.ends_with(".277.x12")), "no 277 among {processed:?}");
    // The simulator took the 276s from the outbox like the 837s.
    let taken = Folders::files(&folders.outbox.join("processed"));
    assert!(taken.iter().any(|name| name.ends_with(".276.x12")), "no 276 among {taken:?}");
    assert_eq!(Folders::files(&folders.inbox.join("rejected")), Vec::<String>::new());
    let (status, suspense) = http(&office.address, "GET", "/api/v1/suspense", &office.admin, None);
    assert_eq!(status, 200);
    assert!(suspense.contains("\"suspense\":[]"), "{suspense}");
    stop(node);
    sim.kill().unwrap();
    sim.wait().unwrap();
}

/// "Check claim status": a coder/biller asks about one claim through the API; the node sends
/// its 276 on a following pass (automatic inquiries are off here) and the payer's 277 lands in
/// that claim's history, after the `ClaimStatusRequested` that asked for it. The claim nobody
/// asked about gets no status; front desk may not ask, and a claim the payer does not have
/// cannot be asked about.
#[test]
fn a_biller_asks_for_a_claims_status_and_gets_the_payers_answer() {
    ask_for_status(None);
}

/// The same over NATS: the 276 leaves on `out.<org>.276`, the 277 comes back on `in.<org>.277`.
#[test]
fn a_status_request_travels_over_nats_too() {
    let Some(server) = common::start_server() else { return };
    ask_for_status(Some(&server.url()));
}

fn ask_for_status(nats: Option<&str>) {
    let folders = Folders::new();
    let (node, address) = folders.node(nats, &["--status-after-ms", "0"]);
    // Slow days: the claims stay with the payer long enough to be asked about.
    let mut sim = folders.sim(nats, &["--day-ms", "1000"]);
    let office = Office::new(address);
    let asked = office.submitted(0, "87726");
    let quiet = office.submitted(1, "87726");
    let biller = token("50");

    let (status, body) =
        http(&office.address, "POST", &format!("/api/v1/claims/{asked}/status-request"), &token("30"), None);
    assert_eq!(status, 403, "front desk: {body}");
    office.post(&biller, &format!("/api/v1/claims/{asked}/status-request"), json!(null));
    eventually(&folders, 30, "the payer's answer to the request", || {
        match office.events(&asked, "ClaimStatusReported").as_slice() {
            [] => Err(format!("claim {asked} has no status yet")),
            _ => Ok(()),
        }
    });
    let requested = office.events(&asked, "ClaimStatusRequested");
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert!(requested[0]["by"].as_str().is_some_and(|by| by.starts_with("CoderBiller")), "{}", requested[0]);
    let reported = office.events(&asked, "ClaimStatusReported");
    assert!(reported[0]["sequence"].as_u64() > requested[0]["sequence"].as_u64());
    assert_eq!(office.events(&quiet, "ClaimStatusReported"), Vec::<Value>::new(), "nobody asked about it");

    // A claim the payer does not have: nothing to ask.
    let mut encounter: Value =
        serde_json::from_str(&include_str!("fixtures/encounter.json").replace("ORG_ID", ORG)).unwrap();
    encounter["id"] = json!("0f711e8a-76d9-4e18-9af9-00000000ffff");
    let draft =
        office.post(&office.admin, "/api/v1/encounters", encounter)["claim"]["id"].as_str().unwrap().to_string();
    let (status, body) =
        http(&office.address, "POST", &format!("/api/v1/claims/{draft}/status-request"), &biller, None);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("invalid_transition"), "{body}");
    stop(node);
    sim.kill().unwrap();
    sim.wait().unwrap();
}

/// Payer routing: a routes file sends one payer's claims and status requests through a second
/// clearinghouse (its own folders and its own `practice sim`), addressed to it in ISA08, while
/// every other payer stays with the first. Each simulator sees only its payers' claims, answers
/// them (999, 277CA, 277 to the 276s, 835), and the node posts both to the cent.
#[test]
fn a_payer_routed_to_another_clearinghouse_is_sent_and_answered_there() {
    routed(None);
}

/// The same with the first clearinghouse over NATS and the routed one over file drop: answers
/// from both kinds of link, each settled with its own.
#[test]
fn routing_joins_a_nats_link_and_a_file_drop_link() {
    let Some(server) = common::start_server() else { return };
    routed(Some(&server.url()));
}

fn routed(nats: Option<&str>) {
    let folders = Folders::new();
    let direct = Folders::new();
    let routes = direct.truth.with_file_name("routes.json");
    let routes_json = json!({ "receiver_id": "DIRECTCONNECT", "receiver_name": "DIRECT CONNECT", "payers": ["87726"] });
    std::fs::write(&routes, routes_json.to_string()).unwrap();
    let (outbox, inbox) = (direct.outbox.display().to_string(), direct.inbox.display().to_string());
    let routing = ["--route-payers", routes.to_str().unwrap(), "--route-outbox", &outbox, "--route-inbox", &inbox];
    let (node, address) = folders.node(nats, &[&routing[..], &["--status-after-ms", "300"]].concat());
    let mut sims = [folders.sim(nats, &["--day-ms", "400"]), direct.sim(None, &["--day-ms", "400"])];
    let office = Office::new(address);
    let claims: Vec<(String, bool)> = (0..4)
        .map(|index| {
            let routed = index % 2 == 0;
            (office.submitted(index, if routed { "87726" } else { "00430" }), routed)
        })
        .collect();

    eventually(&folders, 90, "every claim answered by its own clearinghouse", || {
        let (first, second) = (folders.truth(), direct.truth());
        claims.iter().try_for_each(|(claim, routed)| {
            let (mine, other) = if *routed { (&second, &first) } else { (&first, &second) };
            if other.of(claim).is_some() {
                return Err(format!("claim {claim} reached the wrong clearinghouse"));
            }
            if office.events(claim, "ClaimStatusReported").is_empty() {
                return Err(format!("claim {claim} has no status reply yet"));
            }
            settled(&office, mine, claim, 1)
        })
    });
    for (claim, routed) in &claims {
        let truth = if *routed { direct.truth() } else { folders.truth() };
        assert!(truth.of(claim).is_some(), "claim {claim} unknown to its clearinghouse");
    }
    // Every interchange names the clearinghouse it went to; 837s and 276s alike.
    let mut outboxes = vec![(&direct.outbox, "DIRECTCONNECT  ")];
    let mut inboxes = vec![&direct.inbox];
    if nats.is_none() {
        outboxes.push((&folders.outbox, "SIMCLEARING    "));
        inboxes.push(&folders.inbox);
    }
    for (dir, receiver) in outboxes {
        let taken = Folders::files(&dir.join("processed"));
        for kind in [".837P.x12", ".276.x12"] {
            assert!(taken.iter().any(|name| name.ends_with(kind)), "no {kind} among {taken:?}");
        }
        for name in taken {
            let bytes = std::fs::read_to_string(dir.join("processed").join(&name)).unwrap();
            assert!(bytes.contains(&format!("*ZZ*{receiver}*")), "{name} is not addressed to {receiver}");
        }
    }
    for inbox in inboxes {
        assert_eq!(Folders::files(&inbox.join("rejected")), Vec::<String>::new());
    }
    let (status, suspense) = http(&office.address, "GET", "/api/v1/suspense", &office.admin, None);
    assert_eq!(status, 200);
    assert!(suspense.contains("\"suspense\":[]"), "{suspense}");
    stop(node);
    for sim in &mut sims {
        sim.kill().unwrap();
        sim.wait().unwrap();
    }
}

/// A routes file that does not hold together stops the node at start, saying where.
#[test]
fn a_bad_routes_file_is_refused_at_start() {
    let folders = Folders::new();
    let routes = folders.truth.with_file_name("routes.json");
    std::fs::write(&routes, r#"{"receiver_id": "DIRECT", "receiver_name": "DIRECT", "payers": ["87726", ""]}"#)
        .unwrap();
    let data = folders.data.display().to_string();
    let (outbox, inbox) = (folders.outbox.display().to_string(), folders.inbox.display().to_string());
    let output = http_process::practice()
        .args(["node", "--data-dir", &data, "--org", ORG, "--outbox", &outbox, "--inbox", &inbox])
        .args(["--route-payers", routes.to_str().unwrap(), "--route-outbox", &outbox, "--route-inbox", &inbox])
        .args(["--http", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("routes.json: at payers[1]"), "{stderr}");
}

/// The exchange on a cluster: two `practice node --nats` processes are given the same
/// clearinghouse folders; only the owner of the practice's shard sends and receives, the
/// other stands by. The owner is killed with SIGKILL right after more claims were submitted
/// (through the other node); the survivor takes the shard over, reads the outbound log from
/// JetStream and sends what had not left — nothing twice — and the 999 of a batch the dead node
/// sent finds its claims in the shared batch registry. Every claim ends posted to the cent of
/// the simulator's truth, and the journal verifies.
#[test]
fn on_a_cluster_the_practice_shards_owner_exchanges_and_a_survivor_takes_over() {
    on_a_cluster(false, Fault::Kill);
}

/// The same with every node given the NATS connector: one durable consumer per practice, which
/// only the exchanging node pulls from.
#[test]
fn on_a_cluster_over_the_nats_connector_too() {
    on_a_cluster(true, Fault::Kill);
}

/// The owner is paused (SIGSTOP) past its lease instead, so the survivor takes over while the
/// old owner still believes it sends; resumed, the old owner finds out (its writes are refused
/// or its shard is gone), and still nothing goes out twice. It may well get the shard back
/// when it rejoins: at the end exactly one node exchanges.
#[test]
fn on_a_cluster_an_owner_paused_past_its_lease_sends_nothing_twice() {
    on_a_cluster(false, Fault::Pause);
}

enum Fault {
    Kill,
    Pause,
}

fn on_a_cluster(over_nats: bool, fault: Fault) {
    let Some(mut cluster) = common::Cluster::start() else { return };
    std::env::set_var("PRACTICE_TOKEN_KEY", http_process::KEY);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let folders = Folders::new();
    let url = cluster.server.url();
    let nats = over_nats.then_some(url.as_str());
    let mut sim = folders.sim(nats, &[]);
    let (outbox, inbox) = (folders.outbox.display().to_string(), folders.inbox.display().to_string());
    for id in ["a", "b"] {
        let data = folders.data.join(id).display().to_string();
        let link = match nats {
            Some(url) => vec!["--org", ORG, "--connector-nats", url],
            None => vec!["--org", ORG, "--outbox", &outbox, "--inbox", &inbox],
        };
        let pace = ["--exchange-interval-ms", "100", "--inbox-min-age-ms", "0"];
        let api = ["--http", "127.0.0.1:0", "--data-dir", &data];
        cluster.start_node(id, &[&link[..], &pace[..], &api[..]].concat());
    }
    runtime.block_on(cluster.wait_balanced(&["a", "b"], Duration::from_secs(30)));
    let addresses: BTreeMap<&str, String> =
        ["a", "b"].into_iter().map(|id| (id, api_address(&mut cluster, id))).collect();
    let admin = token("80");
    for address in addresses.values() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while http(address, "GET", "/readyz", &admin, None).0 != 200 {
            assert!(Instant::now() < deadline, "a node's API never became ready:\n{}", cluster.logs_of_all());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let in_the_logs = |cluster: &common::Cluster| cluster.logs_of_all();
    let office = Office::new(addresses["a"].clone());
    let payers = ["87726", "00430", REJECTED_PAYER];
    let mut claims: Vec<String> = (0..6).map(|index| office.submitted(index, payers[index % 3])).collect();
    let within = |seconds: u64, what: &str, cluster: &common::Cluster, done: &mut dyn FnMut() -> Result<(), String>| {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let Err(why) = done() else { return };
            assert!(Instant::now() < deadline, "{what}: {why}\n{}", in_the_logs(cluster));
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    within(90, "the first answers posted", &cluster, &mut || {
        let truth = folders.truth();
        claims.iter().try_for_each(|claim| settled(&office, &truth, claim, 1))
    });

    // Exactly one node exchanges: the practice shard's owner.
    let leaders: Vec<&str> = ["a", "b"].into_iter().filter(|id| leads(&cluster.node(id).log())).collect();
    assert_eq!(leaders.len(), 1, "{}", cluster.logs_of_all());
    let (leader, survivor) = if leaders[0] == "a" { ("a", "b") } else { ("b", "a") };
    let office = Office { address: addresses[survivor].clone(), ..office };
    claims.extend((6..12).map(|index| office.submitted(index, payers[index % 3])));
    match fault {
        Fault::Kill => cluster.node(leader).kill9().unwrap(),
        Fault::Pause => {
            cluster.node(leader).pause().unwrap();
            within(30, "the survivor taking the exchange over", &cluster, &mut || match leads(
                &cluster.nodes[survivor].log(),
            ) {
                true => Ok(()),
                false => Err(format!("node {survivor} still stands by")),
            });
            cluster.node(leader).resume().unwrap();
        }
    }
    let rejected = claims[2].clone();
    assert_eq!(office.claim(&rejected)["pill"], "Rejected");
    office.resubmit(&rejected, 2);
    within(120, "every answer posted by the survivor", &cluster, &mut || {
        let truth = folders.truth();
        claims.iter().try_for_each(|claim| {
            let submissions = if *claim == rejected { 2 } else { 1 };
            settled(&office, &truth, claim, submissions)
        })
    });
    within(30, "exactly one node exchanging, in its log and its metrics", &cluster, &mut || {
        let by_metrics: Vec<&str> = ["a", "b"]
            .into_iter()
            .filter(|id| {
                cluster.nodes[*id].pid().is_some()
                    && metric(&addresses[id], &exchange_metric(ORG, "leading", "")) == Some(1.0)
            })
            .collect();
        if by_metrics.len() != 1 {
            return Err(format!("{by_metrics:?} say so in /metrics"));
        }
        let leading: Vec<&str> = ["a", "b"]
            .into_iter()
            .filter(|id| cluster.nodes[*id].pid().is_some() && leads(&cluster.nodes[*id].log()))
            .collect();
        match leading.len() {
            1 => Ok(()),
            _ => Err(format!("{leading:?} say they exchange")),
        }
    });

    // Nothing was sent twice, nothing lost, every answer taken, nothing in suspense.
    let truth = folders.truth();
    let total: usize = truth.claims.values().map(|claim| claim.submissions.len()).sum();
    assert_eq!(total, claims.len() + 1, "the simulator received a submission twice");
    let total_paid: Decimal = claims.iter().map(|claim| truth.paid(claim)).sum();
    let posted: Decimal = claims.iter().map(|claim| money(&office.claim(claim)["money"]["paid"])).sum();
    assert_eq!(posted, total_paid);
    assert!(total_paid > Decimal::ZERO, "no claim was paid: the run proves little");
    assert_eq!(Folders::files(&folders.inbox.join("rejected")), Vec::<String>::new());
    let (status, suspense) = http(&office.address, "GET", "/api/v1/suspense", &office.admin, None);
    assert_eq!(status, 200);
    assert!(suspense.contains("\"suspense\":[]"), "{suspense}");
    let report = runtime.block_on(cluster.verify());
    assert!(report.violations.is_empty(), "{report:?}");
    sim.kill().unwrap();
    sim.wait().unwrap();
}

/// Whether a node's log says it exchanges now (its last word on it).
fn leads(log: &str) -> bool {
    log.lines()
        .rev()
        .find(|line| line.contains("for organization"))
        .is_some_and(|line| line.contains("sending and receiving"))
}

/// The address a cluster node printed once its API listened.
fn api_address(cluster: &mut common::Cluster, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = cluster.node(id).log();
        if let Some(address) = http_process::printed_address(&log) {
            return address;
        }
        assert!(Instant::now() < deadline, "node {id} never served its API:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A day's batch larger than the clearinghouse link takes (here a NATS server with a 4 KB
/// `max_payload`) goes out as smaller batches, each within the limit, instead of being retried
/// forever: ten claims submitted while the node had no link leave in halves once it has one,
/// and all are answered and posted.
#[test]
fn a_batch_larger_than_the_link_takes_goes_out_in_smaller_ones() {
    let Some(server) = common::start_server_with_max_payload("4KB") else { return };
    let folders = Folders::new();
    let (node, address) = start_node(&folders.data, &[], Some(&folders.node_log));
    let office = Office::new(address);
    let claims: Vec<String> = (0..10).map(|index| office.submitted(index, "87726")).collect();
    stop(node);
    let url = server.url();
    let link = ["--connector-nats", &url, "--org", ORG, "--exchange-interval-ms", "100"];
    let (node, address) = start_node(&folders.data, &link, Some(&folders.node_log));
    let office = Office { address, ..office };
    let mut sim = folders.sim(Some(&url), &[]);
    eventually(&folders, 90, "every claim answered and posted", || {
        let truth = folders.truth();
        claims.iter().try_for_each(|claim| settled(&office, &truth, claim, 1))
    });
    // What the link carried: more than one 837, each within the limit, together more than it.
    let sizes = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = practice_nodes::jetstream::connect(&url, "test").await.unwrap();
        let stream = async_nats::jetstream::new(client).get_stream("OUTBOUND").await.unwrap();
        let mut sizes = Vec::new();
        let mut after = 0;
        while let Ok(message) = stream.direct_get_next_for_subject("out.*.837", Some(after + 1)).await {
            sizes.push(message.payload.len());
            after = message.sequence;
        }
        sizes
    });
    assert!(sizes.len() >= 2 && sizes.iter().all(|size| *size <= 4096), "{sizes:?}");
    assert!(sizes.iter().sum::<usize>() > 4096, "{sizes:?}: one batch would have fit");
    stop(node);
    sim.kill().unwrap();
    sim.wait().unwrap();
}

/// A sample's value on a node's `/metrics` page (`name` with its labels, as printed).
fn metric(address: &str, name: &str) -> Option<f64> {
    let (status, page) = http(address, "GET", "/metrics", "", None);
    assert_eq!(status, 200, "{page}");
    page.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The name of an exchange metric of practice `org` as `/metrics` prints it, with `label`
/// (`name="value"`) after the practice's when given.
fn exchange_metric(org: &str, name: &str, label: &str) -> String {
    let label = if label.is_empty() { String::new() } else { format!(",{label}") };
    format!("practice_exchange_{name}{{org=\"{org}\"{label}}}")
}

/// A second practice on the same node.
const ORG2: &str = "6a1b2c3d-0000-4000-8000-0000000000b2";

/// Two practices on one node: `--org` twice over the NATS connector. Each practice has its own
/// exchange, subjects (`out.<org>.837`, `in.<org>.<txn>`) and clearinghouse (a `practice sim`
/// each); its claims reach only its own simulator and post to the cent of that one's truth;
/// the node's metrics show it exchanging for both.
#[test]
fn one_node_exchanges_for_two_practices() {
    let Some(server) = common::start_server() else { return };
    let url = server.url();
    let (first, second) = (Folders::new(), Folders::new());
    let link = ["--connector-nats", &url, "--org", ORG, "--org", ORG2, "--exchange-interval-ms", "100"];
    let (node, address) = start_node(&first.data, &link, Some(&first.node_log));
    let mut sims = [first.sim_of(&url, ORG), second.sim_of(&url, ORG2)];
    let offices = [Office::of(address.clone(), ORG), Office::of(address, ORG2)];
    let claims: Vec<Vec<String>> = offices
        .iter()
        .zip([0, 10])
        .map(|(office, from)| {
            (from..from + 3).map(|index| office.submitted(index, ["87726", "00430"][index % 2])).collect()
        })
        .collect();
    eventually(&first, 90, "both practices' claims answered and posted", || {
        for ((office, folders), claims) in offices.iter().zip([&first, &second]).zip(&claims) {
            let truth = folders.truth();
            claims.iter().try_for_each(|claim| settled(office, &truth, claim, 1))?;
        }
        Ok(())
    });
    for (folders, others) in [(&first, &claims[1]), (&second, &claims[0])] {
        let truth = folders.truth();
        assert!(
            others.iter().all(|claim| truth.of(claim).is_none()),
            "a claim reached the other practice's clearinghouse"
        );
    }
    for org in [ORG, ORG2] {
        assert_eq!(metric(&offices[0].address, &exchange_metric(org, "leading", "")), Some(1.0), "{org}");
        assert!(metric(&offices[0].address, &exchange_metric(org, "sent_total", "what=\"claims\"")) >= Some(3.0));
    }
    stop(node);
    for sim in &mut sims {
        sim.kill().unwrap();
        sim.wait().unwrap();
    }
}
