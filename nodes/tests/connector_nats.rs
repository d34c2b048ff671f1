//! The NATS clearinghouse connector against a real nats-server: batches out on
//! `out.<org>.837` (276 requests on `out.<org>.276`) once each, answers in from `in.<org>.<txn>` held until settled, redelivered
//! on retry, never after accept or reject, and resumed by a reopened connector.

use bytes::Bytes;
use practice_nodes::connector::nats::{publish_file, NatsConnector, HEADER_BATCH, HEADER_TRANSACTION, OUTBOUND_STREAM};
use practice_nodes::connector::{Clearinghouse, InboundKind, OutboundBatch, Settlement};
use practice_nodes::jetstream::{connect, JetStreamSettings};
use practice_protocol::ids::OrgId;
use practice_tests::nats::NatsServer;
use std::time::Duration;
use uuid::Uuid;

const ISA: &str =
    "ISA*00*          *00*          *ZZ*SIMCLEARING    *ZZ*PRACTICEOS     *261123*1200*^*00501*000000001*0*T*:~";

fn interchange(st: &str, marker: &str) -> Bytes {
    Bytes::from(format!(
        "{ISA}GS*HC*A*B*20261123*1200*1*X*005010X222A1~{st}~REF*ZZ*{marker}~SE*3*0001~GE*1*1~IEA*1*000000001~"
    ))
}

fn server() -> Option<NatsServer> {
    match NatsServer::start() {
        Ok(server) => Some(server),
        Err(error) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping: {error:#}");
            None
        }
        Err(error) => panic!("CI needs nats-server: {error:#}"),
    }
}

async fn open(server: &NatsServer, org: OrgId, ack_wait: Duration) -> (async_nats::Client, NatsConnector) {
    let client = connect(&server.url(), "connector-test").await.unwrap();
    let connector = NatsConnector::open(client.clone(), org, &JetStreamSettings::default(), ack_wait).await.unwrap();
    (client, connector)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_go_out_once_on_the_org_subject() {
    let Some(server) = server() else { return };
    let org = OrgId(Uuid::new_v4());
    let (client, connector) = open(&server, org, Duration::from_secs(30)).await;
    let batch = OutboundBatch {
        id: "000000042".into(),
        kind: InboundKind::Claim837P,
        bytes: interchange("ST*837*0001*005010X222A1", "b42"),
    };
    let first = connector.send(&batch).await.unwrap();
    assert!(!first.duplicate);
    let subject = format!("out.{}.837", org.0.simple());
    assert!(first.location.starts_with(&format!("{subject}#")), "{}", first.location);
    assert!(connector.send(&batch).await.unwrap().duplicate, "the same batch twice is stored once");

    let stream = async_nats::jetstream::new(client).get_stream(OUTBOUND_STREAM).await.unwrap();
    let stored = stream.get_last_raw_message_by_subject(&subject).await.unwrap();
    assert_eq!(stored.payload, batch.bytes);
    assert_eq!(stored.headers.get(HEADER_BATCH).map(|value| value.as_str()), Some("000000042"));

    // A 276 status request leaves on its own subject, named by its header.
    let request = OutboundBatch {
        id: "000000043".into(),
        kind: InboundKind::StatusRequest276,
        bytes: interchange("ST*276*0001*005010X212", "r43"),
    };
    let sent = connector.send(&request).await.unwrap();
    let request_subject = format!("out.{}.276", org.0.simple());
    assert!(sent.location.starts_with(&format!("{request_subject}#")), "{}", sent.location);
    let stored = stream.get_last_raw_message_by_subject(&request_subject).await.unwrap();
    assert_eq!(stored.payload, request.bytes);
    assert_eq!(stored.headers.get(HEADER_TRANSACTION).map(|value| value.as_str()), Some("276"));

    let wrong = OutboundBatch { kind: InboundKind::Remittance835, ..batch };
    assert!(connector.send(&wrong).await.is_err(), "only 837s and 276s leave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_held_until_settled_and_routed_per_org() {
    let Some(server) = server() else { return };
    let org = OrgId(Uuid::new_v4());
    let other = OrgId(Uuid::new_v4());
    let (client, connector) = open(&server, org, Duration::from_secs(30)).await;

    let ack = interchange("ST*999*0001*005010X231A1", "a");
    let ca = interchange("ST*277*0001*005010X214", "b");
    let era = interchange("ST*835*0001", "c");
    for file in [&ack, &ca, &era] {
        assert!(!publish_file(&client, org, file.clone()).await.unwrap().duplicate);
    }
    assert!(publish_file(&client, org, era.clone()).await.unwrap().duplicate, "same file twice is stored once");
    publish_file(&client, other, interchange("ST*835*0001", "other org")).await.unwrap();
    assert!(publish_file(&client, org, Bytes::from_static(b"%PDF-1.7")).await.is_err(), "not X12 is refused");

    let items = connector.receive(10).await.unwrap();
    let seen: Vec<_> = items.iter().map(|item| (item.name.clone(), item.kind.clone().unwrap())).collect();
    let prefix = format!("in.{}", org.0.simple());
    assert_eq!(
        seen,
        [
            (format!("{prefix}.999"), InboundKind::Ack999),
            (format!("{prefix}.277CA"), InboundKind::ClaimAck277CA),
            (format!("{prefix}.835"), InboundKind::Remittance835),
        ],
        "only this org's items, in order"
    );
    assert_eq!(items[2].bytes, era);

    for item in items {
        let settlement = match item.kind.unwrap() {
            InboundKind::Remittance835 => Settlement::Retry,
            InboundKind::ClaimAck277CA => Settlement::Rejected("test".into()),
            _ => Settlement::Accepted,
        };
        connector.settle(item.receipt, settlement).await.unwrap();
    }
    let again = redelivered(&connector).await;
    assert_eq!(again.len(), 1, "only the retried item comes back: {again:?}");
    assert_eq!(again[0].0, format!("{prefix}.835"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsettled_item_survives_a_reopened_connector() {
    let Some(server) = server() else { return };
    let org = OrgId(Uuid::new_v4());
    let (client, connector) = open(&server, org, Duration::from_secs(1)).await;
    publish_file(&client, org, interchange("ST*835*0001", "crash")).await.unwrap();
    let taken = connector.receive(10).await.unwrap();
    assert_eq!(taken.len(), 1);
    // The holder dies without settling: after ack_wait the durable consumer offers it again.
    drop(taken);
    drop(connector);
    let (_client, reopened) = open(&server, org, Duration::from_secs(1)).await;
    let back = redelivered(&reopened).await;
    assert_eq!(back.len(), 1, "{back:?}");
    assert!(back[0].0.ends_with(".835"));
}

/// Poll until something arrives (redelivery follows a nak or ack_wait), for up to 10 s; each
/// item is accepted so the check ends clean.
async fn redelivered(connector: &NatsConnector) -> Vec<(String, usize)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let items = connector.receive(10).await.unwrap();
        if !items.is_empty() || tokio::time::Instant::now() > deadline {
            let mut out = Vec::new();
            for item in items {
                out.push((item.name.clone(), item.bytes.len()));
                connector.settle(item.receipt, Settlement::Accepted).await.unwrap();
            }
            // Nothing else is pending once settled.
            assert!(connector.receive(10).await.unwrap().is_empty(), "no further delivery after accept");
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_moves_folders_to_subjects_and_back() {
    use practice_nodes::connector::bridge::Bridge;
    use practice_nodes::connector::file_drop::FileDrop;
    let Some(server) = server() else { return };
    let org = OrgId(Uuid::new_v4());
    let dir = tempfile::tempdir().unwrap();
    let drop_box = FileDrop::open(dir.path().join("out"), dir.path().join("in"), Duration::ZERO).unwrap();
    // The bridge alone must be able to set the server up (no connector opened before it).
    let client = connect(&server.url(), "bridge-test").await.unwrap();
    let bridge = Bridge::open(drop_box.clone(), client.clone(), org, &JetStreamSettings::default()).await.unwrap();
    let (_, connector) = open(&server, org, Duration::from_secs(30)).await;

    let era = interchange("ST*835*0001", "bridged");
    std::fs::write(drop_box.inbox().join("era1.835"), &era).unwrap();
    std::fs::write(drop_box.inbox().join("junk.txt"), b"hello").unwrap();
    // Past the server's max_payload: set aside with the reason, not a wedge.
    let mut huge = interchange("ST*835*0001", "huge").to_vec();
    huge.extend(std::iter::repeat_n(b' ', client.server_info().max_payload));
    std::fs::write(drop_box.inbox().join("huge.835"), &huge).unwrap();
    let batch = OutboundBatch {
        id: "000000009".into(),
        kind: InboundKind::Claim837I,
        bytes: interchange("ST*837*0001*005010X223A2", "i"),
    };
    connector.send(&batch).await.unwrap();
    let reused = OutboundBatch { bytes: interchange("ST*837*0001*005010X223A2", "new content"), ..batch.clone() };
    connector.send(&reused).await.unwrap();
    let request = OutboundBatch {
        id: "000000010".into(),
        kind: InboundKind::StatusRequest276,
        bytes: interchange("ST*276*0001*005010X212", "status"),
    };
    connector.send(&request).await.unwrap();

    let report = bridge.pass(10).await.unwrap();
    assert_eq!((report.published, report.rejected, report.written), (1, 2, 3));
    assert_eq!(std::fs::read(drop_box.outbox().join("000000010.276.x12")).unwrap(), request.bytes);
    let reason = std::fs::read_to_string(drop_box.rejected_dir().join("huge.835.reason.txt")).unwrap();
    assert!(reason.contains("max_payload"), "{reason}");
    assert!(drop_box.processed_dir().join("era1.835").is_file());
    assert!(drop_box.rejected_dir().join("junk.txt.reason.txt").is_file());
    assert_eq!(std::fs::read(drop_box.outbox().join("000000009.837I.x12")).unwrap(), batch.bytes);
    let outbox: Vec<_> = std::fs::read_dir(drop_box.outbox()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(outbox.len(), 3, "a reused control number keeps both files: {outbox:?}");

    let inbound = connector.receive(10).await.unwrap();
    assert_eq!(inbound.len(), 1);
    assert_eq!(inbound[0].bytes, era);
    assert_eq!(bridge.pass(10).await.unwrap(), Default::default(), "a second pass finds nothing");
}

/// A bridge consumer left by a build that only sent 837s (filtered on `out.<org>.837`) is
/// widened when the bridge opens, so status requests reach the folder too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_consumer_from_before_276s_is_widened() {
    use practice_nodes::connector::bridge::Bridge;
    use practice_nodes::connector::file_drop::FileDrop;
    let Some(server) = server() else { return };
    let org = OrgId(Uuid::new_v4());
    let dir = tempfile::tempdir().unwrap();
    let drop_box = FileDrop::open(dir.path().join("out"), dir.path().join("in"), Duration::ZERO).unwrap();
    let (client, connector) = open(&server, org, Duration::from_secs(30)).await;
    let stream = async_nats::jetstream::new(client.clone()).get_stream(OUTBOUND_STREAM).await.unwrap();
    let name = format!("bridge_{}", org.0.simple());
    stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: format!("out.{}.837", org.0.simple()),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let request = OutboundBatch {
        id: "000000011".into(),
        kind: InboundKind::StatusRequest276,
        bytes: interchange("ST*276*0001*005010X212", "old consumer"),
    };
    connector.send(&request).await.unwrap();

    let bridge = Bridge::open(drop_box.clone(), client, org, &JetStreamSettings::default()).await.unwrap();
    assert_eq!(bridge.pass(10).await.unwrap().written, 1);
    assert_eq!(std::fs::read(drop_box.outbox().join("000000011.276.x12")).unwrap(), request.bytes);
}

#[test]
fn the_bridge_cli_runs_one_pass() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("ack.999"), interchange("ST*999*0001*005010X231A1", "cli")).unwrap();
    let org = Uuid::new_v4().to_string();
    let run = |org: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_practice"))
            .args(["connector", "bridge", "--nats", &server.url(), "--org", org, "--once", "--min-age-ms", "0"])
            .arg("--outbox")
            .arg(dir.path().join("out"))
            .arg("--inbox")
            .arg(&inbox)
            .output()
            .unwrap()
    };
    let output = run(&org);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "published 1 rejected 0 written 0\n");
    assert!(inbox.join("processed").join("ack.999").is_file());
    let bad = run("not-an-org");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--org"));
}
