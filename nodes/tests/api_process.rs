//! The real `practice` binary: `practice token issue` signs a token, `practice node --http`
//! serves the API over the embedded journal, the token opens it, a state change survives a
//! restart of the node (it is in the journal, and the API's projection is rebuilt from it),
//! and SIGTERM stops the node with an event stream open.

mod http_process;

use http_process::{http, practice, start_node, stop, token, ORG, USER};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn token_node_http_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A level no role has is refused by the CLI.
    let refused = practice().args(["token", "issue", "--org", ORG, "--user", USER, "--role", "55"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let admin = token("80");

    let (node, address) = start_node(&data, &[], None);
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
    let (node, address) = start_node(&data, &[], None);
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
