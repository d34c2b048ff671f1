//! The real `practice` binary behind its HTTP API, for the process tests: a node started with
//! `--http 127.0.0.1:0`, tokens from `practice token issue`, a minimal HTTP/1.1 client, and a
//! graceful stop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ORG: &str = "6a1b2c3d-0000-4000-8000-0000000000a1";
pub const USER: &str = "6a1b2c3d-0000-4000-8000-0000000000a2";
pub const KEY: &str = "an-api-process-test-key-of-at-least-32-bytes";

pub fn practice() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_practice"));
    command.env("PRACTICE_TOKEN_KEY", KEY);
    command
}

/// The API address a node printed, if the text holds that line yet.
pub fn printed_address(text: &str) -> Option<String> {
    text.lines()
        .find(|line| line.contains("http api and dashboard on http://"))
        .and_then(|line| line.split("http://").nth(1))
        .map(|address| address.trim().to_string())
}

/// Start a node with `--http 127.0.0.1:0` and `extra` arguments; its process and the address
/// it printed. Its stderr is copied to `log` when given (else dropped).
pub fn start_node(data: &Path, extra: &[&str], log: Option<&Path>) -> (Owned, String) {
    let mut child = practice()
        .args(["node", "--shards", "4", "--http", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut copy = log.map(|path| std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap());
    let address = loop {
        let line = lines.next().expect("the node printed its address").unwrap();
        if let Some(file) = copy.as_mut() {
            writeln!(file, "{line}").unwrap();
        }
        if let Some(address) = printed_address(&line) {
            break address;
        }
    };
    // Keep draining stderr so the node never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Some(file) = copy.as_mut() {
                let _ = writeln!(file, "{line}");
            }
        }
    });
    (Owned(child), address)
}

/// A minimal HTTP/1.1 exchange (Connection: close); status and body.
pub fn http(address: &str, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, String) {
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

pub fn token(role: &str) -> String {
    token_for(ORG, role)
}

/// A token of `role` in the organization `org`.
pub fn token_for(org: &str, role: &str) -> String {
    let output = practice()
        .args(["token", "issue", "--org", org, "--user", USER, "--role", role, "--ttl", "10m"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// A child process killed (and reaped) when dropped, so a failing test leaves none running.
pub struct Owned(pub Child);

impl std::ops::Deref for Owned {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Owned {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// SIGTERM, then wait (up to 20 s) for a clean exit.
pub fn stop(mut child: Owned) {
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
