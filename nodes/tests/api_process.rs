//! The real `practice` binary: `practice token issue` signs a token, `practice node --http`
//! serves the API over the embedded journal, the token opens it, a state change survives a
//! restart of the node (it is in the journal, and the API's projection is rebuilt from it),
//! and SIGTERM stops the node with an event stream open.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ORG: &str = "6a1b2c3d-0000-4000-8000-0000000000a1";
const USER: &str = "6a1b2c3d-0000-4000-8000-0000000000a2";
const KEY: &str = "an-api-process-test-key-of-at-least-32-bytes";

fn practice() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_practice"));
    command.env("PRACTICE_TOKEN_KEY", KEY);
    command
}

/// Start a node with `--http 127.0.0.1:0`; its process and the address it printed.
fn start_node(data: &std::path::Path) -> (Child, String) {
    let mut child = practice()
        .args(["node", "--shards", "4", "--http", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().expect("the node printed its address").unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    // Keep draining stderr so the node never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address)
}

/// A minimal HTTP/1.1 exchange (Connection: close); status and body.
fn http(address: &str, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    (status, body)
}

fn token(role: &str) -> String {
    let output = practice()
        .args(["token", "issue", "--org", ORG, "--user", USER, "--role", role, "--ttl", "10m"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "node exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "the node did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn token_node_http_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A level no role has is refused by the CLI.
    let refused = practice().args(["token", "issue", "--org", ORG, "--user", USER, "--role", "55"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let admin = token("80");

    let (node, address) = start_node(&data);
    let (status, body) = http(&address, "GET", "/api/v1/claims", &admin, None);
    assert_eq!((status, body.as_str()), (200, "{\"claims\":[]}"));
    let (status, _) = http(&address, "GET", "/api/v1/claims", "pos1.forged.token", None);
    assert_eq!(status, 401);
    // A draft claim, then void it.
    let encounter = include_str!("fixtures/encounter.json").replace("ORG_ID", ORG);
    let (status, body) = http(&address, "POST", "/api/v1/encounters", &admin, Some(&encounter));
    assert_eq!(status, 201, "{body}");
    let claim_id = body.split("\"id\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let (status, body) =
        http(&address, "POST", &format!("/api/v1/claims/{claim_id}/void"), &admin, Some("{\"reason\":\"duplicate\"}"));
    assert_eq!(status, 200, "{body}");
    // An open event stream does not hold up a graceful stop.
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(stream, "GET /api/v1/stream/claims HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {admin}\r\n\r\n")
        .unwrap();
    stop(node);

    // Restarted on the same data: the journal has the claim, the projection is rebuilt.
    let (node, address) = start_node(&data);
    let (status, body) = http(&address, "GET", &format!("/api/v1/claims/{claim_id}"), &admin, None);
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"Voided\""), "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = http(&address, "GET", "/api/v1/claims?status=Voided", &admin, None);
        if list.contains(&claim_id) {
            break;
        }
        assert!(Instant::now() < deadline, "the projection did not rebuild: {list}");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(node);
}
