//! A real `nats-server -js` for tests: random loopback port, temporary store, and the faults the
//! guarantees are about (kill -9, restart on the same store and port, SIGSTOP/SIGCONT); or
//! several routed as one JetStream cluster, for replicated streams.
//!
//! The server binary comes from env `NATS_SERVER`, else `<workspace>/.tools/venv/bin/nats-server`
//! (installed by `scripts/test-deps.sh`), else `PATH`; it must be 2.10 or newer. The config sets
//! `sync_interval: always` so an acknowledged publish is fsynced (DESIGN.md §3).

use anyhow::{anyhow, bail, Context};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the workspace root is (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// The nats-server binary to use, or why there is none.
pub fn find_nats_server() -> anyhow::Result<PathBuf> {
    let candidates = std::env::var_os("NATS_SERVER")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(workspace_root().join(".tools/venv/bin/nats-server")))
        .chain(
            std::env::var_os("PATH")
                .into_iter()
                .flat_map(|path| std::env::split_paths(&path).map(|dir| dir.join("nats-server")).collect::<Vec<_>>()),
        );
    let mut rejected = Vec::new();
    for candidate in candidates {
        if !candidate.is_file() {
            continue;
        }
        match server_version(&candidate) {
            Some((major, minor)) if (major, minor) >= (2, 10) => return Ok(candidate),
            version => rejected.push(format!("{} ({version:?})", candidate.display())),
        }
    }
    bail!("no nats-server >= 2.10 found (run scripts/test-deps.sh or set NATS_SERVER); rejected: {rejected:?}")
}

fn server_version(binary: &Path) -> Option<(u32, u32)> {
    let output = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split(|c: char| !(c.is_ascii_digit() || c == '.')).find(|part| part.contains('.'))?;
    let mut numbers = version.split('.').map(|part| part.parse::<u32>().ok());
    Some((numbers.next()??, numbers.next()??))
}

/// A free loopback port (bound then released; the window for a clash is tiny on loopback).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// One nats-server process with JetStream, owned by the test; killed on drop.
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    store: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    /// Start a fresh server on a random loopback port with an empty store, fsyncing every
    /// write (`sync_interval: always`).
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with_sync(true)
    }

    /// Like [`NatsServer::start`]; `sync_always: false` keeps the server's lazy default (for
    /// benchmarks that report both settings).
    pub fn start_with_sync(sync_always: bool) -> anyhow::Result<Self> {
        Self::start_configured(sync_always, "8MB")
    }

    /// Like [`NatsServer::start`] with a `max_payload` of its own (e.g. `"4KB"`), for tests
    /// of what happens near the largest message a server takes.
    pub fn start_with_max_payload(max_payload: &str) -> anyhow::Result<Self> {
        Self::start_configured(true, max_payload)
    }

    fn start_configured(sync_always: bool, max_payload: &str) -> anyhow::Result<Self> {
        let mut server = Self::configure(free_port()?, sync_always, max_payload, "")?;
        server.spawn()?;
        Ok(server)
    }

    /// A server's store and config on `port`, not started; `extra` is appended to the config.
    fn configure(port: u16, sync_always: bool, max_payload: &str, extra: &str) -> anyhow::Result<Self> {
        let binary = find_nats_server()?;
        let store = tempfile::tempdir()?;
        let config = store.path().join("nats.conf");
        let jetstream_dir = store.path().join("js");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\n\
                 max_payload: {max_payload}\n\
                 jetstream {{\n  store_dir: \"{}\"\n{}  max_file_store: 4GB\n}}\n{extra}",
                jetstream_dir.display(),
                if sync_always { "  sync_interval: always\n" } else { "" },
            ),
        )?;
        Ok(Self { binary, port, store, config, child: None })
    }

    /// `count` servers (`n0`, `n1`, ...) routed to each other as one JetStream cluster, all
    /// started; JetStream answers once they have elected a meta leader.
    pub fn start_cluster(count: usize) -> anyhow::Result<Vec<Self>> {
        let ports: Vec<(u16, u16)> =
            (0..count).map(|_| Ok((free_port()?, free_port()?))).collect::<anyhow::Result<_>>()?;
        let routes: Vec<String> = ports.iter().map(|(_, route)| format!("\"nats://127.0.0.1:{route}\"")).collect();
        let mut servers = Vec::with_capacity(count);
        for (index, (port, route)) in ports.iter().enumerate() {
            let cluster = format!(
                "server_name: n{index}\ncluster {{\n  name: practice-test\n  listen: 127.0.0.1:{route}\n  routes: [{}]\n}}\n",
                routes.join(", ")
            );
            servers.push(Self::configure(*port, true, "8MB", &cluster)?);
        }
        for server in &mut servers {
            server.spawn()?;
        }
        Ok(servers)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.store.path().join("nats.log"))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(10))
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Start again on the same store and port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9()?;
        self.spawn()
    }

    pub fn pause(&self) -> anyhow::Result<()> {
        signal(self.pid().ok_or_else(|| anyhow!("server not running"))?, "STOP")
    }

    pub fn resume(&self) -> anyhow::Result<()> {
        signal(self.pid().ok_or_else(|| anyhow!("server not running"))?, "CONT")
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.store.path().join("nats.log")).unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Send a signal by name (`STOP`, `CONT`, `KILL`, `TERM`) through `kill(1)`: the workspace
/// forbids unsafe code, so no libc.
pub fn signal(pid: u32, name: &str) -> anyhow::Result<()> {
    let status = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status()?;
    if !status.success() {
        bail!("kill -{name} {pid} failed: {status}");
    }
    Ok(())
}

/// Poll until something accepts TCP connections on the loopback port.
pub fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listening on 127.0.0.1:{port} after {timeout:?}")
}

/// A child process (a `practice` node) with its output captured to a file; killed on drop.
pub struct Process {
    pub name: String,
    child: Option<Child>,
    program: PathBuf,
    args: Vec<String>,
    log_path: PathBuf,
}

impl Process {
    /// Spawn `program args`, appending stdout and stderr to `log_path`.
    pub fn spawn(name: &str, program: &Path, args: &[String], log_path: &Path) -> anyhow::Result<Self> {
        let mut process = Self {
            name: name.to_string(),
            child: None,
            program: program.to_path_buf(),
            args: args.to_vec(),
            log_path: log_path.to_path_buf(),
        };
        process.start()?;
        Ok(process)
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log_path)?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Start again with the same arguments.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9()?;
        self.start()
    }

    pub fn pause(&self) -> anyhow::Result<()> {
        signal(self.pid().ok_or_else(|| anyhow!("{} not running", self.name))?, "STOP")
    }

    pub fn resume(&self) -> anyhow::Result<()> {
        signal(self.pid().ok_or_else(|| anyhow!("{} not running", self.name))?, "CONT")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
