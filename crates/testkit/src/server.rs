//! One private `nats-server` process: its own loopback port, its own JetStream store, its own
//! log, killed and deleted on drop. Never the machine's shared server on 4222: a test that
//! leaves streams or consumers behind there breaks the next test, or someone's running demo.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, Read as _, Seek as _, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::tempdir::TempDir;

/// The environment variable naming the `nats-server` binary, for machines where it is neither on
/// `PATH` nor in `/usr/sbin`.
pub const NATS_SERVER_ENV: &str = "CSP_NATS_SERVER";

/// Where Debian's package installs the binary (outside a normal user's `PATH`).
const DEBIAN_BINARY: &str = "/usr/sbin/nats-server";

/// The shared server's port, which a test must never use.
const SHARED_PORT: u16 = 4222;

/// How long a start, restart or stop may take before it is an error. Generous, because a loaded
/// 2-core CI machine running tests in parallel is slow; the wait ends as soon as the server is up.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How many fresh ports [`NatsServer::start`] tries when another process takes the one it picked
/// between picking it and the server binding it.
const PORT_ATTEMPTS: u32 = 5;

/// The pause between readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How much of the server log an error quotes.
const LOG_TAIL_BYTES: u64 = 4096;

/// What to do when `nats-server` cannot be found.
const INSTALL_HINT: &str = "nats-server not found: install it (Debian/Ubuntu: `sudo apt-get install \
     nats-server`; otherwise a release from https://github.com/nats-io/nats-server/releases) and put \
     it on PATH, or set CSP_NATS_SERVER to its path. End-to-end tests need a real server and are \
     never skipped";

/// A free TCP port on 127.0.0.1, found by binding port 0 and releasing it. Another process can
/// take it before it is used; [`NatsServer::start`] retries with a fresh port when that happens.
/// Never returns the shared server's 4222.
pub fn free_port() -> io::Result<u16> {
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        if port != SHARED_PORT {
            return Ok(port);
        }
    }
}

/// Options for [`NatsServer`], started with [`NatsServerBuilder::start`].
#[derive(Debug, Clone)]
pub struct NatsServerBuilder {
    binary: Option<PathBuf>,
    max_payload: Option<u32>,
    ready_timeout: Duration,
    deploy: Option<(PathBuf, String)>,
    env: Vec<(String, String)>,
    probe_user: Option<(String, String)>,
}

impl NatsServerBuilder {
    /// The largest message the server accepts, in bytes (the server's default is 1 MiB), for
    /// tests of `payload_too_large` and of large batches. Written to a config file, because the
    /// Debian nats-server 2.9 has no command-line flag for it.
    pub fn max_payload(mut self, bytes: u32) -> NatsServerBuilder {
        self.max_payload = Some(bytes);
        self
    }

    /// Runs this binary instead of looking for `nats-server`.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> NatsServerBuilder {
        self.binary = Some(path.into());
        self
    }

    /// Starts the server with a config file of `dir` (`file`, relative to it, e.g.
    /// `single-node.conf` of `deploy/nats`): the deployment's own settings, users and
    /// permissions, with only its address and store replaced by this server's. The whole
    /// directory's `.conf` files are copied, so the file's includes resolve as in production.
    pub fn deploy_config(mut self, dir: impl Into<PathBuf>, file: &str) -> NatsServerBuilder {
        self.deploy = Some((dir.into(), file.to_string()));
        self
    }

    /// Sets an environment variable of the server process: how a deploy config's `$VAR`
    /// references (passwords) are given.
    pub fn env(mut self, key: &str, value: &str) -> NatsServerBuilder {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The user [`NatsServer::wait_for_jetstream`] and [`NatsCluster::stream_leader`] connect
    /// as, on a server that requires one.
    pub fn probe_user(mut self, user: &str, password: &str) -> NatsServerBuilder {
        self.probe_user = Some((user.to_string(), password.to_string()));
        self
    }

    /// How long start, restart and stop may take (default 20 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> NatsServerBuilder {
        self.ready_timeout = timeout;
        self
    }

    /// Starts the server and returns once it answers clients. Blocks the calling thread.
    pub fn start(self) -> io::Result<NatsServer> {
        let (launch, dir) = self.prepare("csp-nats", Vec::new())?;
        start_on_free_port(launch, dir, |_| Vec::new())
    }

    /// A launch of this configuration (port not yet chosen) in a fresh directory.
    fn prepare(&self, prefix: &str, extra_args: Vec<String>) -> io::Result<(Launch, TempDir)> {
        let binary = match &self.binary {
            Some(binary) => binary.clone(),
            None => find_binary(
                std::env::var_os(NATS_SERVER_ENV),
                std::env::var_os("PATH"),
                &[Path::new(DEBIAN_BINARY)],
            )?,
        };
        let dir = TempDir::new(prefix)?;
        let store_dir = dir.path().join("store");
        fs::create_dir(&store_dir)?;
        let max_payload = self
            .max_payload
            .map(|bytes| format!("max_payload: {bytes}\n"))
            .unwrap_or_default();
        let config_file = match &self.deploy {
            Some((source, file)) => {
                let copy = dir.path().join("conf");
                copy_confs(source, &copy)?;
                let path = copy.join(file);
                // The store is this server's (`-sd`): the server refuses a second one.
                let text: String = fs::read_to_string(&path)?
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("store_dir"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                fs::write(&path, text + &max_payload)?;
                Some(path)
            }
            None if max_payload.is_empty() => None,
            None => {
                let path = dir.path().join("nats-server.conf");
                fs::write(&path, max_payload)?;
                Some(path)
            }
        };
        // The directory's unique name doubles as the server's name, which the readiness probe
        // checks: so it never mistakes another server that took our port for ours.
        let name = dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| prefix.into());
        let launch = Launch {
            binary,
            port: 0,
            name,
            store_dir,
            log_path: dir.path().join("nats-server.log"),
            config_file,
            ready_timeout: self.ready_timeout,
            extra_args,
            env: self.env.clone(),
            probe_user: self.probe_user.clone(),
        };
        Ok((launch, dir))
    }
}

/// Starts `launch` on a free port, trying another when the one picked is taken meanwhile;
/// `args_for(port)` adds arguments that depend on the port.
fn start_on_free_port(
    mut launch: Launch,
    dir: TempDir,
    args_for: impl Fn(u16) -> Vec<String>,
) -> io::Result<NatsServer> {
    let base = launch.extra_args.clone();
    let mut last_error = None;
    for _ in 0..PORT_ATTEMPTS {
        launch.port = free_port()?;
        launch.extra_args = base.iter().cloned().chain(args_for(launch.port)).collect();
        match launch.start() {
            Ok(child) => {
                return Ok(NatsServer {
                    launch,
                    child: Mutex::new(Some(child)),
                    _dir: dir,
                })
            }
            Err(StartFailure::PortTaken(e)) => last_error = Some(e),
            Err(StartFailure::Other(e)) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("nats-server did not start")))
}

/// Copies the `.conf` files of `from` (recursively) to `to`.
fn copy_confs(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            copy_confs(&path, &to.join(entry.file_name()))?;
        } else if path.extension().is_some_and(|e| e == "conf") {
            fs::copy(&path, to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// A JetStream cluster of private `nats-server`s on loopback ports, each a [`NatsServer`] that a
/// test kills and restarts on its own, to lose a stream's leader mid-story.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `size` nodes configured by `builder` (a deploy config's `cluster` block gives way
    /// to this cluster's own ports and routes) and returns once every node answers clients.
    /// Blocks the calling thread; then [`NatsCluster::wait_for_jetstream`].
    pub fn start(builder: NatsServerBuilder, size: usize) -> io::Result<NatsCluster> {
        let mut cluster_ports = Vec::new();
        while cluster_ports.len() < size {
            let port = free_port()?;
            if !cluster_ports.contains(&port) {
                cluster_ports.push(port);
            }
        }
        let mut nodes = Vec::new();
        for (i, own) in cluster_ports.iter().enumerate() {
            let routes = cluster_ports
                .iter()
                .filter(|p| *p != own)
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect::<Vec<_>>()
                .join(",");
            let args = vec![
                "--cluster_name".to_string(),
                "csp".to_string(),
                "--cluster".to_string(),
                format!("nats://127.0.0.1:{own}"),
                "--routes".to_string(),
                routes,
            ];
            let (launch, dir) = builder.prepare(&format!("csp-nats-node{}", i + 1), args)?;
            nodes.push(start_on_free_port(launch, dir, |_| Vec::new())?);
        }
        Ok(NatsCluster { nodes })
    }

    /// Waits until JetStream answers on every running node (the cluster has a meta leader).
    pub async fn wait_for_jetstream(&self) -> io::Result<()> {
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            node.wait_for_jetstream().await?;
        }
        Ok(())
    }

    /// The nodes, in start order.
    pub fn nodes(&self) -> &[NatsServer] {
        &self.nodes
    }

    /// Every node's URL, comma-separated: what a client is given to reach whichever is up.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(NatsServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the node leading `stream`'s replicas, asked of any running node.
    pub async fn stream_leader(&self, stream: &str) -> io::Result<usize> {
        let mut last = String::from("no node running");
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let info = async {
                let client = node.probe_client().await?;
                let reply = client
                    .request(format!("$JS.API.STREAM.INFO.{stream}"), Default::default())
                    .await
                    .map_err(|e| format!("stream info: {e}"))?;
                let info: serde_json::Value = serde_json::from_slice(&reply.payload)
                    .map_err(|e| format!("stream info reply: {e}"))?;
                info["cluster"]["leader"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("no leader in {info}"))
            };
            match tokio::time::timeout(Duration::from_secs(5), info).await {
                Ok(Ok(leader)) => {
                    return self
                        .nodes
                        .iter()
                        .position(|n| n.launch.name == leader)
                        .ok_or_else(|| io::Error::other(format!("leader {leader} is not ours")))
                }
                Ok(Err(e)) => last = e,
                Err(_) => last = "no answer within 5 s".into(),
            }
        }
        Err(io::Error::other(format!("no leader for {stream}: {last}")))
    }
}

/// A running (or deliberately killed) private `nats-server` with JetStream on a loopback port.
///
/// Every method takes `&self`, so a chaos test can share the server (`Arc<NatsServer>`) with the
/// task that kills and restarts it. The process-control methods block the calling thread.
/// Dropping it kills the process and deletes its store and log.
#[derive(Debug)]
pub struct NatsServer {
    launch: Launch,
    /// The process, `None` once killed or stopped. Locked only for short, non-reentrant sections.
    child: Mutex<Option<Child>>,
    /// Declared last so it is removed after `Drop::drop` has killed the process.
    _dir: TempDir,
}

impl NatsServer {
    /// Starts a server with default options: see [`NatsServerBuilder::start`].
    pub fn start() -> io::Result<NatsServer> {
        NatsServer::builder().start()
    }

    /// Options beyond the defaults.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder {
            binary: None,
            max_payload: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            deploy: None,
            env: Vec::new(),
            probe_user: None,
        }
    }

    /// `nats://127.0.0.1:<port>`, for `async_nats::connect`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.launch.port)
    }

    /// The client port; it stays the same across [`NatsServer::restart`].
    pub fn port(&self) -> u16 {
        self.launch.port
    }

    /// The JetStream store directory; it survives kill and restart, and is deleted on drop.
    pub fn store_dir(&self) -> &Path {
        &self.launch.store_dir
    }

    /// The server's log (stdout and stderr of every run, appended), for debugging a failed test.
    pub fn log_path(&self) -> &Path {
        &self.launch.log_path
    }

    /// The process id while it runs, so a benchmark can read the server's CPU time.
    pub fn pid(&self) -> Option<u32> {
        self.child().as_ref().map(Child::id)
    }

    /// Whether the process is alive (not killed, stopped, or crashed).
    pub fn is_running(&self) -> bool {
        match self.child().as_mut() {
            None => false,
            Some(child) => matches!(child.try_wait(), Ok(None)),
        }
    }

    /// Kills the process with SIGKILL, as a crash or power cut would, and waits until it is gone.
    /// Nothing is flushed: this is how tests find out what survives. A no-op if not running.
    pub fn kill(&self) -> io::Result<()> {
        let mut guard = self.child();
        if let Some(mut child) = guard.take() {
            signal(&mut child, libc::SIGKILL)?;
            child.wait()?;
        }
        Ok(())
    }

    /// Stops the process with SIGTERM (a clean shutdown) and waits until it is gone. If it has
    /// not exited within the ready timeout it is killed and an error is returned.
    pub fn stop(&self) -> io::Result<()> {
        let mut guard = self.child();
        let Some(mut child) = guard.take() else {
            return Ok(());
        };
        signal(&mut child, libc::SIGTERM)?;
        let deadline = Instant::now() + self.launch.ready_timeout;
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                signal(&mut child, libc::SIGKILL)?;
                child.wait()?;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "nats-server ignored SIGTERM for {:?} and was killed",
                        self.launch.ready_timeout
                    ),
                ));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Starts the server again on the same port with the same store (JetStream recovers its
    /// streams from it) and returns once it answers clients. Stops it first if it is running.
    /// Fails if another process took the port meanwhile: a different port would defeat the test.
    pub fn restart(&self) -> io::Result<()> {
        self.stop()?;
        let mut guard = self.child();
        match self.launch.start() {
            Ok(child) => {
                *guard = Some(child);
                Ok(())
            }
            Err(StartFailure::PortTaken(e) | StartFailure::Other(e)) => Err(e),
        }
    }

    /// Waits until JetStream answers `$JS.API.INFO`. Clients connect as soon as the server
    /// listens, but JetStream requests can fail for a moment after a start or restart while
    /// it recovers its streams; a test calls this before its first JetStream request.
    pub async fn wait_for_jetstream(&self) -> io::Result<()> {
        let url = self.url();
        let deadline = Instant::now() + self.launch.ready_timeout;
        let mut last_error = String::from("no attempt");
        while Instant::now() < deadline {
            let attempt = async {
                let client = self.probe_client().await?;
                let reply = client
                    .request("$JS.API.INFO", Default::default())
                    .await
                    .map_err(|e| format!("$JS.API.INFO: {e}"))?;
                jetstream_answered(&reply.payload)
            };
            match tokio::time::timeout(Duration::from_secs(2), attempt).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => last_error = e,
                Err(_) => last_error = "no answer within 2 s".into(),
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "JetStream at {url} did not answer within {:?} ({last_error}); server log:\n{}",
                self.launch.ready_timeout,
                log_tail(&self.launch.log_path, 0)
            ),
        ))
    }

    /// A client for readiness probes and cluster questions, as the probe user if there is one.
    async fn probe_client(&self) -> Result<async_nats::Client, String> {
        let options = match &self.launch.probe_user {
            Some((user, password)) => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            None => async_nats::ConnectOptions::new(),
        };
        options
            .connect(self.url())
            .await
            .map_err(|e| format!("connect: {e}"))
    }

    /// The process handle. A panic while it was locked cannot leave it inconsistent (every
    /// section either keeps or takes the whole `Child`), so a poisoned lock is used as is.
    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for NatsServer {
    /// Kills the process (a test is over; no need to be gentle) before the store is deleted.
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Everything needed to (re)start the same server.
#[derive(Debug)]
struct Launch {
    binary: PathBuf,
    port: u16,
    name: String,
    store_dir: PathBuf,
    log_path: PathBuf,
    config_file: Option<PathBuf>,
    ready_timeout: Duration,
    /// Arguments after the standard ones (a cluster node's ports and routes).
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    probe_user: Option<(String, String)>,
}

/// Why a start failed: the port was taken (worth retrying on another), or anything else.
enum StartFailure {
    PortTaken(io::Error),
    Other(io::Error),
}

impl Launch {
    /// Spawns the server and waits until it answers on its port, or fails with its log tail.
    fn start(&self) -> Result<Child, StartFailure> {
        let log_start = fs::metadata(&self.log_path).map_or(0, |m| m.len());
        let mut child = self.spawn().map_err(StartFailure::Other)?;
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Err(self.exited(status, log_start)),
                Ok(None) => {}
                Err(e) => return Err(StartFailure::Other(e)),
            }
            if answers_as(self.port, &self.name) {
                return Ok(child);
            }
            if Instant::now() >= deadline {
                let _ = signal(&mut child, libc::SIGKILL);
                let _ = child.wait();
                return Err(StartFailure::Other(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "nats-server did not answer on port {} within {:?}; log:\n{}",
                        self.port,
                        self.ready_timeout,
                        log_tail(&self.log_path, log_start)
                    ),
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn spawn(&self) -> io::Result<Child> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let mut command = Command::new(&self.binary);
        if let Some(config) = &self.config_file {
            command.arg("-c").arg(config);
        }
        command
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-n", &self.name])
            .arg("-js")
            .arg("-sd")
            .arg(&self.store_dir)
            .args(&self.extra_args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        command.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run {}: {e}", self.binary.display()),
            )
        })
    }

    /// The failure for a server that exited during start-up.
    fn exited(&self, status: ExitStatus, log_start: u64) -> StartFailure {
        let tail = log_tail(&self.log_path, log_start);
        if tail.contains("address already in use") {
            StartFailure::PortTaken(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("port {} is taken; log:\n{tail}", self.port),
            ))
        } else {
            StartFailure::Other(io::Error::other(format!(
                "{} exited with {status} before it was ready; log:\n{tail}",
                self.binary.display()
            )))
        }
    }
}

/// Whether a NATS server named `name` answers on `port`: a TCP connect succeeds and its first
/// line is an `INFO` naming it.
fn answers_as(port: u16, name: &str) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(250)) else {
        return false;
    };
    if stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .is_err()
    {
        return false;
    }
    let mut line = String::new();
    // A real INFO line is well under a kilobyte; the bound stops a stranger flooding the probe.
    if BufReader::new(stream.take(64 * 1024))
        .read_line(&mut line)
        .is_err()
    {
        return false;
    }
    let Some(info) = line.strip_prefix("INFO ") else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(info.trim())
        .ok()
        .and_then(|v| v.get("server_name")?.as_str().map(|n| n == name))
        .unwrap_or(false)
}

/// Whether a `$JS.API.INFO` reply is an account info rather than an error. Read as plain JSON,
/// not with async-nats' typed `query_account`, whose decoding depends on the client's
/// server-version features and fails against the Debian 2.9 server.
fn jetstream_answered(payload: &[u8]) -> Result<(), String> {
    let reply: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("$JS.API.INFO reply: {e}"))?;
    match reply.get("error") {
        Some(error) => Err(format!("$JS.API.INFO: {error}")),
        None if reply.is_object() => Ok(()),
        None => Err("$JS.API.INFO: not a JSON object".into()),
    }
}

/// Sends `signal` to a child that has not been reaped. Its pid cannot have been reused: until
/// `wait` reaps it, the (possibly zombie) child keeps the pid.
fn signal(child: &mut Child, signal: libc::c_int) -> io::Result<()> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| io::Error::other("child pid out of range"))?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The last few kilobytes of the log written since `from`, for error messages.
fn log_tail(path: &Path, from: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return "(no log)".into();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = from.max(len.saturating_sub(LOG_TAIL_BYTES));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return "(unreadable log)".into();
    }
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    if text.is_empty() {
        "(empty log)".into()
    } else {
        text
    }
}

/// Finds the binary: `env_override` (the value of `CSP_NATS_SERVER`) if set, else `nats-server`
/// in `path_var`, else the first existing `fallbacks`. A set but wrong override is an error, not
/// a silent fallback to another version.
fn find_binary(
    env_override: Option<OsString>,
    path_var: Option<OsString>,
    fallbacks: &[&Path],
) -> io::Result<PathBuf> {
    if let Some(path) = env_override.filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{NATS_SERVER_ENV}={} is not an executable file",
                    path.display()
                ),
            ))
        };
    }
    let on_path = path_var
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("nats-server"));
    let fallbacks = fallbacks.iter().map(|p| p.to_path_buf());
    on_path
        .chain(fallbacks)
        .find(|p| is_executable(p))
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, INSTALL_HINT))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    #[test]
    fn the_env_override_wins_and_is_never_silently_ignored() {
        let dir = TempDir::new("csp-testkit-unit").expect("dir");
        let custom = executable(dir.path(), "my-nats");
        let on_path = dir.path().join("bin");
        fs::create_dir(&on_path).expect("mkdir");
        executable(&on_path, "nats-server");

        let found = find_binary(
            Some(custom.clone().into()),
            Some(on_path.clone().into()),
            &[],
        )
        .expect("override");
        assert_eq!(found, custom);

        let err = find_binary(
            Some(dir.path().join("absent").into()),
            Some(on_path.into()),
            &[],
        )
        .expect_err("a wrong override is an error");
        assert!(err.to_string().contains(NATS_SERVER_ENV), "{err}");
    }

    #[test]
    fn path_comes_before_the_fallback_and_non_executables_are_skipped() {
        let dir = TempDir::new("csp-testkit-unit").expect("dir");
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        fs::create_dir(&first).expect("mkdir");
        fs::create_dir(&second).expect("mkdir");
        fs::write(first.join("nats-server"), "not executable").expect("write");
        let wanted = executable(&second, "nats-server");
        let fallback = executable(dir.path(), "fallback");
        let path_var = std::env::join_paths([&first, &second]).expect("join");

        let found = find_binary(None, Some(path_var), &[&fallback]).expect("found");
        assert_eq!(found, wanted);
        let found = find_binary(Some(OsString::new()), None, &[&fallback]).expect("fallback");
        assert_eq!(found, fallback);
    }

    #[test]
    fn no_binary_is_an_error_saying_how_to_install_it() {
        let err = find_binary(None, None, &[Path::new("/nonexistent/nats-server")])
            .expect_err("nothing to find");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("apt-get install nats-server"));
        assert!(err.to_string().contains(NATS_SERVER_ENV));
    }

    #[test]
    fn jetstream_errors_and_garbage_are_not_an_answer() {
        assert!(jetstream_answered(
            br#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0}"#
        )
        .is_ok());
        let err =
            jetstream_answered(br#"{"error":{"code":503,"description":"JetStream not enabled"}}"#)
                .expect_err("an error reply");
        assert!(err.contains("not enabled"), "{err}");
        assert!(jetstream_answered(b"[]").is_err());
        assert!(jetstream_answered(b"").is_err());
    }

    #[test]
    fn free_ports_are_bindable_and_never_the_shared_one() {
        let port = free_port().expect("port");
        assert_ne!(port, SHARED_PORT);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("still free");
    }

    #[test]
    fn a_taken_port_is_reported_as_such_so_start_can_retry() {
        let dir = TempDir::new("csp-testkit-unit").expect("dir");
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let store_dir = dir.path().join("js");
        fs::create_dir(&store_dir).expect("mkdir");
        let launch = Launch {
            binary: find_binary(
                std::env::var_os(NATS_SERVER_ENV),
                std::env::var_os("PATH"),
                &[Path::new(DEBIAN_BINARY)],
            )
            .expect("nats-server"),
            port: taken.local_addr().expect("addr").port(),
            name: "taken-port-test".into(),
            store_dir,
            log_path: dir.path().join("log"),
            config_file: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            extra_args: Vec::new(),
            env: Vec::new(),
            probe_user: None,
        };
        match launch.start() {
            Err(StartFailure::PortTaken(e)) => assert_eq!(e.kind(), io::ErrorKind::AddrInUse),
            Err(StartFailure::Other(e)) => panic!("not recognised as a taken port: {e}"),
            Ok(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("started on a taken port");
            }
        }
    }
}
